package mongo

// Query plans of the request mix (issue 14) on the MongoDB backend.
//
// Two checks:
//
//  1. TestMixShapesHaveBoundingIndexes, everywhere: each shape of the
//     mix has a declared index whose leading fields the shape's
//     conditions bound (equalities, then at most one range: the
//     equality-sort-range rule MongoDB's planner scans an index by), as
//     many fields as the shape allows. This is what lets a planner avoid
//     a collection scan; it does not prove that MongoDB's picks it.
//  2. TestMixShapesExplain runs each shape through the store, captures
//     the exact command the store sends (find, count or $group
//     aggregate), and asks the server to explain it. On MongoDB
//     (KCI_TEST_MONGO_URI) the winning plan must read a declared index
//     (IXSCAN or COUNT_SCAN, no COLLSCAN). FerretDB 1.x has no planner
//     for these: its SQLite handler pushes down only a bare _id equality
//     and filters everything else in Go after a full scan, which its
//     explain reports (filterPushdown); the test asserts exactly that
//     there, so that a FerretDB which starts pushing filters down is
//     noticed.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// mixShape is a query shape of the mix: the filter of a request, the
// store call it becomes, and the index that serves it best.
type mixShape struct {
	name  string
	qs    string   // the filter, as a query string
	call  string   // "find" (a page of 50), "count" or "group"
	by    []string // group_by of a "group"
	index string   // the declared index that bounds it best
	bound int      // how many of its leading fields the filter bounds
	cover bool     // the index holds every field the $group reads
}

const (
	mixParent  = "6a0000000000000000000001"
	mixWindow  = "2026-01-01T00:00:00"
	mixAncient = "2000-01-01T00:00:00"
)

var mixShapes = []mixShape{
	// Issue 14's cliff: the time window covers everything, kind and
	// result are the selective part.
	{name: "cliff", call: "find", qs: "kind=test&result=fail&data.kernel_revision.tree=mainline&created__gt=" + mixAncient,
		index: "kind_1_result_1_created_1", bound: 3},
	{name: "cliff count", call: "count", qs: "kind=test&result=fail&data.kernel_revision.tree=mainline&created__gt=" + mixAncient,
		index: "kind_1_result_1_created_1", bound: 3},
	// /dashboard: the grid of a tree and branch, its checkouts, its trees.
	{name: "dashboard grid", call: "group", by: []string{"data.kernel_revision.commit", "kind", "result"},
		qs:    "data.kernel_revision.tree=mainline&data.kernel_revision.branch=master&kind__in=kbuild,job,test&created__gt=" + mixWindow,
		index: "data.kernel_revision.tree_1_data.kernel_revision.branch_1_kind_1_created_1", bound: 4},
	{name: "dashboard checkouts", call: "count", qs: "data.kernel_revision.tree=mainline&data.kernel_revision.branch=master&kind=checkout",
		index: "data.kernel_revision.tree_1_data.kernel_revision.branch_1_kind_1_created_1", bound: 3},
	{name: "dashboard trees", call: "group", by: []string{"data.kernel_revision.tree", "data.kernel_revision.branch"},
		qs: "kind=checkout&created__gt=" + mixWindow, index: "kind_1_result_1_created_1", bound: 1},
	// /viewer's build matrix.
	{name: "viewer matrix", call: "group", by: []string{"data.config_full", "data.kernel_revision.commit", "result"},
		qs:    "kind=kbuild&data.kernel_revision.tree=mainline&data.kernel_revision.branch=master&data.kernel_revision.commit__in=c1,c2",
		index: "data.kernel_revision.tree_1_data.kernel_revision.branch_1_kind_1_created_1", bound: 3},
	// /stats: results by kind over a window, from the index alone.
	{name: "stats window", call: "group", by: []string{"kind", "result"}, qs: "created__gt=" + mixWindow,
		index: "created_1_kind_1_result_1", bound: 1, cover: true},
	// The pipeline's filters.
	{name: "parent", call: "find", qs: "parent=" + mixParent, index: "parent_1", bound: 1},
	{name: "data.arch", call: "find", qs: "data.arch=arm64", index: "data.arch_1", bound: 1},
	{name: "kbuild arch", call: "find", qs: "kind=kbuild&data.arch=arm64", index: "data.arch_1", bound: 1},
	{name: "data.defconfig", call: "count", qs: "data.defconfig=defconfig", index: "data.defconfig_1", bound: 1},
	{name: "data.compiler", call: "find", qs: "data.compiler=gcc-12", index: "data.compiler_1", bound: 1},
	{name: "data.platform", call: "find", qs: "data.platform=rk3399-rock-pi-4b", index: "data.platform_1", bound: 1},
	{name: "data.runtime", call: "find", qs: "data.runtime=lava-collabora", index: "data.runtime_1", bound: 1},
	{name: "data.error_code", call: "count", qs: "data.error_code=Infrastructure", index: "data.error_code_1", bound: 1},
	{name: "commit", call: "find", qs: "data.kernel_revision.commit=c1", index: "data.kernel_revision.commit_1", bound: 1},
	{name: "job state", call: "find", qs: "kind=job&state=done", index: "kind_1_result_1_created_1", bound: 1},
	{name: "name", call: "find", qs: "name=baseline-arm64&kind=job", index: "name_1__id_1", bound: 1},
	{name: "created wide", call: "find", qs: "created__gt=" + mixAncient, index: "created_1__id_1", bound: 1},
	{name: "kind window", call: "count", qs: "kind=test&created__gt=" + mixWindow, index: "kind_1_result_1_created_1", bound: 1},
}

func (sh mixShape) filter(t *testing.T) query.Filter {
	t.Helper()
	return storetest.NodeFilter(t, sh.qs)
}

// boundFields counts the leading fields of keys that f bounds: point
// conditions (equality to a non-null value, $in without null), then one
// range, as MongoDB builds index bounds. A partial index counts only when
// f implies its filter (here: data.error_code's non-empty string).
func boundFields(sp IndexSpec, f query.Filter) int {
	conds := map[string][]query.Cond{}
	for _, c := range f.Conds {
		path := c.Field
		if path == "id" {
			path = "_id"
		}
		conds[path] = append(conds[path], c)
	}
	point := func(c query.Cond) bool {
		switch c.Op {
		case query.Eq:
			return c.Value != nil
		case query.In:
			l, err := query.List(c.Value)
			return err == nil && !slices.Contains(l, nil)
		}
		return false
	}
	ranged := func(c query.Cond) bool {
		switch c.Op {
		case query.Lt, query.Lte, query.Gt, query.Gte:
			return true
		}
		return false
	}
	if sp.Partial != nil {
		for _, e := range sp.Partial {
			ok := false
			for _, c := range conds[e.Key] {
				s, isStr := c.Value.(string)
				ok = ok || (c.Op == query.Eq && isStr && s != "")
			}
			if !ok {
				return 0
			}
		}
	}
	n := 0
	for _, k := range sp.Keys {
		cs := conds[k.Key]
		switch {
		case slices.ContainsFunc(cs, point):
			n++
			continue
		case slices.ContainsFunc(cs, ranged):
			n++
		}
		break
	}
	return n
}

func TestMixShapesHaveBoundingIndexes(t *testing.T) {
	decl := map[string]IndexSpec{}
	for _, sp := range DeclaredIndexes(time.Hour, time.Hour) {
		if sp.Collection == colNode {
			decl[sp.Name] = sp
		}
	}
	for _, sh := range mixShapes {
		f := sh.filter(t)
		sp, ok := decl[sh.index]
		if !ok {
			t.Errorf("%s: index %s is not declared", sh.name, sh.index)
			continue
		}
		if got := boundFields(sp, f); got != sh.bound {
			t.Errorf("%s: %s bounds %d leading fields of %s, want %d", sh.name, sh.qs, got, sh.index, sh.bound)
		}
		best, bestName := 0, ""
		for name, other := range decl {
			if n := boundFields(other, f); n > best {
				best, bestName = n, name
			}
		}
		if best > sh.bound {
			t.Errorf("%s: %s bounds %d fields, more than %s (%d): update the shape", sh.name, bestName, best, sh.index, sh.bound)
		}
		if sh.cover {
			for _, field := range append(slices.Clone(sh.by), fieldsOf(f)...) {
				if !slices.ContainsFunc(sp.Keys, func(e bson.E) bool { return e.Key == field }) {
					t.Errorf("%s: %s does not hold %s: the $group reads documents", sh.name, sh.index, field)
				}
			}
		}
	}
}

func fieldsOf(f query.Filter) []string {
	var out []string
	for _, c := range f.Conds {
		out = append(out, c.Field)
	}
	return out
}

// seedMix writes nodes with the fields the shapes filter on.
func seedMix(t *testing.T, st *Store) objectid.ID {
	t.Helper()
	ctx := context.Background()
	parent, err := objectid.Parse(mixParent)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{"checkout", "kbuild", "job", "test", "test", "test", "test", "test"}
	var batch []*model.Node
	var first objectid.ID
	for i := range 200 {
		n := testNode("baseline-arm64")
		n.Kind = kinds[i%len(kinds)]
		n.Result = model.Str([]string{"pass", "fail", "pass", "pass", "incomplete"}[i%5])
		if i%3 == 0 {
			n.Parent = &parent
		}
		n.Data = map[string]any{
			"kernel_revision": map[string]any{"tree": []string{"mainline", "next", "stable"}[i%3],
				"branch": "master", "commit": []string{"c1", "c2", "c3", "c4"}[i%4]},
			"arch": []string{"arm64", "x86_64", "riscv"}[i%3], "defconfig": "defconfig", "compiler": "gcc-12",
			"platform": []string{"rk3399-rock-pi-4b", "qemu"}[i%2], "runtime": "lava-collabora",
			"error_code": nil, "config_full": "defconfig+kselftest",
		}
		if i%50 == 0 {
			n.Data["error_code"] = "Infrastructure"
		}
		if i == 0 {
			first = n.ID
		}
		batch = append(batch, n)
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: batch}); err != nil {
		t.Fatal(err)
	}
	return first
}

// explainable keeps the parts of a captured command that explain takes.
func explainable(cmd bson.Raw) bson.D {
	keep := []string{"find", "filter", "sort", "skip", "limit", "aggregate", "pipeline", "cursor"}
	var out bson.D
	elems, _ := cmd.Elements()
	for _, el := range elems {
		if slices.Contains(keep, el.Key()) {
			out = append(out, bson.E{Key: el.Key(), Value: el.Value()})
		}
	}
	return out
}

// planSummary is what TestMixShapesExplain reads from an explain answer.
type planSummary struct {
	stages, indexes []string
	pushdown        bool // FerretDB: filterPushdown
	ferret          bool // the answer is FerretDB's
}

// summarise collects the stage and index names under every winningPlan
// of an explain answer (find, or aggregate with or without a $cursor
// stage, classic or SBE plans).
func summarise(raw bson.Raw) planSummary {
	var ps planSummary
	if v, err := raw.LookupErr("filterPushdown"); err == nil {
		ps.ferret = true
		ps.pushdown, _ = v.BooleanOK()
	}
	var walk func(v bson.RawValue, inPlan bool)
	walk = func(v bson.RawValue, inPlan bool) {
		var elems []bson.RawElement
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			elems, _ = v.Document().Elements()
		case bson.TypeArray:
			vals, _ := v.Array().Values()
			for _, x := range vals {
				walk(x, inPlan)
			}
			return
		default:
			return
		}
		for _, el := range elems {
			switch {
			case inPlan && el.Key() == "stage":
				if s, ok := el.Value().StringValueOK(); ok {
					ps.stages = append(ps.stages, s)
				}
			case inPlan && el.Key() == "indexName":
				if s, ok := el.Value().StringValueOK(); ok {
					ps.indexes = append(ps.indexes, s)
				}
			case el.Key() == "rejectedPlans":
				continue
			}
			walk(el.Value(), inPlan || el.Key() == "winningPlan")
		}
	}
	walk(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: raw}, false)
	return ps
}

func TestMixShapesExplain(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []bson.Raw
	)
	o := testOptions(t)
	o.Monitor = &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "find", "aggregate":
			mu.Lock()
			sent = append(sent, slices.Clone(e.Command))
			mu.Unlock()
		}
	}}
	st := openTest(t, o)
	first := seedMix(t, st)
	ctx := context.Background()
	declared := map[string]bool{"_id_": true}
	for _, sp := range DeclaredIndexes(o.EventTTL, o.TelemetryTTL) {
		if sp.Collection == colNode {
			declared[sp.Name] = true
		}
	}
	capture := func(call func() error) bson.D {
		t.Helper()
		mu.Lock()
		sent = nil
		mu.Unlock()
		if err := call(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(sent) != 1 {
			t.Fatalf("%d commands sent, want 1", len(sent))
		}
		return explainable(sent[0])
	}
	explain := func(cmd bson.D) planSummary {
		t.Helper()
		var out bson.Raw
		err := st.db.RunCommand(ctx, bson.D{{Key: "explain", Value: cmd}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&out)
		if err != nil {
			t.Fatalf("explain %v: %v", cmd, err)
		}
		return summarise(out)
	}

	// The point read: the one shape FerretDB pushes down.
	ps := explain(capture(func() error { _, err := st.GetNode(ctx, first); return err }))
	if ps.ferret && !ps.pushdown {
		t.Errorf("GET /node/{id}: FerretDB does not push the _id equality down")
	}

	scanned := 0
	for _, sh := range mixShapes {
		f := sh.filter(t)
		cmd := capture(func() error {
			var err error
			switch sh.call {
			case "find":
				_, err = st.FindNodes(ctx, f, store.Page{Limit: 50})
			case "count":
				_, err = st.CountNodes(ctx, f)
			case "group":
				_, err = st.GroupNodes(ctx, f, sh.by, 1000)
			}
			return err
		})
		ps := explain(cmd)
		if ps.ferret {
			// FerretDB 1.x (SQLite): every document is read and matched
			// in Go. Nothing to learn about indexes here.
			if ps.pushdown {
				t.Errorf("%s: FerretDB now pushes this filter down: its plans can be checked here", sh.name)
			}
			scanned++
			continue
		}
		if slices.Contains(ps.stages, "COLLSCAN") {
			t.Errorf("%s: %s scans the collection: stages %v", sh.name, sh.qs, ps.stages)
		}
		if !slices.ContainsFunc(ps.stages, func(s string) bool { return strings.Contains(s, "IXSCAN") || s == "COUNT_SCAN" }) {
			t.Errorf("%s: no index scan in %v", sh.name, ps.stages)
		}
		for _, ix := range ps.indexes {
			if !declared[ix] {
				t.Errorf("%s: reads index %s, which is not declared", sh.name, ix)
			}
		}
		t.Logf("%s: stages %v, indexes %v (best declared: %s)", sh.name, ps.stages, ps.indexes, sh.index)
	}
	if scanned > 0 {
		t.Logf("FerretDB: %d shapes explained, each a full scan filtered in Go (filterPushdown false); index use needs KCI_TEST_MONGO_URI", scanned)
	}
}
