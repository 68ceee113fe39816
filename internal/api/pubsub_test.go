package api_test

// Pub/sub over HTTP: subscribe, listen, publish, unsubscribe, lists,
// key-value and subscription stats, as clients call them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// psEnv is a server whose pub/sub service has a short keep-alive.
type psEnv struct {
	*env
	svc *pubsub.Service
}

func newPubSubEnv(t *testing.T, keepAlive time.Duration) *psEnv {
	t.Helper()
	ctx := context.Background()
	raw := openTestStore(t)
	if err := raw.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := pubsub.NewBroker()
	st := raw
	svc := pubsub.New(st, b, pubsub.Options{KeepAlive: keepAlive, Log: log})
	tokens := &auth.Tokens{Secret: testSecret}
	srv := httptest.NewServer(api.New(st, tokens, api.Options{PubSub: svc}, log))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &psEnv{env: &env{t: t, base: srv.URL, client: client, store: st, tokens: tokens}, svc: svc}
}

// subscribe subscribes and returns the id.
func (e *psEnv) subscribe(tok, channel, query string) int64 {
	e.t.Helper()
	path := "/latest/subscribe/" + channel
	if query != "" {
		path += "?" + query
	}
	o := e.do(http.MethodPost, path, tok, nil).expect(http.StatusOK).object()
	id, ok := o["id"].(float64)
	if !ok {
		e.t.Fatalf("subscribe: no integer id in %v", o)
	}
	return int64(id)
}

// cloudEvent is a decoded listen answer.
type cloudEvent map[string]any

func (c cloudEvent) beep() bool { return c["data"] == "BEEP" }

// listenRaw does GET /listen/{id} without failing the test, so that it
// can run on its own goroutine.
func (e *psEnv) listenRaw(ctx context.Context, id int64, tok string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/latest/listen/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// parseListen checks the envelope and decodes its CloudEvent.
func parseListen(body []byte, channel string) (cloudEvent, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("listen answer %s: %v", body, err)
	}
	if len(m) != 4 || m["type"] != "message" || m["pattern"] != nil || m["channel"] != channel {
		return nil, fmt.Errorf("listen answer %s: want {type: message, pattern: null, channel: %s, data}", body, channel)
	}
	s, ok := m["data"].(string)
	if !ok {
		return nil, fmt.Errorf("listen answer %s: data is not a string", body)
	}
	var ce cloudEvent
	if err := json.Unmarshal([]byte(s), &ce); err != nil {
		return nil, fmt.Errorf("CloudEvent %q: %v", s, err)
	}
	for _, k := range []string{"specversion", "id", "source", "type", "time", "data"} {
		if _, ok := ce[k]; !ok {
			return nil, fmt.Errorf("CloudEvent %s without %s", s, k)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, ce["time"].(string)); err != nil {
		return nil, fmt.Errorf("CloudEvent time %v: %v", ce["time"], err)
	}
	return ce, nil
}

// listen returns the next answer of a subscription.
func (e *psEnv) listen(id int64, tok, channel string) cloudEvent {
	e.t.Helper()
	code, body, err := e.listenRaw(context.Background(), id, tok)
	if err != nil {
		e.t.Fatal(err)
	}
	if code != http.StatusOK {
		e.t.Fatalf("listen %d: status %d: %s", id, code, body)
	}
	ce, err := parseListen(body, channel)
	if err != nil {
		e.t.Fatal(err)
	}
	return ce
}

// listenEvent skips keep-alives, as clients do.
func (e *psEnv) listenEvent(id int64, tok, channel string) cloudEvent {
	e.t.Helper()
	for {
		if ce := e.listen(id, tok, channel); !ce.beep() {
			return ce
		}
	}
}

// TestPubSubWalkThrough is the user documentation's terminal session:
// subscribe to abc, listen, publish from a second terminal, unsubscribe.
func TestPubSubWalkThrough(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 5*time.Second)
	bob := e.token("bob")
	r := e.do(http.MethodPost, "/latest/subscribe/abc", bob, nil).expect(http.StatusOK)
	sub := r.object()
	id := int64(sub["id"].(float64))
	jsonEqual(t, "subscription", sub, map[string]any{"id": id, "channel": "abc", "user": "bob", "promiscuous": false})

	type answer struct {
		code int
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		code, body, err := e.listenRaw(context.Background(), id, bob)
		got <- answer{code, body, err}
	}()
	testutil.WaitFor(e.t, 10*time.Second, "the listen to wait", func() bool { l, _ := e.svc.Waiters(); return l == 1 })
	e.do(http.MethodPost, "/latest/publish/abc", bob, map[string]any{"data": map[string]any{"sample_key": "sample_value"}}).
		expect(http.StatusOK)
	a := <-got
	if a.err != nil || a.code != http.StatusOK {
		t.Fatalf("listen: %d %s %v", a.code, a.body, a.err)
	}
	ce, err := parseListen(a.body, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if ce["specversion"] != "1.0" || ce["source"] != "https://api.kernelci.org/" || ce["type"] != "api.kernelci.org" ||
		ce["owner"] != "bob" || !strings.HasSuffix(ce["time"].(string), "+00:00") {
		t.Fatalf("CloudEvent %v", ce)
	}
	jsonEqual(t, "data", ce["data"], map[string]any{"sample_key": "sample_value"})
	if _, ok := ce["_sequence_id"]; !ok {
		t.Fatalf("CloudEvent without _sequence_id: %v", ce)
	}
	// The event is in the history.
	evs := e.events("channel=abc")
	if len(evs) != 1 || evs[0]["owner"] != "bob" || evs[0]["sequence_id"] != ce["_sequence_id"] {
		t.Fatalf("GET /events?channel=abc = %v", evs)
	}
	jsonEqual(t, "history data", evs[0]["data"], map[string]any{"sample_key": "sample_value"})

	// The documentation unsubscribes with GET; POST works too.
	e.do(http.MethodGet, "/latest/unsubscribe/"+strconv.FormatInt(id, 10), bob, nil).expect(http.StatusOK)
	e.do(http.MethodGet, "/latest/listen/"+strconv.FormatInt(id, 10), bob, nil).
		expectDetail(http.StatusNotFound, "Subscription id not found: "+strconv.FormatInt(id, 10))
	e.do(http.MethodPost, "/latest/unsubscribe/"+strconv.FormatInt(id, 10), bob, nil).expect(http.StatusNotFound)
	// Ids are never reused.
	if id2 := e.subscribe(bob, "abc", ""); id2 <= id {
		t.Fatalf("new subscription id %d after %d", id2, id)
	}
}

// TestPubSubNodeEvents: node creations and updates reach node
// subscribers with op, state and previous_state.
func TestPubSubNodeEvents(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 300*time.Millisecond)
	alice := e.token("alice")
	sched := e.token("scheduler")
	own := e.subscribe(alice, "node", "")
	all := e.subscribe(sched, "node", "promisc=True")
	mine := e.subscribe(sched, "node", "")

	n := e.postNode(alice, checkoutBody())
	body := nodeBody("checkout", "checkout", map[string]any{"state": "available", "data": n["data"]})
	body["path"] = []any{"checkout"}
	e.do(http.MethodPut, "/latest/node/"+n["id"].(string), alice, body).expect(http.StatusOK)

	for _, l := range []struct {
		id  int64
		tok string
	}{{own, alice}, {all, sched}} {
		ce := e.listenEvent(l.id, l.tok, "node")
		d := ce["data"].(map[string]any)
		if d["op"] != "created" || d["id"] != n["id"] || d["state"] != "running" || d["kind"] != "checkout" || ce["owner"] != "alice" {
			t.Fatalf("created event %v", ce)
		}
		if _, ok := d["previous_state"]; ok {
			t.Fatalf("created event with previous_state: %v", d)
		}
		d = e.listenEvent(l.id, l.tok, "node")["data"].(map[string]any)
		if d["op"] != "updated" || d["state"] != "available" || d["previous_state"] != "running" || d["is_hierarchy"] != false {
			t.Fatalf("updated event %v", d)
		}
		if _, ok := d["previous_result"]; !ok {
			t.Fatalf("updated event without previous_result: %v", d)
		}
	}
	// Without promisc the scheduler does not see alice's nodes: a
	// keep-alive comes instead.
	if ce := e.listen(mine, sched, "node"); !ce.beep() {
		t.Fatalf("a non-promiscuous subscriber received another user's event: %v", ce)
	}
}

func TestPubSubKeepAlive(t *testing.T) {
	t.Parallel()
	const period = 300 * time.Millisecond
	e := newPubSubEnv(t, period)
	bob := e.token("bob")
	id := e.subscribe(bob, "abc", "")
	start := time.Now()
	ce := e.listen(id, bob, "abc")
	if took := time.Since(start); took < period || took > period+5*time.Second {
		t.Fatalf("keep-alive after %v, want about %v", took, period)
	}
	if !ce.beep() || ce["type"] != "api.kernelci.org" || ce["source"] != "https://api.kernelci.org/" {
		t.Fatalf("keep-alive %v", ce)
	}
}

// TestPubSubClientGone: a listen whose client goes away ends at once and
// consumes nothing.
func TestPubSubClientGone(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, time.Minute)
	bob := e.token("bob")
	id := e.subscribe(bob, "abc", "")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := e.listenRaw(ctx, id, bob)
		errc <- err
	}()
	testutil.WaitFor(e.t, 10*time.Second, "the listen to wait", func() bool { l, _ := e.svc.Waiters(); return l == 1 })
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	// The server ends the wait at once (well before the minute).
	testutil.WaitFor(e.t, 10*time.Second, "the server to end the listen", func() bool { l, _ := e.svc.Waiters(); return l == 0 })
	e.do(http.MethodPost, "/latest/publish/abc", bob, map[string]any{"data": "x"}).expect(http.StatusOK)
	if ce := e.listen(id, bob, "abc"); ce["data"] != "x" {
		t.Fatalf("the event published after the client left was not kept for the next listen: %v", ce)
	}
}

func TestPubSubErrors(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 5*time.Second)
	bob := e.token("bob")
	alice := e.token("alice")
	id := e.subscribe(bob, "abc", "")
	sid := strconv.FormatInt(id, 10)

	// Everything needs a token.
	for _, c := range []struct{ method, path string }{
		{"POST", "/latest/subscribe/abc"}, {"POST", "/latest/unsubscribe/" + sid}, {"GET", "/latest/listen/" + sid},
		{"POST", "/latest/publish/abc"}, {"POST", "/latest/push/q"}, {"GET", "/latest/pop/q"},
		{"GET", "/latest/stats/subscriptions"}, {"GET", "/latest/kv/ns/k"}, {"POST", "/latest/kv/ns/k"},
		{"DELETE", "/latest/kv/ns/k"},
	} {
		e.do(c.method, c.path, "", nil).expectDetail(http.StatusUnauthorized, "Unauthorized")
	}
	// Someone else's subscription.
	e.do(http.MethodGet, "/latest/listen/"+sid, alice, nil).expectDetail(http.StatusForbidden, "Subscription "+sid+" not owned by alice")
	e.do(http.MethodPost, "/latest/unsubscribe/"+sid, alice, nil).expect(http.StatusForbidden)
	// Unknown and malformed ids.
	e.do(http.MethodGet, "/latest/listen/999999", bob, nil).expectDetail(http.StatusNotFound, "Subscription id not found: 999999")
	e.do(http.MethodPost, "/latest/unsubscribe/999999", bob, nil).expectDetail(http.StatusNotFound, "Subscription id not found: 999999")
	if locs := e.do(http.MethodGet, "/latest/listen/abc", bob, nil).expect422(); locs[0] != "path.sub_id" {
		t.Fatalf("locs %v", locs)
	}
	// Booleans as clients send them.
	for q, want := range map[string]bool{"promisc=True": true, "promisc=true": true, "promisc=FALSE": false, "promisc=": false} {
		o := e.do(http.MethodPost, "/latest/subscribe/abc?"+q, bob, nil).expect(http.StatusOK).object()
		if o["promiscuous"] != want {
			t.Errorf("%s: promiscuous %v", q, o["promiscuous"])
		}
	}
	if locs := e.do(http.MethodPost, "/latest/subscribe/abc?promisc=maybe", bob, nil).expect422(); locs[0] != "query.promisc" {
		t.Fatalf("locs %v", locs)
	}
	// A durable subscriber id belongs to one user.
	e.subscribe(bob, "node", "subscriber_id=bob-sched")
	e.do(http.MethodPost, "/latest/subscribe/node?subscriber_id=bob-sched", alice, nil).expect(http.StatusConflict)
	// Stats are for admins.
	e.do(http.MethodGet, "/latest/stats/subscriptions", bob, nil).expect(http.StatusForbidden)
}

func TestPubSubPublishBody(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 300*time.Millisecond)
	bob := e.token("bob")
	id := e.subscribe(bob, "abc", "")
	for _, c := range []struct {
		name string
		body any
		loc  string
	}{
		{"no data", map[string]any{"type": "x"}, "body.data"},
		{"null data", map[string]any{"data": nil}, "body.data"},
		{"empty data", map[string]any{"data": ""}, "body.data"},
		{"empty object", map[string]any{"data": map[string]any{}}, "body.data"},
		{"type not a string", map[string]any{"data": "x", "type": 1}, "body.type"},
		{"attributes not an object", map[string]any{"data": "x", "attributes": []any{1}}, "body.attributes"},
		{"not JSON", "{", "body"},
		{"not an object", []any{1}, "body"},
	} {
		if locs := e.do(http.MethodPost, "/latest/publish/abc", bob, c.body).expect422(); locs[0] != c.loc {
			t.Errorf("%s: locs %v, want %s", c.name, locs, c.loc)
		}
	}
	if evs := e.events("channel=abc"); len(evs) != 0 {
		t.Fatalf("refused publishes were stored: %v", evs)
	}
	// Type, source and extension attributes; owner cannot be forged.
	e.do(http.MethodPost, "/latest/publish/abc", bob, map[string]any{
		"data": map[string]any{"k": 1}, "type": "org.example.retry", "source": "https://lab.example.org/",
		"attributes": map[string]any{"owner": "admin", "lab": "lab-1", "_sequence_id": 0},
	}).expect(http.StatusOK)
	ce := e.listenEvent(id, bob, "abc")
	if ce["owner"] != "bob" || ce["type"] != "org.example.retry" || ce["source"] != "https://lab.example.org/" ||
		ce["lab"] != "lab-1" || ce["_sequence_id"] == float64(0) {
		t.Fatalf("CloudEvent %v", ce)
	}
	evs := e.events("channel=abc")
	if len(evs) != 1 || evs[0]["owner"] != "bob" {
		t.Fatalf("history %v", evs)
	}
	jsonEqual(t, "stored attributes", evs[0]["attributes"], map[string]any{
		"type": "org.example.retry", "source": "https://lab.example.org/", "lab": "lab-1"})
}

func TestPubSubStats(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 200*time.Millisecond)
	admin := e.token("root", superuser)
	bob := e.token("bob")
	a := e.subscribe(bob, "abc", "promisc=true")
	b := e.subscribe(bob, "node", "")
	e.listen(a, bob, "abc") // a keep-alive, but a poll
	l := e.do(http.MethodGet, "/latest/stats/subscriptions", admin, nil).expect(http.StatusOK).list()
	if len(l) != 2 {
		t.Fatalf("stats %v", l)
	}
	first, second := l[0].(map[string]any), l[1].(map[string]any)
	if first["id"] != float64(a) || first["channel"] != "abc" || first["user"] != "bob" || first["promiscuous"] != true ||
		second["id"] != float64(b) || second["last_poll"] != nil || len(first) != 6 {
		t.Fatalf("stats %v", l)
	}
	wt(t, first["created"])
	wt(t, first["last_poll"])
}

func TestPubSubPushPop(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 5*time.Second)
	bob := e.token("bob")
	for i := range 3 {
		e.do(http.MethodPost, "/latest/push/jobs", bob, map[string]any{"data": map[string]any{"i": i}, "type": "job"}).
			expect(http.StatusOK)
	}
	for i := range 3 {
		o := e.do(http.MethodGet, "/latest/pop/jobs", bob, nil).expect(http.StatusOK).object()
		if o["data"].(map[string]any)["i"] != float64(i) || o["type"] != "job" || o["specversion"] != "1.0" {
			t.Fatalf("pop %d = %v", i, o)
		}
	}
	// A pop waits for the next push.
	got := make(chan []byte, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.base+"/latest/pop/jobs", nil)
		req.Header.Set("Authorization", "Bearer "+bob)
		resp, err := e.client.Do(req)
		if err != nil {
			got <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- b
	}()
	testutil.WaitFor(e.t, 10*time.Second, "the pop to wait", func() bool { _, p := e.svc.Waiters(); return p == 1 })
	e.do(http.MethodPost, "/latest/push/jobs", bob, map[string]any{"data": "late"}).expect(http.StatusOK)
	var o map[string]any
	if err := json.Unmarshal(<-got, &o); err != nil || o["data"] != "late" {
		t.Fatalf("waiting pop got %v (%v)", o, err)
	}
	e.do(http.MethodPost, "/latest/push/jobs", bob, map[string]any{"nodata": 1}).expect422()
}

func TestPubSubKV(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 5*time.Second)
	bob := e.token("bob")
	get := func() any { return e.do(http.MethodGet, "/latest/kv/ns/key", bob, nil).expect(http.StatusOK).value() }
	set := func(ctype, body string) *response {
		h := map[string]string{"Authorization": "Bearer " + bob}
		if ctype != "" {
			h["Content-Type"] = ctype
		}
		return e.send(http.MethodPost, "/latest/kv/ns/key", h, strings.NewReader(body))
	}
	if v := get(); v != nil {
		t.Fatalf("missing key = %v", v)
	}
	if v := set("application/json", `"value 1"`).expect(http.StatusOK).value(); v != "OK" {
		t.Fatalf("set = %v", v)
	}
	if v := get(); v != "value 1" {
		t.Fatalf("get = %v", v)
	}
	// kernelci-core's set_kv sends the bare string with a JSON type.
	set("application/json", "bare").expect(http.StatusOK)
	if v := get(); v != "bare" {
		t.Fatalf("get = %v", v)
	}
	set("text/plain", "plain 123").expect(http.StatusOK)
	if v := get(); v != "plain 123" {
		t.Fatalf("get = %v", v)
	}
	set("application/json", "5").expect422()
	// Empty (or null) deletes.
	set("application/json", `""`).expect(http.StatusOK)
	if v := get(); v != nil {
		t.Fatalf("after empty set = %v", v)
	}
	set("application/json", `"again"`).expect(http.StatusOK)
	if v := e.do(http.MethodDelete, "/latest/kv/ns/key", bob, nil).expect(http.StatusOK).value(); v != "Key-value pair deleted successfully" {
		t.Fatalf("delete = %v", v)
	}
	if v := get(); v != nil {
		t.Fatalf("after delete = %v", v)
	}
}

// TestPubSubDurableOverHTTP: a durable subscriber resumes after the last
// event it acknowledged (by listening again), on a new subscription.
func TestPubSubDurableOverHTTP(t *testing.T) {
	t.Parallel()
	e := newPubSubEnv(t, 300*time.Millisecond)
	sched := e.token("sched")
	id := e.subscribe(sched, "node", "subscriber_id=sched-1&promisc=true")
	for i := range 4 {
		e.do(http.MethodPost, "/latest/publish/node", sched, map[string]any{"data": map[string]any{"i": i}}).expect(http.StatusOK)
	}
	e.listenEvent(id, sched, "node")                                                            // i=0
	if ce := e.listenEvent(id, sched, "node"); ce["data"].(map[string]any)["i"] != float64(1) { // acks i=0
		t.Fatalf("got %v", ce)
	}
	// Gone without acknowledging i=1; it comes again on resubscription.
	id2 := e.subscribe(sched, "node", "subscriber_id=sched-1&promisc=true")
	for want := 1; want < 4; want++ {
		if ce := e.listenEvent(id2, sched, "node"); ce["data"].(map[string]any)["i"] != float64(want) {
			t.Fatalf("resumed: got %v, want i=%d", ce, want)
		}
	}
}

// A listen answer carries its length and is written in one piece, also
// when it is over net/http's 2 kB chunking threshold (a node event
// often is).
func TestListenAnswerHasContentLength(t *testing.T) {
	e := newPubSubEnv(t, 5*time.Second)
	tok := e.token("bob")
	id := e.subscribe(tok, "big", "")
	e.do(http.MethodPost, "/latest/publish/big", tok, map[string]any{"data": map[string]any{"log": strings.Repeat("x", 5000)}}).
		expect(http.StatusOK)
	req, err := http.NewRequest(http.MethodGet, e.base+"/latest/listen/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(b)) || len(b) < 5000 {
		t.Fatalf("status %d, Transfer-Encoding %v, Content-Length %d, body %d bytes; want 200, none, the body's length",
			resp.StatusCode, resp.TransferEncoding, resp.ContentLength, len(b))
	}
	if ce, err := parseListen(b, "big"); err != nil || ce.beep() {
		t.Fatalf("listen answer: %v %v", ce, err)
	}
}
