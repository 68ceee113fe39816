// Package email sends the server's notification emails (invites,
// password resets) over SMTP. Bodies are plain text, rendered from
// templates embedded in the binary.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Body    string // plain text, "\n" line ends
}

// Sender delivers messages. Send returns once the message is accepted by
// the next hop, or fails.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTPConfig says how to reach the SMTP server. It mirrors the reference
// settings SMTP_HOST, SMTP_PORT, EMAIL_SENDER and EMAIL_PASSWORD.
type SMTPConfig struct {
	Host     string
	Port     int    // 465 means ImplicitTLS
	From     string // EMAIL_SENDER: the From address, and the login name
	Password string // EMAIL_PASSWORD: "" sends without logging in
	// Timeout bounds a whole delivery (default 30 s) when the context has
	// no earlier deadline.
	Timeout time.Duration
	// TLS is the TLS configuration (nil: system roots, ServerName Host).
	TLS *tls.Config
	// LocalName is the name given in EHLO (default "localhost").
	LocalName string
	// ImplicitTLS speaks TLS from the start (SMTPS; always on port 465).
	// Otherwise the connection starts in clear and is upgraded with
	// STARTTLS when the server offers it.
	ImplicitTLS bool
}

// SMTP sends messages through an SMTP server, one connection per message.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP returns a Sender for cfg.
func NewSMTP(cfg SMTPConfig) *SMTP {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	if cfg.Port == 465 {
		cfg.ImplicitTLS = true
	}
	return &SMTP{cfg: cfg}
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.cfg.TLS != nil {
		c := s.cfg.TLS.Clone()
		if c.ServerName == "" {
			c.ServerName = s.cfg.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

// Send delivers m: connect (with TLS if ImplicitTLS), EHLO, STARTTLS when the
// server offers it, AUTH (PLAIN or LOGIN) when a password is set, then
// MAIL, RCPT and DATA. Credentials are never sent over an unencrypted
// connection to a host other than localhost.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := Compose(s.cfg.From, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("email: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection unblocks a delivery whose context ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if s.cfg.ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("email: TLS with %s: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("email: %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return fmt.Errorf("email: EHLO: %w", err)
	}
	if !s.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("email: STARTTLS: %w", err)
			}
		}
	}
	if s.cfg.Password != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return errors.New("email: the server offers no AUTH but EMAIL_PASSWORD is set")
		}
		_, isTLS := c.TLSConnectionState()
		a, err := pickAuth(mechs, s.cfg.From, s.cfg.Password, s.cfg.Host, isTLS)
		if err != nil {
			return err
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("email: AUTH: %w", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("email: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("email: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return fmt.Errorf("email: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	// The message is accepted; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// pickAuth chooses PLAIN, else LOGIN, among the mechanisms the server
// offers, refusing to send a password in clear to a remote host.
func pickAuth(offered, user, password, host string, isTLS bool) (smtp.Auth, error) {
	if !isTLS && !isLocalhost(host) {
		return nil, fmt.Errorf("email: refusing to send EMAIL_PASSWORD to %s over an unencrypted connection (the server offers no STARTTLS)", host)
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		return plainAuth{user: user, password: password}, nil
	case has("LOGIN"):
		return &loginAuth{user: user, password: password}, nil
	}
	return nil, fmt.Errorf("email: the server offers AUTH %s; supported: PLAIN, LOGIN", offered)
}

func isLocalhost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainAuth is AUTH PLAIN (RFC 4616). Unlike smtp.PlainAuth it leaves the
// encryption check to pickAuth, which knows about port 465.
type plainAuth struct{ user, password string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("email: unexpected server challenge in AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the common AUTH LOGIN: username, then password.
type loginAuth struct {
	user, password string
	step           int
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("email: unexpected server challenge in AUTH LOGIN")
}

// Compose renders m as an RFC 5322 message from from: UTF-8 plain text,
// quoted-printable, CRLF line ends. Addresses and the subject must not
// contain line breaks.
func Compose(from string, m Message, now time.Time) ([]byte, error) {
	for _, v := range []string{from, m.To, m.Subject} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("email: line break in a header")
		}
	}
	if _, err := mail.ParseAddress(m.To); err != nil {
		return nil, fmt.Errorf("email: bad recipient %q: %w", m.To, err)
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("email: bad sender %q: %w", from, err)
	}
	var b bytes.Buffer
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = strings.Trim(from[i+1:], "<> ")
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from)
	hdr("To", m.To)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

//go:embed templates/*.txt
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.txt"))

func render(name, subject, to string, data any) (Message, error) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return Message{}, fmt.Errorf("email: template %s: %w", name, err)
	}
	return Message{To: to, Subject: subject, Body: b.String()}, nil
}

// expiry formats a token expiry for a body.
func expiry(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Invite is the invite email: the link to the acceptance page, and the
// token with the API call for those without a browser.
func Invite(to, username, inviteURL, acceptURL, token string, expires time.Time) (Message, error) {
	return render("invite.txt", "You have been invited to KernelCI API", to, map[string]string{
		"Username": username, "InviteURL": inviteURL, "AcceptURL": acceptURL, "Token": token, "Expires": expiry(expires),
	})
}

// InviteAccepted confirms that an invite was accepted.
func InviteAccepted(to, username string) (Message, error) {
	return render("invite-accepted.txt", "Welcome to KernelCI API", to, map[string]string{"Username": username})
}

// ResetPassword carries a password reset token. resetURL (the API's
// POST /user/reset-password address) is left out when empty.
func ResetPassword(to, username, token, resetURL string, expires time.Time) (Message, error) {
	return render("reset-password.txt", "Reset Password Token for KernelCI API account", to, map[string]string{
		"Username": username, "Token": token, "ResetURL": resetURL, "Expires": expiry(expires),
	})
}

// ResetPasswordDone confirms a password reset.
func ResetPasswordDone(to, username string) (Message, error) {
	return render("reset-password-done.txt", "Password reset successful for KernelCI API account", to, map[string]string{"Username": username})
}
