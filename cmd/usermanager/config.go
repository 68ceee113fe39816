package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kernelci/kernelci-api-go/client"
)

// configExample is the sample config file (the seed documentation's).
const configExample = `default_instance = "local"

[instances.local]
url = "http://localhost:8001/latest"
token = "<admin-or-user-token>"

[instances.staging]
url = "https://staging.kernelci.org/latest"
token = "<admin-or-user-token>"
`

// fileConfig is usermanager.toml.
type fileConfig struct {
	DefaultInstance string                    `toml:"default_instance"`
	Instances       map[string]instanceConfig `toml:"instances"`
	// API is the reference's fallback table [api] (url, token), read
	// after the selected instance.
	API instanceConfig `toml:"api"`
}

type instanceConfig struct {
	URL   string `toml:"url"`
	Token string `toml:"token"`
}

// settings are the resolved URL and token, with where each came from
// (for the messages).
type settings struct {
	configPath string // "" when no file was read
	instance   string
	url        string
	urlFrom    string
	token      string
	tokenFrom  string
}

// configCandidates are the default config files, first match wins.
func (c *cli) configCandidates() []string {
	var out []string
	if wd, err := os.Getwd(); err == nil {
		out = append(out, filepath.Join(wd, "usermanager.toml"))
	}
	home := c.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home != "" {
		out = append(out, filepath.Join(home, ".config", "kernelci", "usermanager.toml"))
	}
	return out
}

// loadConfig reads --config, else the first default file that exists
// (none is fine). A file named by --config must exist.
func (c *cli) loadConfig() (string, *fileConfig, error) {
	path := c.g.config
	if path == "" {
		for _, p := range c.configCandidates() {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return "", &fileConfig{}, nil
		}
	}
	var cfg fileConfig
	md, err := toml.DecodeFile(path, &cfg)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, usagef("config file %s does not exist", path)
	}
	if err != nil {
		return "", nil, usagef("config file %s: %v", path, err)
	}
	for _, k := range md.Undecoded() {
		fmt.Fprintf(c.stderr, "usermanager: warning: %s: unknown key %q ignored\n", path, k.String())
	}
	return path, &cfg, nil
}

// settings resolves the instance, URL and token once: flags, then the
// environment, then the selected instance of the config file, then its
// [api] table.
func (c *cli) settings() (*settings, error) {
	if c.setting != nil {
		return c.setting, nil
	}
	path, cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	s := &settings{configPath: path}
	name, nameFrom := first(
		src{c.g.instance, "--instance"},
		src{c.getenv("KCI_API_INSTANCE"), "KCI_API_INSTANCE"},
		src{cfg.DefaultInstance, "default_instance"},
	)
	inst := instanceConfig{}
	if name == "" {
		name = "default"
		inst = cfg.Instances[name]
	} else if got, ok := cfg.Instances[name]; ok {
		inst = got
	} else {
		return nil, c.unknownInstance(path, cfg, name, nameFrom)
	}
	s.instance = name
	where := fmt.Sprintf("[instances.%s] in %s", name, path)
	s.url, s.urlFrom = first(
		src{c.g.apiURL, "--api-url"},
		src{c.getenv("KCI_API_URL"), "KCI_API_URL"},
		src{inst.URL, "url of " + where},
		src{cfg.API.URL, "url of [api] in " + path},
	)
	s.url = strings.TrimRight(strings.TrimSpace(s.url), "/")
	s.token, s.tokenFrom = first(
		src{c.g.token, "--token"},
		src{c.getenv("KCI_API_TOKEN"), "KCI_API_TOKEN"},
		src{inst.Token, "token of " + where},
		src{cfg.API.Token, "token of [api] in " + path},
	)
	s.token = strings.TrimSpace(s.token)
	c.setting = s
	return s, nil
}

func (c *cli) unknownInstance(path string, cfg *fileConfig, name, from string) error {
	if path == "" {
		return usagef("instance %q (from %s) needs a config file, and none was found (looked for %s); "+
			"see 'usermanager config-example'", name, from, strings.Join(c.configCandidates(), ", "))
	}
	known := make([]string, 0, len(cfg.Instances))
	for k := range cfg.Instances {
		known = append(known, k)
	}
	slices.Sort(known)
	list := "none"
	if len(known) > 0 {
		list = strings.Join(known, ", ")
	}
	return usagef("instance %q (from %s) is not in %s (instances: %s)", name, from, path, list)
}

type src struct{ value, from string }

// first is the first non-empty value and its source.
func first(srcs ...src) (string, string) {
	for _, s := range srcs {
		if strings.TrimSpace(s.value) != "" {
			return s.value, s.from
		}
	}
	return "", ""
}

// where names the place to put a setting of the current instance.
func (s *settings) where() string {
	file := "./usermanager.toml or ~/.config/kernelci/usermanager.toml"
	if s.configPath != "" {
		file = s.configPath
	}
	return fmt.Sprintf("under [instances.%s] in %s", s.instance, file)
}

// newClient is a client of the configured API; withToken requires a
// token, else none is sent.
func (c *cli) newClient(withToken bool) (*client.Client, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	if s.url == "" {
		return nil, usagef("no API URL: pass --api-url URL, set KCI_API_URL, or set url = \"...\" %s "+
			"(see 'usermanager config-example')", s.where())
	}
	cl := client.New(s.url, "")
	cl.UserAgent = "kernelci-usermanager"
	if withToken {
		if s.token == "" {
			return nil, usagef("%s needs an API token: pass --token TOKEN, set KCI_API_TOKEN, or set token = \"...\" %s "+
				"(get one with 'usermanager login --username NAME')", c.cmd.name, s.where())
		}
		cl.Token = s.token
	}
	return cl, nil
}
