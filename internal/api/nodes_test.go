package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// ---------------------------------------------------------------------------
// POST /node

func TestPostNodeCheckout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")

	before := time.Now().UTC().Truncate(time.Microsecond)
	r := e.do(http.MethodPost, "/latest/node", tok, checkoutBody()).expect(http.StatusOK)
	after := time.Now().UTC()
	n := r.object()
	checkNodeShape(t, n)

	want := map[string]any{
		"kind": "checkout", "name": "checkout", "path": []any{"checkout"},
		"group": nil, "parent": nil, "state": "running", "result": nil,
		"artifacts": map[string]any{}, "data": checkoutBody()["data"], "debug": map[string]any{},
		"jobfilter": nil, "platform_filter": []any{}, "holdoff": nil,
		"owner": "alice", "submitter": nil, "treeid": nil, "user_groups": []any{},
		"processed_by_kcidb_bridge": false, "retry_counter": 0,
	}
	for k, v := range want {
		jsonEqual(t, k, n[k], v)
	}
	created, updated, timeout := wt(t, n["created"]), wt(t, n["updated"]), wt(t, n["timeout"])
	if created.Before(before) || created.After(after) {
		t.Errorf("created %v not within [%v, %v]", created, before, after)
	}
	if !updated.Equal(created) {
		t.Errorf("updated %v, want created %v", updated, created)
	}
	if !timeout.Equal(created.Add(6 * time.Hour)) {
		t.Errorf("timeout %v, want created + 6h = %v", timeout, created.Add(6*time.Hour))
	}

	// Reading it back gives the same document.
	jsonEqual(t, "GET /node", e.getNode(n["id"]), n)
	jsonEqual(t, "GET /v0/node", e.do(http.MethodGet, "/v0/node/"+n["id"].(string), "", nil).expect(http.StatusOK).value(), n)

	// And exactly one "created" event describes it.
	evs := e.nodeEvents(n["id"])
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev["channel"] != "node" || ev["owner"] != "alice" {
		t.Errorf("event channel/owner = %v/%v", ev["channel"], ev["owner"])
	}
	jsonEqual(t, "event data", ev["data"], map[string]any{
		"op": "created", "id": n["id"], "kind": "checkout", "name": "checkout",
		"path": []any{"checkout"}, "group": nil, "state": "running", "result": nil,
		"owner": "alice", "data": n["data"], "is_hierarchy": false,
	})
}

func TestPostNodeKeepsFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.addGroup("lab-x")
	parent := e.postNode(tok, checkoutBody())

	n := e.postNode(tok, nodeBody("kbuild", "kbuild-gcc-12-x86", map[string]any{
		"group":                     "kbuild-gcc-12",
		"parent":                    parent["id"],
		"state":                     "available",
		"result":                    "pass",
		"artifacts":                 map[string]any{"log": "https://storage.example.org/logs/build.log"},
		"data":                      map[string]any{"arch": "x86_64", "defconfig": "defconfig", "extra": map[string]any{"n": 1.5}},
		"debug":                     map[string]any{"trace": []any{1, 2}},
		"jobfilter":                 []any{"baseline"},
		"platform_filter":           []any{"qemu"},
		"created":                   "2026-08-21T09:54:55.123456",
		"timeout":                   "2026-08-21 15:54:55+00:00",
		"holdoff":                   "2026-08-21T10:24:55.5Z",
		"owner":                     "mallory",
		"submitter":                 "d41d8cd98f00b204e9800998ecf8427e",
		"treeid":                    "tree-1",
		"user_groups":               []any{"lab-x"},
		"processed_by_kcidb_bridge": true,
		"retry_counter":             3,
	}))
	checkNodeShape(t, n)
	want := map[string]any{
		"group": "kbuild-gcc-12", "parent": parent["id"], "state": "available", "result": "pass",
		"artifacts":                 map[string]any{"log": "https://storage.example.org/logs/build.log"},
		"data":                      map[string]any{"arch": "x86_64", "defconfig": "defconfig", "extra": map[string]any{"n": 1.5}},
		"debug":                     map[string]any{"trace": []any{1, 2}},
		"jobfilter":                 []any{"baseline"},
		"platform_filter":           []any{"qemu"},
		"created":                   "2026-08-21T09:54:55.123456",
		"timeout":                   "2026-08-21T15:54:55.000000",
		"holdoff":                   "2026-08-21T10:24:55.500000",
		"owner":                     "alice", // from the token, never from the body
		"submitter":                 "d41d8cd98f00b204e9800998ecf8427e",
		"treeid":                    "tree-1",
		"user_groups":               []any{"lab-x"},
		"processed_by_kcidb_bridge": true,
		"retry_counter":             3,
	}
	for k, v := range want {
		jsonEqual(t, k, n[k], v)
	}
	jsonEqual(t, "GET /node", e.getNode(n["id"]), n)
}

func TestPostNodeVersionFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	for _, kind := range []string{"checkout", "kbuild"} {
		body := checkoutBody()
		body["kind"] = kind
		body["name"] = kind
		kr := body["data"].(map[string]any)["kernel_revision"].(map[string]any)
		kr["version"] = map[string]any{"version": "6", "patchlevel": " 7 ", "sublevel": "0", "extra": "-rc4-31-g2a987e65025e", "name": nil}
		n := e.postNode(tok, body)
		want := map[string]any{"version": 6, "patchlevel": 7, "sublevel": 0, "extra": "-rc4-31-g2a987e65025e", "name": nil}
		got := n["data"].(map[string]any)["kernel_revision"].(map[string]any)["version"]
		jsonEqual(t, kind+" version", got, want)
		stored := e.getNode(n["id"])["data"].(map[string]any)["kernel_revision"].(map[string]any)["version"]
		jsonEqual(t, kind+" stored version", stored, want)
	}
	// Something that is no integer is refused by the kind's data model.
	body := checkoutBody()
	body["data"].(map[string]any)["kernel_revision"].(map[string]any)["version"] = map[string]any{"version": "six", "patchlevel": "7"}
	before := e.snapshot()
	e.do(http.MethodPost, "/latest/node", tok, body).expectDetailPrefix(http.StatusBadRequest, "1 validation error for Checkout")
	e.expectUnchanged(before, "a bad version")
}

func TestPostNodeBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	existing := e.postNode(tok, checkoutBody())
	before := e.snapshot()

	with := func(kv ...any) map[string]any {
		b := checkoutBody()
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(b, kv[i].(string))
				continue
			}
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	huge := with()
	huge["data"].(map[string]any)["blob"] = strings.Repeat("x", 1<<20)
	badRevision := with()
	delete(badRevision["data"].(map[string]any)["kernel_revision"].(map[string]any), "url")

	tests := []struct {
		name   string
		body   any
		status int
		detail string   // exact detail (400, 404)
		prefix string   // detail prefix (400)
		locs   []string // 422 locs; nil: any
	}{
		{name: "body over the 1 MiB limit", body: huge, status: 413, detail: "Request body too large"},
		{name: "malformed JSON", body: `{"name": "checkout",`, status: 422},
		{name: "trailing garbage", body: `{"name": "checkout", "path": ["checkout"]} x`, status: 422},
		{name: "empty body", body: ``, status: 422},
		{name: "list body", body: `[{"name": "checkout"}]`, status: 422, locs: []string{"body"}},
		{name: "string body", body: `"checkout"`, status: 422, locs: []string{"body"}},
		{name: "number body", body: `42`, status: 422, locs: []string{"body"}},
		{name: "null body", body: `null`, status: 422},
		{name: "missing name and path", body: map[string]any{"kind": "checkout"}, status: 422, locs: []string{"body.name", "body.path"}},
		{name: "missing path", body: with("path", "<delete>"), status: 422, locs: []string{"body.path"}},
		{name: "name not a string", body: with("name", 42), status: 422, locs: []string{"body.name"}},
		{name: "path not a list", body: with("path", "checkout"), status: 422, locs: []string{"body.path"}},
		{name: "path element not a string", body: with("path", []any{"checkout", 1}), status: 422, locs: []string{"body.path.1"}},
		{name: "kind not a string", body: with("kind", 1), status: 422, locs: []string{"body.kind"}},
		{name: "bad state", body: with("state", "pending"), status: 422, locs: []string{"body.state"}},
		{name: "bad result", body: with("result", "ok"), status: 422, locs: []string{"body.result"}},
		{name: "retry_counter as a string", body: with("retry_counter", "1"), status: 422, locs: []string{"body.retry_counter"}},
		{name: "retry_counter as a float", body: with("retry_counter", 1.5), status: 422, locs: []string{"body.retry_counter"}},
		{name: "data not an object", body: with("data", "x"), status: 422, locs: []string{"body.data"}},
		{name: "bad created", body: with("created", "yesterday"), status: 422, locs: []string{"body.created"}},
		{name: "null timeout", body: with("timeout", nil), status: 422, locs: []string{"body.timeout"}},
		{name: "bad bridge flag", body: with("processed_by_kcidb_bridge", "maybe"), status: 422, locs: []string{"body.processed_by_kcidb_bridge"}},
		{name: "duplicate user groups", body: with("user_groups", []any{"a", "a"}), status: 422, locs: []string{"body.user_groups"}},
		{name: "several errors at once", body: with("name", 1, "state", "x", "retry_counter", "y"), status: 422,
			locs: []string{"body.name", "body.state", "body.retry_counter"}},
		{name: "bad artifact URL", body: with("artifacts", map[string]any{"log": "not a url"}), status: 422, locs: []string{"body.artifacts.log"}},
		{name: "ftp artifact URL", body: with("artifacts", map[string]any{"log": "ftp://example.org/x"}), status: 422, locs: []string{"body.artifacts.log"}},
		{name: "artifact not a string", body: with("artifacts", map[string]any{"log": 1}), status: 422, locs: []string{"body.artifacts.log"}},
		{name: "bad parent id", body: with("parent", "xyz"), status: 422},
		{name: "parent id not a string", body: with("parent", 12), status: 422},
		{name: "unknown kind", body: with("kind", "foo"), status: 400, detail: "Unsupported node kind: foo"},
		{name: "kind node", body: with("kind", "node"), status: 400, detail: "Unsupported node kind: node"},
		{name: "default kind node", body: with("kind", "<delete>"), status: 400, detail: "Unsupported node kind: node"},
		{name: "bad kernel revision", body: badRevision, status: 400, prefix: "1 validation error for Checkout\ndata.kernel_revision.url\n  Field required"},
		{name: "bad checkout error code", body: with("data", map[string]any{"error_code": "nope"}), status: 400, prefix: "1 validation error for Checkout\ndata.error_code"},
		{name: "unknown parent", body: with("parent", "0123456789abcdef01234567"), status: 404, detail: "Parent not found with id: 0123456789abcdef01234567"},
		{name: "unknown user group", body: with("user_groups", []any{"node:edit:any", "nope"}), status: 400, detail: "User group does not exist with name: nope"},
		{name: "id in body", body: with("id", "0123456789abcdef01234567"), status: 400, detail: "Object cannot be created with id: 0123456789abcdef01234567"},
		{name: "existing id in body", body: with("id", existing["id"]), status: 400, detail: "Object cannot be created with id: " + existing["id"].(string)},
		{name: "_id in body", body: with("_id", "0123456789abcdef01234567"), status: 400, detail: "Object cannot be created with id: 0123456789abcdef01234567"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.do(http.MethodPost, "/latest/node", tok, tc.body)
			defer e.expectUnchanged(before, "a refused creation")
			switch {
			case tc.status == 422:
				locs := r.expect422()
				if tc.locs != nil && !reflect.DeepEqual(locs, tc.locs) {
					t.Errorf("locs %v, want %v", locs, tc.locs)
				}
				for _, l := range locs {
					if !strings.HasPrefix(l, "body") {
						t.Errorf("loc %q does not start with body", l)
					}
				}
				if strings.HasPrefix(tc.name, "bad parent") || strings.HasPrefix(tc.name, "parent id") {
					for _, l := range locs {
						if !strings.HasPrefix(l, "body.parent") {
							t.Errorf("loc %q does not name the parent", l)
						}
					}
				}
			case tc.prefix != "":
				r.expectDetailPrefix(tc.status, tc.prefix)
			default:
				r.expectDetail(tc.status, tc.detail)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// GET /node/{id}

func TestGetNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(http.MethodGet, "/latest/node/0123456789abcdef01234567", "", nil).expect(http.StatusOK)
	if got := strings.TrimSpace(string(r.body)); got != "null" {
		t.Errorf("unknown node: body %q, want null", got)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, bad := range []string{"xyz", "0123456789abcdef0123456", "0123456789abcdef012345678", "0123456789abcdef0123456g"} {
		e.do(http.MethodGet, "/latest/node/"+bad, "", nil).expectDetail(http.StatusBadRequest,
			"'"+bad+"' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string")
	}
}

// TestGetNodeAnswersTheNodeAsEncoded: GET /node/{id} answers, byte for
// byte, what encoding the stored node answers (the stored document as
// it is, or decoded and encoded when it is not in wire form), for nodes
// with every kind of value.
func TestGetNodeAnswersTheNodeAsEncoded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	bodies := []string{
		`{"kind":"checkout","name":"checkout","path":["checkout"]}`,
		`{"kind":"test","name":"baseline.login","path":["checkout","baseline"],"group":"kbuild","result":"pass",` +
			`"holdoff":"2026-08-21 09:54:55.123456+02:00","artifacts":{"log":"https://x/y?a=1&b=<2>"},"jobfilter":["a"],` +
			`"data":{"z":1.50,"a":[1,"two",null,true,{"y":-0,"b":1e3}],"arch":"x86_64",` +
			`"text":"\u00e9 \u2028 \ud83d\udc27 <&> \u0001 \/","<key>":"\ufffd","big":1234567890123456789},` +
			`"debug":{"nested":{"deep":[{},{"e":[]}]}},"retry_counter":7}`,
	}
	for _, body := range bodies {
		posted := e.do(http.MethodPost, "/latest/node", tok, body).expect(http.StatusOK)
		var id struct{ ID objectid.ID }
		if err := json.Unmarshal(posted.body, &id); err != nil {
			t.Fatal(err)
		}
		got := e.do(http.MethodGet, "/latest/node/"+id.ID.String(), "", nil).expect(http.StatusOK)
		n, err := e.store.GetNode(context.Background(), id.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(n)
		if !bytes.Equal(got.body, want) {
			t.Errorf("GET /node/%s\n got: %s\nwant: %s", id.ID, got.body, want)
		}
		if ct, cl := got.header.Get("Content-Type"), got.header.Get("Content-Length"); ct != "application/json" || cl != strconv.Itoa(len(want)) {
			t.Errorf("Content-Type %q, Content-Length %q", ct, cl)
		}
	}
}

// ---------------------------------------------------------------------------
// GET /nodes, /nodes/fast, /count

func TestNodesPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	const total = 55
	var all []string
	for i := range total {
		all = append(all, e.postNode(tok, nodeBody("test", fmt.Sprintf("test-%02d", i), nil))["id"].(string))
	}

	page := func(q string) (items []string, envelope map[string]any) {
		t.Helper()
		m := e.do(http.MethodGet, "/latest/nodes?"+q, "", nil).expect(http.StatusOK).object()
		keys := sortedKeys(m)
		if !reflect.DeepEqual(keys, []string{"items", "limit", "offset", "total"}) {
			t.Fatalf("envelope keys %v", keys)
		}
		for _, it := range m["items"].([]any) {
			checkNodeShape(t, it.(map[string]any))
		}
		return ids(m["items"].([]any)), m
	}

	items, m := page("")
	if len(items) != 50 || m["total"] != float64(total) || m["limit"] != 50.0 || m["offset"] != 0.0 {
		t.Errorf("default page: %d items, total %v, limit %v, offset %v", len(items), m["total"], m["limit"], m["offset"])
	}
	// Stable order: the default page is a prefix of a bigger one.
	full, m := page("limit=1000")
	if len(full) != total || m["total"] != float64(total) || m["limit"] != 1000.0 {
		t.Fatalf("limit=1000: %d items, total %v", len(full), m["total"])
	}
	if !slices.Equal(items, full[:50]) {
		t.Errorf("default page is not a prefix of the full list")
	}
	if !slices.Equal(sortedIDs(full), sortedIDs(all)) {
		t.Errorf("full list is not the set of created nodes")
	}
	rest, m := page("offset=50")
	if !slices.Equal(rest, full[50:]) || m["total"] != float64(total) || m["offset"] != 50.0 {
		t.Errorf("offset=50: %v, total %v", rest, m["total"])
	}

	// limit=2 pages over a filtered set of 5 cover each node once.
	five := e.postNodes(tok, "kbuild", "kbuild-", 5)
	var seen []string
	for _, off := range []int{0, 2, 4} {
		got, m := page(fmt.Sprintf("kind=kbuild&limit=2&offset=%d", off))
		want := min(2, 5-off)
		if len(got) != want || m["total"] != 5.0 || m["limit"] != 2.0 || m["offset"] != float64(off) {
			t.Errorf("offset %d: %d items, total %v, limit %v, offset %v", off, len(got), m["total"], m["limit"], m["offset"])
		}
		seen = append(seen, got...)
	}
	if !slices.Equal(seen, five) {
		t.Errorf("pages %v, want every node once in creation order %v", seen, five)
	}
	got, m := page("kind=kbuild&limit=2&offset=10")
	if len(got) != 0 || m["total"] != 5.0 {
		t.Errorf("past the end: %v, total %v", got, m["total"])
	}
	got, m = page("kind=nothing")
	if len(got) != 0 || m["total"] != 0.0 || m["items"] == nil {
		t.Errorf("empty result: %v, total %v, items %v", got, m["total"], m["items"])
	}

	for _, q := range []string{"limit=0", "limit=-1", "offset=-1", "limit=abc", "offset=x"} {
		key, _, _ := strings.Cut(q, "=")
		locs := e.do(http.MethodGet, "/latest/nodes?"+q, "", nil).expect422()
		if !reflect.DeepEqual(locs, []string{"query." + key}) {
			t.Errorf("%s: locs %v", q, locs)
		}
	}

	// /nodes/fast is a bare list honouring limit and offset.
	fast := e.do(http.MethodGet, "/latest/nodes/fast", "", nil).expect(http.StatusOK).list()
	if len(fast) != total+5 {
		t.Errorf("/nodes/fast: %d nodes, want %d", len(fast), total+5)
	}
	fast = e.do(http.MethodGet, "/latest/nodes/fast?limit=3&offset=2", "", nil).expect(http.StatusOK).list()
	if !slices.Equal(ids(fast), full[2:5]) {
		t.Errorf("/nodes/fast?limit=3&offset=2 = %v, want %v", ids(fast), full[2:5])
	}
	for _, it := range fast {
		checkNodeShape(t, it.(map[string]any))
	}
	fast = e.do(http.MethodGet, "/latest/nodes/fast?kind=kbuild&offset=3", "", nil).expect(http.StatusOK).list()
	if !slices.Equal(ids(fast), five[3:]) {
		t.Errorf("/nodes/fast?kind=kbuild&offset=3 = %v, want %v", ids(fast), five[3:])
	}
	e.do(http.MethodGet, "/latest/nodes/fast?limit=-1", "", nil).expect422()

	if n := e.count(""); n != total+5 {
		t.Errorf("count %d", n)
	}
	if n := e.count("kind=kbuild"); n != 5 {
		t.Errorf("count kind=kbuild %d", n)
	}
}

// filterFixture creates nodes with known fields for the filter tests.
func filterFixture(t *testing.T) (*env, map[string]string) {
	e := newEnv(t)
	tok := e.token("alice")
	bob := e.token("bob")
	byName := map[string]string{}
	add := func(tok string, body map[string]any) string {
		n := e.postNode(tok, body)
		byName[n["name"].(string)] = n["id"].(string)
		return n["id"].(string)
	}
	rev := func(tree string) map[string]any {
		return map[string]any{"tree": tree, "url": "https://git.example.org/linux.git", "branch": "master", "commit": "abc"}
	}
	checkout := func(name, tree, created string) map[string]any {
		return map[string]any{"kind": "checkout", "name": name, "path": []any{name},
			"created": created, "data": map[string]any{"kernel_revision": rev(tree)}}
	}
	const t0 = "2026-08-20T00:00:00"
	c1 := add(tok, checkout("checkout-1", "mainline", "2026-08-21T09:00:00"))
	add(tok, checkout("checkout-2", "next", "2026-08-21T09:54:55.123456"))
	add(tok, checkout("checkout-3", "mainline", "2026-08-21T10:00:00"))
	k1 := add(tok, nodeBody("kbuild", "kbuild-gcc-x86", map[string]any{"parent": c1, "created": t0,
		"state": "done", "result": "pass", "retry_counter": 2,
		"data": map[string]any{"kernel_revision": rev("mainline"), "arch": "x86_64"}}))
	add(bob, nodeBody("kbuild", "kbuild-clang-arm64", map[string]any{"parent": c1, "created": t0,
		"state": "available", "result": "fail",
		"data": map[string]any{"kernel_revision": rev("next"), "arch": "arm64"}}))
	add(bob, nodeBody("test", "baseline-x86", map[string]any{"parent": k1, "created": t0, "group": "baseline"}))
	return e, byName
}

func TestNodeFilters(t *testing.T) {
	t.Parallel()
	e, byName := filterFixture(t)
	const (
		c1, c2, c3 = "checkout-1", "checkout-2", "checkout-3"
		k1, k2, t1 = "kbuild-gcc-x86", "kbuild-clang-arm64", "baseline-x86"
	)
	all := []string{c1, c2, c3, k1, k2, t1}
	// T2, checkout-2's created time, in every shape clients send, as it
	// appears in the query string.
	t2 := []string{
		"2026-08-21T09:54:55.123456",
		"2026-08-21T09:54:55.123456Z",
		"2026-08-21T09:54:55.123456%2B00:00",
		"2026-08-21%2009:54:55.123456%2B00:00",
		"2026-08-21+09:54:55.123456+00:00", // each '+' decodes to a space
		url.QueryEscape("2026-08-21 09:54:55.123456+00:00"),
		"2026-08-21T11:54:55.123456%2B02:00",
		"2026-08-21T04:54:55.123456-05:00",
		"2026-08-21T09:54:55.1234560",
	}
	type filterCase struct {
		query string
		want  []string
	}
	tests := []filterCase{
		{"", all},
		{"kind=checkout", []string{c1, c2, c3}},
		{"kind=kbuild", []string{k1, k2}},
		{"data.kernel_revision.tree=mainline", []string{c1, c3, k1}},
		{"kind=checkout&data.kernel_revision.tree=mainline", []string{c1, c3}},
		{"data.arch=x86_64", []string{k1}},
		{"created__lt=2026-08-21", []string{k1, k2, t1}},
		{"created__gt=2026-08-21T09:00", []string{c2, c3}},
		{"created__gte=2026-08-21T09:00:00", []string{c1, c2, c3}},
		{"created__gt=2026-08-21T09:00:00&created__lt=2026-08-21T10:00:00&kind=checkout", []string{c2}},
		{"created__gt=2024-02-26T13:21:55.301000&created__lt=2027-11-01&kind=checkout", []string{c1, c2, c3}},
		{"name__re=x86", []string{k1, t1}},
		{"name__re=^checkout-[12]$", []string{c1, c2}},
		{"result=null", []string{c1, c2, c3, t1}},
		{"result=pass", []string{k1}},
		{"kind=kbuild&result=fail", []string{k2}},
		{"parent=null", []string{c1, c2, c3}},
		{"state__ne=done", []string{c1, c2, c3, k2, t1}},
		{"state=running", []string{c1, c2, c3, t1}},
		{"kind__in=kbuild,test", []string{k1, k2, t1}},
		{"kind__nin=kbuild,test", []string{c1, c2, c3}},
		{"retry_counter=2", []string{k1}},
		{"retry_counter=0", []string{c1, c2, c3, k2, t1}},
		{"retry_counter__gt=0", []string{k1}},
		{"owner=bob", []string{k2, t1}},
		{"group=baseline", []string{t1}},
		{"group=null", []string{c1, c2, c3, k1, k2}},
		{"kind=nothing", nil},
	}
	for _, q := range t2 {
		tests = append(tests,
			filterCase{"created__gt=" + q, []string{c3}},
			filterCase{"kind=checkout&created__lt=" + q, []string{c1}},
			filterCase{"kind=checkout&created__gte=" + q, []string{c2, c3}},
			filterCase{"kind=checkout&created=" + q, []string{c2}},
		)
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			want := make([]string, len(tc.want))
			for i, name := range tc.want {
				want[i] = byName[name]
			}
			m := e.do(http.MethodGet, "/latest/nodes?"+tc.query, "", nil).expect(http.StatusOK).object()
			got := ids(m["items"].([]any))
			if !slices.Equal(sortedIDs(got), sortedIDs(want)) || m["total"] != float64(len(want)) {
				t.Errorf("/nodes: %v (total %v), want %v", names(byName, got), m["total"], tc.want)
			}
			fast := ids(e.do(http.MethodGet, "/latest/nodes/fast?"+tc.query, "", nil).expect(http.StatusOK).list())
			if !slices.Equal(fast, got) {
				t.Errorf("/nodes/fast: %v, want %v", names(byName, fast), names(byName, got))
			}
			if n := e.count(tc.query); n != len(want) {
				t.Errorf("/count: %d, want %d", n, len(want))
			}
		})
	}

	// parent=<id> is an ObjectId match.
	m := e.do(http.MethodGet, "/latest/nodes?parent="+byName[c1], "", nil).expect(http.StatusOK).object()
	if got := names(byName, ids(m["items"].([]any))); !slices.Equal(sortedIDs(got), []string{k2, k1}) {
		t.Errorf("parent=checkout-1: %v", got)
	}
	if n := e.count("parent=" + byName[k1]); n != 1 {
		t.Errorf("count parent=kbuild-gcc-x86: %d", n)
	}
}

func names(byName map[string]string, ids []string) []string {
	rev := map[string]string{}
	for n, id := range byName {
		rev[id] = n
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = rev[id]
	}
	return out
}

func TestNodeFilterErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct{ query, param string }{
		{"name__foo=x", "name__foo"},
		{"name__re__ne=x", "name__re__ne"},
		{"created__gt=yesterday", "created__gt"},
		{"created__lt=2026-13-01", "created__lt"},
		{"created=2026-08-21T25:00:00", "created"},
		{"holdoff__gte=soon", "holdoff__gte"},
		{"parent=xyz", "parent"},
		{"parent__in=0123456789abcdef01234567,xyz", "parent__in"},
		{"retry_counter=abc", "retry_counter"},
		{"name__re=(", "name__re"},
		{"created__re=2026", "created__re"},
		{"%24where=1", "$where"},
		{"data.%24where=1", "data.$where"},
		{"data..arch=x", "data..arch"},
		{"result__gt=null", "result__gt"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			prefix := "Invalid query parameter '" + tc.param + "'"
			for _, path := range []string{"/latest/nodes", "/latest/nodes/fast", "/latest/count"} {
				e.do(http.MethodGet, path+"?"+tc.query, "", nil).expectDetailPrefix(http.StatusBadRequest, prefix)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// PUT /node/{id}

func TestPutNodeReplaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.addGroup("lab-x")
	parent := e.postNode(tok, checkoutBody())
	old := e.postNode(tok, nodeBody("kbuild", "kbuild-gcc-12-x86", map[string]any{
		"group": "kbuild-gcc-12", "parent": parent["id"], "result": "pass",
		"artifacts":       map[string]any{"log": "https://storage.example.org/logs/build.log"},
		"data":            map[string]any{"arch": "x86_64", "runtime": "k8s"},
		"debug":           map[string]any{"x": 1},
		"jobfilter":       []any{"baseline"},
		"platform_filter": []any{"qemu"},
		"created":         "2026-01-01T00:00:00",
		"holdoff":         "2026-01-01T01:00:00",
		"submitter":       "sub-1",
		"treeid":          "tree-1",
		"user_groups":     []any{"lab-x"},
		"retry_counter":   2,
	}))

	before := time.Now().UTC().Truncate(time.Microsecond)
	r := e.do(http.MethodPut, "/latest/node/"+old["id"].(string), tok, map[string]any{
		"kind": "kbuild", "name": "renamed", "path": []any{"checkout", "renamed"},
		"state":       "available",
		"owner":       "mallory",
		"submitter":   "evil",
		"user_groups": []any{"no-such-group"},
		"treeid":      "tree-2",
		"data":        map[string]any{"kernel_revision": map[string]any{"tree": "t", "url": "https://example.org/x.git", "branch": "b", "commit": "c", "version": map[string]any{"version": "6", "patchlevel": "1"}}},
	}).expect(http.StatusOK)
	after := time.Now().UTC()
	n := r.object()
	checkNodeShape(t, n)
	want := map[string]any{
		"id": old["id"], "kind": "kbuild", "name": "renamed", "path": []any{"checkout", "renamed"},
		"state": "available",
		// Missing fields take the model defaults.
		"group": nil, "parent": nil, "result": nil, "artifacts": map[string]any{},
		"debug": map[string]any{}, "jobfilter": nil, "platform_filter": []any{}, "holdoff": nil,
		"retry_counter": 0, "processed_by_kcidb_bridge": false,
		"treeid": "tree-2",
		// Ownership is kept.
		"owner": "alice", "submitter": "sub-1", "user_groups": []any{"lab-x"},
		"data": map[string]any{"kernel_revision": map[string]any{"tree": "t", "url": "https://example.org/x.git", "branch": "b", "commit": "c", "version": map[string]any{"version": 6, "patchlevel": 1}}},
	}
	for k, v := range want {
		jsonEqual(t, k, n[k], v)
	}
	updated, created, timeout := wt(t, n["updated"]), wt(t, n["created"]), wt(t, n["timeout"])
	if updated.Before(before) || updated.After(after) {
		t.Errorf("updated %v not within [%v, %v]", updated, before, after)
	}
	if !timeout.Equal(created.Add(6 * time.Hour)) {
		t.Errorf("timeout %v is not the default created + 6h (%v)", timeout, created)
	}
	jsonEqual(t, "GET /node", e.getNode(old["id"]), n)

	evs := e.nodeEvents(old["id"])
	if len(evs) != 2 {
		t.Fatalf("%d events, want created + updated", len(evs))
	}
	jsonEqual(t, "update event", evs[1]["data"], map[string]any{
		"op": "updated", "id": old["id"], "kind": "kbuild", "name": "renamed",
		"path": []any{"checkout", "renamed"}, "group": nil, "state": "available", "result": nil,
		"owner": "alice", "data": n["data"], "is_hierarchy": false,
		"previous_state": "running", "previous_result": "pass",
	})
	if evs[1]["owner"] != "alice" {
		t.Errorf("event owner %v", evs[1]["owner"])
	}
}

// stateNode creates a kbuild node in the given state.
func stateNode(e *env, tok, state string, extra map[string]any) map[string]any {
	e.t.Helper()
	b := nodeBody("kbuild", "kbuild-"+state, map[string]any{"state": state})
	for k, v := range extra {
		b[k] = v
	}
	return e.postNode(tok, b)
}

func TestUpdateTransitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"running", "running", true},
		{"running", "available", true},
		{"running", "closing", true},
		{"running", "done", true},
		{"available", "available", true},
		{"available", "closing", true},
		{"available", "done", true},
		{"available", "running", false},
		{"closing", "closing", true},
		{"closing", "done", true},
		{"closing", "available", false},
		{"closing", "running", false},
		{"done", "done", true},
		{"done", "running", false},
		{"done", "available", false},
		{"done", "closing", false},
	}
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		for _, tc := range tests {
			t.Run(method+" "+tc.from+"->"+tc.to, func(t *testing.T) {
				t.Parallel()
				e := e.with(t)
				n := stateNode(e, tok, tc.from, nil)
				id := n["id"].(string)
				var body any = map[string]any{"state": tc.to, "result": "pass"}
				if method == http.MethodPut {
					body = nodeBody("kbuild", n["name"].(string), map[string]any{"state": tc.to, "result": "pass"})
				}
				r := e.do(method, "/latest/node/"+id, tok, body)
				evs := e.nodeEvents(id)
				if !tc.ok {
					r.expectDetail(http.StatusBadRequest, "Transition not allowed with state: "+tc.to)
					jsonEqual(t, "node after a refused transition", e.getNode(id), n)
					if len(evs) != 1 {
						t.Errorf("%d events, want only the creation", len(evs))
					}
					return
				}
				got := r.expect(http.StatusOK).object()
				if got["state"] != tc.to || got["result"] != "pass" {
					t.Errorf("state %v result %v", got["state"], got["result"])
				}
				if len(evs) != 2 {
					t.Fatalf("%d events, want 2", len(evs))
				}
				d := evs[1]["data"].(map[string]any)
				if d["op"] != "updated" || d["state"] != tc.to || d["previous_state"] != tc.from ||
					d["result"] != "pass" || d["previous_result"] != nil {
					t.Errorf("event data %v", d)
				}
			})
		}
	}
}

func TestBridgeFlagReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	tests := []struct {
		name   string
		method string
		stored bool
		body   map[string]any // PUT: merged into a kbuild body
		want   bool
	}{
		{"PUT sets it", http.MethodPut, false, map[string]any{"processed_by_kcidb_bridge": true}, true},
		{"PUT sets it with a state change", http.MethodPut, false, map[string]any{"processed_by_kcidb_bridge": true, "state": "done"}, false},
		{"PUT leaves it out", http.MethodPut, true, nil, false},
		{"PUT repeats it", http.MethodPut, true, map[string]any{"processed_by_kcidb_bridge": true}, false},
		{"PUT clears it", http.MethodPut, true, map[string]any{"processed_by_kcidb_bridge": false}, false},
		{"PUT false on false", http.MethodPut, false, map[string]any{"processed_by_kcidb_bridge": false}, false},
		{"PATCH other field", http.MethodPatch, true, map[string]any{"result": "pass"}, false},
		{"PATCH same state", http.MethodPatch, true, map[string]any{"state": "running"}, false},
		{"PATCH keeps it", http.MethodPatch, true, map[string]any{"processed_by_kcidb_bridge": true}, true},
		{"PATCH sets it", http.MethodPatch, false, map[string]any{"processed_by_kcidb_bridge": true}, true},
		{"PATCH sets it with a state change", http.MethodPatch, false, map[string]any{"processed_by_kcidb_bridge": true, "state": "available"}, false},
		{"PATCH clears it", http.MethodPatch, true, map[string]any{"processed_by_kcidb_bridge": false}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			n := stateNode(e, tok, "running", map[string]any{"processed_by_kcidb_bridge": tc.stored})
			if n["processed_by_kcidb_bridge"] != tc.stored {
				t.Fatalf("stored flag %v", n["processed_by_kcidb_bridge"])
			}
			body := tc.body
			if tc.method == http.MethodPut {
				body = nodeBody("kbuild", n["name"].(string), tc.body)
			}
			got := e.do(tc.method, "/latest/node/"+n["id"].(string), tok, body).expect(http.StatusOK).object()
			if got["processed_by_kcidb_bridge"] != tc.want {
				t.Errorf("answered flag %v, want %v", got["processed_by_kcidb_bridge"], tc.want)
			}
			if f := e.getNode(n["id"])["processed_by_kcidb_bridge"]; f != tc.want {
				t.Errorf("stored flag %v, want %v", f, tc.want)
			}
		})
	}
}

func TestUpdateNoevent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	tests := []struct {
		method, query string
		events        int
	}{
		{http.MethodPut, "?noevent=true", 0},
		{http.MethodPut, "?noevent=True", 0},
		{http.MethodPut, "?noevent=1", 0},
		{http.MethodPut, "?noevent=false", 1},
		{http.MethodPut, "", 1},
		{http.MethodPatch, "?noevent=true", 0},
		{http.MethodPatch, "?noevent=false", 1},
		{http.MethodPatch, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.query, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			n := stateNode(e, tok, "running", nil)
			body := map[string]any{"state": "available"}
			if tc.method == http.MethodPut {
				body = nodeBody("kbuild", n["name"].(string), body)
			}
			got := e.do(tc.method, "/latest/node/"+n["id"].(string)+tc.query, tok, body).expect(http.StatusOK).object()
			if got["state"] != "available" || e.getNode(n["id"])["state"] != "available" {
				t.Errorf("node not updated")
			}
			if k := len(e.nodeEvents(n["id"])) - 1; k != tc.events {
				t.Errorf("%d update events, want %d", k, tc.events)
			}
		})
	}
	n := stateNode(e, tok, "running", nil)
	locs := e.do(http.MethodPatch, "/latest/node/"+n["id"].(string)+"?noevent=maybe", tok, map[string]any{"state": "done"}).expect422()
	if !reflect.DeepEqual(locs, []string{"query.noevent"}) {
		t.Errorf("locs %v", locs)
	}
}

func TestUpdateErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	n := stateNode(e, tok, "running", nil)
	id := n["id"].(string)
	before := e.snapshot()
	good := nodeBody("kbuild", "x", nil)
	e.expectRefusals(tok, "update", before, n, []refusal{
		{"PUT unknown node", http.MethodPut, "/latest/node/0123456789abcdef01234567", good, 404, "Node not found with id: 0123456789abcdef01234567", nil},
		{"PATCH unknown node", http.MethodPatch, "/latest/node/0123456789abcdef01234567", map[string]any{"state": "done"}, 404, "Node not found with id: 0123456789abcdef01234567", nil},
		{"PUT malformed id", http.MethodPut, "/latest/node/xyz", good, 400, "'xyz' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string", nil},
		{"PATCH malformed id", http.MethodPatch, "/latest/node/xyz", map[string]any{"state": "done"}, 400, "'xyz' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string", nil},
		{"PUT malformed JSON", http.MethodPut, "/latest/node/" + id, `{"name":`, 422, "", nil},
		{"PUT missing name", http.MethodPut, "/latest/node/" + id, map[string]any{"kind": "kbuild", "path": []any{"x"}}, 422, "", []string{"body.name"}},
		{"PUT bad state", http.MethodPut, "/latest/node/" + id, nodeBody("kbuild", "x", map[string]any{"state": "finished"}), 422, "", []string{"body.state"}},
		{"PUT unknown kind", http.MethodPut, "/latest/node/" + id, nodeBody("bogus", "x", nil), 400, "Unsupported node kind: bogus", nil},
		{"PUT kind node", http.MethodPut, "/latest/node/" + id, map[string]any{"name": "x", "path": []any{"x"}}, 400, "Unsupported node kind: node", nil},
		{"PUT unknown parent", http.MethodPut, "/latest/node/" + id, nodeBody("kbuild", "x", map[string]any{"parent": "0123456789abcdef01234567"}), 404, "Parent not found with id: 0123456789abcdef01234567", nil},
		{"PUT own parent", http.MethodPut, "/latest/node/" + id, nodeBody("kbuild", "x", map[string]any{"parent": id}), 400, "Parent cannot be the same as the object", nil},
		{"PUT bad data", http.MethodPut, "/latest/node/" + id, nodeBody("kbuild", "x", map[string]any{"data": map[string]any{"arch": 64}}), 400, "", nil},
		{"PATCH empty body", http.MethodPatch, "/latest/node/" + id, map[string]any{}, 400, "No fields to update", nil},
		{"PATCH unknown fields only", http.MethodPatch, "/latest/node/" + id, map[string]any{"name": "renamed", "owner": "bob"}, 400, "No fields to update", nil},
		{"PATCH bad state", http.MethodPatch, "/latest/node/" + id, map[string]any{"state": "finished"}, 422, "", []string{"body.state"}},
		{"PATCH bad result", http.MethodPatch, "/latest/node/" + id, map[string]any{"result": "ok"}, 422, "", []string{"body.result"}},
		{"PATCH bad holdoff", http.MethodPatch, "/latest/node/" + id, map[string]any{"holdoff": "later"}, 422, "", []string{"body.holdoff"}},
		{"PATCH bad data", http.MethodPatch, "/latest/node/" + id, map[string]any{"data": []any{1}}, 422, "", []string{"body.data"}},
		{"PATCH bad kind data", http.MethodPatch, "/latest/node/" + id, map[string]any{"data": map[string]any{"arch": 64}}, 400, "", nil},
		{"PATCH bad artifact", http.MethodPatch, "/latest/node/" + id, map[string]any{"artifacts": map[string]any{"log": "nope"}}, 400, "", nil},
		{"PATCH null timeout", http.MethodPatch, "/latest/node/" + id, map[string]any{"timeout": nil}, 400, "", nil},
		{"PATCH list body", http.MethodPatch, "/latest/node/" + id, []any{}, 422, "", []string{"body"}},
	})
}

// refusal is a write the API must refuse: a 422 with locs (nil: any),
// else status with detail ("": any).
type refusal struct {
	name, method, path string
	body               any
	status             int
	detail             string
	locs               []string
}

// expectRefusals sends each write with token, in parallel subtests, and
// checks its refusal, and that it changed neither the store (before) nor
// the node n (the one written to).
func (e *env) expectRefusals(token, what string, before state, n map[string]any, writes []refusal) {
	for _, tc := range writes {
		e.t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.do(tc.method, tc.path, token, tc.body)
			defer func() {
				e.expectUnchanged(before, "a refused "+what)
				jsonEqual(t, "node after a refused "+what, e.getNode(n["id"]), n)
			}()
			r.expectRefusal(tc.status, tc.detail, tc.locs)
		})
	}
}

// ---------------------------------------------------------------------------
// PATCH /node/{id}

func TestPatchNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	n := stateNode(e, tok, "running", map[string]any{
		"group": "g", "data": map[string]any{"arch": "x86_64", "defconfig": "defconfig"},
		"artifacts": map[string]any{"log": "https://example.org/log"}, "submitter": "sub", "treeid": "tree",
		"retry_counter": 1,
	})
	id := n["id"].(string)

	got := e.do(http.MethodPatch, "/latest/node/"+id, tok, map[string]any{
		"result": "fail", "holdoff": "2026-08-21 10:00:00+02:00", "jobfilter": []any{"a"},
	}).expect(http.StatusOK).object()
	checkNodeShape(t, got)
	want := copyMap(n)
	want["result"] = "fail"
	want["holdoff"] = "2026-08-21T08:00:00.000000"
	want["jobfilter"] = []any{"a"}
	want["updated"] = got["updated"]
	jsonEqual(t, "patched node", got, want)
	if !wt(t, got["updated"]).After(wt(t, n["updated"])) {
		t.Errorf("updated %v not after %v", got["updated"], n["updated"])
	}
	jsonEqual(t, "stored node", e.getNode(id), got)

	// data is replaced, not merged; null clears optional fields.
	got = e.do(http.MethodPatch, "/latest/node/"+id, tok, map[string]any{
		"data": map[string]any{"arch": "arm64"}, "result": nil, "artifacts": nil, "state": "available",
	}).expect(http.StatusOK).object()
	jsonEqual(t, "data", got["data"], map[string]any{"arch": "arm64"})
	if got["result"] != nil || got["artifacts"] != nil || got["state"] != "available" || got["group"] != "g" || got["retry_counter"] != 1.0 {
		t.Errorf("patched node %v", got)
	}
	evs := e.nodeEvents(id)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	d := evs[2]["data"].(map[string]any)
	if d["op"] != "updated" || d["state"] != "available" || d["previous_state"] != "running" ||
		d["result"] != nil || d["previous_result"] != "fail" || d["is_hierarchy"] != false {
		t.Errorf("event data %v", d)
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---------------------------------------------------------------------------
// PUT /nodes/{id}

func TestPutHierarchy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	bob := e.token("bob", inGroups("node:edit:any"))
	root := e.postNode(alice, map[string]any{
		"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}, "state": "done",
		"submitter": "sub-1", "treeid": "tree-1", "result": "pass",
	})
	rootID := root["id"].(string)
	before := e.snapshot()

	test := func(name string, children ...any) map[string]any {
		if children == nil {
			children = []any{}
		}
		return map[string]any{
			"node": map[string]any{"kind": "test", "name": name, "path": []any{"checkout", "kunit", name},
				"result": "pass", "state": "done", "submitter": "forged", "treeid": "forged", "owner": "mallory",
				"parent": "0123456789abcdef01234567"},
			"child_nodes": children,
		}
	}
	body := map[string]any{
		// The root goes from done back to running: no transition check.
		"node": map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"},
			"state": "running", "result": "fail", "submitter": "forged", "treeid": "forged"},
		"child_nodes": []any{
			test("suite-a", test("case-a1"), test("case-a2")),
			test("suite-b"),
		},
	}
	// Bob may edit any node; the new nodes are his, the root stays alice's.
	r := e.do(http.MethodPut, "/latest/nodes/"+rootID, bob, body).expect(http.StatusOK)
	out := r.list()
	if len(out) != 5 {
		t.Fatalf("%d nodes answered, want 5", len(out))
	}
	byName := map[string]map[string]any{}
	for _, it := range out {
		n := it.(map[string]any)
		checkNodeShape(t, n)
		byName[n["name"].(string)] = n
		if n["submitter"] != "sub-1" || n["treeid"] != "tree-1" {
			t.Errorf("%s: submitter %v treeid %v, want the root's", n["name"], n["submitter"], n["treeid"])
		}
		jsonEqual(t, "stored "+n["name"].(string), e.getNode(n["id"]), n)
	}
	if out[0].(map[string]any)["id"] != rootID {
		t.Errorf("first node answered is not the root")
	}
	rn := byName["kunit"]
	if rn["state"] != "running" || rn["result"] != "fail" || rn["owner"] != "alice" || rn["parent"] != nil {
		t.Errorf("root: state %v result %v owner %v parent %v", rn["state"], rn["result"], rn["owner"], rn["parent"])
	}
	parents := map[string]string{"suite-a": "kunit", "suite-b": "kunit", "case-a1": "suite-a", "case-a2": "suite-a"}
	for child, parent := range parents {
		n := byName[child]
		if n == nil {
			t.Fatalf("%s missing", child)
		}
		if n["parent"] != byName[parent]["id"] {
			t.Errorf("%s: parent %v, want %s", child, n["parent"], parent)
		}
		if n["owner"] != "bob" || n["state"] != "done" || n["result"] != "pass" {
			t.Errorf("%s: owner %v state %v result %v", child, n["owner"], n["state"], n["result"])
		}
	}
	if n := e.count(""); n != before.nodes+4 {
		t.Errorf("count %d, want %d", n, before.nodes+4)
	}
	if n := e.count("parent=" + rootID); n != 2 {
		t.Errorf("root has %d children, want 2", n)
	}

	// Exactly one event, for the root.
	evs := e.events("limit=0")
	if len(evs) != before.events+1 {
		t.Fatalf("%d new events, want 1", len(evs)-before.events)
	}
	jsonEqual(t, "hierarchy event", evs[len(evs)-1]["data"], map[string]any{
		"op": "updated", "id": rootID, "kind": "job", "name": "kunit",
		"path": []any{"checkout", "kunit"}, "group": nil, "state": "running", "result": "fail",
		"owner": "alice", "data": e.getNode(rootID)["data"], "is_hierarchy": true,
		"previous_state": "done", "previous_result": "pass",
	})

	// Children with an id replace existing nodes.
	suiteB := byName["suite-b"]
	again := map[string]any{
		"node": map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}, "state": "done"},
		"child_nodes": []any{map[string]any{
			"node":        map[string]any{"id": suiteB["id"], "kind": "test", "name": "suite-b", "path": []any{"x"}, "result": "skip"},
			"child_nodes": []any{},
		}},
	}
	// Alice owns the root but may not edit bob's child.
	e.do(http.MethodPut, "/latest/nodes/"+rootID, alice, again).
		expectDetail(http.StatusUnauthorized, "Unauthorized to complete the operation")
	out = e.do(http.MethodPut, "/latest/nodes/"+rootID, bob, again).expect(http.StatusOK).list()
	if len(out) != 2 {
		t.Fatalf("%d nodes answered, want 2", len(out))
	}
	sb := e.getNode(suiteB["id"])
	if sb["result"] != "skip" || sb["owner"] != "bob" || sb["parent"] != rootID || sb["submitter"] != "sub-1" {
		t.Errorf("replaced child: result %v owner %v parent %v submitter %v", sb["result"], sb["owner"], sb["parent"], sb["submitter"])
	}
	if n := e.count(""); n != before.nodes+4 {
		t.Errorf("count %d after replacing, want %d", n, before.nodes+4)
	}
}

func TestPutHierarchyAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	root := e.postNode(tok, map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}})
	rootID := root["id"].(string)
	before := e.snapshot()

	leaf := func(node map[string]any) map[string]any {
		return map[string]any{"node": node, "child_nodes": []any{}}
	}
	tree := func(bad map[string]any) map[string]any {
		return map[string]any{
			"node": map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}, "state": "done", "result": "pass"},
			"child_nodes": []any{
				leaf(nodeBody("test", "ok-1", nil)),
				map[string]any{"node": nodeBody("test", "suite", nil), "child_nodes": []any{
					leaf(nodeBody("test", "ok-2", nil)),
					leaf(bad),
				}},
			},
		}
	}
	put := "/latest/nodes/" + rootID
	e.expectRefusals(tok, "hierarchy", before, root, []refusal{
		{"unknown kind", http.MethodPut, put, tree(nodeBody("bogus", "bad", nil)), 400, "Unsupported node kind: bogus", nil},
		{"kind node", http.MethodPut, put, tree(map[string]any{"name": "bad", "path": []any{"x"}}), 400, "Unsupported node kind: node", nil},
		{"missing name", http.MethodPut, put, tree(map[string]any{"kind": "test", "path": []any{"x"}}), 422, "", []string{"body.child_nodes.1.child_nodes.1.node.name"}},
		{"bad result", http.MethodPut, put, tree(nodeBody("test", "bad", map[string]any{"result": "ok"})), 422, "", []string{"body.child_nodes.1.child_nodes.1.node.result"}},
		{"bad kind data", http.MethodPut, put, tree(nodeBody("test", "bad", map[string]any{"data": map[string]any{"arch": 1}})), 400, "", nil},
		{"unknown id", http.MethodPut, put, tree(nodeBody("test", "bad", map[string]any{"id": "0123456789abcdef01234567"})), 400, "No object found with id: 0123456789abcdef01234567", nil},
		{"child_nodes missing", http.MethodPut, put, map[string]any{"node": nodeBody("job", "kunit", nil)}, 422, "", []string{"body.child_nodes"}},
		{"node missing", http.MethodPut, put, map[string]any{"child_nodes": []any{}}, 422, "", []string{"body.node"}},
		{"child not an object", http.MethodPut, put, map[string]any{"node": nodeBody("job", "kunit", nil), "child_nodes": []any{1}}, 422, "", []string{"body.child_nodes.0"}},
		{"root of unknown kind", http.MethodPut, put, map[string]any{"node": nodeBody("bogus", "kunit", nil), "child_nodes": []any{}}, 400, "Unsupported node kind: bogus", nil},
		{"root with unknown parent", http.MethodPut, put, map[string]any{"node": nodeBody("job", "kunit", map[string]any{"parent": "0123456789abcdef01234567"}), "child_nodes": []any{}}, 404, "Parent not found with id: 0123456789abcdef01234567", nil},
		{"malformed JSON", http.MethodPut, put, `{"node": {`, 422, "", nil},
	})
	e.do(http.MethodPut, "/latest/nodes/xyz", tok, tree(nodeBody("test", "ok", nil))).
		expectDetail(http.StatusBadRequest, "'xyz' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string")
}

func TestPutHierarchyLarge(t *testing.T) {
	skipOnFerret(t, "20,000 nodes take FerretDB most of a minute to store, and its unindexed path__re count over them can pass the 30 s query limit")
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	root := e.postNode(tok, map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}})
	const suites, cases = 20, 999 // 20 + 20*999 = 20,000 new nodes
	var sb strings.Builder
	sb.WriteString(`{"node": {"kind": "job", "name": "kunit", "path": ["checkout", "kunit"], "state": "done", "result": "pass"}, "child_nodes": [`)
	for s := range suites {
		if s > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"node": {"kind": "test", "name": "suite-%02d", "path": ["checkout", "kunit", "suite-%02d"], "state": "done"}, "child_nodes": [`, s, s)
		for c := range cases {
			if c > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"node": {"kind": "test", "name": "case-%02d-%03d", "path": ["checkout", "kunit", "suite-%02d", "case-%02d-%03d"], `+
				`"state": "done", "result": "pass", "data": {"arch": "x86_64", "platform": "qemu-x86", "runtime": "lava-collabora", "misc": {"measurement": %d}}}, "child_nodes": []}`,
				s, c, s, s, c, c)
		}
		sb.WriteString(`]}`)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	if len(body) < 5<<20 {
		t.Fatalf("body of %d bytes is smaller than intended", len(body))
	}
	before := e.snapshot()
	out := e.do(http.MethodPut, "/latest/nodes/"+root["id"].(string), tok, body).expect(http.StatusOK).list()
	if len(out) != 1+suites+suites*cases {
		t.Errorf("%d nodes answered, want %d", len(out), 1+suites+suites*cases)
	}
	after := e.snapshot()
	if after.nodes != before.nodes+suites+suites*cases || after.events != before.events+1 {
		t.Errorf("nodes %d -> %d, events %d -> %d", before.nodes, after.nodes, before.events, after.events)
	}
	if n := e.count("kind=test&result=pass&path__re=case-19-998"); n != 1 {
		t.Errorf("last case stored %d times", n)
	}
}

// ---------------------------------------------------------------------------
// PUT /batch/nodeset

func TestBatchNodeset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	n1 := stateNode(e, tok, "running", nil)
	n2 := stateNode(e, tok, "done", nil)
	before := e.snapshot()

	put := func(body any) *response {
		t.Helper()
		return e.do(http.MethodPut, "/latest/batch/nodeset", tok, body)
	}
	r := put(map[string]any{"nodes": []any{n1["id"], n2["id"], n1["id"]}, "field": "processed_by_kcidb_bridge", "value": "true"})
	if v := r.expect(http.StatusOK).value(); v != 2.0 {
		t.Errorf("answered %v, want 2", v)
	}
	for _, n := range []map[string]any{n1, n2} {
		got := e.getNode(n["id"])
		if got["processed_by_kcidb_bridge"] != true || got["state"] != n["state"] {
			t.Errorf("node %v: flag %v state %v", n["name"], got["processed_by_kcidb_bridge"], got["state"])
		}
		if !wt(t, got["updated"]).After(wt(t, n["updated"])) {
			t.Errorf("updated not moved")
		}
	}
	if v := put(map[string]any{"nodes": []any{}, "field": "processed_by_kcidb_bridge", "value": "False"}).expect(http.StatusOK).value(); v != 0.0 {
		t.Errorf("empty list answered %v", v)
	}
	e.expectUnchanged(before, "batch nodeset")

	snapshot := func() []any { return []any{e.getNode(n1["id"]), e.getNode(n2["id"])} }
	stored := snapshot()
	tests := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"unsupported field", map[string]any{"nodes": []any{n1["id"]}, "field": "state", "value": "done"}, 400, "Field not supported"},
		{"bad value", map[string]any{"nodes": []any{n1["id"]}, "field": "processed_by_kcidb_bridge", "value": "yes"}, 400, "Invalid value for processed_by_kcidb_bridge: yes"},
		{"unknown node", map[string]any{"nodes": []any{n1["id"], "0123456789abcdef01234567"}, "field": "processed_by_kcidb_bridge", "value": "false"}, 404, "Node not found with id: 0123456789abcdef01234567"},
		{"malformed id", map[string]any{"nodes": []any{n1["id"], "xyz"}, "field": "processed_by_kcidb_bridge", "value": "false"}, 400, "'xyz' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string"},
		{"missing fields", map[string]any{"nodes": []any{n1["id"]}}, 422, ""},
		{"nodes not a list", map[string]any{"nodes": n1["id"], "field": "processed_by_kcidb_bridge", "value": "false"}, 422, ""},
		{"value not a string", map[string]any{"nodes": []any{n1["id"]}, "field": "processed_by_kcidb_bridge", "value": false}, 422, ""},
	}
	for _, tc := range tests {
		put(tc.body).expectRefusal(tc.status, tc.detail, nil)
		e.expectUnchanged(before, tc.name)
	}
	jsonEqual(t, "nodes after refused batches", snapshot(), stored)
	e.expectUnchanged(before, "refused batches")

	// Query helpers see the flag.
	if n := e.count("processed_by_kcidb_bridge=true"); n != 2 {
		t.Errorf("count processed_by_kcidb_bridge=true: %d", n)
	}
	if n := e.count(url.Values{"processed_by_kcidb_bridge": {"False"}}.Encode()); n != 0 {
		t.Errorf("count processed_by_kcidb_bridge=False: %d", n)
	}
}
