package api_test

// Resource limits against hostile clients (issue 12, docs/security.md):
// each test names what it protects.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func TestQueryRefusesTooManyListValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vals := make([]string, 40000)
	for i := range vals {
		vals[i] = fmt.Sprintf("k%d", i)
	}
	q := "kind__in=" + strings.Join(vals, ",")
	for _, path := range []string{"/latest/nodes?", "/latest/count?", "/latest/nodes/fast?"} {
		e.do("GET", path+q, "", nil).expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'kind__in': more than 1000 values")
	}
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = fmt.Sprintf("%024x", i)
	}
	e.do("GET", "/latest/events?ids="+strings.Join(ids, ","), "", nil).
		expectDetailPrefix(http.StatusBadRequest, "Invalid 'ids' parameter: more than 1000 ids")
}

// Each list value is an SQL variable (two on data.* fields): sixteen
// lists of 1,000 values passed the per-list check and reached SQLite's
// limit of 32,766 variables, a 500 ("too many SQL variables").
func TestQueryListValuesBoundedAcrossLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprintf("v%d", i)
	}
	v := url.Values{}
	for i := 0; i < 16; i++ {
		v.Set(fmt.Sprintf("data.f%02d__in", i), strings.Join(vals, ","))
	}
	for _, path := range []string{"/latest/count?", "/latest/nodes?limit=1&", "/latest/nodes/fast?limit=1&", "/latest/stats/nodes?group_by=kind&"} {
		e.do("GET", path+v.Encode(), "", nil).expectDetailPrefix(http.StatusBadRequest,
			"Invalid query parameter 'data.f01__in': more than 1000 values in the query's in/nin lists")
	}
	e.do("GET", "/latest/count?kind__in="+strings.Join(vals[:500], ",")+"&name__nin="+strings.Join(vals[:500], ","), "", nil).
		expect(http.StatusOK)
}

// The largest settings config accepts for the query limits still make
// statements both stores run (SQLite: expressions at most 1000 deep,
// 32,766 variables): a query at those limits answers, not 500.
func TestQueryLimitsAtTheirLargestSettingsAnswer(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{QueryLimits: query.Limits{MaxConds: config.MaxQueryConditions,
		MaxListValues: config.MaxQueryListValues}}, nil, nil)
	v := url.Values{}
	for i := 0; i < config.MaxQueryConditions-2; i++ {
		v.Set(fmt.Sprintf("data.f%04d__ne", i), "x")
	}
	vals := make([]string, config.MaxQueryListValues/2)
	for i := range vals {
		vals[i] = fmt.Sprintf("v%d", i)
	}
	v.Set("data.a__in", strings.Join(vals, ","))
	v.Set("data.b__nin", strings.Join(vals, ","))
	for _, path := range []string{"/latest/count?", "/latest/nodes?limit=1&", "/latest/nodes/fast?limit=1&"} {
		e.do("GET", path+v.Encode(), "", nil).expect(http.StatusOK)
	}
}

func TestQueryRefusesTooManyConditions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := url.Values{}
	for i := 0; i < 1200; i++ {
		v.Set(fmt.Sprintf("data.f%04d", i), "x")
	}
	e.do("GET", "/latest/count?"+v.Encode(), "", nil).expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter")
	r := e.do("GET", "/latest/nodes?"+v.Encode(), "", nil)
	r.expect(http.StatusBadRequest)
	if !strings.Contains(string(r.body), "more than 100 conditions") {
		t.Errorf("detail does not name the limit: %s", r.body)
	}
	// Many values of one key count as many conditions.
	e.do("GET", "/latest/count?"+strings.Repeat("kind=x&", 101), "", nil).expect(http.StatusBadRequest)
	e.do("GET", "/latest/count?"+strings.Repeat("kind=x&", 100), "", nil).expect(http.StatusOK)
}

// nested returns a JSON value nested depth levels deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestDeepJSONRefusedWith422(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	before := e.snapshot()
	for _, depth := range []int{1001, 10000} {
		body := `{"kind":"checkout","name":"n","path":["n"],"data":` + nested(depth) + `}`
		r := e.do("POST", "/latest/node", tok, body).expect(http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), "nested deeper than 64") {
			t.Errorf("POST /node depth %d: detail %.300s does not name the limit", depth, r.body)
		}
		e.do("POST", "/latest/publish/ch", tok, `{"data":`+nested(depth)+`}`).expect(http.StatusUnprocessableEntity)
		e.do("POST", "/latest/telemetry", tok, `[`+nested(depth)+`]`).expect(http.StatusUnprocessableEntity)
	}
	e.expectUnchanged(before, "deep JSON bodies")
	// Strings with brackets do not count as nesting.
	e.do("POST", "/latest/node", tok, map[string]any{"kind": "checkout", "name": "n", "path": []string{"n"},
		"data": map[string]any{"s": strings.Repeat("[{", 500)}}).expect(http.StatusOK)
}

// MongoDB refuses documents nested more than 100 levels deep, and an
// event keeps its data a level or two below the body's: the default
// depth (and the largest a setting may give, config.MaxJSONDepth) leave
// room for that, so a body the limit lets through is stored on either
// backend. The old default, 128, let bodies 101 to 128 deep reach
// MongoDB.
func TestJSONDepthLimitFitsMongoDB(t *testing.T) {
	t.Parallel()
	if api.DefaultMaxJSONDepth > config.MaxJSONDepth || config.MaxJSONDepth > 100-4 {
		t.Fatalf("depth limits %d (default) and %d (largest setting) leave no room below MongoDB's 100 levels",
			api.DefaultMaxJSONDepth, config.MaxJSONDepth)
	}
	e := newEnvWith(t, api.Options{MaxJSONDepth: config.MaxJSONDepth}, nil, nil)
	tok := e.token("alice")
	// The body itself is a level: data's value starts at depth 2.
	deepest := nested(config.MaxJSONDepth - 1)
	node := e.postNode(tok, map[string]any{"kind": "checkout", "name": "deep", "path": []string{"deep"},
		"data": json.RawMessage(deepest)})
	e.do("GET", "/latest/node/"+node["id"].(string), "", nil).expect(http.StatusOK)
	e.do("POST", "/latest/publish/ch", tok, `{"data":`+deepest+`}`).expect(http.StatusOK)
	e.do("POST", "/latest/node", tok, `{"kind":"checkout","name":"n","path":["n"],"data":`+nested(config.MaxJSONDepth)+`}`).
		expect(http.StatusUnprocessableEntity)
}

func TestRegexRepetitionCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := url.QueryEscape("[a-z]{1,1000}[a-z]{1,1000}b")
	for _, path := range []string{"/latest/count?data.blob__re=", "/latest/nodes?data.blob__re=", "/latest/nodes/fast?name__re="} {
		r := e.do("GET", path+bad, "", nil)
		r.expect(http.StatusBadRequest)
		if !strings.Contains(string(r.body), "more than the limit of 100") {
			t.Errorf("%s: detail does not name the limit: %s", path, r.body)
		}
	}
	// Nested counts multiply.
	e.do("GET", "/latest/count?name__re="+url.QueryEscape("(a{1,20}){1,20}"), "", nil).expect(http.StatusBadRequest)
	e.do("GET", "/latest/count?name__re="+url.QueryEscape("^[a-z]{1,50}[0-9]{1,50}$"), "", nil).expect(http.StatusOK)
	e.do("GET", "/latest/events?path="+url.QueryEscape("(x{1,200})"), "", nil).expect(http.StatusBadRequest)
}

func TestQueryTimeBudgetAnswers504(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{QueryTimeout: time.Millisecond}, nil, nil)
	tok := e.token("alice")
	blob := strings.Repeat("abcdefghij", 30000)
	for i := 0; i < 3; i++ {
		e.postNode(tok, nodeBody("checkout", fmt.Sprintf("big%d", i), map[string]any{"data": map[string]any{"blob": blob}}))
	}
	q := url.QueryEscape("[a-z]{1,30}[a-z]{1,30}z")
	for _, path := range []string{"/latest/count?data.blob__re=", "/latest/nodes/fast?data.blob__re=", "/latest/nodes?data.blob__re="} {
		e.do("GET", path+q, "", nil).expectDetailPrefix(http.StatusGatewayTimeout, "Query exceeded its time budget")
	}
}

// latch holds the first call of hold, once armed, until open; held is
// closed when that call waits. Later calls pass.
type latch struct {
	armed, taken atomic.Bool
	held         chan struct{}
	release      chan struct{}
	opened       sync.Once
}

func newLatch(armed bool) *latch {
	g := &latch{held: make(chan struct{}), release: make(chan struct{})}
	g.armed.Store(armed)
	return g
}

func (g *latch) hold() {
	if g.armed.Load() && g.taken.CompareAndSwap(false, true) {
		close(g.held)
		<-g.release
	}
}

func (g *latch) open() { g.opened.Do(func() { close(g.release) }) }

// expectBusy checks a 503 for lack of a slot: a detail starting with
// prefix, and Retry-After.
func (r *response) expectBusy(prefix string) {
	r.t.Helper()
	r.expectDetailPrefix(http.StatusServiceUnavailable, prefix)
	if r.header.Get("Retry-After") == "" {
		r.t.Error("503 without Retry-After")
	}
}

// gatedStore blocks the first regex count at its latch, and counts how
// many regex counts reached the store.
type gatedStore struct {
	store.Store
	*latch
	mu      sync.Mutex
	entered int
}

func (g *gatedStore) CountNodes(ctx context.Context, f query.Filter) (int64, error) {
	for _, c := range f.Conds {
		if c.Op == query.Re {
			g.mu.Lock()
			g.entered++
			g.mu.Unlock()
			g.hold()
			break
		}
	}
	return g.Store.CountNodes(ctx, f)
}

func TestHeavyQueriesDoNotStarveCheapReads(t *testing.T) {
	t.Parallel()
	g := &gatedStore{latch: newLatch(true)}
	e := newEnvWith(t, api.Options{MaxHeavyQueries: 1, AdmissionWait: 10 * time.Millisecond}, func(st store.Store) store.Store {
		g.Store = st
		return g
	}, nil)
	done := make(chan *response)
	go func() { done <- e.do("GET", "/latest/count?name__re=a", "", nil) }()
	<-g.held
	// The one heavy slot is taken: a second regex query is turned away
	// with Retry-After, a plain read still answers.
	e.do("GET", "/latest/count?name__re=b", "", nil).expectBusy("Too many regular-expression queries")
	e.do("GET", "/latest/nodes?limit=1", "", nil).expect(http.StatusOK)
	e.do("GET", "/latest/count?kind=checkout", "", nil).expect(http.StatusOK)
	g.open()
	(<-done).expect(http.StatusOK)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entered != 1 {
		t.Errorf("%d regex counts reached the store, want 1", g.entered)
	}
}

func TestAnswersAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/latest/nodes?limit=9223372036854775807", "", nil).expect(http.StatusUnprocessableEntity)
	e.do("GET", "/latest/nodes?limit=10001", "", nil).expect(http.StatusUnprocessableEntity)
	e.do("GET", "/latest/nodes?limit=10000", "", nil).expect(http.StatusOK)
	e.do("GET", "/latest/events?limit=10001", "", nil).expectDetailPrefix(http.StatusBadRequest, "Invalid 'limit' parameter")
	e.do("GET", "/latest/events?limit=0", "", nil).expect(http.StatusOK)
}

func TestNodesFastStreamsEveryNode(t *testing.T) {
	t.Parallel()
	// A budget no loaded test machine reaches: not what is tested here.
	e := newEnvWith(t, api.Options{QueryTimeout: 10 * time.Minute}, nil, nil)
	tok := e.token("alice")
	// More than two chunks of the stream (500 nodes), in one hierarchy.
	root := e.postNode(tok, checkoutBody())
	var children []any
	for i := 0; i < 1202; i++ {
		children = append(children, map[string]any{"node": nodeBody("test", fmt.Sprintf("t%04d", i), nil), "child_nodes": []any{}})
	}
	root["state"] = "available"
	e.do("PUT", "/latest/nodes/"+root["id"].(string), tok, map[string]any{"node": root, "child_nodes": children}).expect(http.StatusOK)
	all := e.do("GET", "/latest/nodes/fast", "", nil).expect(http.StatusOK).list()
	if len(all) != 1203 {
		t.Fatalf("/nodes/fast: %d nodes, want 1203", len(all))
	}
	paged := e.do("GET", "/latest/nodes?limit=10000", "", nil).expect(http.StatusOK).object()["items"].([]any)
	sameIDs(t, "streamed vs paged", ids(all), ids(paged))
	part := e.do("GET", "/latest/nodes/fast?limit=700&offset=2", "", nil).expect(http.StatusOK).list()
	sameIDs(t, "limit and offset", ids(part), ids(paged[2:702]))
}

// sameIDs reports the first difference of two id lists.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d ids, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: first difference at %d: %s, want %s", what, i, got[i], want[i])
			return
		}
	}
}

func TestPopWaitEndsWithKeepAlive(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	svc := pubsub.New(st, pubsub.NewBroker(), pubsub.Options{KeepAlive: 100 * time.Millisecond})
	tokens := &auth.Tokens{Secret: testSecret}
	srv := httptest.NewServer(api.New(st, tokens, api.Options{PubSub: svc}, nil))
	t.Cleanup(srv.Close)
	client := srv.Client()
	// A guard against a hang on a failure, not a measured limit.
	client.Timeout = 30 * time.Second
	e := &env{t: t, base: srv.URL, client: client, store: st, tokens: tokens}
	tok := e.token("alice")
	e.do("GET", "/latest/pop/empty-list", tok, nil).expect(http.StatusOK)
	e.do("POST", "/latest/push/l", tok, map[string]any{"data": map[string]any{"x": 1}}).expect(http.StatusOK)
	got := e.do("GET", "/latest/pop/l", tok, nil).expect(http.StatusOK).object()
	if d, _ := got["data"].(map[string]any); d["x"] != float64(1) {
		t.Errorf("pop after push = %v", got)
	}
}

func TestSubscriptionsPerUserCapped(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{MaxSubscriptionsPerUser: 3}, nil, nil)
	alice, bob := e.token("alice"), e.token("bob")
	var first float64
	for i := 0; i < 3; i++ {
		r := e.do("POST", "/latest/subscribe/node", alice, nil).expect(http.StatusOK).object()
		if i == 0 {
			first = r["id"].(float64)
		}
	}
	r := e.do("POST", "/latest/subscribe/node", alice, nil)
	r.expectDetailPrefix(http.StatusTooManyRequests, "Too many subscriptions: user alice holds 3, the limit is 3")
	e.do("POST", "/latest/subscribe/node", bob, nil).expect(http.StatusOK)
	e.do("POST", fmt.Sprintf("/latest/unsubscribe/%d", int64(first)), alice, nil).expect(http.StatusOK)
	e.do("POST", "/latest/subscribe/node", alice, nil).expect(http.StatusOK)
}

func TestSlowBodyConnectionClosed(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{BodyReadTimeout: 100 * time.Millisecond, MinBodyRate: 1 << 30}, nil, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Declares 100,000 bytes and sends one: the server must give up on
	// the body and close the connection instead of waiting for ever.
	fmt.Fprintf(conn, "POST /latest/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nu")
	// A guard against a hang on a failure, not a measured limit.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("connection still open after the body timeout: %v (read %q)", err, b)
	}
}

// heldLogins blocks the first username lookup (inside a login, so while
// it holds a password-hash slot) until released.
type heldLogins struct {
	store.Store
	*latch
}

func (h *heldLogins) GetUserByUsername(ctx context.Context, name string) (*model.User, error) {
	h.hold()
	return h.Store.GetUserByUsername(ctx, name)
}

func TestPasswordHashesBounded(t *testing.T) {
	t.Parallel()
	h := &heldLogins{latch: newLatch(true)}
	e := newEnvWith(t, api.Options{MaxHashes: 1, AdmissionWait: 10 * time.Millisecond}, func(st store.Store) store.Store {
		h.Store = st
		return h
	}, nil)
	e.addUser("alice")
	form := url.Values{"username": {"nobody"}, "password": {"x"}}
	done := make(chan *response)
	go func() { done <- e.postForm("/latest/user/login", form) }()
	<-h.held
	// The only hash slot is taken: another login waits briefly, then is
	// told to come back, without hashing anything.
	e.postForm("/latest/user/login", url.Values{"username": {"alice"}, "password": {testPassword}}).expectBusy("Too many password checks")
	h.open()
	(<-done).expect(http.StatusBadRequest)
	e.login("alice")
}

func TestHierarchyChildrenNameExistingGroupsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.addGroup("lab-x")
	root := e.postNode(tok, checkoutBody())
	before := e.snapshot()
	child := func(name string, groups ...string) map[string]any {
		return map[string]any{"node": nodeBody("test", name, map[string]any{"user_groups": groups}), "child_nodes": []any{}}
	}
	body := map[string]any{"node": root, "child_nodes": []any{child("ok", "lab-x"),
		map[string]any{"node": nodeBody("test", "deep", nil), "child_nodes": []any{child("bad", "lab-x", "not-yet-a-group")}}}}
	e.do("PUT", "/latest/nodes/"+root["id"].(string), tok, body).
		expectDetail(http.StatusBadRequest, "User group does not exist with name: not-yet-a-group")
	e.expectUnchanged(before, "a hierarchy with an unknown group")
	body["child_nodes"] = []any{child("ok", "lab-x")}
	e.do("PUT", "/latest/nodes/"+root["id"].(string), tok, body).expect(http.StatusOK)
}

// heldWrites holds the first node write, once its latch is armed.
type heldWrites struct {
	store.Store
	*latch
}

func (h *heldWrites) WriteNodes(ctx context.Context, w store.NodeWrite) error {
	h.hold()
	return h.Store.WriteNodes(ctx, w)
}

func TestLargeHierarchiesBounded(t *testing.T) {
	t.Parallel()
	h := &heldWrites{latch: newLatch(false)}
	e := newEnvWith(t, api.Options{MaxLargeHierarchies: 1, AdmissionWait: 10 * time.Millisecond}, func(st store.Store) store.Store {
		h.Store = st
		return h
	}, nil)
	t.Cleanup(h.open) // before the server closes, should the test fail early
	tok := e.token("alice")
	// The root is written before the store is held.
	root := e.postNode(tok, checkoutBody())
	id := root["id"].(string)
	big := func(name string) map[string]any {
		n := nodeBody("test", name, nil)
		n["data"] = map[string]any{"blob": strings.Repeat("x", 1100<<10)}
		return map[string]any{"node": root, "child_nodes": []any{map[string]any{"node": n, "child_nodes": []any{}}}}
	}
	h.armed.Store(true)
	done := make(chan *response)
	go func() { done <- e.do("PUT", "/latest/nodes/"+id, tok, big("first")) }()
	<-h.held
	// The only large-hierarchy slot is taken: another large body waits
	// briefly, then is told to come back, with nothing written.
	before := e.snapshot()
	e.do("PUT", "/latest/nodes/"+id, tok, big("second")).expectBusy("Too many large hierarchies")
	e.expectUnchanged(before, "a large hierarchy refused for lack of a slot")
	h.open()
	(<-done).expect(http.StatusOK)
	// A small hierarchy never waits for the slot.
	small := map[string]any{"node": root, "child_nodes": []any{map[string]any{"node": nodeBody("test", "small", nil), "child_nodes": []any{}}}}
	e.do("PUT", "/latest/nodes/"+id, tok, small).expect(http.StatusOK)
}

// A client that asks for a large answer and never reads it is cut off
// after the write timeout, instead of holding a handler, its query and
// a connection for ever (issue 12, item 7).
func TestClientThatNeverReadsIsCut(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	tokens := &auth.Tokens{Secret: testSecret}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	opts := api.Options{WriteTimeout: 200 * time.Millisecond, QueryTimeout: 10 * time.Minute,
		PubSub: pubsub.New(st, pubsub.NewBroker(), pubsub.Options{Log: log})}
	srv := httptest.NewUnstartedServer(api.New(st, tokens, opts, log))
	var mu sync.Mutex
	closed := map[string]bool{} // client addresses whose connection the server closed
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			mu.Lock()
			closed[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, base: srv.URL, client: srv.Client(), store: st, tokens: tokens}
	tok := e.token("alice")
	// About 20 MB of events: more than the socket buffers hold.
	blob := strings.Repeat("x", 900<<10)
	for i := 0; i < 24; i++ {
		e.do("POST", "/latest/publish/big", tok, map[string]any{"data": map[string]any{"blob": blob}}).expect(http.StatusOK)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(conn, "GET /latest/events?limit=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	// A guard against a hang on a failure, not a measured limit.
	testutil.WaitFor(t, 60*time.Second, "the server to close the connection of a client that does not read", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return closed[conn.LocalAddr().String()]
	})
}

// TestLongPollsPerUserCapped: one user holds at most MaxWaitsPerUser
// long-polls (GET /pop, GET /listen) at once; the next is refused 429 at
// once instead of holding one more connection, another user is not
// counted against it, and a slot given back is taken again.
func TestLongPollsPerUserCapped(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	svc := pubsub.New(st, pubsub.NewBroker(), pubsub.Options{})
	tokens := &auth.Tokens{Secret: testSecret}
	srv := httptest.NewServer(api.New(st, tokens, api.Options{PubSub: svc, MaxWaitsPerUser: 2}, nil))
	t.Cleanup(srv.Close)
	e := &env{t: t, base: srv.URL, client: srv.Client(), store: st, tokens: tokens}
	alice, bob := e.token("alice"), e.token("bob")
	done := make(chan int, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequest("GET", srv.URL+"/latest/pop/alice-list", nil)
			req.Header.Set("Authorization", "Bearer "+alice)
			res, err := srv.Client().Do(req)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
	}
	testutil.WaitFor(t, 30*time.Second, "two pops waiting", func() bool {
		_, pops := svc.Waiters()
		return pops == 2
	})
	e.do("GET", "/latest/pop/other", alice, nil).
		expectDetailPrefix(http.StatusTooManyRequests, "Too many open listens and pops for this user (at most 2")
	sub := e.do("POST", "/latest/subscribe/node", alice, nil).expect(http.StatusOK).object()
	e.do("GET", fmt.Sprintf("/latest/listen/%d", int64(sub["id"].(float64))), alice, nil).
		expectDetailPrefix(http.StatusTooManyRequests, "Too many open listens and pops for this user")
	e.do("POST", "/latest/push/bob-list", bob, map[string]any{"data": 1}).expect(http.StatusOK)
	e.do("GET", "/latest/pop/bob-list", bob, nil).expect(http.StatusOK)
	// One item ends one of the two waits; its slot is free again.
	e.do("POST", "/latest/push/alice-list", alice, map[string]any{"data": 1}).expect(http.StatusOK)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the woken pop answered %d", code)
	}
	e.do("POST", "/latest/push/third", alice, map[string]any{"data": 3}).expect(http.StatusOK)
	e.do("GET", "/latest/pop/third", alice, nil).expect(http.StatusOK)
	e.do("POST", "/latest/push/alice-list", alice, map[string]any{"data": 2}).expect(http.StatusOK)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the second pop answered %d", code)
	}
}
