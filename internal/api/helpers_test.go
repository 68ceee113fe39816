package api_test

// Shared plumbing of the black-box HTTP tests: every test gets its own
// server on a fresh store (SQLite in t.TempDir(), or a database of its own
// on MongoDB: see store_test.go), talks to it over real HTTP, and creates
// its users directly in the store.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

const (
	testSecret   = "test-secret-key-for-api-tests"
	testPassword = "correct horse battery staple"
)

// TestMain makes password hashing cheap for the whole package (the switch
// is process-wide, so it is set once here rather than per parallel test),
// stops the embedded FerretDB if a test started it, then runs the second
// pass, every test on MongoDB (store_test.go).
func TestMain(m *testing.M) {
	restore := auth.SetTestParams()
	code := m.Run()
	stopMongo()
	if code == 0 {
		code = mongoPass()
	}
	restore()
	os.Exit(code)
}

// env is one server under test.
type env struct {
	t      *testing.T
	base   string
	client *http.Client
	store  store.Store
	tokens *auth.Tokens
}

// newEnv starts a server on an empty store, with the built-in
// node:edit:any group created as the application's bootstrap does.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, api.Options{}, nil, nil)
}

// newEnvWith is newEnv with the server's options (a pub/sub service is
// made when opts has none), its store wrapped by wrap (nil: none; e.store
// stays the store itself) and its log written to logOut (nil: the test's
// output, warnings and above).
func newEnvWith(t *testing.T, opts api.Options, wrap func(store.Store) store.Store, logOut io.Writer) *env {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	if err := st.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		t.Fatal(err)
	}
	tokens := &auth.Tokens{Secret: testSecret}
	if logOut == nil {
		logOut = t.Output()
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	served := st
	if wrap != nil {
		served = wrap(st)
	}
	if opts.PubSub == nil {
		opts.PubSub = pubsub.New(served, pubsub.NewBroker(), pubsub.Options{Log: log})
	}
	srv := httptest.NewServer(api.New(served, tokens, opts, log))
	t.Cleanup(srv.Close)
	client := srv.Client()
	// Never follow redirects: a redirect is a behaviour under test.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{t: t, base: srv.URL, client: client, store: st, tokens: tokens}
}

// with returns a view of e that reports failures to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// userOpt adjusts a user before it is stored.
type userOpt func(*model.User)

func superuser(u *model.User)  { u.IsSuperuser = true }
func inactive(u *model.User)   { u.IsActive = false }
func unverified(u *model.User) { u.IsVerified = false }

// inGroups puts the user in the named groups, creating them if needed.
func inGroups(names ...string) userOpt {
	return func(u *model.User) {
		for _, n := range names {
			u.Groups = append(u.Groups, model.Group{Name: n})
		}
	}
}

// addGroup stores a group (if it does not exist yet) and returns it.
func (e *env) addGroup(name string) model.Group {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.store.GetGroupByName(ctx, name)
	if err == nil {
		return *g
	}
	if !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	g = &model.Group{Name: name}
	if err := e.store.InsertGroup(ctx, g); errors.Is(err, store.ErrConflict) {
		// A parallel subtest made it first.
		if g, err = e.store.GetGroupByName(ctx, name); err != nil {
			e.t.Fatal(err)
		}
	} else if err != nil {
		e.t.Fatal(err)
	}
	return *g
}

// addUser stores an active, verified user with testPassword.
func (e *env) addUser(name string, opts ...userOpt) *model.User {
	e.t.Helper()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &model.User{Username: name, Email: name + "@example.org", HashedPassword: hash,
		IsActive: true, IsVerified: true, Groups: []model.Group{}}
	for _, o := range opts {
		o(u)
	}
	for i, g := range u.Groups {
		u.Groups[i] = e.addGroup(g.Name)
	}
	if err := e.store.InsertUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// login logs in through POST /latest/user/login and returns the token.
func (e *env) login(name string) string {
	e.t.Helper()
	r := e.postForm("/latest/user/login", url.Values{"username": {name}, "password": {testPassword}})
	r.expect(http.StatusOK)
	tok, _ := r.object()["access_token"].(string)
	if tok == "" {
		e.t.Fatalf("login %s: no access_token in %s", name, r.body)
	}
	return tok
}

// token creates a user and logs it in.
func (e *env) token(name string, opts ...userOpt) string {
	e.t.Helper()
	e.addUser(name, opts...)
	return e.login(name)
}

// response is a received answer.
type response struct {
	t      *testing.T
	req    string
	status int
	header http.Header
	body   []byte
}

func (e *env) postForm(path string, form url.Values) *response {
	e.t.Helper()
	return e.send(http.MethodPost, path, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, strings.NewReader(form.Encode()))
}

// do sends a request with the token (if any) as "Bearer <token>". body is
// nil (no body), a string or []byte (sent as is) or anything else (sent as
// JSON).
func (e *env) do(method, path, token string, body any) *response {
	e.t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return e.doHeaders(method, path, h, body)
}

func (e *env) doHeaders(method, path string, headers map[string]string, body any) *response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	if r != nil {
		if _, ok := headers["Content-Type"]; !ok {
			headers["Content-Type"] = "application/json"
		}
	}
	return e.send(method, path, headers, r)
}

func (e *env) send(method, path string, headers map[string]string, body io.Reader) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &response{t: e.t, req: method + " " + path, status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless the status is want.
func (r *response) expect(want int) *response {
	r.t.Helper()
	if r.status != want {
		r.t.Fatalf("%s: status %d, want %d; body: %s", r.req, r.status, want, truncate(r.body))
	}
	return r
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// value decodes the JSON body (numbers as float64).
func (r *response) value() any {
	r.t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Fatalf("%s: Content-Type %q, want application/json; body: %s", r.req, ct, truncate(r.body))
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		r.t.Fatalf("%s: body is not JSON: %v; body: %s", r.req, err, truncate(r.body))
	}
	return v
}

func (r *response) object() map[string]any {
	r.t.Helper()
	m, ok := r.value().(map[string]any)
	if !ok {
		r.t.Fatalf("%s: body is not a JSON object: %s", r.req, truncate(r.body))
	}
	return m
}

func (r *response) list() []any {
	r.t.Helper()
	l, ok := r.value().([]any)
	if !ok {
		r.t.Fatalf("%s: body is not a JSON list: %s", r.req, truncate(r.body))
	}
	return l
}

// expectDetail checks the status and that the body is exactly
// {"detail": detail}.
func (r *response) expectDetail(status int, detail string) {
	r.t.Helper()
	r.expect(status)
	m := r.object()
	if len(m) != 1 || m["detail"] != detail {
		r.t.Fatalf("%s: body %s, want {\"detail\": %q}", r.req, r.body, detail)
	}
}

// expectDetailPrefix checks the status and that detail is a string
// starting with prefix.
func (r *response) expectDetailPrefix(status int, prefix string) string {
	r.t.Helper()
	r.expect(status)
	d, ok := r.object()["detail"].(string)
	if !ok || !strings.HasPrefix(d, prefix) {
		r.t.Fatalf("%s: body %s, want a detail starting with %q", r.req, r.body, prefix)
	}
	return d
}

// expect422 checks a FastAPI request-validation answer: status 422 and a
// detail list whose entries have type, loc, msg and input; it returns the
// locs joined with ".".
func (r *response) expect422() []string {
	r.t.Helper()
	r.expect(http.StatusUnprocessableEntity)
	l, ok := r.object()["detail"].([]any)
	if !ok || len(l) == 0 {
		r.t.Fatalf("%s: detail is not a non-empty list: %s", r.req, r.body)
	}
	var locs []string
	for _, it := range l {
		fe, ok := it.(map[string]any)
		if !ok {
			r.t.Fatalf("%s: detail entry is not an object: %s", r.req, r.body)
		}
		for _, k := range []string{"type", "loc", "msg", "input"} {
			if _, ok := fe[k]; !ok {
				r.t.Fatalf("%s: detail entry without %q: %s", r.req, k, r.body)
			}
		}
		var parts []string
		for _, p := range fe["loc"].([]any) {
			b, _ := json.Marshal(p)
			parts = append(parts, strings.Trim(string(b), `"`))
		}
		locs = append(locs, strings.Join(parts, "."))
	}
	return locs
}

// expectRefusal checks a refused request: a 422 with exactly locs (nil:
// any), else status and the body {"detail": detail} (nil or "": any
// string detail).
func (r *response) expectRefusal(status int, detail any, locs []string) {
	r.t.Helper()
	switch {
	case status == 422:
		if got := r.expect422(); locs != nil && !reflect.DeepEqual(got, locs) {
			r.t.Errorf("locs %v, want %v", got, locs)
		}
	case detail == nil || detail == "":
		r.expectDetailPrefix(status, "")
	default:
		r.expect(status)
		jsonEqual(r.t, "body", r.value(), map[string]any{"detail": detail})
	}
}

// formOf is the form of the given key, value pairs.
func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// count is GET /count with an optional query string.
func (e *env) count(q string) int {
	e.t.Helper()
	path := "/latest/count"
	if q != "" {
		path += "?" + q
	}
	v := e.do(http.MethodGet, path, "", nil).expect(http.StatusOK).value()
	n, ok := v.(float64)
	if !ok {
		e.t.Fatalf("GET %s: not a number: %v", path, v)
	}
	return int(n)
}

// events is GET /events with an optional query string.
func (e *env) events(q string) []map[string]any {
	e.t.Helper()
	path := "/latest/events"
	if q != "" {
		path += "?" + q
	}
	var out []map[string]any
	for _, it := range e.do(http.MethodGet, path, "", nil).expect(http.StatusOK).list() {
		out = append(out, it.(map[string]any))
	}
	return out
}

// state is the number of nodes and events, to check that a refused
// request stored nothing.
type state struct{ nodes, events int }

func (e *env) snapshot() state {
	e.t.Helper()
	return state{e.count(""), len(e.events("limit=0"))}
}

func (e *env) expectUnchanged(before state, what string) {
	e.t.Helper()
	if after := e.snapshot(); after != before {
		e.t.Fatalf("%s changed the store: nodes %d -> %d, events %d -> %d", what, before.nodes, after.nodes, before.events, after.events)
	}
}

// postNode creates a node and returns it.
func (e *env) postNode(token string, body map[string]any) map[string]any {
	e.t.Helper()
	return e.do(http.MethodPost, "/latest/node", token, body).expect(http.StatusOK).object()
}

// postNodes creates n nodes of a kind named prefix0, prefix1... and
// returns their ids.
func (e *env) postNodes(token, kind, prefix string, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.postNode(token, nodeBody(kind, fmt.Sprint(prefix, i), nil))["id"].(string)
	}
	return ids
}

// getNode returns the stored node (failing if there is none).
func (e *env) getNode(id any) map[string]any {
	e.t.Helper()
	r := e.do(http.MethodGet, "/latest/node/"+id.(string), "", nil).expect(http.StatusOK)
	n, ok := r.value().(map[string]any)
	if !ok {
		e.t.Fatalf("node %s not found: %s", id, r.body)
	}
	return n
}

// nodeEvents returns the events of one node, in order.
func (e *env) nodeEvents(id any) []map[string]any {
	e.t.Helper()
	return e.events("node_id=" + id.(string))
}

// checkoutBody is the checkout of the user documentation.
func checkoutBody() map[string]any {
	return map[string]any{
		"name": "checkout",
		"kind": "checkout",
		"path": []any{"checkout"},
		"data": map[string]any{
			"kernel_revision": map[string]any{
				"tree":     "mainline",
				"url":      "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
				"branch":   "master",
				"commit":   "2a987e65025e2b79c6d453b78cb5985ac6e5eb26",
				"describe": "v5.16-rc4-31-g2a987e65025e",
			},
		},
	}
}

// nodeBody is a minimal node of the given kind.
func nodeBody(kind, name string, extra map[string]any) map[string]any {
	b := map[string]any{"kind": kind, "name": name, "path": []any{"checkout", name}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// nodeFields is every field of the node JSON.
var nodeFields = []string{
	"id", "kind", "name", "path", "group", "parent", "state", "result",
	"artifacts", "data", "debug", "jobfilter", "platform_filter", "created",
	"updated", "timeout", "holdoff", "owner", "submitter", "treeid",
	"user_groups", "processed_by_kcidb_bridge", "retry_counter",
}

var (
	wireTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$`)
	hexID    = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

// sortedKeys are the keys of a JSON object, sorted.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// checkNodeShape checks that n has exactly the node fields, a 24-hex id
// and wire-format datetimes.
func checkNodeShape(t *testing.T, n map[string]any) {
	t.Helper()
	keys := sortedKeys(n)
	want := slices.Clone(nodeFields)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("node fields %v, want %v", keys, want)
	}
	if id, _ := n["id"].(string); !hexID.MatchString(id) {
		t.Errorf("id %v is not 24 hex characters", n["id"])
	}
	if p := n["parent"]; p != nil {
		if s, _ := p.(string); !hexID.MatchString(s) {
			t.Errorf("parent %v is not 24 hex characters", p)
		}
	}
	for _, f := range []string{"created", "updated", "timeout", "holdoff"} {
		if f == "holdoff" && n[f] == nil {
			continue
		}
		if s, _ := n[f].(string); !wireTime.MatchString(s) {
			t.Errorf("%s %v is not YYYY-MM-DDTHH:MM:SS.ffffff", f, n[f])
		}
	}
}

// wt parses a wire datetime.
func wt(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse("2006-01-02T15:04:05.000000", s)
	if err != nil {
		t.Fatalf("bad wire datetime %v: %v", v, err)
	}
	return tm
}

// ids returns the "id" of each item.
func ids(items []any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it.(map[string]any)["id"].(string)
	}
	return out
}

// sortedIDs sorts a copy.
func sortedIDs(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// jsonEqual compares two values after a JSON round trip of want. On
// MongoDB, which keeps datetimes to the millisecond (as the reference
// does: what POST answers has microseconds, what is read back has not),
// wire datetimes on both sides are compared to the millisecond.
func jsonEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if onMongo(t) {
		got, w = toMillis(got), toMillis(w)
	}
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("%s = %s, want %s", what, gb, b)
	}
}

// toMillis returns a copy of a decoded JSON value with every wire
// datetime truncated to the millisecond.
func toMillis(v any) any {
	switch x := v.(type) {
	case string:
		if wireTime.MatchString(x) {
			return x[:len(x)-3] + "000"
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = toMillis(el)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = toMillis(el)
		}
		return out
	}
	return v
}
