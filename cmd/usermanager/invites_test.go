package main

import (
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// The seed's invite, then accept-invite and login as the new user.
func TestInviteAcceptLogin(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	s.addGroup("runtime:pull-labs-demo:node-editor")

	var inv wire.InviteResponse
	r := s.um(t, "invite",
		"--username", "alice",
		"--email", "alice@example.org",
		"--groups", "runtime:pull-labs-demo:node-editor",
		"--return-token").ok().pretty()
	r.into(&inv)
	if inv.User == nil || inv.User.Username != "alice" || inv.User.IsVerified || groupNamesOf(inv.User) != "runtime:pull-labs-demo:node-editor" {
		t.Fatalf("invite user %+v", inv.User)
	}
	if inv.Token == nil || inv.InviteURL == nil || !strings.HasSuffix(*inv.InviteURL, "?token="+*inv.Token) ||
		!strings.HasSuffix(inv.AcceptInviteURL, "/user/accept-invite") || inv.EmailSent {
		t.Fatalf("invite %+v", inv)
	}
	// send_email is on by default (as in the reference); without SMTP
	// the server sends nothing and says so.
	if !strings.Contains(r.stderr, "the invite email was not sent") {
		t.Fatalf("no note about the email:\n%s", r)
	}

	// The password comes from stdin when it is not a flag.
	env := s.env(t)
	delete(env, "KCI_API_TOKEN") // accept-invite needs none
	u := runCLI(t, env, "alice-pw\n", "accept-invite", "--token", *inv.Token).ok().pretty().userOut()
	if u.Username != "alice" || !u.IsVerified {
		t.Fatalf("accept-invite: %+v", u)
	}
	runCLI(t, env, "alice-pw2\n", "accept-invite", "--token", *inv.Token).fails(1, "400 Bad Request: Invite already accepted")

	var tok wire.Token
	lr := runCLI(t, env, "alice-pw\n", "login", "--username", "alice").ok().pretty()
	lr.into(&tok)
	if tok.AccessToken == "" || tok.TokenType != "bearer" {
		t.Fatalf("login: %+v", tok)
	}
	if strings.Contains(lr.stderr, "alice-pw") {
		t.Fatalf("the password is echoed:\n%s", lr)
	}
	env["KCI_API_TOKEN"] = tok.AccessToken
	if u := runCLI(t, env, "", "whoami").ok().userOut(); u.Username != "alice" {
		t.Fatalf("whoami %s", u.Username)
	}
	// generate-api-token prints the bare token.
	gr := runCLI(t, env, "", "generate-api-token", "--username", "alice", "--password", "alice-pw").ok()
	env["KCI_API_TOKEN"] = strings.TrimSpace(gr.stdout)
	if strings.Count(gr.stdout, "\n") != 1 || !jwtRE.MatchString(gr.stdout) {
		t.Fatalf("generate-api-token:\n%s", gr)
	}
	if u := runCLI(t, env, "", "whoami").ok().userOut(); u.Username != "alice" {
		t.Fatalf("whoami %s", u.Username)
	}
}

func TestInviteFlags(t *testing.T) {
	t.Parallel()
	mails := make(chan email.Message, 10)
	s := newServer(t, "", withMailer(mails))
	s.addGroup("a")
	s.addGroup("b")
	s.addGroup("c")

	t.Run("groups repeated, superuser, no token", func(t *testing.T) {
		var inv wire.InviteResponse
		r := s.um(t, "invite", "--username", "u1", "--email", "u1@example.org", "--groups", "a,b", "--groups", "c", "--superuser")
		r.ok().into(&inv)
		if groupNamesOf(inv.User) != "a,b,c" || !inv.User.IsSuperuser || inv.Token != nil || inv.InviteURL != nil {
			t.Fatalf("%+v", inv)
		}
		if !strings.Contains(r.stdout, `"token": null`) || !strings.Contains(r.stdout, `"invite_url": null`) {
			t.Fatalf("no null token:\n%s", r)
		}
		// Sent by email by default.
		if !inv.EmailSent || r.stderr != "" {
			t.Fatalf("email_sent %v\n%s", inv.EmailSent, r)
		}
		if m := nextMail(t, mails); m.To != "u1@example.org" || !jwtRE.MatchString(m.Body) {
			t.Fatalf("mail %+v", m)
		}
	})
	t.Run("send-email explicit", func(t *testing.T) {
		var inv wire.InviteResponse
		s.um(t, "invite", "--username", "u2", "--email", "u2@example.org", "--send-email").ok().into(&inv)
		if !inv.EmailSent {
			t.Fatal("not sent")
		}
		nextMail(t, mails)
	})
	t.Run("no-send-email", func(t *testing.T) {
		var inv wire.InviteResponse
		r := s.um(t, "invite", "--username", "u3", "--email", "u3@example.org", "--no-send-email", "--return-token")
		r.ok().into(&inv)
		if inv.EmailSent || inv.Token == nil || r.stderr != "" {
			t.Fatalf("%+v\n%s", inv, r)
		}
		select {
		case m := <-mails:
			t.Fatalf("mail sent to %s", m.To)
		default:
		}
	})
	t.Run("exists", func(t *testing.T) {
		s.um(t, "invite", "--username", "u3", "--email", "u3@example.org", "--no-send-email").fails(1, "400 Bad Request: User already exists")
		var inv wire.InviteResponse
		s.um(t, "invite", "--username", "u3", "--email", "u3@example.org", "--no-send-email", "--resend-if-exists", "--return-token").ok().into(&inv)
		if inv.Token == nil || inv.User.Username != "u3" {
			t.Fatalf("%+v", inv)
		}
		s.um(t, "invite", "--username", "u3", "--email", "other@example.org", "--no-send-email", "--resend-if-exists").
			fails(1, "Existing user has a different email")
		s.um(t, "invite", "--username", "admin", "--email", "admin@kernelci.org", "--resend-if-exists").
			fails(1, "User already verified")
	})
	t.Run("bad input", func(t *testing.T) {
		s.um(t, "invite", "--username", "u4", "--email", "u4@example.org", "--groups", "nope").fails(1, "User group does not exist with name: nope")
		s.um(t, "invite", "--username", "u4", "--email", "bad").fails(1, "422 Unprocessable Entity: body.email:")
		s.um(t, "invite", "--username", "u4").fails(2, "--username and --email are required")
		s.um(t, "invite", "--email", "u4@example.org").fails(2, "--username and --email are required")
		s.um(t, "invite", "--username", "u4", "--email", "u4@example.org", "extra").fails(2, `unexpected argument "extra"`)
	})
	t.Run("invite-url", func(t *testing.T) {
		var u wire.InviteURL
		s.um(t, "invite-url").ok().pretty().into(&u)
		if !strings.HasPrefix(u.PublicBaseURL, "http://127.0.0.1:") || u.AcceptInviteURL != u.PublicBaseURL+"/user/accept-invite" {
			t.Fatalf("%+v", u)
		}
	})
}

func TestAcceptInviteInput(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	invite := func(name string) string {
		var inv wire.InviteResponse
		s.um(t, "invite", "--username", name, "--email", name+"@example.org", "--no-send-email", "--return-token").ok().into(&inv)
		return *inv.Token
	}
	env := map[string]string{"HOME": t.TempDir(), "KCI_API_URL": s.url}

	// Both prompted: the token, then the password, one line each.
	tok := invite("p1")
	runCLI(t, env, tok+"\npw-one\n", "accept-invite").ok()
	runCLI(t, env, "", "login", "--username", "p1", "--password", "pw-one").ok()

	// Both as flags; stdin is not read.
	tok = invite("p2")
	runCLI(t, env, "", "accept-invite", "--token", tok, "--password", "pw-two").ok()

	// Windows line ends and no final newline.
	tok = invite("p3")
	runCLI(t, env, "pw-three\r\n", "accept-invite", "--token", tok).ok()
	tok = invite("p4")
	runCLI(t, env, "pw-four", "accept-invite", "--token", tok).ok()
	runCLI(t, env, "", "login", "--username", "p4", "--password", "pw-four").ok()

	// Nothing to read.
	tok = invite("p5")
	runCLI(t, env, "", "accept-invite", "--token", tok).fails(2, "no new password given")
	runCLI(t, env, "\n", "accept-invite").fails(2, "no invite token given")
	runCLI(t, env, "", "accept-invite", "--token", "garbage", "--password", "x").fails(1, "400 Bad Request: Invalid or expired invite token")
	// The global --token does not shadow the invite token.
	runCLI(t, env, "", "--token", s.token, "accept-invite", "--token", tok, "--password", "pw-five").ok()
}
