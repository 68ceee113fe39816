package email_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/email/smtptest"
)

const sender = "kernelci-bot@example.org"

func send(t *testing.T, cfg email.SMTPConfig, m email.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return email.NewSMTP(cfg).Send(ctx, m)
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.Options{User: sender, Password: "s3cret", Mechanisms: []string{mech}})
			link := "http://api.example.org/user/accept-invite?token=abc.def.ghi"
			msg, err := email.Invite("alice@example.org", "alice", link, "http://api.example.org/user/accept-invite", "abc.def.ghi", time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			err = send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender, Password: "s3cret", TLS: srv.ClientTLS}, msg)
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 10*time.Second)
			if !got.TLS {
				t.Error("the message did not come over TLS")
			}
			if got.Authed != sender {
				t.Errorf("logged in as %q, want %q", got.Authed, sender)
			}
			if got.From != sender || len(got.To) != 1 || got.To[0] != "alice@example.org" {
				t.Errorf("envelope %s -> %v", got.From, got.To)
			}
			if got.Subject != "You have been invited to KernelCI API" {
				t.Errorf("subject %q", got.Subject)
			}
			for k, want := range map[string]string{
				"From": sender, "To": "alice@example.org", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "quoted-printable",
			} {
				if v := got.Header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if _, err := got.Header.Date(); err != nil {
				t.Errorf("Date header: %v", err)
			}
			if id := got.Header.Get("Message-Id"); !strings.HasSuffix(id, "@example.org>") {
				t.Errorf("Message-ID %q", id)
			}
			for _, want := range []string{"Hello alice,", "\n  " + link + "\n", "abc.def.ghi", "2026-03-04 05:06 UTC"} {
				if !strings.Contains(got.Body, want) {
					t.Errorf("body lacks %q:\n%s", want, got.Body)
				}
			}
		})
	}
}

func TestSendImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, User: sender, Password: "pw"})
	msg, _ := email.InviteAccepted("bob@example.org", "bob")
	err := send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, ImplicitTLS: true, From: sender, Password: "pw", TLS: srv.ClientTLS}, msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 10*time.Second)
	if !got.TLS || got.Subject != "Welcome to KernelCI API" || !strings.Contains(got.Body, "Hello bob,") {
		t.Errorf("got TLS=%v subject %q body %q", got.TLS, got.Subject, got.Body)
	}
}

func TestSendWithoutPasswordOrTLS(t *testing.T) {
	t.Parallel()
	// A local relay without TLS and without login.
	srv := smtptest.Start(t, smtptest.Options{NoTLS: true})
	msg, _ := email.ResetPasswordDone("carol@example.org", "carol")
	if err := send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender}, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 10*time.Second)
	if got.TLS || got.Authed != "" || !strings.Contains(got.Body, `"carol"`) {
		t.Errorf("got TLS=%v authed=%q body %q", got.TLS, got.Authed, got.Body)
	}
}

func TestSendFailures(t *testing.T) {
	t.Parallel()
	msg, _ := email.InviteAccepted("dave@example.org", "dave")

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{User: sender, Password: "right"})
		err := send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender, Password: "wrong", TLS: srv.ClientTLS}, msg)
		if err == nil || !strings.Contains(err.Error(), "AUTH") {
			t.Fatalf("err = %v, want an AUTH failure", err)
		}
		srv.None(t, 100*time.Millisecond)
	})
	t.Run("login required but no password", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{User: sender, Password: "right"})
		if err := send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender, TLS: srv.ClientTLS}, msg); err == nil {
			t.Fatal("sent without logging in")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		err := send(t, email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender}, msg)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v, want a STARTTLS failure", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		if err := send(t, email.SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: sender}, msg); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("server never answers", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		start := time.Now()
		err = email.NewSMTP(email.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: sender, Timeout: 300 * time.Millisecond}).
			Send(context.Background(), msg)
		if err == nil {
			t.Fatal("no error")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Send took %v with a 300ms timeout", d)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{NoTLS: true})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: sender}).Send(ctx, msg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// A password is never sent in clear to a remote host, and only PLAIN
// and LOGIN are spoken.
func TestPickAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		offered, host string
		tls           bool
		want          string // mechanism, or "" for an error
	}{
		{"PLAIN LOGIN", "smtp.example.org", true, "PLAIN"},
		{"LOGIN PLAIN", "smtp.example.org", true, "PLAIN"},
		{"login", "smtp.example.org", true, "LOGIN"},
		{"CRAM-MD5 XOAUTH2", "smtp.example.org", true, ""},
		{"PLAIN", "smtp.example.org", false, ""},
		{"PLAIN", "localhost", false, "PLAIN"},
		{"PLAIN", "127.0.0.1", false, "PLAIN"},
		{"PLAIN", "::1", false, "PLAIN"},
		{"PLAIN", "10.0.0.1", false, ""},
	} {
		a, err := email.PickAuth(tc.offered, "u", "p", tc.host, tc.tls)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q to %s (tls %v): accepted, want an error", tc.offered, tc.host, tc.tls)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q to %s (tls %v): %v", tc.offered, tc.host, tc.tls, err)
			continue
		}
		if mech, _, _ := a.Start(nil); mech != tc.want {
			t.Errorf("%q to %s: mechanism %s, want %s", tc.offered, tc.host, mech, tc.want)
		}
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := email.Compose(sender, email.Message{To: "zoë@example.org", Subject: "Grüße", Body: "line one\nline two with ünïcode and a very long line " + strings.Repeat("x", 100) + "\n"}, now)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if !strings.Contains(s, "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n") {
		t.Errorf("subject not Q-encoded:\n%s", s)
	}
	if !strings.Contains(s, "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n") {
		t.Errorf("date:\n%s", s)
	}
	head, body, ok := strings.Cut(s, "\r\n\r\n")
	if !ok {
		t.Fatal("no header/body separator")
	}
	_ = head
	for _, line := range strings.Split(body, "\r\n") {
		if len(line) > 76 {
			t.Errorf("body line longer than 76: %q", line)
		}
		for _, c := range []byte(line) {
			if c > 126 {
				t.Errorf("8-bit byte in body line %q", line)
				break
			}
		}
	}
	if strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
		t.Error("bare LF in body")
	}

	for _, bad := range []email.Message{
		{To: "x@example.org\r\nBcc: evil@example.org", Subject: "s"},
		{To: "x@example.org", Subject: "s\nBcc: evil@example.org"},
		{To: "not an address", Subject: "s"},
	} {
		if _, err := email.Compose(sender, bad, now); err == nil {
			t.Errorf("Compose(%+v) accepted", bad)
		}
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC)
	inv, err := email.Invite("a@example.org", "alice", "https://api/x?token=T1", "https://api/x", "T1", exp)
	if err != nil {
		t.Fatal(err)
	}
	reset, err := email.ResetPassword("a@example.org", "alice", "R1", "https://api/user/reset-password", exp)
	if err != nil {
		t.Fatal(err)
	}
	resetNoURL, err := email.ResetPassword("a@example.org", "alice", "R2", "", exp)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := email.InviteAccepted("a@example.org", "alice")
	done, _ := email.ResetPasswordDone("a@example.org", "alice")
	for _, tc := range []struct {
		m       email.Message
		subject string
		want    []string
	}{
		{inv, "You have been invited to KernelCI API", []string{"Hello alice,", "https://api/x?token=T1", `"token": "T1"`, "2026-05-06 07:08 UTC"}},
		{reset, "Reset Password Token for KernelCI API account", []string{"Hello alice,", "\n  R1\n", "https://api/user/reset-password", "2026-05-06 07:08 UTC"}},
		{resetNoURL, "Reset Password Token for KernelCI API account", []string{"\n  R2\n", "<API URL>/user/reset-password"}},
		{acc, "Welcome to KernelCI API", []string{"Hello alice,", "active"}},
		{done, "Password reset successful for KernelCI API account", []string{"Hello alice,", "changed"}},
	} {
		if tc.m.Subject != tc.subject || tc.m.To != "a@example.org" {
			t.Errorf("message %q to %q", tc.m.Subject, tc.m.To)
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.m.Body, w) {
				t.Errorf("%s: body lacks %q:\n%s", tc.subject, w, tc.m.Body)
			}
		}
	}
}
