package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/email/smtptest"
	"github.com/kernelci/kernelci-api-go/internal/ratelimit"
)

const mailWait = 15 * time.Second

var (
	inviteLinkRE = regexp.MustCompile(`(http://\S+/user/accept-invite)\?token=(\S+)`)
	resetTokenRE = regexp.MustCompile(`reset token:\n\n  (\S+)\n`)
)

// smtpEnv is a server sending its emails to a real SMTP server on
// 127.0.0.1 (STARTTLS with a test certificate, AUTH as the sender).
func smtpEnv(t *testing.T, opts api.Options) (*env, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{User: "kernelci@example.org", Password: "smtp-secret"})
	opts.Mailer = email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "kernelci@example.org",
		Password: "smtp-secret", TLS: srv.ClientTLS})
	return newEnvWith(t, opts, nil, nil), srv
}

func TestInviteByEmail(t *testing.T) {
	t.Parallel()
	e, mail := smtpEnv(t, api.Options{})
	admin := e.token("admin", superuser)

	// send_email defaults to true; no return_token: the link only goes
	// by email.
	inv := e.do(http.MethodPost, "/latest/user/invite", admin, map[string]any{"username": "alice", "email": "alice@example.org"}).expect(200).object()
	if inv["email_sent"] != true || inv["token"] != nil || inv["invite_url"] != nil {
		t.Fatalf("invite %v", inv)
	}
	m := mail.Wait(t, mailWait)
	if !m.TLS || m.Authed != "kernelci@example.org" {
		t.Errorf("delivery TLS %v, login %q", m.TLS, m.Authed)
	}
	if len(m.To) != 1 || m.To[0] != "alice@example.org" || m.From != "kernelci@example.org" || m.Subject != "You have been invited to KernelCI API" {
		t.Fatalf("invite email %s -> %v: %q", m.From, m.To, m.Subject)
	}
	link := inviteLinkRE.FindStringSubmatch(m.Body)
	if link == nil || link[1] != e.base+"/user/accept-invite" {
		t.Fatalf("no invite link for %s in:\n%s", e.base, m.Body)
	}
	if !strings.Contains(m.Body, "Hello alice,") || !strings.Contains(m.Body, `"token": "`+link[2]+`"`) {
		t.Errorf("body:\n%s", m.Body)
	}

	// Open the link, as the invitee would, then accept.
	page := e.doHeaders(http.MethodGet, strings.TrimPrefix(link[0], e.base), map[string]string{"Accept": "text/html"}, nil).expect(200)
	if !strings.Contains(string(page.body), `value="alice"`) {
		t.Errorf("the link's page does not offer alice's form: %.300s", page.body)
	}
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": link[2], "password": "from email"}).expect(200)
	m = mail.Wait(t, mailWait)
	if m.To[0] != "alice@example.org" || m.Subject != "Welcome to KernelCI API" || !strings.Contains(m.Body, "Hello alice,") {
		t.Errorf("welcome email %v %q:\n%s", m.To, m.Subject, m.Body)
	}
	e.loginWith("alice", "from email").expect(200)

	// send_email false sends nothing, even with SMTP configured.
	inv = e.invite(admin, map[string]any{"username": "bob", "email": "bob@example.org", "send_email": false})
	if inv["email_sent"] != false {
		t.Errorf("email_sent %v with send_email false", inv["email_sent"])
	}
	mail.None(t, 200*time.Millisecond)
}

func TestPasswordResetByEmail(t *testing.T) {
	t.Parallel()
	e, mail := smtpEnv(t, api.Options{PublicBaseURL: "https://api.kernelci.example"})
	e.addUser("alice")
	e.addUser("sleeper", inactive)

	// Nothing is sent for unknown or inactive addresses.
	for _, addr := range []string{"nobody@example.org", "sleeper@example.org"} {
		e.do(http.MethodPost, "/latest/user/forgot-password", "", map[string]string{"email": addr}).expect(202)
	}
	mail.None(t, 200*time.Millisecond)

	e.do(http.MethodPost, "/latest/user/forgot-password", "", map[string]string{"email": "Alice@Example.org"}).expect(202)
	m := mail.Wait(t, mailWait)
	if m.To[0] != "alice@example.org" || m.Subject != "Reset Password Token for KernelCI API account" {
		t.Fatalf("reset email %v %q", m.To, m.Subject)
	}
	tok := resetTokenRE.FindStringSubmatch(m.Body)
	if tok == nil {
		t.Fatalf("no token in:\n%s", m.Body)
	}
	if !strings.Contains(m.Body, "https://api.kernelci.example/user/reset-password") {
		t.Errorf("reset email without the configured link:\n%s", m.Body)
	}
	e.do(http.MethodPost, "/latest/user/reset-password", "", map[string]string{"token": tok[1], "password": "after reset"}).expect(200)
	m = mail.Wait(t, mailWait)
	if m.Subject != "Password reset successful for KernelCI API account" || m.To[0] != "alice@example.org" {
		t.Errorf("confirmation %v %q", m.To, m.Subject)
	}
	e.loginWith("alice", "after reset").expect(200)
	e.loginWith("alice", testPassword).expect(400)
	// Single use.
	e.do(http.MethodPost, "/latest/user/reset-password", "", map[string]string{"token": tok[1], "password": "again"}).
		expectDetail(400, "RESET_PASSWORD_BAD_TOKEN")
}

// Without PUBLIC_BASE_URL the reset email carries no link: the request
// that asks for it is anonymous, and its Host header could point anywhere.
func TestPasswordResetEmailIgnoresHost(t *testing.T) {
	t.Parallel()
	e, mail := smtpEnv(t, api.Options{})
	e.addUser("alice")
	e.doHeaders(http.MethodPost, "/latest/user/forgot-password", map[string]string{"X-Forwarded-Host": "evil.example"},
		map[string]string{"email": "alice@example.org"}).expect(202)
	m := mail.Wait(t, mailWait)
	if strings.Contains(m.Body, "evil.example") || strings.Contains(m.Body, e.base) || !strings.Contains(m.Body, "<API URL>/user/reset-password") {
		t.Errorf("reset email:\n%s", m.Body)
	}
}

// failingMailer fails every delivery and says when it was called.
type failingMailer struct {
	mu    sync.Mutex
	calls int
	done  chan struct{}
}

func (f *failingMailer) Send(context.Context, email.Message) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.done != nil {
		f.done <- struct{}{}
	}
	return errors.New("smtp: 451 try again later")
}

// A failed delivery is logged and reported as email_sent false, never as
// a failed request.
func TestEmailFailuresDoNotFailRequests(t *testing.T) {
	t.Parallel()
	t.Run("SMTP server down", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		e := newEnvWith(t, api.Options{Mailer: email.NewSMTP(email.SMTPConfig{Host: "127.0.0.1", Port: port, From: "kernelci@example.org"})}, nil, io.Discard)
		admin := e.token("admin", superuser)
		inv := e.invite(admin, map[string]any{"username": "alice", "email": "alice@example.org", "send_email": true})
		if inv["email_sent"] != false || inv["token"] == nil {
			t.Fatalf("invite %v", inv)
		}
		// The invite still works, and so does accepting it (its
		// confirmation email fails too).
		e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": inv["token"].(string), "password": "pw"}).expect(200)
		e.loginWith("alice", "pw").expect(200)
	})
	t.Run("mailer errors", func(t *testing.T) {
		t.Parallel()
		fm := &failingMailer{done: make(chan struct{}, 10)}
		e := newEnvWith(t, api.Options{Mailer: fm}, nil, io.Discard)
		admin := e.token("admin", superuser)
		inv := e.invite(admin, map[string]any{"username": "alice", "email": "alice@example.org", "send_email": true})
		if inv["email_sent"] != false {
			t.Fatalf("email_sent %v", inv["email_sent"])
		}
		e.do(http.MethodPost, "/latest/user/forgot-password", "", map[string]string{"email": "alice@example.org"}).expect(202)
		e.do(http.MethodPost, "/latest/user/reset-password", "", map[string]string{"token": e.resetToken(e.storedUserByName("alice")), "password": "x"}).expect(200)
		// Invite, forgot (in the background), reset done.
		for range 3 {
			select {
			case <-fm.done:
			case <-time.After(mailWait):
				t.Fatal("the mailer was not called")
			}
		}
	})
	t.Run("no SMTP configured", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		admin := e.token("admin", superuser)
		inv := e.invite(admin, map[string]any{"username": "alice", "email": "alice@example.org", "send_email": true})
		if inv["email_sent"] != false {
			t.Fatalf("email_sent %v", inv["email_sent"])
		}
	})
}

// recordingMailer hands every message over on a channel.
type recordingMailer struct{ msgs chan email.Message }

func (m *recordingMailer) Send(_ context.Context, msg email.Message) error {
	m.msgs <- msg
	return nil
}

// Nobody can flood a mailbox with password reset emails.
func TestForgotPasswordEmailLimit(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	rm := &recordingMailer{msgs: make(chan email.Message, 10)}
	e := newEnvWith(t, api.Options{Mailer: rm, LoginLimiter: ratelimit.NewLogin(
		ratelimit.LoginConfig{MaxResetEmails: 2, Window: time.Hour}, clk.Now)}, nil, io.Discard)
	e.addUser("alice")
	next := func() email.Message {
		t.Helper()
		select {
		case m := <-rm.msgs:
			return m
		case <-time.After(mailWait):
			t.Fatal("no email")
		}
		return email.Message{}
	}
	none := func() {
		t.Helper()
		select {
		case m := <-rm.msgs:
			t.Fatalf("unexpected email to %s", m.To)
		case <-time.After(200 * time.Millisecond):
		}
	}
	forgot := func() {
		t.Helper()
		e.do(http.MethodPost, "/latest/user/forgot-password", "", map[string]string{"email": "alice@example.org"}).expect(http.StatusAccepted)
	}
	forgot()
	forgot()
	next()
	next()
	forgot() // still 202, but no email
	none()
	clk.Advance(time.Hour)
	forgot()
	if m := next(); m.To != "alice@example.org" {
		t.Errorf("email to %s", m.To)
	}
}
