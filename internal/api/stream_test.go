package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// sseMessage is one message of an event stream.
type sseMessage struct {
	ID      string
	Data    string
	Event   string
	Comment string
}

// sseStream is an open GET /stream.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	msgs   chan sseMessage
}

// openStream opens GET path on base with the headers; it fails t unless
// the answer is 200 text/event-stream.
func openStream(t *testing.T, base, path string, headers map[string]string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{t: t, resp: resp, cancel: cancel, msgs: make(chan sseMessage, 1000)}
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				s.msgs <- m
				m = sseMessage{}
			case strings.HasPrefix(line, ":"):
				m.Comment += strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				m.ID = line[4:]
			case strings.HasPrefix(line, "data: "):
				m.Data += line[6:]
			case strings.HasPrefix(line, "event: "):
				m.Event = line[7:]
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next message with data (skipping comments and bare
// ids), failing after 10 s.
func (s *sseStream) next() map[string]any {
	s.t.Helper()
	m := s.await("no event", func(m sseMessage) bool { return m.Data != "" })
	var ev map[string]any
	if err := json.Unmarshal([]byte(m.Data), &ev); err != nil {
		s.t.Fatalf("data %q: %v", m.Data, err)
	}
	if seq := fmt.Sprint(ev["sequence_id"]); seq != m.ID {
		s.t.Fatalf("SSE id %q, event sequence_id %s", m.ID, seq)
	}
	return ev
}

// waitComment waits for a comment containing text.
func (s *sseStream) waitComment(text string) {
	s.t.Helper()
	s.await(fmt.Sprintf("no comment %q", text), func(m sseMessage) bool { return strings.Contains(m.Comment, text) })
}

// await reads messages until one matches, and fails the test with
// "<none> within 10 s" when none comes that soon, or when the stream ends.
func (s *sseStream) await(none string, match func(sseMessage) bool) sseMessage {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if match(m) {
				return m
			}
		case <-timeout:
			s.t.Fatalf("%s within 10 s", none)
		}
	}
}

func evNodeName(ev map[string]any) string {
	d, _ := ev["data"].(map[string]any)
	s, _ := d["name"].(string)
	return s
}

func seqOf(ev map[string]any) int64 {
	n, _ := ev["sequence_id"].(float64)
	return int64(n)
}

// serverOn starts another server over the store of e with options o: a
// new process over the same store (empty broker, caches and counters).
func serverOn(t *testing.T, e *env, o api.Options) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.PubSub == nil {
		o.PubSub = pubsub.New(e.store, pubsub.NewBroker(), pubsub.Options{Log: log})
	}
	srv := httptest.NewServer(api.New(e.store, e.tokens, o, log))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStreamOrderAndFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("lab")
	all := openStream(t, e.base, "/latest/stream", nil)
	all.waitComment("stream of channel node")
	builds := openStream(t, e.base, "/stream?kind=kbuild&state=running", nil)
	builds.waitComment("stream of channel node")
	var want []string
	for i := range 5 {
		kind := "checkout"
		if i%2 == 1 {
			kind = "kbuild"
		}
		name := fmt.Sprintf("n%d-%s", i, kind)
		e.postNode(tok, nodeBody(kind, name, nil))
		want = append(want, name)
	}
	var last int64
	for _, name := range want {
		ev := all.next()
		if got := evNodeName(ev); got != name {
			t.Fatalf("event of %q, want %q (order)", got, name)
		}
		if seq := seqOf(ev); seq <= last {
			t.Fatalf("sequence %d after %d", seq, last)
		} else {
			last = seq
		}
	}
	for _, name := range []string{"n1-kbuild", "n3-kbuild"} {
		if got := evNodeName(builds.next()); got != name {
			t.Fatalf("filtered stream: event of %q, want %q", got, name)
		}
	}
	// Updates (PUT and PATCH, which replace conditionally) arrive at once,
	// not at the next heartbeat.
	n := e.do(http.MethodGet, "/nodes?name=n1-kbuild", "", nil).expect(http.StatusOK).object()["items"].([]any)[0].(map[string]any)
	e.do(http.MethodPatch, "/node/"+n["id"].(string), tok, map[string]any{"state": "done", "result": "pass"}).expect(http.StatusOK)
	if ev := all.next(); ev["data"].(map[string]any)["op"] != "updated" || ev["data"].(map[string]any)["result"] != "pass" {
		t.Fatalf("after PATCH: %v", ev)
	}
	// The events are those of /events, in the same order and form.
	evs := e.events("kind=kbuild")
	if len(evs) != 3 || evNodeName(evs[0]) != "n1-kbuild" {
		t.Fatalf("/events: %v", evs)
	}
}

func TestStreamResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("lab")
	s := openStream(t, e.base, "/stream", nil)
	s.waitComment("stream of channel node")
	e.postNodes(tok, "checkout", "a", 3)
	first := s.next()
	s.close() // the connection drops after the first event
	e.postNodes(tok, "checkout", "b", 2)
	wantAfter := func(after int64) []string {
		var out []string
		for _, ev := range e.events("") {
			if seqOf(ev) > after {
				out = append(out, evNodeName(ev))
			}
		}
		return out
	}
	check := func(s *sseStream, after int64) {
		t.Helper()
		for _, name := range wantAfter(after) {
			if got := evNodeName(s.next()); got != name {
				t.Fatalf("resumed after %d: event of %q, want %q", after, got, name)
			}
		}
	}
	id := strconv.FormatInt(seqOf(first), 10)
	// Reconnect to the same server with Last-Event-ID, as EventSource does.
	check(openStream(t, e.base, "/stream", map[string]string{"Last-Event-ID": id}), seqOf(first))
	// The header wins over ?from= (the URL an EventSource was opened with).
	check(openStream(t, e.base, "/stream?from=0", map[string]string{"Last-Event-ID": id}), seqOf(first))
	// After a restart: a new server over the same store.
	base2 := serverOn(t, e, api.Options{})
	s2 := openStream(t, base2, "/stream", map[string]string{"Last-Event-ID": id})
	check(s2, seqOf(first))
	// ... and it goes on live, woken by its own writes.
	req, _ := http.NewRequest(http.MethodPost, base2+"/latest/node", strings.NewReader(`{"kind":"checkout","name":"c-after-restart","path":["checkout"]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /node on the restarted server: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := evNodeName(s2.next()); got != "c-after-restart" {
		t.Fatalf("live after restart: %q", got)
	}
	// ?from=0 replays the whole history.
	check(openStream(t, e.base, "/stream?from=0", nil), 0)
}

// The write deadline of a request (KCI_WRITE_TIMEOUT_SECONDS) cut every
// stream after 120 s, however well its client read.
func TestStreamOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := serverOn(t, e, api.Options{WriteTimeout: 100 * time.Millisecond,
		Stream: api.StreamOptions{Heartbeat: 10 * time.Millisecond}})
	s := openStream(t, base, "/stream", nil)
	// Heartbeats well past the write timeout: the stream is still open.
	for range 30 {
		s.waitComment("keep-alive")
	}
	tok := e.token("alice")
	e.postNode(tok, checkoutBody())
	if ev := s.next(); evNodeName(ev) == "" {
		t.Fatalf("event without a node name: %v", ev)
	}
}

func TestStreamBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	other := e.token("bob")
	base := serverOn(t, e, api.Options{Stream: api.StreamOptions{MaxPerClient: 2, Heartbeat: 50 * time.Millisecond}})

	for _, c := range []struct{ path, detail string }{
		{"/stream?from=x", "Invalid 'from' parameter: must be an event sequence_id (a non-negative integer)"},
		{"/stream?from=-1", "Invalid 'from' parameter: must be an event sequence_id (a non-negative integer)"},
		{"/stream?colour=red", `Unknown parameter "colour": /stream takes channel, from, promisc and the filters kind, state, result, op, name, group, owner, node_id`},
	} {
		e.do(http.MethodGet, c.path, "", nil).expectDetail(http.StatusBadRequest, c.detail)
	}
	e.doHeaders(http.MethodGet, "/stream", map[string]string{"Last-Event-ID": "abc"}, nil).
		expectDetail(http.StatusBadRequest, "Invalid Last-Event-ID header: must be an event sequence_id (a non-negative integer)")
	// Channels other than node need a user, as /listen does.
	e.do(http.MethodGet, "/stream?channel=mine", "", nil).expectDetail(http.StatusUnauthorized, "Unauthorized")

	// Heartbeats keep an idle stream open.
	s1 := openStream(t, base, "/stream", nil)
	s1.waitComment("keep-alive")
	// At most 2 streams per client: the third is refused until one ends.
	s2 := openStream(t, base, "/stream", nil)
	s2.waitComment("stream of channel")
	req, _ := http.NewRequest(http.MethodGet, base+"/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || body["detail"] != "Too many open event streams for this client (at most 2): close one first" {
		t.Fatalf("third stream: %d %v", resp.StatusCode, body)
	}
	// An authenticated user is another client.
	openStream(t, base, "/stream", map[string]string{"Authorization": "Bearer " + tok}).waitComment("stream of channel")
	s1.close()
	// The slot is released when the server sees the stream end.
	testutil.WaitFor(t, 10*time.Second, "the slot to be released", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/stream", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// Other channels: a user sees the events without an owner and its
	// own; promisc=true sees every one.
	bobs := openStream(t, e.base, "/stream?channel=lab-news", map[string]string{"Authorization": "Bearer " + other})
	bobs.waitComment("stream of channel lab-news")
	promisc := openStream(t, e.base, "/stream?channel=lab-news&promisc=true", map[string]string{"Authorization": "Bearer " + other})
	promisc.waitComment("stream of channel lab-news")
	e.do(http.MethodPost, "/publish/lab-news", tok, map[string]any{"data": "from alice"}).expect(http.StatusOK)
	e.do(http.MethodPost, "/publish/lab-news", other, map[string]any{"data": "from bob"}).expect(http.StatusOK)
	if ev := promisc.next(); ev["data"] != "from alice" {
		t.Fatalf("promiscuous: %v", ev)
	}
	if ev := promisc.next(); ev["data"] != "from bob" {
		t.Fatalf("promiscuous: %v", ev)
	}
	if ev := bobs.next(); ev["data"] != "from bob" {
		t.Fatalf("bob's stream: %v, want only bob's event", ev)
	}
}

// TestStreamEndsWhenTheCredentialIsRevoked: a stream of a private channel
// sends nothing more once its API token is revoked (or its session
// logged out): it ends with an error event instead of the next event.
func TestStreamEndsWhenTheCredentialIsRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jwt := e.token("alice")
	made := e.newToken(jwt, "watch", "pubsub")
	for _, c := range []struct {
		name string
		cred string
		end  func()
	}{
		{"API token revoked", secretOf(made), func() {
			e.do(http.MethodDelete, "/latest/user/tokens/"+made["id"].(string), jwt, nil).expect(http.StatusNoContent)
		}},
		{"logout", e.login("alice"), func() {
			e.do(http.MethodPost, "/latest/user/logout", e.login("alice"), nil).expect(http.StatusNoContent)
		}},
	} {
		s := openStream(t, e.base, "/stream?channel=lab-private", map[string]string{"Authorization": "Bearer " + c.cred})
		s.waitComment("stream of channel lab-private")
		e.do(http.MethodPost, "/publish/lab-private", jwt, map[string]any{"data": "before"}).expect(http.StatusOK)
		if ev := s.next(); ev["data"] != "before" {
			t.Fatalf("%s: first event %v", c.name, ev)
		}
		c.end()
		jwt = e.login("alice")
		e.do(http.MethodPost, "/publish/lab-private", jwt, map[string]any{"data": "after"}).expect(http.StatusOK)
		var ended bool
		timeout := time.After(30 * time.Second)
	read:
		for {
			select {
			case m, ok := <-s.msgs:
				if !ok {
					break read
				}
				if strings.Contains(m.Data, "after") {
					t.Fatalf("%s: the stream delivered an event after the revocation: %+v", c.name, m)
				}
				if m.Event == "error" && strings.Contains(m.Data, "revoked") {
					ended = true
				}
			case <-timeout:
				t.Fatalf("%s: the stream is still open 30 s after the revocation", c.name)
			}
		}
		if !ended {
			t.Fatalf("%s: the stream ended without saying why", c.name)
		}
	}
}
