package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// TestNodePlans checks the plans of the pipeline's queries under the
// statistics Optimize writes for a production-sized table: each reads
// the index that bounds it best, never the whole table, and sorts only
// when that index does not deliver rid order.
func TestNodePlans(t *testing.T) {
	db := prodStatsDB(t)
	const (
		id     = "0123456789abcdef01234567"
		commit = "0123456789abcdef0123456789abcdef01234567"
		now    = "2026-01-01T00:00:00"
		rev    = "data.kernel_revision."
	)
	tests := []struct {
		query string
		index string
		sort  bool
	}{
		{"parent=" + id, "node_parent", false},
		{"id=" + id, "sqlite_autoindex_node_1", false},
		{"kind=checkout&" + rev + "commit=" + commit + "&" + rev + "tree=mainline&" + rev + "branch=master", "node_kind_commit", false},
		{"kind=kbuild&" + rev + "commit=" + commit + "&name=kbuild-gcc-12-x86", "node_kind_commit", false},
		{"kind=test&" + rev + "commit=" + commit, "node_kind_commit", false},
		{"kind=kbuild&" + rev + "commit=" + commit + "&data.arch=arm64", "node_kind_commit", false},
		{"state=available&holdoff__lt=" + now, "node_state_holdoff", true},
		{"state=running&timeout__lt=" + now, "node_state_timeout", true},
		{"state=closing", "node_state", false},
		{"state=closing&kind=checkout", "node_state", false},
		{"state__in=running,available&kind=job", "node_state", true},
		{"result=null", "node_result", false},
		{"kind=test", "node_kind", false},
		{"name__re=^baseline", "node_name", true},
		{"kind=job&name=baseline-x86", "node_kind_name", false},
		// Migration 7: data.* fields of builds and jobs, errors.
		{"kind=kbuild&data.arch=arm64", "node_kind_arch", false},
		{"kind__in=kbuild,job&data.defconfig=defconfig", "node_kind_defconfig", true},
		{"kind=job&data.compiler=gcc-14&data.config_full=defconfig%2Bkselftest", "node_kind_config_full", false},
		{"data.error_code=node_timeout", "node_error_code", false},
		{"kind=test&data.error_code=node_timeout", "node_error_code", false},
		// Migration 9: data.platform of builds and jobs.
		{"kind=job&data.platform=qemu-x86", "node_kind_platform", false},
		{"kind=checkout&created__gt=" + now, "node_kind_created", true},
		{"created__gt=" + now, "node_created", true},
		// kernelci-pipeline: trigger.py, scheduler.py, send_kcidb.py.
		{"kind=checkout&" + rev + "tree=mainline&" + rev + "branch=master&owner=production&submitter=service:pipeline&created__gte=" + now, "node_kind_created", true},
		{"kind=checkout&" + rev + "commit=" + commit + "&owner=production&submitter=service:pipeline&result=incomplete", "node_kind_commit", false},
		{"name=baseline-x86&" + rev + "tree=mainline&" + rev + "branch=master&data.platform=qemu-x86&created__gte=" + now, "node_name", false},
		{"state=done&processed_by_kcidb_bridge=false&created__gt=" + now + "&updated__lt=" + now, "node_kcidb_pending", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := storetest.NodeFilter(t, tt.query)
			q, args, err := findSQL(nodeTable, "doc", f, store.Page{Limit: 100, Offset: 200})
			if err != nil {
				t.Fatal(err)
			}
			find := strings.Join(explainPlan(t, db, q, args), " | ")
			if !strings.Contains(find, "INDEX "+tt.index+" ") {
				t.Errorf("find plan %q does not use %s", find, tt.index)
			}
			if strings.Contains(find, "SCAN node") {
				t.Errorf("find plan %q scans the table", find)
			}
			if sorted := strings.Contains(find, "TEMP B-TREE"); sorted != tt.sort {
				t.Errorf("find plan %q, want sort %v", find, tt.sort)
			}
			q, args, err = countSQL(nodeTable, f)
			if err != nil {
				t.Fatal(err)
			}
			count := strings.Join(explainPlan(t, db, q, args), " | ")
			if strings.Contains(count, "SCAN node") {
				t.Errorf("count plan %q scans the table", count)
			}
		})
	}
}

// TestOptimize checks that Optimize writes the statistics once the table
// is large enough, and that connections already open use them.
func TestOptimize(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	var n int
	if err := st.r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("statistics on an empty store: %d, %v", n, err)
	}
	// A reader connection opened before the statistics exist.
	conn, err := st.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	plan := func() string {
		t.Helper()
		// A statement that executes (EXPLAIN does not) notices the
		// schema change and reloads the statistics.
		if _, err := conn.ExecContext(ctx, "SELECT count(*) FROM user"); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT doc FROM node WHERE state = 'done' AND parent = 'x' ORDER BY rid LIMIT 10")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var s []string
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			s = append(s, d)
		}
		return strings.Join(s, " | ")
	}
	before := plan()
	// Make the table look big: rows at both ends of a wide rid span.
	for _, rid := range []int64{1, 5_000_000} {
		if _, err := st.w.ExecContext(ctx, `INSERT INTO node (rid, id, kind, name, state, created, updated, timeout, doc)
			VALUES (?, printf('%024x', ?), 'test', 'x', 'done', '2025', '2025', '2025', '{}')`, rid, rid); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	var stat string
	if err := st.r.QueryRowContext(ctx, "SELECT stat FROM sqlite_stat1 WHERE idx = 'node_state'").Scan(&stat); err != nil || stat != "5000000 1250000" {
		t.Fatalf("node_state statistics %q, %v", stat, err)
	}
	after := plan()
	if before == after || !strings.Contains(after, "node_parent") {
		t.Errorf("plan before Optimize %q, after %q: want node_parent after", before, after)
	}
	// Growth within 25% keeps the statistics (no schema reload for every
	// connection); more rewrites them.
	for _, step := range []struct {
		rid  int64
		want string
	}{{5_500_000, "5000000 1250000"}, {10_000_000, "10000000 2500000"}} {
		if _, err := st.w.ExecContext(ctx, `INSERT INTO node (rid, id, kind, name, state, created, updated, timeout, doc)
			VALUES (?, printf('%024x', ?), 'test', 'x', 'done', '2025', '2025', '2025', '{}')`, step.rid, step.rid); err != nil {
			t.Fatal(err)
		}
		if err := st.Optimize(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.r.QueryRowContext(ctx, "SELECT stat FROM sqlite_stat1 WHERE idx = 'node_state'").Scan(&stat); err != nil || stat != step.want {
			t.Fatalf("span to %d: node_state statistics %q, %v; want %q", step.rid, stat, err, step.want)
		}
	}
}

// TestGroupPlans checks that the web pages' groupings (docs/ui.md) read
// an index only, under production-sized statistics: the stats page's
// kind and result in a window from node_created, the dashboard grid's
// commit, kind and result of a tree, branch and window from
// node_tree_window.
func TestGroupPlans(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	var indexes []string
	rows, err := st.r.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'node'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, s)
	}
	rows.Close()
	if _, err := st.w.Exec("ANALYZE user"); err != nil {
		t.Fatal(err)
	}
	for idx, stat := range nodeStats(10_000_000, indexes) {
		if _, err := st.w.Exec("INSERT INTO sqlite_stat1 VALUES ('node', ?, ?)", idx, stat); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.w.Exec("CREATE TABLE kci_reload_stats (x); DROP TABLE kci_reload_stats"); err != nil {
		t.Fatal(err)
	}
	week := time.Date(2025, 12, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		f     query.Filter
		by    []string
		index string
	}{
		{"stats 7 days", query.Filter{Conds: []query.Cond{{Field: "created", Op: query.Gt, Value: week}}}, []string{"kind", "result"}, "node_created"},
		{"dashboard grid", query.Filter{Conds: []query.Cond{
			{Field: "data.kernel_revision.tree", Op: query.Eq, Value: "mainline"}, {Field: "data.kernel_revision.branch", Op: query.Eq, Value: "master"},
			{Field: "kind", Op: query.In, Value: []any{"kbuild", "job", "test"}}, {Field: "created", Op: query.Gt, Value: week}}},
			[]string{"data.kernel_revision.commit", "kind", "result"}, "node_tree_window"},
	}
	for _, tt := range tests {
		where, wargs, err := compile(groupNodeTable, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		q, args, _ := groupSQL(tt.by, where, wargs, true)
		plan, err := st.explain(ctx, q, args)
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, " | "); !strings.Contains(p, "COVERING INDEX "+tt.index+" ") {
			t.Errorf("%s: plan %q does not read %s alone", tt.name, p, tt.index)
		}
	}
}
