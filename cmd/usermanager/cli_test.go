package main

import (
	"net"
	"strings"
	"testing"
)

// Every command answers --help on stdout with exit 0; the usage errors
// exit 2.
func TestHelp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOME": t.TempDir()}
	r := runCLI(t, env, "", "--help").ok()
	for _, cmd := range commands() {
		if !strings.Contains(r.stdout, "\n  "+cmd.name+" ") {
			t.Errorf("--help does not list %s", cmd.name)
		}
		for _, h := range []string{"--help", "-h"} {
			cr := runCLI(t, env, "", cmd.name, h).ok()
			if !strings.HasPrefix(cr.stdout, "Usage: usermanager [global flags] "+cmd.name) ||
				!strings.Contains(cr.stdout, "Global flags:\n  --api-url URL") || cr.stderr != "" {
				t.Errorf("%s %s:\n%s", cmd.name, h, cr)
			}
		}
		if hr := runCLI(t, env, "", "help", cmd.name).ok(); !strings.HasPrefix(hr.stdout, "Usage: usermanager [global flags] "+cmd.name) {
			t.Errorf("help %s:\n%s", cmd.name, hr)
		}
	}
	if r := runCLI(t, env, "", "help").ok(); !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("help:\n%s", r)
	}
	// The flags of the seed are documented.
	want := map[string][]string{
		"invite":        {"--username NAME", "--email ADDRESS", "--groups NAMES", "--superuser", "--send-email", "--no-send-email", "--return-token", "--resend-if-exists"},
		"update-user":   {"--data JSON", "--active", "--inactive", "--superuser", "--no-superuser", "--verified", "--unverified", "--add-group GROUP", "--remove-group GROUP", "--set-groups LIST", "--email ADDRESS", "--username NAME", "--password PASSWORD"},
		"accept-invite": {"--token TOKEN", "--password PASSWORD"},
		"login":         {"--username NAME", "--password PASSWORD"},
		"list-users":    {"--limit N", "--offset N", "--output FORMAT"},
	}
	for cmd, flags := range want {
		out := runCLI(t, env, "", cmd, "--help").ok().stdout
		for _, f := range flags {
			if !strings.Contains(out, "  "+f+" ") {
				t.Errorf("%s --help lacks %q:\n%s", cmd, f, out)
			}
		}
	}

	runCLI(t, env, "").fails(2, "no command given")
	runCLI(t, env, "", "frobnicate").fails(2, `unknown command "frobnicate"`)
	runCLI(t, env, "", "--bogus", "whoami").fails(2, "flag provided but not defined: -bogus")
	runCLI(t, env, "", "whoami", "--bogus").fails(2, "flag provided but not defined: -bogus", "Run 'usermanager whoami --help'")
	runCLI(t, env, "", "whoami", "extra").fails(2, `unexpected argument "extra"`)
	runCLI(t, env, "", "update-user", "bob", "--data").fails(2, "flag needs an argument: -data")
}

// A server that is not there is an error (exit 1) that names the URL and
// where it came from.
func TestServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/latest"
	ln.Close()
	env := map[string]string{"HOME": t.TempDir(), "KCI_API_URL": url, "KCI_API_TOKEN": "secret-token-value"}
	for _, args := range [][]string{
		{"list-users"}, {"get-user", "bob"}, {"whoami"}, {"login", "--username", "a", "--password", "b"},
		{"update-user", "bob", "--active"}, {"list-groups"}, {"create-group", "g"},
		{"invite", "--username", "a", "--email", "a@example.org"}, {"accept-invite", "--token", "t", "--password", "p"},
	} {
		r := runCLI(t, env, "", args...).fails(1, "cannot reach the API at "+url, "connection refused",
			"hint: is the API running? The URL "+url+" comes from KCI_API_URL")
		if strings.Contains(r.stderr, "secret-token-value") {
			t.Fatalf("token printed:\n%s", r)
		}
	}
	runCLI(t, env, "", "--api-url", "http://%zz", "whoami").fails(1, "bad API URL")
}

// Something that answers, but not the API.
func TestNotTheAPI(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	env := s.env(t)
	env["KCI_API_URL"] = strings.TrimSuffix(s.url, "/latest") + "/v9"
	runCLI(t, env, "", "whoami").fails(1, "400 Bad Request: Unsupported API version: v9")
}
