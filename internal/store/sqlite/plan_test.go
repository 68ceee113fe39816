package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// planSeedNodes is the size of the seeded store of the randomized plan
// check: past minStatsRows, so that Optimize's statistics and plan.go's
// measurements are in force.
const planSeedNodes = 24000

// pick returns one of vals, the i-th with weight w[i].
func pick(r *rand.Rand, vals []string, w []int) string {
	sum := 0
	for _, x := range w {
		sum += x
	}
	k := r.IntN(sum)
	for i, x := range w {
		if k < x {
			return vals[i]
		}
		k -= x
	}
	return vals[len(vals)-1]
}

var (
	planKinds      = []string{"test", "job", "kbuild", "checkout"}
	planKindW      = []int{880, 80, 30, 10}
	planStates     = []string{"done", "running", "available", "closing"}
	planStateW     = []int{950, 30, 10, 10}
	planResults    = []string{"pass", "fail", "skip", "incomplete"}
	planResultW    = []int{800, 120, 60, 20}
	planTrees      = []string{"mainline", "next", "stable-rc", "android", "cip"}
	planTreeW      = []int{500, 250, 150, 80, 20}
	planBranches   = []string{"master", "linux-6.6.y", "android-mainline", "pending"}
	planBranchW    = []int{700, 200, 80, 20}
	planPlatforms  = []string{"qemu-x86", "bcm2711-rpi-4-b", "rk3399-rock-pi-4b", "imx8mp-evk", "odroid-xu3"}
	planPlatW      = []int{600, 200, 100, 60, 40}
	planRuntimes   = []string{"lava-collabora", "k8s-gke", "lava-baylibre", "pull-labs"}
	planRuntimeW   = []int{600, 300, 80, 20}
	planDefconfigs = []string{"defconfig", "multi_v7_defconfig", "allmodconfig", "tinyconfig"}
	planCompilers  = []string{"gcc-14", "clang-17", "gcc-12"}
	planErrors     = []string{"node_timeout", "compile_error", "Infrastructure"}
	planNames      = []string{"baseline.login", "kselftest.dt.dt_test_unprobed_devices", "kunit.exec.kfence", "ltp.syscalls.open01", "rare-test"}
	planNameW      = []int{400, 300, 200, 95, 5}
)

// planEnd is the creation time of the newest seeded node; nodes are one
// every 10 minutes before it, in row id order.
var planEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func seedPlanStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	st := openTest(t)
	r := rand.New(rand.NewPCG(14, 1))
	var batch []*model.Node
	for i := range planSeedNodes {
		created := model.T(planEnd.Add(-time.Duration(planSeedNodes-i) * 10 * time.Minute))
		n := &model.Node{ID: objectid.New(), Kind: pick(r, planKinds, planKindW), Name: pick(r, planNames, planNameW),
			Path: []string{"checkout"}, State: pick(r, planStates, planStateW),
			Created: created, Updated: created, Timeout: created,
			Data: map[string]any{
				"kernel_revision": map[string]any{"tree": pick(r, planTrees, planTreeW), "branch": pick(r, planBranches, planBranchW), "commit": fmt.Sprintf("%040x", r.IntN(400))},
				"platform":        pick(r, planPlatforms, planPlatW), "runtime": pick(r, planRuntimes, planRuntimeW),
				"arch":      pick(r, []string{"x86_64", "arm64", "arm"}, []int{6, 3, 1}),
				"defconfig": pick(r, planDefconfigs, []int{70, 20, 8, 2}), "compiler": pick(r, planCompilers, []int{60, 30, 10}),
				"config_full": "defconfig+kselftest",
			}}
		if r.IntN(100) < 3 {
			n.Data["error_code"] = pick(r, planErrors, []int{80, 15, 5})
		} else {
			n.Data["error_code"] = nil
		}
		if n.State == model.StateDone {
			n.Result = model.Str(pick(r, planResults, planResultW))
		}
		batch = append(batch, n)
		if len(batch) == 2000 {
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: batch}); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	if err := st.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// randomPlanFilter draws 2 to 4 conditions of the kinds pipelines and
// dashboards send.
func randomPlanFilter(r *rand.Rand) query.Filter {
	// draw is a condition on field with one of values.
	draw := func(field string, op query.Op, values ...string) func() query.Cond {
		return func() query.Cond { return query.Cond{Field: field, Op: op, Value: values[r.IntN(len(values))]} }
	}
	gens := []func() query.Cond{
		draw("kind", query.Eq, planKinds...),
		draw("state", query.Eq, planStates...),
		draw("result", query.Eq, planResults...),
		draw("data.kernel_revision.tree", query.Eq, planTrees...),
		draw("data.kernel_revision.branch", query.Eq, planBranches...),
		draw("data.platform", query.Eq, planPlatforms...),
		draw("data.runtime", query.Eq, planRuntimes...),
		draw("name", query.Eq, planNames...),
		func() query.Cond {
			// From an hour to before every node.
			windows := []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 60 * 24 * time.Hour, 100 * 365 * 24 * time.Hour}
			return query.Cond{Field: "created", Op: []query.Op{query.Gt, query.Gte}[r.IntN(2)], Value: planEnd.Add(-windows[r.IntN(len(windows))])}
		},
		draw("name", query.Re, "rock", "kfence$", "^baseline", "^kselftest\\.dt"),
		func() query.Cond { return query.Cond{Field: "data.arch", Op: query.Eq, Value: "arm64"} },
		// Migration 7: the data.* fields of builds and jobs, errors, and
		// regexes over distinct values (regex.go).
		draw("data.arch", query.Eq, "x86_64", "arm64", "arm"),
		draw("data.defconfig", query.Eq, planDefconfigs...),
		draw("data.compiler", query.Eq, planCompilers...),
		draw("data.error_code", query.Eq, planErrors...),
		draw("name", query.Re, "rock", "login|open", "(?i)KFENCE", "^.*test"),
		draw("data.kernel_revision.tree", query.Re, "ain", "android|cip", "^n.xt"),
		draw("data.arch", query.Re, "86", "arm"),
		draw("data.platform", query.Re, "rock", "qemu|imx"),
		func() query.Cond {
			return query.Cond{Field: "data.kernel_revision.commit", Op: query.Eq, Value: fmt.Sprintf("%040x", r.IntN(400))}
		},
	}
	var f query.Filter
	k := 2 + r.IntN(3)
	used := map[int]bool{}
	if r.IntN(3) == 0 { // a kind of builds or jobs, as the pipelines ask these fields
		used[0] = true
		f.Conds = append(f.Conds, query.Cond{Field: "kind", Op: query.Eq, Value: []string{"job", "kbuild"}[r.IntN(2)]})
	}
	for len(f.Conds) < k {
		i := r.IntN(len(gens))
		if used[i] {
			continue
		}
		used[i] = true
		c := gens[i]()
		if slices.ContainsFunc(f.Conds, func(o query.Cond) bool { return o.Field == c.Field }) {
			continue
		}
		f.Conds = append(f.Conds, c)
	}
	return f
}

// planIndexRe finds the node table's driving step in a plan line.
var planIndexRe = regexp.MustCompile(`^(?:SEARCH|SCAN) node(?: USING (?:COVERING )?INDEX (\w+)(?: \((.*)\))?)?$`)

// drivingConds returns the conditions of f that the plan's index search
// on node narrows with (nil and ok for a scan of the whole table).
func drivingConds(t *testing.T, plan []string, f query.Filter) (conds []query.Cond, index string, ok bool) {
	t.Helper()
	for _, line := range plan {
		m := planIndexRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if m[1] == "" {
			return nil, "table scan", true
		}
		index = m[1]
		for _, c := range f.Conds {
			col, isCol := nodeTable.Columns[c.Field]
			if !isCol {
				continue
			}
			if regexp.MustCompile(`\b` + col.Name + `[<>=]`).MatchString(m[2]) {
				conds = append(conds, c)
			}
		}
		return conds, index, true
	}
	return nil, "", false
}

// TestPlanBoundedByMostSelective is the randomized plan check: for
// generated combinations of the filters pipelines and dashboards send
// (equalities on kind, state, result, tree, branch, platform, runtime
// and name, time windows from an hour to unbounded, regexes, a document
// field), on a seeded store, the index that drives the plan of both the
// page (FindNodes) and the total (CountNodes) reads no more rows than
// twice the most selective condition's matches (plus a page): what a
// plan reads is the number of nodes matching the conditions its index
// search uses, counted exactly. It inspects plans; it times nothing.
func TestPlanBoundedByMostSelective(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 24,000 nodes")
	}
	ctx := context.Background()
	st := seedPlanStore(t)
	count := func(conds ...query.Cond) int64 {
		n, err := st.CountNodes(ctx, query.Filter{Conds: conds})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	total := count()
	filters := []query.Filter{{Conds: []query.Cond{ // the cliff of issue 14
		{Field: "kind", Op: query.Eq, Value: "test"}, {Field: "result", Op: query.Eq, Value: "fail"},
		{Field: "data.kernel_revision.tree", Op: query.Eq, Value: "mainline"},
		{Field: "created", Op: query.Gt, Value: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}}}
	r := rand.New(rand.NewPCG(14, 2))
	for range 300 {
		filters = append(filters, randomPlanFilter(r))
	}
	for _, f := range filters {
		// The most selective condition (or pair of conditions) an index
		// can serve.
		best := total
		for _, conds := range indexable(f) {
			best = min(best, count(conds...))
		}
		for _, what := range []string{"find", "count"} {
			plan := explainNodes(t, st, f, what)
			conds, index, ok := drivingConds(t, plan, f)
			if !ok {
				if what == "count" && countedByCounters(f) {
					continue
				}
				t.Fatalf("%s %v: no node step in the plan %q", what, f, plan)
			}
			reads := total
			if index != "table scan" {
				reads = count(conds...)
			}
			if reads > 2*best+50 {
				t.Errorf("%s %s: plan reads %d rows through %s, the most selective condition matches %d\nplan: %q",
					what, filterString(f), reads, index, best, plan)
			}
		}
	}
}

// TestPlanRefusesBadRegex checks that an invalid pattern on a field
// whose regexes are planned over distinct values is a query error (a
// 400), not a failure of the planning (a 500), on a store large enough
// for the measurements.
func TestPlanRefusesBadRegex(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 24,000 nodes")
	}
	ctx := context.Background()
	st := seedPlanStore(t)
	for _, f := range []query.Filter{
		{Conds: []query.Cond{{Field: "kind", Op: query.Eq, Value: "job"}, {Field: "name", Op: query.Re, Value: "rock("}}},
		{Conds: []query.Cond{{Field: "state", Op: query.Eq, Value: "done"}, {Field: "data.kernel_revision.tree", Op: query.Re, Value: "[main"}}},
	} {
		var qe *query.Error
		if _, err := st.FindNodes(ctx, f, store.Page{Limit: 10}); !errors.As(err, &qe) {
			t.Errorf("find %s: %v, want a *query.Error", filterString(f), err)
		}
		if _, err := st.CountNodes(ctx, f); !errors.As(err, &qe) {
			t.Errorf("count %s: %v, want a *query.Error", filterString(f), err)
		}
	}
}

func filterString(f query.Filter) string {
	var parts []string
	for _, c := range f.Conds {
		v := c.Value
		if tm, ok := v.(time.Time); ok {
			v = model.FormatTime(tm)
		}
		parts = append(parts, fmt.Sprintf("%s__%s=%v", c.Field, c.Op, v))
	}
	return strings.Join(parts, "&")
}

// indexable returns the conditions of f that an index can serve, alone
// or (kind with a field of builds and jobs) as a pair.
func indexable(f query.Filter) [][]query.Cond {
	var kind, anyKind *query.Cond
	for _, c := range f.Conds {
		if c.Op == query.Eq && kindExcludesTests(c) {
			kind = &c
		}
		if _, ok := c.Value.(string); ok && c.Op == query.Eq && c.Field == "kind" {
			anyKind = &c
		}
	}
	var out [][]query.Cond
	for _, c := range f.Conds {
		col, isCol := nodeTable.Columns[c.Field]
		if !isCol {
			continue
		}
		_, isText := c.Value.(string)
		paired := kind != nil && notTestColumns[col.Name] != "" && isText
		switch {
		case c.Op == query.Re:
			if _, _, ok := prefixRange(c.Value.(string)); ok && probeColumns[col.Name] != "" {
				out = append(out, []query.Cond{c})
			} else if paired {
				out = append(out, []query.Cond{*kind, c}) // within the kind's values (regex.go)
			} else if distinctIndexes[col.Name] != "" {
				out = append(out, []query.Cond{c})
			}
		case c.Op == query.Eq && (counterColumns[col.Name] || probeColumns[col.Name] != "" || col.Name == "d_error_code" && isText):
			out = append(out, []query.Cond{c})
			if paired {
				out = append(out, []query.Cond{*kind, c})
			}
			if anyKind != nil && col.Name == "kr_commit" && isText {
				out = append(out, []query.Cond{*anyKind, c}) // node_kind_commit
			}
		case c.Op == query.Eq && paired:
			out = append(out, []query.Cond{*kind, c})
		case (c.Op == query.Gt || c.Op == query.Gte) && col.Name == "created":
			out = append(out, []query.Cond{c})
		}
	}
	return out
}

// explainNodes returns the plan of FindNodes (what "find", a page of 50)
// or CountNodes of f, leaving out the steps of subqueries that walk
// distinct values (regex.go): the node step that remains is the one
// that reads the nodes.
func explainNodes(t *testing.T, st *Store, f query.Filter, what string) []string {
	t.Helper()
	ctx := context.Background()
	tb, err := st.planNodes(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var q string
	var args []any
	if what == "find" {
		q, args, err = findSQL(tb, "doc", f, store.Page{Limit: 50})
	} else {
		q, args, err = countNodesSQL(tb, f)
	}
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", what, filterString(f), err, q)
	}
	defer rows.Close()
	skip := map[int]bool{}
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		if skip[parent] || strings.HasPrefix(detail, "CO-ROUTINE d") || strings.HasPrefix(detail, "MATERIALIZE d") ||
			strings.HasPrefix(detail, "SETUP") || strings.HasPrefix(detail, "RECURSIVE STEP") {
			skip[id] = true
			continue
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestPlanProbesPairsNotTheirColumns pins the probes of the pipeline's
// kind=kbuild&data.kernel_revision.commit=X&name=Y: the commit and the
// name are measured with the kind (their pairs' indexes), not alone: the
// probe of the commit alone counted up to probeFirst entries (every node
// of the commit) on each such query.
func TestPlanProbesPairsNotTheirColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 24,000 nodes")
	}
	ctx := context.Background()
	st := seedPlanStore(t)
	var got [][]string
	st.probed = func(ms []measured) {
		for _, m := range ms {
			got = append(got, m.cols)
		}
	}
	f := query.Filter{Conds: []query.Cond{
		{Field: "kind", Op: query.Eq, Value: "kbuild"},
		{Field: "data.kernel_revision.commit", Op: query.Eq, Value: fmt.Sprintf("%040x", 7)},
		{Field: "name", Op: query.Eq, Value: "baseline.login"},
	}}
	want := [][]string{{"kind"}, {"kind", "kr_commit"}, {"kind", "name"}}
	if _, err := st.FindNodes(ctx, f, store.Page{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("probes %q, want %q", got, want)
	}
}

// TestPlanPlatformRegexWithinKind pins the plan of
// kind=job&data.platform__re=rock (kernelci-bench kind_platform_re): the
// page and the total read the jobs of the matching platforms through
// (kind, d_platform) (migration 9), not every node (tests mostly) of
// those platforms through node_platform.
func TestPlanPlatformRegexWithinKind(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 24,000 nodes")
	}
	st := seedPlanStore(t)
	for _, pat := range []string{"rock", "qemu|imx"} {
		f := query.Filter{Conds: []query.Cond{
			{Field: "kind", Op: query.Eq, Value: "job"},
			{Field: "data.platform", Op: query.Re, Value: pat},
		}}
		for _, what := range []string{"find", "count"} {
			plan := explainNodes(t, st, f, what)
			if _, index, ok := drivingConds(t, plan, f); !ok || index != "node_kind_platform" {
				t.Errorf("%s %s: plan %q, want node_kind_platform", what, filterString(f), plan)
			}
		}
	}
}
