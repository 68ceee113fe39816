package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// follow reads every page of path (which has sort= or after=) through
// the X-Next-Cursor header, checking that Link says the same, and
// returns the items; envelope says whether pages are /nodes envelopes.
func (e *env) follow(path string, envelope bool) []map[string]any {
	e.t.Helper()
	var all []map[string]any
	next := path
	for range 1000 {
		r := e.do(http.MethodGet, next, "", nil).expect(http.StatusOK)
		var items []any
		if envelope {
			m := r.object()
			if len(m) != 4 || m["items"] == nil || m["total"] == nil || m["limit"] == nil || m["offset"] == nil {
				e.t.Fatalf("%s: envelope %v", next, m)
			}
			items = m["items"].([]any)
		} else {
			items = r.list()
		}
		for _, it := range items {
			all = append(all, it.(map[string]any))
		}
		cur := r.header.Get("X-Next-Cursor")
		link := r.header.Get("Link")
		if cur == "" {
			if link != "" {
				e.t.Fatalf("%s: Link %q without X-Next-Cursor", next, link)
			}
			return all
		}
		u, _ := url.Parse(next)
		q := u.Query()
		q.Set("after", cur)
		if want := "<?" + q.Encode() + `>; rel="next"`; link != want {
			e.t.Fatalf("%s: Link %q, want %q", next, link, want)
		}
		next = u.Path + "?" + q.Encode()
	}
	e.t.Fatal("paging does not end")
	return nil
}

func itemIDs(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it["id"].(string)
	}
	return out
}

func TestNodesSortAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	var made []map[string]any
	for i := range 23 {
		kind := []string{"kbuild", "test", "job"}[i%3]
		made = append(made, e.postNode(tok, nodeBody(kind, fmt.Sprintf("n-%02d", (i*7)%23), nil)))
	}
	full := func(q string) []string {
		return ids(e.do(http.MethodGet, "/latest/nodes/fast?"+q, "", nil).expect(http.StatusOK).list())
	}
	// Newest first: the reverse of creation (ids break ties of equal
	// creation times in the same direction).
	newest := full("sort=-created")
	if len(newest) != len(made) {
		t.Fatalf("sort=-created: %d nodes", len(newest))
	}
	for i := 1; i < len(newest); i++ {
		a, b := e.node(newest[i-1]), e.node(newest[i])
		if a["created"].(string) < b["created"].(string) || (a["created"] == b["created"] && a["id"].(string) < b["id"].(string)) {
			t.Fatalf("sort=-created: %v before %v", a["created"], b["created"])
		}
	}
	byName := full("sort=name")
	for i := 1; i < len(byName); i++ {
		if e.node(byName[i-1])["name"].(string) > e.node(byName[i])["name"].(string) {
			t.Fatalf("sort=name out of order at %d", i)
		}
	}
	for _, tc := range []struct {
		path     string
		envelope bool
	}{
		{"/latest/nodes?sort=-created&limit=5", true},
		{"/latest/nodes/fast?sort=-created&limit=4", false},
		{"/latest/nodes?sort=kind,-created&limit=6", true},
		{"/latest/nodes/fast?sort=name,id&limit=1", false},
		{"/latest/nodes?after=&limit=7", true}, // the default cursor order: id
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := e.with(t)
			u, _ := url.Parse(tc.path)
			q := u.Query()
			q.Del("limit")
			q.Del("after")
			want := full(q.Encode())
			if got := itemIDs(e.follow(tc.path, tc.envelope)); !slices.Equal(got, want) {
				t.Fatalf("pages\n got %v\nwant %v", got, want)
			}
		})
	}
	// A filter and the envelope's total, which counts every match.
	r := e.do(http.MethodGet, "/latest/nodes?kind=test&sort=-created&limit=3", "", nil).expect(http.StatusOK)
	m := r.object()
	cur := r.header.Get("X-Next-Cursor")
	if m["total"] != 8.0 || len(m["items"].([]any)) != 3 || cur == "" {
		t.Fatalf("first page: total %v, %d items, cursor %q", m["total"], len(m["items"].([]any)), cur)
	}
	m = e.do(http.MethodGet, "/latest/nodes?kind=test&sort=-created&limit=3&after="+cur, "", nil).expect(http.StatusOK).object()
	if m["total"] != 8.0 || m["offset"] != 0.0 || len(m["items"].([]any)) != 3 {
		t.Fatalf("second page: %v", m)
	}
	// Offset still works with a sort.
	all := full("sort=-created")
	if got := full("sort=-created&limit=4&offset=6"); !slices.Equal(got, all[6:10]) {
		t.Fatalf("sort=-created offset 6: %v, want %v", got, all[6:10])
	}
	// No header when the page is not full, or without sort/after.
	for _, q := range []string{"/latest/nodes?sort=-created&limit=100", "/latest/nodes?limit=2", "/latest/nodes/fast?sort=-created"} {
		if h := e.do(http.MethodGet, q, "", nil).expect(http.StatusOK).header.Get("X-Next-Cursor"); h != "" {
			t.Errorf("%s: X-Next-Cursor %q", q, h)
		}
	}
}

// node reads a node through the API.
func (e *env) node(id string) map[string]any {
	e.t.Helper()
	return e.do(http.MethodGet, "/latest/node/"+id, "", nil).expect(http.StatusOK).object()
}

func TestListingBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.postNodes(tok, "test", "t", 3)
	r := e.do(http.MethodGet, "/latest/nodes?sort=-created&limit=1", "", nil).expect(http.StatusOK)
	cur := r.header.Get("X-Next-Cursor")
	evs := e.do(http.MethodGet, "/latest/events?sort=-sequence_id&limit=1", "", nil).expect(http.StatusOK)
	evCur := evs.header.Get("X-Next-Cursor")
	if cur == "" || evCur == "" {
		t.Fatal("no cursor")
	}
	for _, tc := range []struct{ path, detail string }{
		{"/latest/nodes?sort=data.runtime", `Invalid query parameter 'sort': cannot sort on "data.runtime" (sortable fields: created, id, kind, name, result, state, updated)`},
		{"/latest/nodes/fast?sort=-owner", `Invalid query parameter 'sort': cannot sort on "owner" (sortable fields: created, id, kind, name, result, state, updated)`},
		{"/latest/nodes?sort=", `Invalid query parameter 'sort': empty sort key in ""`},
		{"/latest/nodes?sort=name,,id", `Invalid query parameter 'sort': empty sort key in "name,,id"`},
		{"/latest/nodes?sort=name,-name", `Invalid query parameter 'sort': field "name" given twice`},
		{"/latest/nodes?sort=name,kind,state,result,created", `Invalid query parameter 'sort': more than 4 sort keys`},
		{"/latest/nodes?sort=name&sort=kind", `Invalid query parameter 'sort': given more than once`},
		{"/latest/events?sort=created", `Invalid query parameter 'sort': cannot sort on "created" (sortable fields: sequence_id)`},
		{"/latest/nodes?after=xyz", `Invalid query parameter 'after': not a cursor of this server (malformed); use the one the previous page gave`},
		{"/latest/nodes?after=" + cur, `Invalid query parameter 'after': the cursor was made for sort=-created,-id, not sort=id`},
		{"/latest/nodes?sort=name&after=" + cur, `Invalid query parameter 'after': the cursor was made for sort=-created,-id, not sort=name,id`},
		{"/latest/nodes?sort=-sequence_id&after=" + evCur, `Invalid query parameter 'sort': cannot sort on "sequence_id" (sortable fields: created, id, kind, name, result, state, updated)`},
		{"/latest/events?sort=-sequence_id&after=" + cur, `Invalid query parameter 'after': the cursor was made for sort=-created,-id, not sort=-sequence_id`},
		{"/latest/nodes?fields=name,bogus", `Invalid query parameter 'fields': unknown field "bogus" (fields: id, kind, name, path, group, parent, state, result, artifacts, data, debug, jobfilter, platform_filter, created, updated, timeout, holdoff, owner, submitter, treeid, user_groups, processed_by_kcidb_bridge, retry_counter)`},
		{"/latest/nodes?fields=data..x", `Invalid query parameter 'fields': invalid field path "data..x"`},
		{"/latest/events?fields=kind", `Invalid query parameter 'fields': unknown field "kind" (fields: id, timestamp, sequence_id, channel, owner, data, attributes, node)`},
		{"/latest/nodes/fast?fields=" + strings.Repeat("name,", 65), `Invalid query parameter 'fields': more than 64 fields`},
	} {
		e.do(http.MethodGet, tc.path, "", nil).expectDetail(http.StatusBadRequest, tc.detail)
	}
	// A cursor whose values were tampered with.
	bad := tamper(t, cur)
	e.do(http.MethodGet, "/latest/nodes?sort=-created&after="+bad, "", nil).expectDetail(http.StatusBadRequest,
		`Invalid query parameter 'after': not a cursor of this server (bad value of created); use the one the previous page gave`)
}

// tamper replaces the first value of a cursor with a number.
func tamper(t *testing.T, cur string) string {
	b, err := decodeB64(cur)
	if err != nil {
		t.Fatal(err)
	}
	var v []any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	v[2] = 5
	b, _ = json.Marshal(v)
	return encodeB64(b)
}

func TestEventsSortAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.postNodes(tok, "kbuild", "k", 11)
	asc := e.events("limit=100")
	var want []float64
	for _, ev := range slices.Backward(asc) {
		want = append(want, ev["sequence_id"].(float64))
	}
	var got []float64
	for _, ev := range e.follow("/latest/events?kind=kbuild&sort=-sequence_id&limit=3", false) {
		got = append(got, ev["sequence_id"].(float64))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("newest first: %v, want %v", got, want)
	}
	// after= alone pages in the default order, and fields= projects.
	items := e.follow("/latest/events?after=&limit=4&fields=sequence_id,data.id,data.kind", false)
	if len(items) != len(asc) {
		t.Fatalf("%d events, want %d", len(items), len(asc))
	}
	for i, ev := range items {
		b, _ := json.Marshal(ev)
		wantJSON := fmt.Sprintf(`{"data":{"id":%q,"kind":"kbuild"},"id":%q,"sequence_id":%v}`,
			asc[i]["data"].(map[string]any)["id"], asc[i]["id"], asc[i]["sequence_id"])
		if string(b) != wantJSON {
			t.Fatalf("event %d: %s, want %s", i, b, wantJSON)
		}
	}
}

// fields= answers keep the node's field order, always carry id, and are
// valid nodes for kernelci-core's model (model.DecodeNode, checked
// against it by the golden tests of internal/model) when they include
// its required fields, name and path.
func TestNodesFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.postNode(tok, nodeBody("checkout", "checkout", map[string]any{"data": map[string]any{
		"kernel_revision": map[string]any{"tree": "mainline", "branch": "master", "commit": "abc", "url": "https://git.kernel.org/x.git"}}}))
	e.postNode(tok, nodeBody("test", "t<1>", map[string]any{"result": "pass", "data": map[string]any{"arch": "x86_64"}}))
	for _, tc := range []struct {
		query string
		keys  []string // of each item, in order
		valid bool     // a valid kernelci-core Node
	}{
		{"fields=name,path", []string{"id", "name", "path"}, true},
		{"fields=path,name,kind,state,result,created", []string{"id", "kind", "name", "path", "state", "result", "created"}, true},
		{"fields=name,path,data.kernel_revision.tree,data.kernel_revision.commit", []string{"id", "name", "path", "data"}, true},
		{"fields=id,state", []string{"id", "state"}, false},
		{"fields=name&fields=path,data", []string{"id", "name", "path", "data"}, true},
		{"fields=data.kernel_revision,data", []string{"id", "data"}, false},
	} {
		for _, path := range []string{"/latest/nodes/fast?", "/latest/nodes?"} {
			r := e.do(http.MethodGet, path+tc.query, "", nil).expect(http.StatusOK)
			body := r.body
			if strings.HasPrefix(path, "/latest/nodes?") {
				var env struct{ Items json.RawMessage }
				json.Unmarshal(body, &env)
				body = env.Items
			}
			var items []json.RawMessage
			if err := json.Unmarshal(body, &items); err != nil || len(items) != 2 {
				t.Fatalf("%s%s: %s", path, tc.query, r.body)
			}
			for _, it := range items {
				if got := topKeys(t, it); !slices.Equal(got, tc.keys) {
					t.Fatalf("%s%s: keys %v, want %v", path, tc.query, got, tc.keys)
				}
				d := json.NewDecoder(bytes.NewReader(it))
				d.UseNumber()
				var raw map[string]any
				d.Decode(&raw)
				_, err := model.DecodeNode(raw, time.Now(), "body")
				if (err == nil) != tc.valid {
					t.Fatalf("%s%s: %s: decodes as a Node: %v, want valid %v", path, tc.query, it, err, tc.valid)
				}
			}
		}
	}
	// Dotted paths select inside objects only.
	items := e.do(http.MethodGet, "/latest/nodes/fast?fields=data.kernel_revision.tree", "", nil).expect(http.StatusOK).list()
	b, _ := json.Marshal(items)
	if want := fmt.Sprintf(`[{"data":{"kernel_revision":{"tree":"mainline"}},"id":%q},{"data":{},"id":%q}]`,
		items[0].(map[string]any)["id"], items[1].(map[string]any)["id"]); string(b) != want {
		t.Fatalf("fields=data.kernel_revision.tree: %s, want %s", b, want)
	}
	// The body as sent keeps the HTML-safe escaping of every answer.
	r := e.do(http.MethodGet, "/latest/nodes/fast?fields=name&name__re=^t", "", nil).expect(http.StatusOK)
	if !bytes.Contains(r.body, []byte(`"name":"t\u003c1\u003e"`)) {
		t.Fatalf("escaping: %s", r.body)
	}
}

// topKeys lists the keys of a JSON object in order.
func topKeys(t *testing.T, b []byte) []string {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for d.More() {
		tok, _ := d.Token()
		out = append(out, tok.(string))
		var skip json.RawMessage
		d.Decode(&skip)
	}
	return out
}

// Cursor pages over HTTP while other clients keep creating nodes: every
// node there before paging started comes exactly once, none twice.
func TestCursorWhileCreating(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	var before []string
	for i := range 30 {
		before = append(before, e.postNode(tok, nodeBody("test", fmt.Sprintf("b%02d", (i*11)%30), nil))["id"].(string))
	}
	for _, q := range []string{"sort=created&limit=4", "sort=-created&limit=4", "sort=name&limit=3", "after=&limit=5"} {
		created := make(chan struct{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(created)
			for i := 0; ; i++ {
				// Names sort anywhere among the others.
				e.postNode(tok, nodeBody("test", fmt.Sprintf("b%02d-%s-%d", i%30, q[:6], i), nil))
				select {
				case created <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
		seen := map[string]int{}
		next := "/latest/nodes/fast?" + q
		for {
			<-created
			r := e.do(http.MethodGet, next, "", nil).expect(http.StatusOK)
			for _, id := range ids(r.list()) {
				seen[id]++
			}
			cur := r.header.Get("X-Next-Cursor")
			if cur == "" {
				break
			}
			v, _ := url.ParseQuery(q)
			v.Set("after", cur)
			next = "/latest/nodes/fast?" + v.Encode()
		}
		close(stop)
		wg.Wait()
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s: node %s returned %d times", q, id, n)
			}
		}
		for _, id := range before {
			if seen[id] != 1 {
				t.Errorf("%s: node %s returned %d times", q, id, seen[id])
			}
		}
	}
}

func decodeB64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func encodeB64(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }

// TestFieldsKernelCICore checks fields= answers with kernelci-core's own
// Node model (pydantic), through scripts/check-fields-models.py, when
// KCI_CORE_PATH names a kernelci-core checkout and python3 has pydantic,
// on both backends.
func TestFieldsKernelCICore(t *testing.T) {
	core := os.Getenv("KCI_CORE_PATH")
	if core == "" {
		t.Skip("KCI_CORE_PATH not set (a kernelci-core checkout)")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	// On both backends: the projection is the API's, but the documents
	// under it are each store's (MongoDB keeps times to the millisecond).
	e := newEnv(t)
	tok := e.token("alice")
	e.postNode(tok, nodeBody("checkout", "checkout", map[string]any{"data": map[string]any{
		"kernel_revision": map[string]any{"tree": "mainline", "branch": "master", "commit": "abc", "url": "https://git.kernel.org/x.git"}}}))
	ck := e.do(http.MethodGet, "/latest/nodes/fast?kind=checkout", "", nil).expect(http.StatusOK).list()[0].(map[string]any)
	e.postNode(tok, nodeBody("kbuild", "kbuild-gcc-12-x86", map[string]any{"parent": ck["id"], "result": "pass", "state": "done",
		"data": map[string]any{"arch": "x86_64"}}))
	type testCase struct {
		Query string `json:"query"`
		Items []any  `json:"items"`
		Valid bool   `json:"valid"`
	}
	var cases []testCase
	for _, tc := range []struct {
		q     string
		valid bool
	}{
		{"fields=name,path", true},
		{"fields=name,path,kind,state,result,created,updated,parent", true},
		{"fields=name,path,data.kernel_revision.tree", true},
		{"fields=name,path,owner,artifacts,holdoff,retry_counter,processed_by_kcidb_bridge&sort=-created", true},
		{"fields=kind,state", false},
		{"fields=name", false},
	} {
		items := e.do(http.MethodGet, "/latest/nodes/fast?"+tc.q, "", nil).expect(http.StatusOK).list()
		cases = append(cases, testCase{tc.q, items, tc.valid})
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(py, filepath.Join("..", "..", "scripts", "check-fields-models.py"))
	cmd.Env = append(os.Environ(), "KCI_CORE_PATH="+core)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("check-fields-models.py: %v", err)
	}
}
