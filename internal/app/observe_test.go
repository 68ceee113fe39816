package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWithLog starts a server whose log goes to w (JSON lines).
func startWithLog(t *testing.T, env map[string]string, w io.Writer) string {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return start(t, testConfig(t, env), log, io.Discard).base
}

// requestLines returns the access log lines, decoded.
func requestLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: one line per request with method, path, route, status,
// duration, client and user, and never a token or a password, not even
// from a login form, a bearer token, or a token in a query string.
func TestAccessLog(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	var logBuf syncBuffer
	const password = "pw-9f8e7d6c5b4a"
	base := startWithLog(t, map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": password}, &logBuf)

	tok := login(t, base, "admin", password)
	// A failed login too: the attempted password is not logged either.
	form := url.Values{"username": {"admin"}, "password": {"wrong-" + password}}.Encode()
	if code, _ := testutil.Call(t, "POST", base+"/latest/user/login", "", "application/x-www-form-urlencoded", strings.NewReader(form)); code != 400 {
		t.Fatalf("bad login: %d", code)
	}
	if code, b := testutil.Call(t, "GET", base+"/latest/whoami", tok, "", nil); code != 200 {
		t.Fatalf("whoami: %d %s", code, b)
	}
	testutil.Call(t, "GET", base+"/latest/whoami", tok+"x", "", nil)                   // a bad token: 401
	testutil.Call(t, "GET", base+"/latest/user/accept-invite?token="+tok, "", "", nil) // a token in the query string
	testutil.Call(t, "POST", base+"/latest/nodes", "", "", nil)                        // 405 by the fallback
	testutil.Call(t, "GET", base+"/v7/nodes", "", "", nil)                             // refused version

	lines := requestLines(t, logBuf.String())
	if len(lines) != 7 {
		t.Fatalf("%d request lines for 7 requests:\n%s", len(lines), logBuf.String())
	}
	for _, secret := range []string{tok, password, "wrong-" + password, tok[:20]} {
		if strings.Contains(logBuf.String(), secret) {
			t.Errorf("the log holds a secret (%.12s...):\n%s", secret, logBuf.String())
		}
	}
	want := []struct {
		method, path, route string
		status              float64
		user                any
	}{
		{"POST", "/latest/user/login", "POST /user/login", 200, nil},
		{"POST", "/latest/user/login", "POST /user/login", 400, nil},
		{"GET", "/latest/whoami", "GET /whoami", 200, "admin"},
		{"GET", "/latest/whoami", "GET /whoami", 401, nil},
		{"GET", "/latest/user/accept-invite", "GET /user/accept-invite", 200, nil},
		{"POST", "/latest/nodes", "/", 405, nil},
		{"GET", "/v7/nodes", "", 400, nil},
	}
	for i, w := range want {
		l := lines[i]
		if l["method"] != w.method || l["path"] != w.path || l["route"] != w.route || l["status"] != w.status || l["user"] != w.user {
			t.Errorf("line %d = %v, want %+v", i, l, w)
		}
		if _, ok := l["ms"].(float64); !ok {
			t.Errorf("line %d has no duration: %v", i, l)
		}
		if c, _ := l["client"].(string); c != "127.0.0.1" {
			t.Errorf("line %d client %q", i, c)
		}
	}
}

// TestOperationsOnRunningServer: /metrics, /healthz, /readyz,
// /openapi.json and /docs answer on a running server, and the metrics
// count the requests by route pattern, never by raw path.
func TestOperationsOnRunningServer(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	var logBuf syncBuffer
	base := startWithLog(t, map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw"}, &logBuf)
	tok := login(t, base, "admin", "pw")
	code, b := testutil.Call(t, "POST", base+"/latest/node", tok, "application/json",
		strings.NewReader(`{"name":"checkout","kind":"checkout","path":["checkout"]}`))
	if code != 200 {
		t.Fatalf("POST /node: %d %s", code, b)
	}
	var n struct{ ID string }
	json.Unmarshal(b, &n)
	testutil.Call(t, "GET", base+"/latest/node/"+n.ID, "", "", nil)
	testutil.Call(t, "GET", base+"/node/0123456789abcdef01234567", "", "", nil)

	for _, tc := range []struct{ path, want string }{
		{"/healthz", `{"status":"ok"}`},
		{"/latest/readyz", `"status":"ready"`},
		{"/latest/openapi.json", `"openapi": "3.1.0"`},
		{"/latest/docs", `<title>KernelCI API`},
	} {
		code, b := testutil.Call(t, "GET", base+tc.path, "", "", nil)
		if code != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d %.200s", tc.path, code, b)
		}
	}
	code, b = testutil.Call(t, "GET", base+"/latest/metrics", "", "", nil)
	text := string(b)
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, b)
	}
	for _, want := range []string{
		`http_requests_total{method="GET",route="GET /node/{id}",status="200"} 2`,
		`http_requests_total{method="POST",route="POST /node",status="200"} 1`,
		`http_requests_total{method="POST",route="POST /user/login",status="200"} 1`,
		`http_request_duration_seconds_count{method="GET",route="GET /healthz",status="200"} 1`,
		`kernelci_store_operation_duration_seconds_count{op="WriteNodes",result="ok"} 1`,
		"kernelci_events_appended_total 1",
		"kernelci_listeners_open 0",
		`kernelci_subscriptions{durable="true"} 0`,
		"kernelci_nodes_purged_total 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	if strings.Contains(text, n.ID) || strings.Contains(text, `route="GET /metrics"`) {
		t.Errorf("metrics name a raw path or count the scrape itself:\n%s", text)
	}
}

// TestLifecycleMetrics: a transition made by the server's lifecycle is
// counted, with its event.
func TestLifecycleMetrics(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	var logBuf syncBuffer
	base := startWithLog(t, map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw",
		"KCI_LIFECYCLE_INTERVAL": "100ms"}, &logBuf)
	tok := login(t, base, "admin", "pw")
	code, b := testutil.Call(t, "POST", base+"/latest/node", tok, "application/json",
		strings.NewReader(`{"name":"checkout","kind":"checkout","path":["checkout"],"timeout":"2000-01-01T00:00:00"}`))
	if code != 200 {
		t.Fatalf("POST /node: %d %s", code, b)
	}
	const want = `kernelci_lifecycle_transitions_total{from="running",rule="timeout",to="done"} 1`
	var metrics []byte
	testutil.WaitFor(t, 20*time.Second, want, func() bool {
		_, metrics = testutil.Call(t, "GET", base+"/metrics", "", "", nil)
		return strings.Contains(string(metrics), want)
	})
	if !strings.Contains(string(metrics), "kernelci_events_appended_total 2") {
		t.Errorf("the transition's event is not counted:\n%s", metrics)
	}
}

// TestReadyzWithRedis: with REDIS_HOST, /readyz checks Redis too. When
// Redis goes away the server stays ready, degraded, naming it; what needs
// Redis (kv, lists) answers 503 with Retry-After, and nodes still work.
func TestReadyzWithRedis(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	redisSrv := redistest.Start(t, redistest.FreePort(t))
	var logBuf syncBuffer
	base := startWithLog(t, map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw",
		"REDIS_HOST": redisSrv.Addr}, &logBuf)
	code, b := testutil.Call(t, "GET", base+"/readyz", "", "", nil)
	if code != 200 || !strings.Contains(string(b), `"redis":"ok"`) || !strings.Contains(string(b), `"store":"ok"`) {
		t.Fatalf("GET /readyz with Redis up: %d %s", code, b)
	}
	tok := login(t, base, "admin", "pw")
	if code, b := testutil.Call(t, "POST", base+"/latest/kv/ns/k", tok, "text/plain", strings.NewReader("v")); code != 200 {
		t.Fatalf("POST /kv with Redis up: %d %s", code, b)
	}
	redisSrv.Stop()
	code, b = testutil.Call(t, "GET", base+"/readyz", "", "", nil)
	var m struct {
		Status string
		Detail string
		Checks map[string]string
	}
	json.Unmarshal(b, &m)
	if code != 200 || m.Status != "degraded" || !strings.HasPrefix(m.Detail, "Degraded: redis: ") ||
		m.Checks["store"] != "ok" || m.Checks["redis"] == "ok" {
		t.Fatalf("GET /readyz with Redis down: %d %s", code, b)
	}
	if code, _ := testutil.Call(t, "GET", base+"/healthz", "", "", nil); code != 200 {
		t.Errorf("GET /healthz with Redis down: %d", code)
	}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/latest/kv/ns/k", ""},
		{"POST", "/latest/kv/ns/k", "v2"},
		{"POST", "/latest/push/l", `{"data": {"a": 1}}`},
	} {
		r, err := http.NewRequest(req.method, base+req.path, strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(body), `"detail":"Service Unavailable: the redis is not answering; try again later"`) {
			t.Errorf("%s %s with Redis down: %d %s (Retry-After %q)", req.method, req.path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	node := `{"kind":"checkout","name":"checkout","path":["checkout"],"data":{"kernel_revision":{"tree":"t","branch":"b","commit":"c","url":"https://x"}}}`
	if code, b := testutil.Call(t, "POST", base+"/latest/node", tok, "application/json", strings.NewReader(node)); code != 200 {
		t.Errorf("POST /node with Redis down: %d %s", code, b)
	}
	if strings.Contains(logBuf.String(), "level=ERROR msg=\"request failed\"") {
		t.Errorf("a request failed with a 500 while Redis was down:\n%s", logBuf.String())
	}
}
