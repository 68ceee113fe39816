package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func testConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(nil, nil, func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is a server started on a loopback port.
type running struct {
	app  *App
	base string
	stop func()
}

// start opens the application with cfg, its log going to log (nil:
// nowhere) and its start-up messages to out, and serves it on a loopback
// port until stop or the end of the test.
func start(t *testing.T, cfg *config.Config, log *slog.Logger, out io.Writer) *running {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := Open(context.Background(), cfg, log, out)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	}
	t.Cleanup(stop)
	return &running{app: a, base: "http://" + ln.Addr().String(), stop: stop}
}

func login(t *testing.T, base, user, pw string) string {
	t.Helper()
	form := url.Values{"username": {user}, "password": {pw}}.Encode()
	code, b := testutil.Call(t, "POST", base+"/latest/user/login", "", "application/x-www-form-urlencoded", strings.NewReader(form))
	if code != 200 {
		t.Fatalf("login %s: %d %s", user, code, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(b, &tok)
	return tok.AccessToken
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	dir := t.TempDir()
	env := map[string]string{"KCI_DATA_DIR": dir, "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw"}
	srv := start(t, testConfig(t, env), nil, io.Discard)
	tok := login(t, srv.base, "admin", "pw")
	code, b := testutil.Call(t, "POST", srv.base+"/latest/node", tok, "application/json",
		strings.NewReader(`{"name":"checkout","kind":"checkout","path":["checkout"]}`))
	if code != 200 {
		t.Fatalf("POST /node: %d %s", code, b)
	}
	var n struct{ ID string }
	json.Unmarshal(b, &n)
	srv.stop()

	srv = start(t, testConfig(t, env), nil, io.Discard)
	// The old token still works: same secret, same user.
	code, b = testutil.Call(t, "GET", srv.base+"/latest/whoami", tok, "", nil)
	if code != 200 || !strings.Contains(string(b), `"username":"admin"`) {
		t.Fatalf("whoami after restart: %d %s", code, b)
	}
	code, b = testutil.Call(t, "GET", srv.base+"/latest/node/"+n.ID, "", "", nil)
	if code != 200 || !strings.Contains(string(b), `"name":"checkout"`) {
		t.Fatalf("node after restart: %d %s", code, b)
	}
	code, b = testutil.Call(t, "GET", srv.base+"/latest/events?node_id="+n.ID, "", "", nil)
	if code != 200 || !strings.Contains(string(b), `"op":"created"`) {
		t.Fatalf("events after restart: %d %s", code, b)
	}
	// Only one superuser: the restart did not create another.
	code, b = testutil.Call(t, "GET", srv.base+"/latest/count", "", "", nil)
	if code != 200 || string(b) != "1" {
		t.Fatalf("count after restart: %d %s", code, b)
	}
}

func TestGeneratedSecretsAndAdminPassword(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	dir := t.TempDir()
	var out bytes.Buffer
	srv := start(t, testConfig(t, map[string]string{"KCI_DATA_DIR": dir}), nil, &out)
	pwFile := filepath.Join(dir, "initial-admin-password")
	for _, f := range []string{"secret-key", "initial-admin-password"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	pw, _ := os.ReadFile(pwFile)
	password := strings.TrimSpace(string(pw))
	if !strings.Contains(out.String(), password) {
		t.Fatalf("the generated password was not printed: %q", out.String())
	}
	tok := login(t, srv.base, "admin", password)
	srv.stop()

	// A second start neither prints a password nor changes the key.
	out.Reset()
	srv = start(t, testConfig(t, map[string]string{"KCI_DATA_DIR": dir}), nil, &out)
	if strings.Contains(out.String(), "password") {
		t.Fatalf("second start printed a password: %q", out.String())
	}
	if code, b := testutil.Call(t, "GET", srv.base+"/latest/whoami", tok, "", nil); code != 200 {
		t.Fatalf("token from the first run rejected: %d %s", code, b)
	}
	// The health probe answers JSON.
	if code, b := testutil.Call(t, "GET", srv.base+"/", "", "", nil); code != 200 || string(b) != `{"message":"KernelCI API"}` {
		t.Fatalf("GET /: %d %s", code, b)
	}
}
