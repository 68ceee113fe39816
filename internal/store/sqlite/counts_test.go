package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// countFilters are the filters the counters must answer exactly, each
// with whether they should (true) or must fall back to the node table.
func countFilters(t *testing.T) []struct {
	name     string
	f        query.Filter
	counters bool
} {
	parsed := func(qs string) query.Filter { return storetest.NodeFilter(t, qs) }
	return []struct {
		name     string
		f        query.Filter
		counters bool
	}{
		{"all", query.Filter{}, true},
		{"kind", query.Where("kind", "test"), true},
		{"kind+state", query.Where("kind", "test", "state", "done"), true},
		{"state+result", query.Where("state", "done", "result", "pass"), true},
		{"result=null", query.Where("result", nil), true},
		{"result=empty", query.Where("result", ""), true},
		{"kind+result=null", query.Where("kind", "checkout", "result", nil), true},
		{"kind in", query.Filter{Conds: []query.Cond{{Field: "kind", Op: query.In, Value: []any{"job", "test", "nope"}}}}, true},
		{"kind=1 (integer)", query.Where("kind", int64(1)), true},
		{"kind=true", query.Where("kind", true), true},
		{"kind=null", query.Where("kind", nil), true},
		{"kind=unknown", query.Where("kind", "unknown"), true},
		{"kind=kind (twice)", query.Where("kind", "test", "kind", "job"), true},
		{"result ne null", query.Filter{Conds: []query.Cond{{Field: "result", Op: query.Ne, Value: nil}}}, true},
		{"result nin", query.Filter{Conds: []query.Cond{{Field: "result", Op: query.Nin, Value: []any{"pass", nil}}}}, true},
		{"result in with null", query.Filter{Conds: []query.Cond{{Field: "result", Op: query.In, Value: []any{"fail", nil}}}}, true},
		{"state re", query.Filter{Conds: []query.Cond{{Field: "state", Op: query.Re, Value: "^(run|clos)"}}}, true},
		{"state gt", query.Filter{Conds: []query.Cond{{Field: "state", Op: query.Gt, Value: "closing"}}}, true},
		{"parsed kind=test", parsed("kind=test"), true},
		{"parsed result=null&state=done", parsed("result=null&state=done"), true},
		{"parsed kind__in", parsed("kind__in=job,checkout"), true},
		// Other fields: the node table.
		{"kind+name", query.Where("kind", "test", "name", "t1"), false},
		{"kind+created", parsed("kind=test&created__gt=2024-01-01T00:00:00"), false},
		{"data field", query.Where("data.arch", "x86_64"), false},
	}
}

// checkCounts compares CountNodes with the count over the node table for
// every filter of countFilters, and node_count with a GROUP BY of node.
func checkCounts(t *testing.T, st *Store, step string) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range countFilters(t) {
		if got := countedByCounters(tc.f); got != tc.counters {
			t.Fatalf("%s: %s: counted by counters = %v, want %v", step, tc.name, got, tc.counters)
		}
		got, err := st.CountNodes(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %s: %v", step, tc.name, err)
		}
		q, args, err := countSQL(nodeTable, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		if err := st.r.QueryRowContext(ctx, q, args...).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %s: CountNodes = %d, node table counts %d", step, tc.name, got, want)
		}
	}
	checkCounterRows(t, st.r, step)
}

// checkCounterRows checks that node_count holds exactly the GROUP BY of
// node (rows at 0 aside) and nothing negative.
func checkCounterRows(t *testing.T, db *sql.DB, step string) {
	t.Helper()
	var diff, negative int
	err := db.QueryRow(`SELECT
		(SELECT count(*) FROM (
			SELECT kind, state, result, n FROM node_count WHERE n != 0
			EXCEPT SELECT kind, state, result, count(*) FROM node GROUP BY kind, state, result)) +
		(SELECT count(*) FROM (
			SELECT kind, state, result, count(*) FROM node GROUP BY kind, state, result
			EXCEPT SELECT kind, state, result, n FROM node_count WHERE n != 0)),
		(SELECT count(*) FROM node_count WHERE n < 0)`).Scan(&diff, &negative)
	if err != nil {
		t.Fatal(err)
	}
	if diff != 0 || negative != 0 {
		t.Errorf("%s: node_count differs from node in %d rows, %d negative", step, diff, negative)
	}
}

func countNode(kind, state string, result *string, created time.Time) *model.Node {
	return &model.Node{ID: objectid.New(), Kind: kind, Name: kind + "-" + state, Path: []string{kind}, State: state,
		Result: result, Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{},
		Created: model.T(created), Updated: model.T(created), Timeout: model.T(created.Add(time.Hour))}
}

// TestNodeCountsExact writes nodes through every write path of the
// store and checks after each that the counters answer exactly what the
// node table does.
func TestNodeCountsExact(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checkCounts(t, st, "empty")

	// Inserts: every kind, pending and finished states, results null,
	// empty and set; half of them old (purgeable but for checkouts).
	var nodes []*model.Node
	results := []*string{nil, ptr("pass"), ptr("fail"), ptr(""), ptr("skip")}
	for i := range 60 {
		kind := []string{"checkout", "kbuild", "job", "test", "test", "test"}[i%6]
		state := []string{"running", "available", "closing", "done", "done"}[i%5]
		created := recent
		if i%2 == 0 {
			created = old
		}
		nodes = append(nodes, countNode(kind, state, results[i%len(results)], created))
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes[:40]}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "insert")

	// A failed write (a duplicate id at the end) rolls its counters back
	// with its rows.
	dup := *nodes[0]
	err := st.WriteNodes(ctx, store.NodeWrite{Insert: append(slices.Clone(nodes[40:]), &dup)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate insert: %v, want ErrConflict", err)
	}
	checkCounts(t, st, "failed insert")
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes[40:]}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "insert rest")

	// Replacements changing state, result (to and from null), kind, all
	// three, and none of them.
	nodes[0].State = model.StateDone
	nodes[1].Result = nil
	nodes[2].Result = ptr("pass")
	nodes[3].Kind = "regression"
	nodes[4].Kind, nodes[4].State, nodes[4].Result = "job", model.StateClosing, ptr("incomplete")
	nodes[5].Name = "renamed"
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: nodes[:6]}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "replace")

	// ReplaceNodeIf: applied, then refused (stale state).
	n := *nodes[6]
	n.State, n.Result = model.StateDone, ptr("fail")
	n.Updated = model.T(recent.Add(time.Minute))
	if err := st.ReplaceNodeIf(ctx, &n, nodes[6].State, nodes[6].Updated.Time); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "replace if")
	stale := n
	stale.Result = ptr("skip")
	if err := st.ReplaceNodeIf(ctx, &stale, nodes[6].State, nodes[6].Updated.Time); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale ReplaceNodeIf: %v, want ErrConflict", err)
	}
	checkCounts(t, st, "refused replace if")

	// A batch as /batch/nodeset writes it: many replacements and inserts
	// in one write, one node replaced twice.
	var batch store.NodeWrite
	for _, n := range nodes[10:30] {
		c := *n
		c.State, c.Result = model.StateDone, ptr("pass")
		batch.Replace = append(batch.Replace, &c)
	}
	again := *batch.Replace[0]
	again.Result = nil
	batch.Replace = append(batch.Replace, &again)
	batch.Insert = []*model.Node{countNode("test", model.StateRunning, nil, recent), countNode("kbuild", model.StateDone, ptr("fail"), old)}
	if err := st.WriteNodes(ctx, batch); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "batch")

	// Retention, in two rounds.
	for round := range 2 {
		k, err := st.PurgeNodes(ctx, recent, 10)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			t.Fatalf("purge round %d deleted nothing", round)
		}
		checkCounts(t, st, fmt.Sprintf("purge %d", round))
	}

	// An import: Clear, then the nodes written back as transfer does.
	all, err := st.FindNodes(ctx, query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "clear")
	if n, _ := st.CountNodes(ctx, query.Filter{}); n != 0 {
		t.Fatalf("CountNodes after Clear = %d", n)
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: all}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "import")
	if n, _ := st.CountNodes(ctx, query.Filter{}); n != int64(len(all)) {
		t.Fatalf("CountNodes after import = %d, want %d", n, len(all))
	}
}

// dbBefore creates a database at the schema version before migration m,
// returning its path and an open handle.
func dbBefore(t *testing.T, m string) (string, *sql.DB) {
	t.Helper()
	version := slices.Index(migrations, m)
	if version < 0 {
		t.Fatal("not a migration")
	}
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range migrations[:version] {
		if _, err := db.Exec(step); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
	return path, db
}

// TestNodeCountsMigration opens a database at the schema before the
// counters, holding nodes, and checks that the migration counts them.
func TestNodeCountsMigration(t *testing.T) {
	path, db := dbBefore(t, schemaNodeCounts)
	seedNodes(t, db)
	for i := range 50 {
		var result any
		if i%3 > 0 {
			result = []string{"pass", "fail"}[i%2]
		}
		insertNode(t, db, testNode(100+i, []string{"job", "test"}[i%2], "n", nil, nil, []string{"done", "running"}[i%4/3], result, day(7, 0), nil, nil))
	}
	db.Close()

	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v int
	if err := st.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Fatalf("schema version %d after Open, want %d", v, len(migrations))
	}
	var rows int
	if err := st.r.QueryRow("SELECT count(*) FROM node_count").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatal("the migration counted nothing")
	}
	checkCounts(t, st, "migrated")
	if n, _ := st.CountNodes(context.Background(), query.Filter{}); n != 56 {
		t.Fatalf("CountNodes = %d, want 56", n)
	}
	// And the triggers work on the migrated database.
	if err := st.WriteNodes(context.Background(), store.NodeWrite{Insert: []*model.Node{countNode("test", "done", nil, day(8, 0))}}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, "migrated, then written")
}

// TestCountNodesPlan checks that a counted filter reads node_count only.
func TestCountNodesPlan(t *testing.T) {
	st := openTest(t)
	for _, f := range []query.Filter{{}, query.Where("kind", "test"), query.Where("kind", "test", "state", "done", "result", nil)} {
		plan, err := st.ExplainCountNodes(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range plan {
			if !strings.Contains(line, "node_count") {
				t.Errorf("%v: plan step %q does not read node_count", f, line)
			}
		}
	}
}

// BenchmarkCountNodes compares the totals of unselective filters from
// the counters with the count over the node table's indexes, on
// benchCountNodes nodes shaped like KernelCI's (98% tests, nearly all
// done):
//
//	go test ./internal/store/sqlite/ -run '^$' -bench CountNodes -benchtime 20x
func BenchmarkCountNodes(b *testing.B) {
	const benchCountNodes = 200_000
	st := openTest(b)
	ctx := context.Background()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var w store.NodeWrite
	for i := range benchCountNodes {
		kind, state, result := "test", model.StateDone, ptr("pass")
		switch {
		case i%100 == 0:
			kind = "job"
		case i%250 == 1:
			kind = "kbuild"
		case i%2000 == 2:
			kind = "checkout"
		}
		switch {
		case i%500 == 3:
			state, result = model.StateRunning, nil
		case i%7 == 0:
			result = ptr("fail")
		}
		w.Insert = append(w.Insert, countNode(kind, state, result, created.Add(time.Duration(i)*time.Second)))
		if len(w.Insert) == 20_000 {
			if err := st.WriteNodes(ctx, w); err != nil {
				b.Fatal(err)
			}
			w.Insert = w.Insert[:0]
		}
	}
	for _, f := range []struct {
		name string
		f    query.Filter
	}{
		{"all", query.Filter{}},
		{"kind=test", query.Where("kind", "test")},
		{"state=done&result=pass", query.Where("state", "done", "result", "pass")},
		{"result=null", query.Where("result", nil)},
		{"kind=checkout", query.Where("kind", "checkout")},
	} {
		var counted, walked int64
		b.Run(f.name+"/counters", func(b *testing.B) {
			for b.Loop() {
				var err error
				if counted, err = st.CountNodes(ctx, f.f); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.name+"/node-table", func(b *testing.B) {
			q, args, err := countSQL(nodeTable, f.f)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := st.r.QueryRowContext(ctx, q, args...).Scan(&walked); err != nil {
					b.Fatal(err)
				}
			}
		})
		if counted != walked {
			b.Fatalf("%s: counters %d, node table %d", f.name, counted, walked)
		}
	}
}
