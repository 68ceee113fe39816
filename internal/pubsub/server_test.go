package pubsub_test

// End-to-end tests on the real server (internal/app): restart survival
// and graceful shutdown with open long-polls.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

type server struct {
	base string
	app  *app.App
	stop func() time.Duration // returns how long the shutdown took
}

func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	cfg, err := config.Load(nil, nil, func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
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
	stop := func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		took := time.Since(start)
		a.Close()
		return took
	}
	t.Cleanup(func() { stop() })
	return &server{base: "http://" + ln.Addr().String() + "/latest", app: a, stop: stop}
}

func call(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func login(t *testing.T, base string) string {
	t.Helper()
	form := url.Values{"username": {"admin"}, "password": {"pw"}}.Encode()
	req, _ := http.NewRequest("POST", base+"/user/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return tok.AccessToken
}

// listenData returns the data of the next event (skipping keep-alives).
func listenData(t *testing.T, base, tok string, id int64) any {
	t.Helper()
	for {
		code, b := call(t, "GET", base+"/listen/"+strconv.FormatInt(id, 10), tok, "")
		if code != 200 {
			t.Fatalf("listen: %d %s", code, b)
		}
		var env struct{ Data string }
		json.Unmarshal(b, &env)
		var ce map[string]any
		json.Unmarshal([]byte(env.Data), &ce)
		if ce["data"] != "BEEP" {
			return ce["data"]
		}
	}
}

// TestRestartKeepsSubscriptions stops the server and starts it again on
// the same data directory: the same subscription id goes on from its
// cursor, and a durable subscriber resumes after its last
// acknowledgement.
func TestRestartKeepsSubscriptions(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	env := map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw", "KEEP_ALIVE_PERIOD": "1"}
	srv := startServer(t, env)
	tok := login(t, srv.base)
	subscribe := func(q string) int64 {
		code, b := call(t, "POST", srv.base+"/subscribe/abc"+q, tok, "")
		var s struct{ ID int64 }
		if json.Unmarshal(b, &s); code != 200 || s.ID == 0 {
			t.Fatalf("subscribe: %d %s", code, b)
		}
		return s.ID
	}
	publish := func(v string) {
		if code, b := call(t, "POST", srv.base+"/publish/abc", tok, `{"data": "`+v+`"}`); code != 200 {
			t.Fatalf("publish: %d %s", code, b)
		}
	}
	plain := subscribe("")
	durable := subscribe("?subscriber_id=restart-1")
	publish("e1")
	if d := listenData(t, srv.base, tok, plain); d != "e1" {
		t.Fatalf("plain got %v", d)
	}
	if d := listenData(t, srv.base, tok, durable); d != "e1" {
		t.Fatalf("durable got %v", d)
	}
	publish("e2")
	publish("e3")
	srv.stop()

	srv = startServer(t, env)
	for _, want := range []string{"e2", "e3"} {
		if d := listenData(t, srv.base, tok, plain); d != want {
			t.Fatalf("after restart, subscription %d got %v, want %s", plain, d, want)
		}
	}
	// The durable subscriber's listen before the restart acknowledged
	// nothing yet (e1 is acked by its next listen), so on a new
	// subscription it resumes with e1.
	again := subscribe("?subscriber_id=restart-1")
	for _, want := range []string{"e1", "e2", "e3"} {
		if d := listenData(t, srv.base, tok, again); d != want {
			t.Fatalf("durable subscriber after restart got %v, want %s", d, want)
		}
	}
	if again <= durable {
		t.Fatalf("subscription id %d reused after restart (had %d)", again, durable)
	}
}

// TestShutdownAnswersOpenListens: stopping the server answers open
// long-polls with a keep-alive (and pops with 503) instead of waiting
// for their keep-alive period.
func TestShutdownAnswersOpenListens(t *testing.T) {
	t.Cleanup(auth.SetTestParams())
	env := map[string]string{"KCI_DATA_DIR": t.TempDir(), "SECRET_KEY": "s3", "KCI_INITIAL_PASSWORD": "pw", "KEEP_ALIVE_PERIOD": "50"}
	srv := startServer(t, env)
	tok := login(t, srv.base)
	code, b := call(t, "POST", srv.base+"/subscribe/abc", tok, "")
	var s struct{ ID int64 }
	if json.Unmarshal(b, &s); code != 200 {
		t.Fatalf("subscribe: %d %s", code, b)
	}
	type answer struct {
		code int
		body string
	}
	listened, popped := make(chan answer, 1), make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.base+"/listen/"+strconv.FormatInt(s.ID, 10), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			listened <- answer{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		listened <- answer{resp.StatusCode, string(b)}
	}()
	go func() {
		req, _ := http.NewRequest("GET", srv.base+"/pop/q", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			popped <- answer{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		popped <- answer{resp.StatusCode, string(b)}
	}()
	testutil.WaitFor(t, 10*time.Second, "the listen and the pop to wait", func() bool {
		l, p := srv.app.PubSub.Waiters()
		return l == 1 && p == 1
	})
	if took := srv.stop(); took > 5*time.Second {
		t.Fatalf("shutdown took %v with open long-polls", took)
	}
	l := <-listened
	if l.code != 200 || !strings.Contains(l.body, `BEEP`) {
		t.Fatalf("open listen answered %d %s, want a keep-alive", l.code, l.body)
	}
	if p := <-popped; p.code != http.StatusServiceUnavailable {
		t.Fatalf("open pop answered %d %s, want 503", p.code, p.body)
	}
}
