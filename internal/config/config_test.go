package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func newFS() *flag.FlagSet {
	fs := flag.NewFlagSet("kernelci-api", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func writeDotenv(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(newFS(), nil, env(nil), filepath.Join(t.TempDir(), "missing.env"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr: ":8001", DataDir: "./kernelci-data", Algorithm: "HS256",
		InviteTokenLifetime:  7 * 24 * time.Hour,
		InitialAdminUsername: "admin", InitialAdminEmail: "admin@kernelci.org",
		KeepAlivePeriod: 45 * time.Second, EventHistoryTTL: 604800 * time.Second,
		TelemetryTTL:     1209600 * time.Second,
		NodePurgeAgeDays: 180, CloudEventsSource: "https://api.kernelci.org/",
		Lifecycle: true, LifecycleInterval: 10 * time.Second,
		SubscriptionReap: 15 * time.Minute,
		MaxBodyBytes:     1 << 20, MaxHierarchyBytes: 64 << 20,
		StatsMaxGroups: 10000, StreamHeartbeat: 15 * time.Second, StreamMaxPerClient: 8, StreamMaxTotal: 1000,
		LogLevel: slog.LevelInfo, LogFormat: "text",
		SMTPPort:                587,
		LoginMaxFailuresPerUser: 10, LoginMaxFailuresPerClient: 50, LoginFailureWindow: 15 * time.Minute,
		RedisDBNumber: 1, MaxAPITokensPerUser: 100,
		QueryTimeout: 5 * time.Second, QueryMaxConditions: 100, QueryMaxListValues: 1000, QueryMaxRegexRepeat: 100,
		AdmissionWait: 2 * time.Second, MaxJSONDepth: 64, MaxPageLimit: 10000, MaxEventsLimit: 10000,
		MaxSubscriptionsPerUser: 1000, MaxWaitsPerUser: 2000, BodyReadTimeout: 30 * time.Second, MinBodyRate: 100 << 10,
		WriteTimeout: 120 * time.Second, MaxConnections: 4096, AuthCacheTTL: 500 * time.Millisecond, AuthCacheSize: 10000,
	}
	got := *c
	got.sources = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if c.TokenLifetime() != 315360000*time.Second {
		t.Errorf("TokenLifetime = %v", c.TokenLifetime())
	}
	for _, s := range settings {
		if c.Source(s.env) != FromDefault {
			t.Errorf("%s from %v", s.env, c.Source(s.env))
		}
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Errorf("Validate without SECRET_KEY = %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	dotenv := writeDotenv(t, `
KCI_LISTEN_ADDR=:1001
KCI_DATA_DIR=/dotenv
SECRET_KEY=from-dotenv
KCI_LOG_LEVEL=debug
NODE_PURGE_AGE_DAYS=
`)
	environ := map[string]string{
		"KCI_LISTEN_ADDR":     ":2002",
		"KCI_DATA_DIR":        "/env",
		"KEEP_ALIVE_PERIOD":   "10",
		"NODE_PURGE_AGE_DAYS": "",
		"KCI_LOG_LEVEL":       "", // empty: falls through to .env
	}
	c, err := Load(newFS(), []string{"--addr", ":3003", "--keep-alive-period=20"}, env(environ), dotenv)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		env  string
		got  any
		want any
		src  Source
	}{
		{"KCI_LISTEN_ADDR", c.Addr, ":3003", FromFlag},
		{"KEEP_ALIVE_PERIOD", c.KeepAlivePeriod, 20 * time.Second, FromFlag},
		{"KCI_DATA_DIR", c.DataDir, "/env", FromEnv},
		{"SECRET_KEY", c.SecretKey, "from-dotenv", FromDotenv},
		{"KCI_LOG_LEVEL", c.LogLevel, slog.LevelDebug, FromDotenv},
		{"NODE_PURGE_AGE_DAYS", c.NodePurgeAgeDays, 180, FromDefault},
		{"ALGORITHM", c.Algorithm, "HS256", FromDefault},
	}
	for _, ck := range checks {
		if ck.got != ck.want || c.Source(ck.env) != ck.src {
			t.Errorf("%s = %v from %v; want %v from %v", ck.env, ck.got, c.Source(ck.env), ck.want, ck.src)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// An explicit empty flag wins over the environment.
	c, err = Load(newFS(), []string{"--mongo-service="}, env(map[string]string{"MONGO_SERVICE": "mongodb://db:27017"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.MongoService != "" || c.Source("MONGO_SERVICE") != FromFlag {
		t.Errorf("MONGO_SERVICE = %q from %v", c.MongoService, c.Source("MONGO_SERVICE"))
	}
}

func TestEverySettingBindsFromEachSource(t *testing.T) {
	// A valid non-default value for each setting.
	sample := map[string]string{
		"KCI_LISTEN_ADDR": "127.0.0.1:9", "KCI_DATA_DIR": "/d", "SECRET_KEY": "s", "UNIFIED_SECRET": "u",
		"ALGORITHM": "HS512", "ACCESS_TOKEN_EXPIRE_MINUTES": "5", "ACCESS_TOKEN_EXPIRE_SECONDS": "7.5",
		"INVITE_TOKEN_EXPIRE_SECONDS": "60", "KCI_MAX_API_TOKENS_PER_USER": "7", "PUBLIC_BASE_URL": "https://x.example",
		"MONGO_SERVICE": "mongodb://db", "REDIS_HOST": "redis", "REDIS_DB_NUMBER": "3", "KCI_SEQUENCE_GAP_GRACE_SECONDS": "5", "KCI_INITIAL_PASSWORD": "pw",
		"KCI_INITIAL_ADMIN_USERNAME": "root", "KCI_INITIAL_ADMIN_EMAIL": "root@x.example",
		"KEEP_ALIVE_PERIOD": "3", "EVENT_HISTORY_TTL_SECONDS": "4", "TELEMETRY_TTL_SECONDS": "9", "NODE_PURGE_AGE_DAYS": "5",
		"KCI_LIFECYCLE": "false", "KCI_LIFECYCLE_INTERVAL": "3",
		"CLOUD_EVENTS_SOURCE": "https://y.example/", "SUBSCRIPTION_REAP_MINUTES": "8", "KCI_MAX_BODY_BYTES": "6", "KCI_MAX_HIERARCHY_BYTES": "7",
		"KCI_LOG_LEVEL": "error", "KCI_LOG_FORMAT": "json",
		"SMTP_HOST": "smtp.x.example", "SMTP_PORT": "465", "EMAIL_SENDER": "bot@x.example", "EMAIL_PASSWORD": "mailpw",
		"KCI_LOGIN_MAX_FAILURES_PER_USER": "0", "KCI_LOGIN_MAX_FAILURES_PER_CLIENT": "3", "KCI_LOGIN_FAILURE_WINDOW_SECONDS": "60",
		"KCI_QUERY_TIMEOUT_SECONDS": "3", "KCI_QUERY_MAX_CONDITIONS": "7", "KCI_QUERY_MAX_LIST_VALUES": "8",
		"KCI_QUERY_MAX_REGEX_REPEAT": "9", "KCI_MAX_HEAVY_QUERIES": "2", "KCI_MAX_CONCURRENT_HASHES": "3", "KCI_MAX_LARGE_HIERARCHIES": "5",
		"KCI_ADMISSION_WAIT_SECONDS": "4", "KCI_MAX_JSON_DEPTH": "12", "KCI_MAX_PAGE_LIMIT": "13", "KCI_MAX_EVENTS_LIMIT": "14",
		"KCI_MAX_SUBSCRIPTIONS_PER_USER": "15", "KCI_MAX_WAITS_PER_USER": "21", "KCI_BODY_READ_TIMEOUT_SECONDS": "16", "KCI_MIN_BODY_RATE": "17",
		"KCI_WRITE_TIMEOUT_SECONDS": "18", "KCI_MAX_CONNECTIONS": "19", "KCI_AUTH_CACHE_SECONDS": "0.25", "KCI_AUTH_CACHE_SIZE": "77", "KCI_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1/32",
		"KCI_STATS_MAX_GROUPS": "50", "KCI_STREAM_HEARTBEAT_SECONDS": "2", "KCI_STREAM_MAX_PER_CLIENT": "0", "KCI_STREAM_MAX_TOTAL": "7",
		"KCI_PPROF_ADDR": "127.0.0.1:6060", "KCI_QUERY_REFUSE_UNBOUNDED_REGEX": "true",
	}
	if len(sample) != len(settings) {
		t.Fatalf("sample has %d entries for %d settings", len(sample), len(settings))
	}
	var lines []string
	var args []string
	for _, s := range settings {
		v, ok := sample[s.env]
		if !ok {
			t.Fatalf("no sample for %s", s.env)
		}
		lines = append(lines, s.env+"="+v)
		args = append(args, "--"+s.flag+"="+v)
	}
	dump := func(c *Config) map[string]string {
		m := map[string]string{}
		for _, s := range settings {
			m[s.env] = s.get(c)
		}
		return m
	}
	for _, src := range []Source{FromFlag, FromEnv, FromDotenv} {
		var c *Config
		var err error
		switch src {
		case FromFlag:
			c, err = Load(newFS(), args, env(nil), "")
		case FromEnv:
			c, err = Load(newFS(), nil, env(sample), "")
		case FromDotenv:
			c, err = Load(newFS(), nil, env(nil), writeDotenv(t, strings.Join(lines, "\n")))
		}
		if err != nil {
			t.Fatalf("%v: %v", src, err)
		}
		got := dump(c)
		for k, want := range sample {
			if got[k] != want || c.Source(k) != src {
				t.Errorf("%v: %s = %q from %v; want %q", src, k, got[k], c.Source(k), want)
			}
		}
	}
}

// KCI_PPROF_ADDR serves profiles on loopback addresses only.
func TestPprofAddrLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:6060", "127.0.0.2:0"} {
		if _, err := Load(newFS(), nil, env(map[string]string{"KCI_PPROF_ADDR": ok}), ""); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{":6060", "0.0.0.0:6060", "10.1.2.3:6060", "localhost:6060", "127.0.0.1"} {
		if _, err := Load(newFS(), nil, env(map[string]string{"KCI_PPROF_ADDR": bad}), ""); err == nil || !strings.Contains(err.Error(), "KCI_PPROF_ADDR") {
			t.Errorf("%s: err = %v, want a KCI_PPROF_ADDR error", bad, err)
		}
	}
}

func TestTokenLifetime(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ map[string]string
		want    time.Duration
	}{
		{"default", nil, nil, 315360000 * time.Second},
		{"seconds", nil, map[string]string{"ACCESS_TOKEN_EXPIRE_SECONDS": "3600"}, time.Hour},
		{"fractional seconds", nil, map[string]string{"ACCESS_TOKEN_EXPIRE_SECONDS": "1.5"}, 1500 * time.Millisecond},
		{"minutes", nil, map[string]string{"ACCESS_TOKEN_EXPIRE_MINUTES": "30"}, 30 * time.Minute},
		{"both from env: seconds", nil, map[string]string{"ACCESS_TOKEN_EXPIRE_MINUTES": "30", "ACCESS_TOKEN_EXPIRE_SECONDS": "60"}, time.Minute},
		{"minutes flag beats seconds env", []string{"--access-token-expire-minutes=2"}, map[string]string{"ACCESS_TOKEN_EXPIRE_SECONDS": "60"}, 2 * time.Minute},
		{"seconds flag beats minutes env", []string{"--access-token-expire-seconds=5"}, map[string]string{"ACCESS_TOKEN_EXPIRE_MINUTES": "30"}, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(newFS(), tc.args, env(tc.environ), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.TokenLifetime(); got != tc.want {
				t.Errorf("TokenLifetime = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestDerivedValues(t *testing.T) {
	c, err := Load(newFS(), nil, env(map[string]string{"KCI_INITIAL_ADMIN_USERNAME": "root"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.InitialAdminEmail != "root@kernelci.org" {
		t.Errorf("InitialAdminEmail = %q", c.InitialAdminEmail)
	}
	c, err = Load(newFS(), []string{"--public-base-url", "https://api.example.org/"}, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicBaseURL != "https://api.example.org" {
		t.Errorf("PublicBaseURL = %q", c.PublicBaseURL)
	}
	if c.InitialAdminEmail != "admin@kernelci.org" {
		t.Errorf("InitialAdminEmail = %q", c.InitialAdminEmail)
	}
}

// KCI_AUTH_CACHE_SECONDS is a decimal number of seconds, kept to the
// millisecond (the default, 0.5, keeps a revocation made on another
// replica under a second); whole numbers work as before, 0 is off.
func TestAuthCacheSeconds(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"0.5": 500 * time.Millisecond, "0.25": 250 * time.Millisecond, "0.001": time.Millisecond,
		"2": 2 * time.Second, " 1.5 ": 1500 * time.Millisecond, "0": 0, "0.0": 0, "3600": time.Hour,
	} {
		c, err := Load(newFS(), nil, env(map[string]string{"KCI_AUTH_CACHE_SECONDS": v}), "")
		if err != nil {
			t.Errorf("KCI_AUTH_CACHE_SECONDS=%q: %v", v, err)
		} else if c.AuthCacheTTL != want {
			t.Errorf("KCI_AUTH_CACHE_SECONDS=%q: %v, want %v", v, c.AuthCacheTTL, want)
		}
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		env, flag, value string
	}{
		{"ALGORITHM", "algorithm", "RS256"},
		{"ALGORITHM", "algorithm", "hs256"},
		{"ACCESS_TOKEN_EXPIRE_SECONDS", "access-token-expire-seconds", "ten"},
		{"ACCESS_TOKEN_EXPIRE_SECONDS", "access-token-expire-seconds", "-5"},
		{"ACCESS_TOKEN_EXPIRE_SECONDS", "access-token-expire-seconds", "NaN"},
		{"ACCESS_TOKEN_EXPIRE_SECONDS", "access-token-expire-seconds", "1e300"},
		{"ACCESS_TOKEN_EXPIRE_MINUTES", "access-token-expire-minutes", "1.5"},
		{"INVITE_TOKEN_EXPIRE_SECONDS", "invite-token-expire-seconds", "1w"},
		{"KEEP_ALIVE_PERIOD", "keep-alive-period", "45s"},
		{"KEEP_ALIVE_PERIOD", "keep-alive-period", "4.5"},
		{"KEEP_ALIVE_PERIOD", "keep-alive-period", "0"},
		{"EVENT_HISTORY_TTL_SECONDS", "event-history-ttl", "-1"},
		{"EVENT_HISTORY_TTL_SECONDS", "event-history-ttl", "99999999999999999999"},
		{"NODE_PURGE_AGE_DAYS", "node-purge-age-days", "half a year"},
		{"KCI_LIFECYCLE_INTERVAL", "lifecycle-interval", "0"},
		{"KCI_LIFECYCLE_INTERVAL", "lifecycle-interval", "10ms"},
		{"KCI_LIFECYCLE_INTERVAL", "lifecycle-interval", "2d"},
		{"KCI_LIFECYCLE_INTERVAL", "lifecycle-interval", "-5s"},
		{"KCI_MAX_BODY_BYTES", "max-body", "1MiB"},
		{"KCI_MAX_HIERARCHY_BYTES", "max-hierarchy-body", "0"},
		{"KCI_LOG_LEVEL", "log-level", "verbose"},
		{"KCI_LOG_FORMAT", "log-format", "xml"},
		{"PUBLIC_BASE_URL", "public-base-url", "api.kernelci.org"},
		{"KCI_LISTEN_ADDR", "addr", " "},
		{"SMTP_PORT", "smtp-port", "0"},
		{"SMTP_PORT", "smtp-port", "65536"},
		{"SMTP_PORT", "smtp-port", "smtp"},
		{"EMAIL_SENDER", "email-sender", "not an address"},
		{"EMAIL_SENDER", "email-sender", "KernelCI <bot@kernelci.org>"},
		{"KCI_LOGIN_MAX_FAILURES_PER_USER", "login-max-failures-per-user", "-1"},
		{"KCI_LOGIN_MAX_FAILURES_PER_CLIENT", "login-max-failures-per-client", "many"},
		{"KCI_LOGIN_FAILURE_WINDOW_SECONDS", "login-failure-window", "0"},
		// Past what the stores accept, bad input would answer 500 again.
		{"KCI_QUERY_MAX_CONDITIONS", "query-max-conditions", "1200"},
		{"KCI_QUERY_MAX_LIST_VALUES", "query-max-list-values", "40000"},
		{"KCI_MAX_JSON_DEPTH", "max-json-depth", "128"},
		{"KCI_AUTH_CACHE_SECONDS", "auth-cache-seconds", "-0.5"},
		{"KCI_AUTH_CACHE_SECONDS", "auth-cache-seconds", "500ms"},
		{"KCI_AUTH_CACHE_SECONDS", "auth-cache-seconds", "0.0001"},
		{"KCI_AUTH_CACHE_SECONDS", "auth-cache-seconds", "3601"},
		{"KCI_AUTH_CACHE_SECONDS", "auth-cache-seconds", "NaN"},
	}
	for _, tc := range tests {
		for _, viaFlag := range []bool{false, true} {
			var err error
			if viaFlag {
				_, err = Load(newFS(), []string{"--" + tc.flag, tc.value}, env(nil), "")
			} else {
				_, err = Load(newFS(), nil, env(map[string]string{tc.env: tc.value}), "")
			}
			if err == nil {
				t.Errorf("%s=%q (flag %v) accepted", tc.env, tc.value, viaFlag)
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, tc.env) || !strings.Contains(msg, "--"+tc.flag) {
				t.Errorf("%s=%q: error %q does not name the setting", tc.env, tc.value, msg)
			}
		}
	}
	// Several bad values are all reported.
	_, err := Load(newFS(), nil, env(map[string]string{"ALGORITHM": "none", "KCI_LOG_LEVEL": "loud"}), "")
	if err == nil || !strings.Contains(err.Error(), "ALGORITHM") || !strings.Contains(err.Error(), "KCI_LOG_LEVEL") {
		t.Errorf("joined errors = %v", err)
	}
	// Unknown flags are parse errors.
	if _, err := Load(newFS(), []string{"--no-such-flag"}, env(nil), ""); err == nil {
		t.Error("unknown flag accepted")
	}
	// Help.
	if _, err := Load(newFS(), []string{"-h"}, env(nil), ""); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestEmailSettings(t *testing.T) {
	c, err := Load(newFS(), []string{"--secret-key=k", "--smtp-host=smtp.example.org"}, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.EmailEnabled() || c.SMTPPort != 587 {
		t.Errorf("EmailEnabled %v, SMTPPort %d", c.EmailEnabled(), c.SMTPPort)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "EMAIL_SENDER") {
		t.Errorf("Validate with SMTP_HOST and no EMAIL_SENDER = %v", err)
	}
	c, err = Load(newFS(), []string{"--secret-key=k"}, env(map[string]string{
		"SMTP_HOST": "smtp.example.org", "EMAIL_SENDER": "bot@example.org", "EMAIL_PASSWORD": "mail-secret",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, a := range c.Redacted() {
		if a.Key == "EMAIL_PASSWORD" && a.Value.String() != "***" {
			t.Errorf("EMAIL_PASSWORD shown as %q", a.Value.String())
		}
	}
	c, err = Load(newFS(), []string{"--secret-key=k"}, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.EmailEnabled() {
		t.Error("email enabled by default")
	}
}

func TestLogLevels(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn,
		"Warning": slog.LevelWarn, "error": slog.LevelError,
	} {
		c, err := Load(newFS(), []string{"--log-level", in}, env(nil), "")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if c.LogLevel != want {
			t.Errorf("%q: level %v", in, c.LogLevel)
		}
	}
}

func TestRedacted(t *testing.T) {
	c, err := Load(newFS(), []string{"--secret-key", "hunter2"}, env(map[string]string{
		"KCI_INITIAL_PASSWORD": "p@ss",
		"MONGO_SERVICE":        "mongodb://kci:dbpass@db1:27017,db2:27017/kernelci?replicaSet=rs0",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range c.Redacted() {
		got[a.Key] = a.Value.String()
	}
	if len(got) != len(settings) {
		t.Errorf("Redacted has %d entries for %d settings", len(got), len(settings))
	}
	want := map[string]string{
		"SECRET_KEY":           "***",
		"KCI_INITIAL_PASSWORD": "***",
		"UNIFIED_SECRET":       "",
		"MONGO_SERVICE":        "mongodb://kci:xxxxx@db1:27017,db2:27017/kernelci?replicaSet=rs0",
		"KCI_LISTEN_ADDR":      ":8001",
		"KEEP_ALIVE_PERIOD":    "45",
		"KCI_LOG_LEVEL":        "info",
		"KCI_MAX_BODY_BYTES":   "1048576",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	all := ""
	for _, v := range got {
		all += v + "\n"
	}
	for _, secret := range []string{"hunter2", "p@ss", "dbpass"} {
		if strings.Contains(all, secret) {
			t.Errorf("Redacted leaks %q", secret)
		}
	}
}

// TestRedact: the passwords of the database and Redis addresses never
// reach the start-up log.
func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		redact func(string) string
		cases  map[string]string
	}{
		{"redactURL", redactURL, map[string]string{
			"":                                "",
			"mongodb://db:27017":              "mongodb://db:27017",
			"mongodb://user@db":               "mongodb://user@db",
			"mongodb://u:p@db/x":              "mongodb://u:xxxxx@db/x",
			"mongodb+srv://u:p%40ss@c.net/?w": "mongodb+srv://u:xxxxx@c.net/?w",
			"mongodb://db/x?note=a:b@c":       "mongodb://db/x?note=a:b@c",
			"not a url":                       "not a url",
		}},
		{"redactHost", redactHost, map[string]string{
			"":                           "",
			"redis":                      "redis",
			"redis:6380":                 "redis:6380",
			":s3cret@redis":              ":xxxxx@redis",
			"u:s3cret@redis:6379":        "u:xxxxx@redis:6379",
			"redis://u:s3cret@r:6379/1":  "redis://u:xxxxx@r:6379/1",
			"rediss://:s3cret@r.example": "rediss://:xxxxx@r.example",
		}},
	} {
		for in, want := range tc.cases {
			if got := tc.redact(in); got != want {
				t.Errorf("%s(%q) = %q; want %q", tc.name, in, got, want)
			}
		}
	}
}

func TestRedactedHidesTheRedisPassword(t *testing.T) {
	c, err := Load(newFS(), nil, env(map[string]string{"REDIS_HOST": ":s3cret@redis", "REDIS_DB_NUMBER": "0"}), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Redacted() {
		if strings.Contains(a.Value.String(), "s3cret") {
			t.Errorf("Redacted leaks the Redis password in %s", a.Key)
		}
	}
	if c.RedisDBNumber != 0 {
		t.Errorf("REDIS_DB_NUMBER=0 read as %d", c.RedisDBNumber)
	}
	for _, bad := range []string{"-1", "x", "1.5"} {
		if _, err := Load(newFS(), nil, env(map[string]string{"REDIS_DB_NUMBER": bad}), ""); err == nil {
			t.Errorf("REDIS_DB_NUMBER=%q accepted", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	fs := newFS()
	fs.Bool("version", false, "print the version and exit")
	if _, err := Load(fs, nil, env(nil), ""); err != nil {
		t.Fatal(err)
	}
	u := Usage(fs)
	for _, s := range settings {
		if !strings.Contains(u, "--"+s.flag+" ") {
			t.Errorf("usage lacks flag --%s", s.flag)
		}
		if !strings.Contains(u, "env "+s.env+",") {
			t.Errorf("usage lacks env %s", s.env)
		}
		if s.def != "" && !strings.Contains(u, `"`+s.def+`"`) {
			t.Errorf("usage lacks default %q of %s", s.def, s.env)
		}
	}
	for _, want := range []string{"Usage: kernelci-api", "--version", "print the version", "secret", "precedence"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if !strings.Contains(Usage(nil), "KCI_LISTEN_ADDR") {
		t.Error("Usage(nil) lacks settings")
	}
}

func TestSettingsTableIsConsistent(t *testing.T) {
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, s := range settings {
		if flags[s.flag] || envs[s.env] {
			t.Errorf("duplicate setting %s / %s", s.flag, s.env)
		}
		flags[s.flag], envs[s.env] = true, true
		if s.help == "" || s.kind == "" || s.set == nil || s.get == nil {
			t.Errorf("incomplete setting %s", s.env)
		}
		if strings.ToLower(s.flag) != s.flag || strings.Contains(s.flag, "_") {
			t.Errorf("flag %q is not kebab-case", s.flag)
		}
	}
}

func TestLifecycleSettings(t *testing.T) {
	tests := []struct {
		args     []string
		environ  map[string]string
		on       bool
		interval time.Duration
	}{
		{nil, nil, true, 10 * time.Second},
		{[]string{"--lifecycle=false"}, nil, false, 10 * time.Second},
		{[]string{"--lifecycle"}, map[string]string{"KCI_LIFECYCLE": "off"}, true, 10 * time.Second},
		{nil, map[string]string{"KCI_LIFECYCLE": "0"}, false, 10 * time.Second},
		{[]string{"--lifecycle-interval", "500ms"}, nil, true, 500 * time.Millisecond},
		{nil, map[string]string{"KCI_LIFECYCLE_INTERVAL": "2m"}, true, 2 * time.Minute},
		{nil, map[string]string{"KCI_LIFECYCLE_INTERVAL": "30"}, true, 30 * time.Second},
	}
	for _, tc := range tests {
		c, err := Load(newFS(), tc.args, env(tc.environ), "")
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.environ, err)
		}
		if c.Lifecycle != tc.on || c.LifecycleInterval != tc.interval {
			t.Errorf("%v %v: lifecycle %v every %v; want %v every %v", tc.args, tc.environ, c.Lifecycle, c.LifecycleInterval, tc.on, tc.interval)
		}
	}
	// A boolean flag takes its value after "=" ("--lifecycle maybe" is
	// --lifecycle and an argument, as for every Go boolean flag).
	if _, err := Load(newFS(), []string{"--lifecycle=maybe"}, env(nil), ""); err == nil || !strings.Contains(err.Error(), "KCI_LIFECYCLE") {
		t.Errorf("--lifecycle=maybe: %v", err)
	}
	if _, err := Load(newFS(), nil, env(map[string]string{"KCI_LIFECYCLE": "maybe"}), ""); err == nil || !strings.Contains(err.Error(), "--lifecycle") {
		t.Errorf("KCI_LIFECYCLE=maybe: %v", err)
	}
	c, _ := Load(newFS(), []string{"--lifecycle-interval=1500ms"}, env(nil), "")
	for _, a := range c.Redacted() {
		if a.Key == "KCI_LIFECYCLE_INTERVAL" && a.Value.String() != "1.5s" {
			t.Errorf("KCI_LIFECYCLE_INTERVAL shown as %q", a.Value.String())
		}
	}
}

// TestEverySettingIsInTheREADME checks that each setting's variable is
// named in one of the README's tables, so that no bound a client can hit
// goes undocumented. A row may abbreviate a sibling of a full name:
// `KCI_QUERY_MAX_CONDITIONS` / `_LIST_VALUES`.
func TestEverySettingIsInTheREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string // the backquoted names of each table row
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		var names []string
		for i, part := range strings.Split(line, "`") {
			if i%2 == 1 {
				names = append(names, part)
			}
		}
		rows = append(rows, names)
	}
	documented := func(env string) bool {
		for _, names := range rows {
			for _, n := range names {
				if n == env {
					return true
				}
				suffix, ok := strings.CutPrefix(n, "_")
				if !ok || !strings.HasSuffix(env, "_"+suffix) {
					continue
				}
				prefix := strings.TrimSuffix(env, suffix)
				for _, full := range names {
					if strings.HasPrefix(full, prefix) && full != env {
						return true
					}
				}
			}
		}
		return false
	}
	for _, s := range settings {
		if !documented(s.env) {
			t.Errorf("%s is in no table of README.md", s.env)
		}
	}
}

// TestEveryLimitIsInSecurityMD checks that docs/security.md, the page of
// the bounds a client can hit, names every setting that moves one.
func TestEveryLimitIsInSecurityMD(t *testing.T) {
	b, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	limit := regexp.MustCompile(`MAX|LIMIT|TIMEOUT|RATE|ADMISSION|TRUSTED_PROXIES|LOGIN_|AUTH_CACHE|KEEP_ALIVE`)
	n := 0
	for _, s := range settings {
		if !limit.MatchString(s.env) {
			continue
		}
		n++
		if !strings.Contains(string(b), "`"+s.env+"`") {
			t.Errorf("%s moves a bound but docs/security.md does not name it", s.env)
		}
	}
	if n < 20 {
		t.Fatalf("only %d limit settings found: the pattern is stale", n)
	}
}
