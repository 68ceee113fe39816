package app

// End-to-end pub/sub tests on the served application: restart survival
// and graceful shutdown with open long-polls.

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// startAt serves the application configured by env (start).
func startAt(t *testing.T, env map[string]string) *running {
	t.Helper()
	return start(t, testConfig(t, env), nil, io.Discard)
}

func call(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	if body == "" {
		return testutil.Call(t, method, u, token, "", nil)
	}
	return testutil.Call(t, method, u, token, "application/json", strings.NewReader(body))
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
	srv := startAt(t, env)
	tok := login(t, srv.base, "admin", "pw")
	subscribe := func(q string) int64 {
		code, b := call(t, "POST", srv.base+"/latest/subscribe/abc"+q, tok, "")
		var s struct{ ID int64 }
		if json.Unmarshal(b, &s); code != 200 || s.ID == 0 {
			t.Fatalf("subscribe: %d %s", code, b)
		}
		return s.ID
	}
	publish := func(v string) {
		if code, b := call(t, "POST", srv.base+"/latest/publish/abc", tok, `{"data": "`+v+`"}`); code != 200 {
			t.Fatalf("publish: %d %s", code, b)
		}
	}
	plain := subscribe("")
	durable := subscribe("?subscriber_id=restart-1")
	publish("e1")
	if d := listenData(t, srv.base+"/latest", tok, plain); d != "e1" {
		t.Fatalf("plain got %v", d)
	}
	if d := listenData(t, srv.base+"/latest", tok, durable); d != "e1" {
		t.Fatalf("durable got %v", d)
	}
	publish("e2")
	publish("e3")
	srv.stop()

	srv = startAt(t, env)
	for _, want := range []string{"e2", "e3"} {
		if d := listenData(t, srv.base+"/latest", tok, plain); d != want {
			t.Fatalf("after restart, subscription %d got %v, want %s", plain, d, want)
		}
	}
	// The durable subscriber's listen before the restart acknowledged
	// nothing yet (e1 is acked by its next listen), so on a new
	// subscription it resumes with e1.
	again := subscribe("?subscriber_id=restart-1")
	for _, want := range []string{"e1", "e2", "e3"} {
		if d := listenData(t, srv.base+"/latest", tok, again); d != want {
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
	srv := startAt(t, env)
	tok := login(t, srv.base, "admin", "pw")
	code, b := call(t, "POST", srv.base+"/latest/subscribe/abc", tok, "")
	var s struct{ ID int64 }
	if json.Unmarshal(b, &s); code != 200 {
		t.Fatalf("subscribe: %d %s", code, b)
	}
	type answer struct {
		code int
		body string
	}
	wait := func(path string) chan answer {
		out := make(chan answer, 1)
		go func() {
			req, _ := http.NewRequest("GET", srv.base+"/latest"+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out <- answer{0, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out <- answer{resp.StatusCode, string(b)}
		}()
		return out
	}
	listened, popped := wait("/listen/"+strconv.FormatInt(s.ID, 10)), wait("/pop/q")
	testutil.WaitFor(t, 10*time.Second, "the listen and the pop to wait", func() bool {
		l, p := srv.app.PubSub.Waiters()
		return l == 1 && p == 1
	})
	stopping := time.Now()
	srv.stop()
	if took := time.Since(stopping); took > 5*time.Second {
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
