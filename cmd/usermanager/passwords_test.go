package main

import (
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/email"
)

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	env := map[string]string{"HOME": t.TempDir(), "KCI_API_URL": s.url}
	runCLI(t, env, "", "login", "--username", "admin", "--password", "wrong").fails(1, "400 Bad Request: LOGIN_BAD_CREDENTIALS")
	runCLI(t, env, "wrong\n", "login", "--username", "nobody").fails(1, "LOGIN_BAD_CREDENTIALS")
	runCLI(t, env, "", "login").fails(2, "--username is required")
	runCLI(t, env, "", "login", "--username", "admin").fails(2, "no password given")
	runCLI(t, env, "", "generate-api-token", "--username", "admin", "--password", "wrong").fails(1, "LOGIN_BAD_CREDENTIALS")
}

func TestUpdatePassword(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	bob := s.addUser("bob")
	env := map[string]string{"HOME": t.TempDir(), "KCI_API_URL": s.url}
	check := func(pw string) {
		t.Helper()
		if ok, _ := auth.VerifyPassword(pw, s.user("bob").HashedPassword); !ok {
			t.Fatalf("password is not %q", pw)
		}
	}

	// All flags.
	r := runCLI(t, env, "", "update-password", "--username", "bob", "--password", userPassword, "--new-password", "p1").ok()
	if r.stdout != "" || !strings.Contains(r.stderr, "Password of bob updated") {
		t.Fatalf("%s", r)
	}
	check("p1")
	// Prompted: the current one, then the new one.
	runCLI(t, env, "p1\np2\n", "update-password", "--username", "bob").ok()
	check("p2")
	// The user of the token when --username is left out.
	env["KCI_API_TOKEN"] = s.tokenFor(bob)
	runCLI(t, env, "", "update-password", "--password", "p2", "--new-password", "p3").ok()
	check("p3")

	runCLI(t, env, "", "update-password", "--username", "bob", "--password", "wrong", "--new-password", "x").
		fails(1, "400 Bad Request: LOGIN_BAD_CREDENTIALS")
	delete(env, "KCI_API_TOKEN")
	runCLI(t, env, "", "update-password", "--password", "p3", "--new-password", "x").fails(2, "--username is required")
	runCLI(t, env, "p3\n", "update-password", "--username", "bob").fails(2, "no new password given")
	check("p3")
}

// forgot-password mails a token; reset-password sets the password with it.
func TestForgotResetPassword(t *testing.T) {
	t.Parallel()
	mails := make(chan email.Message, 4)
	s := newServer(t, "", withMailer(mails))
	s.addUser("bob")
	env := map[string]string{"HOME": t.TempDir(), "KCI_API_URL": s.url}

	r := runCLI(t, env, "", "forgot-password", "--email", "bob@example.org").ok()
	if r.stdout != "" || !strings.Contains(r.stderr, "a password reset token is on its way") {
		t.Fatalf("%s", r)
	}
	m := nextMail(t, mails)
	tok := jwtRE.FindString(m.Body)
	if m.To != "bob@example.org" || tok == "" {
		t.Fatalf("mail %+v", m)
	}
	// Unknown addresses answer the same.
	runCLI(t, env, "", "forgot-password", "--email", "nobody@example.org").ok()
	runCLI(t, env, "", "forgot-password").fails(2, "--email is required")
	runCLI(t, env, "", "forgot-password", "--email", "nope").fails(1, "422 Unprocessable Entity")

	runCLI(t, env, "", "reset-password", "--token", "bad", "--password", "x").fails(1, "400 Bad Request: RESET_PASSWORD_BAD_TOKEN")
	r = runCLI(t, env, "new-pw\n", "reset-password", "--token", tok).ok()
	if !strings.Contains(r.stderr, "Password reset.") {
		t.Fatalf("%s", r)
	}
	runCLI(t, env, "", "login", "--username", "bob", "--password", "new-pw").ok()
	// The token dies with the password it was made for; both prompted.
	runCLI(t, env, tok+"\nagain\n", "reset-password").fails(1, "RESET_PASSWORD_BAD_TOKEN")
}
