package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// twoInstances starts servers a (admin "alpha") and b (admin "beta") and
// writes a config file naming both, a the default.
func twoInstances(t *testing.T) (a, b *server, path string) {
	t.Helper()
	a, b = newServer(t, "alpha"), newServer(t, "beta")
	path = writeFile(t, filepath.Join(t.TempDir(), "um.toml"), fmt.Sprintf(`default_instance = "a"

[instances.a]
url = %q
token = %q

[instances.b]
url = %q
token = %q
`, a.url, a.token, b.url, b.token))
	return a, b, path
}

// Flags beat the environment, which beats the config file; the instance
// is chosen the same way, and each setting is resolved on its own.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	a, b, path := twoInstances(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string // username printed by whoami, or
		from string // where the token the server refuses comes from
	}{
		{"file default instance", nil, []string{"whoami"}, "alpha", ""},
		{"env instance", map[string]string{"KCI_API_INSTANCE": "b"}, []string{"whoami"}, "beta", ""},
		{"flag instance beats env", map[string]string{"KCI_API_INSTANCE": "a"}, []string{"--instance", "b", "whoami"}, "beta", ""},
		{"flag after the command", nil, []string{"whoami", "--instance", "b"}, "beta", ""},
		{"env url and token beat file", map[string]string{"KCI_API_URL": b.url, "KCI_API_TOKEN": b.token}, []string{"whoami"}, "beta", ""},
		{"flags beat env", map[string]string{"KCI_API_URL": b.url, "KCI_API_TOKEN": b.token},
			[]string{"--api-url", a.url, "--token", a.token, "whoami"}, "alpha", ""},
		{"flags after the command", map[string]string{"KCI_API_URL": b.url, "KCI_API_TOKEN": b.token},
			[]string{"whoami", "--api-url", a.url + "/", "--token", a.token}, "alpha", ""},
		{"env token with file url of the env instance", map[string]string{"KCI_API_INSTANCE": "b", "KCI_API_TOKEN": b.token}, []string{"whoami"}, "beta", ""},

		// Mixed sources: the URL of one place and the token of another.
		// The server refuses the token, and the hint names where it came
		// from without printing it.
		{"flag url, file token", nil, []string{"--api-url", b.url, "whoami"}, "", "token of [instances.a] in " + path},
		{"file url, env token", map[string]string{"KCI_API_TOKEN": b.token}, []string{"whoami"}, "", "KCI_API_TOKEN"},
		{"env url, flag token", map[string]string{"KCI_API_URL": a.url}, []string{"--token", b.token, "whoami"}, "", "--token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOME": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			r := runCLI(t, env, "", append([]string{"--config", path}, tc.args...)...)
			if tc.from != "" {
				r.fails(1, "401 Unauthorized", "the server refused the token from "+tc.from)
				if strings.Contains(r.stderr, a.token) || strings.Contains(r.stderr, b.token) {
					t.Fatalf("a token is printed:\n%s", r)
				}
				return
			}
			if got := r.ok().userOut().Username; got != tc.want {
				t.Fatalf("whoami = %s, want %s\n%s", got, tc.want, r)
			}
		})
	}
}

// The seed's example config (local and staging instances) with its URLs
// and tokens pointed at two test servers.
func TestSeedConfigExample(t *testing.T) {
	t.Parallel()
	local, staging := newServer(t, "alpha"), newServer(t, "beta")
	cfg := strings.NewReplacer(
		"http://localhost:8001/latest", local.url,
		"https://staging.kernelci.org/latest", staging.url,
	).Replace(configExample)
	cfg = strings.Replace(cfg, "<admin-or-user-token>", local.token, 1)
	cfg = strings.Replace(cfg, "<admin-or-user-token>", staging.token, 1)
	path := writeFile(t, filepath.Join(t.TempDir(), "usermanager.toml"), cfg)
	whoami := func(env map[string]string, args ...string) string {
		t.Helper()
		env["HOME"] = t.TempDir()
		return runCLI(t, env, "", append([]string{"--config", path}, append(args, "whoami")...)...).ok().userOut().Username
	}
	if got := whoami(map[string]string{}); got != "alpha" {
		t.Fatalf("default_instance: %s", got)
	}
	if got := whoami(map[string]string{}, "--instance", "staging"); got != "beta" {
		t.Fatalf("--instance staging: %s", got)
	}
	if got := whoami(map[string]string{"KCI_API_INSTANCE": "staging"}); got != "beta" {
		t.Fatalf("KCI_API_INSTANCE=staging: %s", got)
	}
}

// Settings errors are usage errors (exit 2) that say where to set things.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	a, _, path := twoInstances(t)
	dir := t.TempDir()
	home := func() map[string]string { return map[string]string{"HOME": t.TempDir()} }

	t.Run("no url", func(t *testing.T) {
		runCLI(t, home(), "", "list-users").fails(2, "no API URL", "--api-url", "KCI_API_URL",
			"[instances.default]", "./usermanager.toml or ~/.config/kernelci/usermanager.toml", "config-example")
	})
	t.Run("no token", func(t *testing.T) {
		env := home()
		env["KCI_API_URL"] = a.url
		runCLI(t, env, "", "list-users").fails(2, "list-users needs an API token", "--token", "KCI_API_TOKEN",
			"token = ", "usermanager login")
	})
	t.Run("no token, config file named", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "url-only.toml"), fmt.Sprintf("default_instance = \"x\"\n[instances.x]\nurl = %q\n", a.url))
		runCLI(t, home(), "", "--config", p, "whoami").fails(2, "needs an API token", "under [instances.x] in "+p)
	})
	t.Run("unknown instance", func(t *testing.T) {
		runCLI(t, home(), "", "--config", path, "--instance", "staging", "whoami").
			fails(2, `instance "staging" (from --instance) is not in `+path+" (instances: a, b)")
	})
	t.Run("unknown env instance", func(t *testing.T) {
		env := home()
		env["KCI_API_INSTANCE"] = "prod"
		runCLI(t, env, "", "--config", path, "whoami").fails(2, `instance "prod" (from KCI_API_INSTANCE)`)
	})
	t.Run("unknown default instance", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "bad-default.toml"), "default_instance = \"zzz\"\n")
		runCLI(t, home(), "", "--config", p, "whoami").fails(2, `instance "zzz" (from default_instance) is not in `+p+" (instances: none)")
	})
	t.Run("instance without config file", func(t *testing.T) {
		runCLI(t, home(), "", "--instance", "local", "whoami").fails(2, `instance "local" (from --instance) needs a config file`)
	})
	t.Run("missing --config file", func(t *testing.T) {
		runCLI(t, home(), "", "--config", filepath.Join(dir, "nope.toml"), "whoami").fails(2, "nope.toml does not exist")
	})
	t.Run("bad toml", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "bad.toml"), "default_instance = \n[instances.a\n")
		runCLI(t, home(), "", "--config", p, "whoami").fails(2, "config file "+p)
	})
	t.Run("unknown key warns", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "typo.toml"), fmt.Sprintf("[instances.default]\nurl = %q\ntoken = %q\ntokne = \"x\"\n", a.url, a.token))
		r := runCLI(t, home(), "", "--config", p, "whoami").ok()
		if !strings.Contains(r.stderr, `unknown key "instances.default.tokne" ignored`) {
			t.Fatalf("no warning:\n%s", r)
		}
	})
	t.Run("reference [api] table", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "api.toml"), fmt.Sprintf("[api]\nurl = %q\ntoken = %q\n", a.url, a.token))
		if u := runCLI(t, home(), "", "--config", p, "whoami").ok().userOut(); u.Username != "alpha" {
			t.Fatalf("whoami %s", u.Username)
		}
	})
	t.Run("instance named default", func(t *testing.T) {
		p := writeFile(t, filepath.Join(dir, "default.toml"), fmt.Sprintf("[instances.default]\nurl = %q\ntoken = %q\n", a.url, a.token))
		if u := runCLI(t, home(), "", "--config", p, "whoami").ok().userOut(); u.Username != "alpha" {
			t.Fatalf("whoami %s", u.Username)
		}
	})
	t.Run("commands without a token need only the url", func(t *testing.T) {
		env := home()
		env["KCI_API_URL"] = a.url
		runCLI(t, env, "", "login", "--username", "alpha", "--password", adminPassword).ok()
		runCLI(t, env, "", "forgot-password", "--email", "alpha@kernelci.org").ok()
	})
	t.Run("config-example needs nothing", func(t *testing.T) {
		r := runCLI(t, home(), "", "config-example").ok()
		var cfg fileConfig
		md, err := toml.Decode(r.stdout, &cfg)
		if err != nil || len(md.Undecoded()) > 0 {
			t.Fatalf("example does not decode: %v %v\n%s", err, md.Undecoded(), r)
		}
		if cfg.DefaultInstance != "local" || cfg.Instances["local"].URL != "http://localhost:8001/latest" ||
			cfg.Instances["staging"].URL != "https://staging.kernelci.org/latest" {
			t.Fatalf("example = %+v", cfg)
		}
	})
}

// The default config files: ./usermanager.toml, then
// ~/.config/kernelci/usermanager.toml; --config beats both. (Not
// parallel: it changes the working directory.)
func TestConfigLookupOrder(t *testing.T) {
	a, b := newServer(t, "alpha"), newServer(t, "beta")
	conf := func(s *server) string {
		return fmt.Sprintf("default_instance = \"local\"\n\n[instances.local]\nurl = %q\ntoken = %q\n", s.url, s.token)
	}
	wd, home := t.TempDir(), t.TempDir()
	t.Chdir(wd)
	env := map[string]string{"HOME": home}
	whoami := func(args ...string) string {
		t.Helper()
		return runCLI(t, env, "", append(args, "whoami")...).ok().userOut().Username
	}

	writeFile(t, filepath.Join(home, ".config", "kernelci", "usermanager.toml"), conf(b))
	if got := whoami(); got != "beta" {
		t.Fatalf("home config: whoami %s, want beta", got)
	}
	writeFile(t, filepath.Join(wd, "usermanager.toml"), conf(a))
	if got := whoami(); got != "alpha" {
		t.Fatalf("./usermanager.toml should beat the home config: whoami %s", got)
	}
	other := writeFile(t, filepath.Join(t.TempDir(), "other.toml"), conf(b))
	if got := whoami("--config", other); got != "beta" {
		t.Fatalf("--config should beat ./usermanager.toml: whoami %s", got)
	}
	env["KCI_API_URL"], env["KCI_API_TOKEN"] = b.url, b.token
	if got := whoami(); got != "beta" {
		t.Fatalf("env should beat ./usermanager.toml: whoami %s", got)
	}
}
