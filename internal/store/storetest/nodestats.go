package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runNodeStats runs the contract of store.NodeStats.
func runNodeStats(t *testing.T, newStore Factory) {
	t.Run("Group", func(t *testing.T) {
		st := newStore(t)
		t.Cleanup(func() { st.Close() })
		testGroupNodes(t, st, st)
	})
}

// groupStr renders groups as sorted "key|key=count" lines.
func nodeGroupStrs(gs []store.NodeGroup) string {
	var out []string
	for _, g := range gs {
		var ks []string
		for _, k := range g.Key {
			ks = append(ks, fmt.Sprintf("%T:%v", k, k))
		}
		out = append(out, strings.Join(ks, "|")+fmt.Sprintf("=%d", g.Count))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func testGroupNodes(t *testing.T, st store.Store, ns store.NodeStats) {
	ctx := context.Background()
	res := func(r string) func(*model.Node) { return func(n *model.Node) { n.Result = model.Str(r) } }
	done := func(n *model.Node) { n.State = model.StateDone }
	tree := func(tr string) func(*model.Node) {
		return func(n *model.Node) { n.Data["kernel_revision"] = map[string]any{"tree": tr} }
	}
	val := func(v any) func(*model.Node) { return func(n *model.Node) { n.Data["v"] = v } }
	late := func(n *model.Node) { n.Created = model.T(base.Add(time.Hour)) }
	nodes := []*model.Node{
		node("c1", "checkout", done, res("pass"), tree("mainline"), val(1)),
		node("c2", "checkout", tree("next"), val(1.0), late),
		node("b1", "kbuild", done, res("pass"), tree("mainline"), val(2.5), late),
		node("b2", "kbuild", done, res("fail"), tree("mainline"), val(true)),
		node("t1", "test", done, res("pass"), tree("next"), val("1"), late),
		node("t2", "test", done, res("pass"), tree("next"), val([]any{1, 2})),
		node("t3", "test", done, res("fail"), val(map[string]any{"a": 1}), late),
		node("t4", "test", done, res("incomplete"), val(nil)),
	}
	mustWrite(t, st, store.NodeWrite{Insert: nodes})

	check := func(name string, f query.Filter, by []string, limit int, want string) {
		t.Helper()
		gs, err := ns.GroupNodes(ctx, f, by, limit)
		if err != nil {
			t.Fatalf("%s: GroupNodes: %v", name, err)
		}
		if got := nodeGroupStrs(gs); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	// On kind, state and result only (the SQLite counters).
	check("kind,result", query.Filter{}, []string{"kind", "result"}, 0,
		"string:checkout|<nil>:<nil>=1 string:checkout|string:pass=1 string:kbuild|string:fail=1 string:kbuild|string:pass=1 "+
			"string:test|string:fail=1 string:test|string:incomplete=1 string:test|string:pass=2")
	check("kind=test by result", f(c("kind", query.Eq, "test")), []string{"result"}, 0,
		"string:fail=1 string:incomplete=1 string:pass=2")
	check("state", f(c("result", query.Ne, "pass")), []string{"state"}, 0,
		"string:done=3 string:running=1")
	// Through the documents and a time window.
	check("tree since", f(c("created", query.Gt, base.Add(time.Minute))), []string{"data.kernel_revision.tree", "kind"}, 0,
		"<nil>:<nil>|string:test=1 string:mainline|string:kbuild=1 string:next|string:checkout=1 string:next|string:test=1")
	// Value types: equal numbers together, non-scalars and missing as null.
	check("values", query.Filter{}, []string{"data.v"}, 0,
		"<nil>:<nil>=3 bool:true=1 float64:2.5=1 int64:1=2 string:1=1")
	check("nothing", f(c("kind", query.Eq, "nothing")), []string{"kind"}, 0, "")
	// Limit: at most limit+1 groups.
	gs, err := ns.GroupNodes(ctx, query.Filter{}, []string{"name"}, 3)
	if err != nil || len(gs) != 4 {
		t.Errorf("limit 3 over 8 groups: %d groups, %v; want 4", len(gs), err)
	}
	gs, err = ns.GroupNodes(ctx, query.Filter{}, []string{"kind"}, 3)
	if err != nil || len(gs) != 3 {
		t.Errorf("limit 3 over 3 groups: %d groups, %v; want 3", len(gs), err)
	}
	// Counts follow updates.
	c2 := *nodes[1]
	c2.State, c2.Result = model.StateDone, model.Str("fail")
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{&c2}})
	check("after update", f(c("kind", query.Eq, "checkout")), []string{"result"}, 0, "string:fail=1 string:pass=1")
	// Tree, branch and commit: text values, and the others (missing,
	// null, a number) by JSON type and value, together.
	check("tree", query.Filter{}, []string{"data.kernel_revision.tree"}, 0,
		"<nil>:<nil>=2 string:mainline=3 string:next=3")
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{
		node("r1", "regression", func(n *model.Node) {
			n.Data["kernel_revision"] = map[string]any{"tree": json.Number("7"), "branch": "master", "commit": nil}
		}),
		node("r2", "regression", func(n *model.Node) {
			n.Data["kernel_revision"] = map[string]any{"tree": "next", "branch": "master", "commit": "abc"}
		}),
	}})
	check("tree,branch,commit", f(c("kind", query.Eq, "regression")),
		[]string{"data.kernel_revision.tree", "data.kernel_revision.branch", "data.kernel_revision.commit"}, 0,
		"int64:7|string:master|<nil>:<nil>=1 string:next|string:master|string:abc=1")
	check("branch=master by tree", f(c("data.kernel_revision.branch", query.Eq, "master")),
		[]string{"data.kernel_revision.tree", "kind"}, 0, "int64:7|string:regression=1 string:next|string:regression=1")
	// Bad grouping fields are a query error.
	for _, by := range [][]string{nil, {"created"}, {"data."}, {"data.$x"}, {"kind", "kind"}, {"kind", "state", "result", "name", "group"}} {
		var qe *query.Error
		if _, err := ns.GroupNodes(ctx, query.Filter{}, by, 0); !errors.As(err, &qe) {
			t.Errorf("group by %q: %v, want a *query.Error", by, err)
		}
	}
}
