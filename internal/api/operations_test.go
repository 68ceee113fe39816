package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

func get(t *testing.T, h http.Handler, path string) (int, map[string]any, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body := rec.Body.String()
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return rec.Code, m, body
}

func TestHealthAndReadiness(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{"/healthz", "/latest/healthz", "/v0/healthz"} {
		if code, m, body := get(t, s, p); code != 200 || m["status"] != "ok" {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	code, m, body := get(t, s, "/latest/readyz")
	if code != 200 || m["status"] != "ready" || m["checks"].(map[string]any)["store"] != "ok" {
		t.Fatalf("GET /readyz: %d %s", code, body)
	}

	// A dependency that fails (a Redis that is down, say) makes the server
	// unready; its connection string's credentials are not shown.
	s.AddReadyCheck(ReadyCheck{Name: "redis", Check: func(ctx context.Context) error {
		return errors.New("dial redis://user:s3cret@redis.internal:6379: connection refused")
	}})
	code, m, body = get(t, s, "/readyz")
	if code != 503 || !strings.Contains(m["detail"].(string), "redis: dial redis://***@redis.internal:6379: connection refused") {
		t.Fatalf("GET /readyz with redis down: %d %s", code, body)
	}
	if strings.Contains(body, "s3cret") {
		t.Errorf("readiness answer shows a password: %s", body)
	}
	if checks := m["checks"].(map[string]any); checks["store"] != "ok" || checks["redis"] == "ok" {
		t.Errorf("checks %v", checks)
	}

	// A check that hangs is cut at ReadyTimeout; one that panics fails.
	s2 := newTestServer(t)
	s2.AddReadyCheck(ReadyCheck{Name: "slow", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
	s2.AddReadyCheck(ReadyCheck{Name: "broken", Check: func(ctx context.Context) error { panic("boom") }})
	start := time.Now()
	code, m, body = get(t, s2, "/readyz")
	if code != 503 || !strings.Contains(body, "slow: no answer within") || !strings.Contains(body, "broken: check panicked") {
		t.Errorf("GET /readyz with a hanging check: %d %s", code, body)
	}
	if d := time.Since(start); d > ReadyTimeout+2*time.Second {
		t.Errorf("readiness took %v", d)
	}

	// An optional dependency that fails leaves the server ready, degraded:
	// the failure is reported, the answer stays 200.
	s4 := newTestServer(t)
	s4.AddReadyCheck(ReadyCheck{Name: "redis", Optional: true, Check: func(ctx context.Context) error {
		return errors.New("dial tcp 10.0.0.5:6379: connection refused")
	}})
	code, m, body = get(t, s4, "/readyz")
	if code != 200 || m["status"] != "degraded" || !strings.Contains(body, "redis: dial tcp 10.0.0.5:6379: connection refused") {
		t.Errorf("GET /readyz with an optional check failing: %d %s", code, body)
	}
	if checks := m["checks"].(map[string]any); checks["store"] != "ok" || checks["redis"] == "ok" {
		t.Errorf("checks %v", checks)
	}

	// Shutting down: unready at once, healthy still.
	s3 := newTestServer(t)
	s3.StartShutdown()
	if code, _, body := get(t, s3, "/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("GET /readyz while shutting down: %d %s", code, body)
	}
	if code, _, _ := get(t, s3, "/healthz"); code != 200 {
		t.Errorf("GET /healthz while shutting down: %d", code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := newTestServer(t)
	code, _, body := get(t, s, "/latest/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	for _, want := range []string{"go_goroutines", "kernelci_listeners_open 0", "kernelci_subscriptions{durable=\"false\"} 0", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
}

// TestRequestInfo: the route pattern that matched and the authenticated
// user reach the middleware through RequestInfo.
func TestRequestInfo(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	u := &model.User{Username: "alice", Email: "alice@example.org", IsActive: true, IsVerified: true, Groups: []model.Group{}}
	if err := s.store.InsertUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, err := s.tokens.Issue(u.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path, token, route, user string
	}{
		{"GET", "/latest/node/" + objectid.New().String(), "", "GET /node/{id}", ""},
		{"GET", "/whoami", tok, "GET /whoami", "alice"},
		{"GET", "/whoami", "bad", "GET /whoami", ""},
		{"GET", "/nodes?kind=checkout", tok, "GET /nodes", ""}, // public: the token is not looked at
		{"POST", "/nodes", "", "/", ""},                        // 405 by the fallback
		{"GET", "/v9/nodes", "", "", ""},                       // refused version
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		req, info := WithRequestInfo(req)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		io.Copy(io.Discard, rec.Body)
		if info.Route != tc.route || info.User != tc.user {
			t.Errorf("%s %s: route %q user %q, want %q %q", tc.method, tc.path, info.Route, info.User, tc.route, tc.user)
		}
	}
	// Without a RequestInfo nothing breaks.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/whoami", nil))
	if rec.Code != 401 {
		t.Errorf("GET /whoami without token: %d", rec.Code)
	}
}
