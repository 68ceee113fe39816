package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// The contract of GetNodeJSON: byte for byte what json.Marshal of
// GetNode's node writes (what GET /node/{id} answered before the store
// could answer its bytes), for nodes written through the store and,
// when the backend can store raw documents (Options.WriteRawNode), for
// documents in the forms older versions and other programs wrote.

// jsonNodes are nodes varied in every field, within what the backend
// stores (opts).
func jsonNodes(opts Options) []*model.Node {
	at := exactBase
	if opts.TimePrecision > 0 {
		at = at.Truncate(opts.TimePrecision)
	}
	parent := objectid.New()
	list := []any{json.Number("1"), "two", nil, true, false, map[string]any{}, map[string]any{"k": json.Number("-0.5e-3")}}
	if !opts.NoNestedArrays {
		list = append(list, []any{}, []any{"x", json.Number("3E+2")})
	}
	full := node("baseline.dmesg.crit", "test", func(n *model.Node) {
		n.Path = []string{"checkout", "kbuild", "baseline", "dmesg"}
		n.Group, n.Parent, n.State, n.Result = model.Str("baseline"), &parent, model.StateDone, model.Str("fail")
		n.Artifacts = map[string]string{"log": "https://example.org/a?b=1&c=<2>", "dmesg": "x"}
		n.Data = map[string]any{
			"kernel_revision": map[string]any{"tree": "mainline", "branch": "master", "commit": "abc",
				"version": map[string]any{"version": json.Number("6"), "patchlevel": json.Number("12"), "extra": "-rc1"}},
			"float": json.Number("1.5"), "neg": json.Number("-7"), "zero": json.Number("0"), "list": list,
			"unicode": "é ü 日本 🐧 \u2028 \u2029 \x7f \x01 \x1f \b \f \n \r \t \" \\ / < > &",
			"Z":       "upper", "a": "lower", "é": "non-ascii key", "<key>": "escaped key", "null": nil,
		}
		n.Debug = map[string]any{"nested": map[string]any{"deep": []any{map[string]any{"k": nil}}}}
		n.Jobfilter, n.UserGroups = []string{"baseline", "kunit"}, []string{"lab-a", "é"}
		n.Created, n.Updated, n.Timeout = model.T(at), model.T(at.Add(time.Millisecond)), model.T(at.Add(6*time.Hour))
		n.Holdoff = &model.Time{Time: at.Add(time.Minute)}
		n.Submitter, n.Treeid = model.Str("service:pipeline"), model.Str("0123abcd")
		n.ProcessedByKCIDBBridge, n.RetryCounter = true, math.MaxInt32
	})
	if !opts.NoBigIntegers {
		full.Data["big"] = json.Number("123456789012345678901234567890")
	}
	nulls := node("nulls", "checkout", func(n *model.Node) {
		n.Path, n.Artifacts, n.Data, n.Debug, n.PlatformFilter, n.UserGroups, n.Owner = nil, nil, nil, nil, nil, nil, nil
	})
	negative := node("negative", "kbuild", func(n *model.Node) { n.RetryCounter = -1 })
	return []*model.Node{full, nulls, negative, node("plain", "job")}
}

// checkNodeJSON fails unless GetNodeJSON answers what json.Marshal of
// GetNode writes.
func checkNodeJSON(t *testing.T, st store.Store, id objectid.ID, what string) {
	t.Helper()
	ctx := context.Background()
	n, err := st.GetNode(ctx, id)
	if err != nil {
		t.Fatalf("%s: GetNode: %v", what, err)
	}
	want, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetNodeJSON(ctx, id)
	if err != nil {
		t.Fatalf("%s: GetNodeJSON: %v", what, err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: GetNodeJSON differs from GetNode encoded\n got: %s\nwant: %s", what, got, want)
	}
}

func testNodeJSON(t *testing.T, st store.Store, opts Options) {
	defer st.Close()
	ctx := context.Background()
	nodes := jsonNodes(opts)
	mustWrite(t, st, store.NodeWrite{Insert: nodes})
	for _, n := range nodes {
		checkNodeJSON(t, st, n.ID, "inserted "+n.Name)
	}
	// After a replacement, the new document.
	changed := *nodes[0]
	changed.Name, changed.State, changed.Result = "renamed", model.StateDone, nil
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{&changed}})
	checkNodeJSON(t, st, changed.ID, "replaced")
	if got, _ := st.GetNodeJSON(ctx, changed.ID); !strings.Contains(string(got), `"name":"renamed"`) {
		t.Fatalf("GetNodeJSON after replace = %s", got)
	}
	if b, err := st.GetNodeJSON(ctx, objectid.New()); !errors.Is(err, store.ErrNotFound) || b != nil {
		t.Fatalf("GetNodeJSON(unknown) = %q, %v; want ErrNotFound", b, err)
	}

	checkFindNodesJSON(t, st, len(nodes))

	if opts.WriteRawNode == nil {
		return
	}
	legacy := legacyNodeDocs()
	for name, doc := range legacy {
		id := objectid.New()
		doc = strings.ReplaceAll(doc, "ID", id.String())
		if err := opts.WriteRawNode(st, id, []byte(doc)); err != nil {
			t.Fatalf("%s: WriteRawNode: %v", name, err)
		}
		checkNodeJSON(t, st, id, "legacy document "+name)
	}
	checkFindNodesJSON(t, st, len(nodes)+len(legacy))
}

// checkFindNodesJSON fails unless FindNodesJSON answers, page by page
// and whole, the nodes of FindNodes each encoded by json.Marshal.
func checkFindNodesJSON(t *testing.T, st store.Store, total int) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []store.Page{{}, {Limit: 2}, {Limit: 3, Offset: 2}, {Order: query.Order{{Field: "name"}, {Field: "id"}}}} {
		nodes, err := st.FindNodes(ctx, query.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := st.FindNodesJSON(ctx, query.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(nodes) || (p.Limit == 0 && len(raw) != total) {
			t.Fatalf("page %+v: FindNodesJSON %d nodes, FindNodes %d, stored %d", p, len(raw), len(nodes), total)
		}
		for i, n := range nodes {
			want, _ := json.Marshal(n)
			if string(raw[i]) != string(want) {
				t.Fatalf("page %+v, item %d: FindNodesJSON differs from FindNodes encoded\n got: %s\nwant: %s", p, i, raw[i], want)
			}
		}
	}
	if raw, err := st.FindNodesJSON(ctx, query.Where("name", "no such node"), store.Page{}); err != nil || raw == nil || len(raw) != 0 {
		t.Fatalf("FindNodesJSON(no match) = %v, %v; want an empty list", raw, err)
	}
}

// legacyNodeDocs are node documents in forms this version does not
// write (another field order, whitespace, escapes, missing and extra
// fields, other datetime shapes...), by name; "ID" stands for the id.
func legacyNodeDocs() map[string]string {
	const wire = `{"id":"ID","kind":"checkout","name":"checkout","path":["checkout"],"group":null,"parent":null,` +
		`"state":"available","result":null,"artifacts":{},"data":{"kernel_revision":{"tree":"mainline"}},"debug":{},` +
		`"jobfilter":null,"platform_filter":[],"created":"2024-03-04T05:06:07.891000","updated":"2024-03-04T05:07:07.891000",` +
		`"timeout":"2024-03-04T11:06:07.891000","holdoff":null,"owner":"alice","submitter":null,"treeid":null,` +
		`"user_groups":[],"processed_by_kcidb_bridge":false,"retry_counter":0}`
	r := func(old, new string) string { return strings.Replace(wire, old, new, 1) }
	return map[string]string{
		"wire form":         wire,
		"indented":          strings.ReplaceAll(strings.ReplaceAll(wire, `,"`, ",\n  \""), `":`, `": `) + "\n",
		"fields reordered":  r(`"kind":"checkout","name":"checkout"`, `"name":"checkout","kind":"checkout"`),
		"fields missing":    `{"id":"ID","kind":"test","name":"baseline","state":"done","created":"2024-03-04T05:06:07.891000","updated":"2024-03-04T05:06:07.891000","timeout":"2024-03-04T11:06:07.891000"}`,
		"field extra":       r(`"treeid":null,`, `"treeid":null,"revision":{"tree":"x"},`),
		"escapes":           r(`"name":"checkout"`, `"name":"\u0063heck\/out \u00e9 \ud83d\udc27 \u001B \ufffd"`),
		"raw html and seps": r(`"name":"checkout"`, "\"name\":\"<a> & \u2028\""),
		"data unsorted":     r(`{"kernel_revision":{"tree":"mainline"}}`, `{"z":1,"a":[{"y":1.50,"b":-0}],"kernel_revision":{"tree":"mainline"}}`),
		"data repeated key": r(`{"kernel_revision":{"tree":"mainline"}}`, `{"a":1,"a":2}`),
		"datetime shapes":   r(`"created":"2024-03-04T05:06:07.891000","updated":"2024-03-04T05:07:07.891000"`, `"created":"2024-03-04T05:06:07.891Z","updated":"2024-03-04 06:07:07+01:00"`),
		"uppercase ids":     r(`"parent":null`, `"parent":"65BB6C9E0123456789ABCDEF"`),
		"nulls for values":  r(`"platform_filter":[],`, `"platform_filter":null,`),
		"retry as -0":       r(`"retry_counter":0`, `"retry_counter":-0`),
		"trailing bytes":    wire + "   ",
	}
}
