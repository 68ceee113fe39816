package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// params are real values sampled from the database, so that every
// iteration of a query asks for something different that exists.
type params struct {
	ids       []string // any node
	jobs      []string // job nodes (parents of tests)
	bigJobs   []string // jobs with 1000+ tests
	kbuilds   []revNode
	checkouts []revNode
	end       time.Time // "now" of the pollers
	// after are cursors of sort=-created at random places (deep pages).
	after []string
}

type revNode struct{ id, commit, tree, branch, name string }

// sample reads params through a plain read-only connection.
func sample(ctx context.Context, path string, seed uint64, n int) (*params, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(seed, 7))
	var maxRid int64
	if err := db.QueryRowContext(ctx, "SELECT max(rid) FROM node").Scan(&maxRid); err != nil {
		return nil, err
	}
	p := &params{end: genEnd}
	one := func(q string, args ...any) (string, error) {
		var s string
		err := db.QueryRowContext(ctx, q, args...).Scan(&s)
		if err == sql.ErrNoRows {
			return "", nil
		}
		return s, err
	}
	for i := 0; i < n; i++ {
		rid := 1 + r.Int64N(maxRid)
		id, err := one("SELECT id FROM node WHERE rid >= ? ORDER BY rid LIMIT 1", rid)
		if err != nil {
			return nil, err
		}
		p.ids = append(p.ids, id)
		if created, err := one("SELECT created FROM node WHERE id = ?", id); err != nil {
			return nil, err
		} else if c, err := isotime.Parse(created); err == nil {
			oid, _ := objectid.Parse(id)
			p.after = append(p.after, query.EncodeCursor(newestFirst, []any{c, oid}))
		}
		if id, err = one("SELECT id FROM node WHERE kind = 'job' AND rid >= ? ORDER BY rid LIMIT 1", rid); err != nil {
			return nil, err
		} else if id != "" {
			p.jobs = append(p.jobs, id)
		}
		var kb revNode
		err = db.QueryRowContext(ctx, "SELECT id, kr_commit, name FROM node WHERE kind = 'kbuild' AND rid >= ? ORDER BY rid LIMIT 1", rid).Scan(&kb.id, &kb.commit, &kb.name)
		if err == nil {
			p.kbuilds = append(p.kbuilds, kb)
		} else if err != sql.ErrNoRows {
			return nil, err
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT id, kr_commit, kr_tree, kr_branch FROM node WHERE kind = 'checkout' ORDER BY rid")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c revNode
		if err := rows.Scan(&c.id, &c.commit, &c.tree, &c.branch); err != nil {
			return nil, err
		}
		p.checkouts = append(p.checkouts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	r.Shuffle(len(p.checkouts), func(i, j int) { p.checkouts[i], p.checkouts[j] = p.checkouts[j], p.checkouts[i] })
	rows, err = db.QueryContext(ctx, `SELECT parent FROM node WHERE kind = 'test' AND name LIKE '%\_999' ESCAPE '\' LIMIT 50`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		p.bigJobs = append(p.bigJobs, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(p.jobs) == 0 || len(p.kbuilds) == 0 || len(p.checkouts) == 0 {
		return nil, fmt.Errorf("database has no jobs, kbuilds or checkouts: generate it first")
	}
	return p, nil
}

func at[T any](s []T, i int) T { return s[i%len(s)] }

// newestFirst is sort=-created.
var newestFirst, _ = query.ParseSort("sort", "-created", query.NodeSort)

// spec is one benchmarked request shape.
type spec struct {
	name string
	op   string // group: GET /stats/nodes; nodes: GET /nodes (find + count when the page is full); fast: GET /nodes/fast; count: GET /count; get: GET /node/{id}; pages: every page of GET /nodes; cursor: 20 pages of /nodes/fast by cursor
	qs   func(p *params, i int) string
}

func ts(t time.Time) string { return model.FormatTime(t) }

var specs = []spec{
	{"get_node", "get", func(p *params, i int) string { return at(p.ids, i) }},
	{"parent_job", "nodes", func(p *params, i int) string { return "parent=" + at(p.jobs, i) + "&limit=100&offset=0" }},
	{"parent_big_job_pages", "pages", func(p *params, i int) string { return "parent=" + at(p.bigJobs, i) + "&limit=100" }},
	{"parent_kbuild", "nodes", func(p *params, i int) string { return "parent=" + at(p.kbuilds, i).id + "&limit=100&offset=0" }},
	{"parent_checkout", "nodes", func(p *params, i int) string { return "parent=" + at(p.checkouts, i).id + "&limit=100&offset=0" }},
	{"checkout_by_revision", "nodes", func(p *params, i int) string {
		c := at(p.checkouts, i)
		return "kind=checkout&data.kernel_revision.commit=" + c.commit + "&data.kernel_revision.tree=" + url.QueryEscape(c.tree) +
			"&data.kernel_revision.branch=" + url.QueryEscape(c.branch) + "&limit=100&offset=0"
	}},
	{"kbuild_by_commit_name", "nodes", func(p *params, i int) string {
		k := at(p.kbuilds, i)
		return "kind=kbuild&data.kernel_revision.commit=" + k.commit + "&name=" + url.QueryEscape(k.name) + "&limit=100&offset=0"
	}},
	{"available_holdoff", "nodes", func(p *params, i int) string {
		return "state=available&holdoff__lt=" + ts(p.end.Add(-time.Duration(i%60)*time.Minute)) + "&limit=100&offset=0"
	}},
	{"running_timeout", "nodes", func(p *params, i int) string {
		return "state=running&timeout__lt=" + ts(p.end.Add(-time.Duration(i%60)*time.Minute)) + "&limit=100&offset=0"
	}},
	{"closing_kind", "nodes", func(p *params, i int) string {
		return "state=closing&kind=" + at([]string{"checkout", "kbuild", "job"}, i) + "&limit=100&offset=0"
	}},
	{"result_null", "nodes", func(p *params, i int) string { return "result=null&limit=100&offset=0" }},
	{"kind_checkout", "nodes", func(p *params, i int) string { return "kind=checkout&limit=100&offset=0" }},
	{"kind_checkout_recent", "nodes", func(p *params, i int) string {
		return "kind=checkout&created__gt=" + ts(p.end.Add(-7*24*time.Hour)) + "&limit=100&offset=0"
	}},
	{"kind_test_limit1", "nodes", func(p *params, i int) string { return "kind=test&limit=1" }},
	{"kind_test_commit", "nodes", func(p *params, i int) string {
		return "kind=test&data.kernel_revision.commit=" + at(p.checkouts, i).commit + "&limit=100&offset=0"
	}},
	{"name_re_prefix", "nodes", func(p *params, i int) string {
		return "name__re=" + url.QueryEscape(at([]string{"^kselftest-dt", "^baseline-nfs-", "^kbuild-clang-17-arm64", "^ltp-"}, i)) + "&limit=100&offset=0"
	}},
	{"kind_name_re", "nodes", func(p *params, i int) string {
		return "kind=job&name__re=" + at([]string{"rock-pi", "khadas", "tomato", "sabrelite"}, i) + "&limit=100&offset=0"
	}},
	{"doc_commit_arch", "nodes", func(p *params, i int) string {
		return "kind=kbuild&data.kernel_revision.commit=" + at(p.checkouts, i).commit + "&data.arch=" + at(arches, i) + "&limit=100&offset=0"
	}},
	{"doc_parent_error", "nodes", func(p *params, i int) string {
		return "parent=" + at(p.jobs, i) + "&data.error_code=null&limit=100&offset=0"
	}},
	{"doc_kbuild_arch", "nodes", func(p *params, i int) string {
		return "kind=kbuild&data.arch=" + at(arches, i) + "&limit=100&offset=0"
	}},
	// The data.* fields of builds and jobs, errors, regexes over a
	// field's distinct values (migration 7, regex.go).
	{"kbuild_defconfig_compiler", "nodes", func(p *params, i int) string {
		return "kind=kbuild&data.defconfig=" + at([]string{"defconfig", "multi_v7_defconfig", "allmodconfig", "x86_64_defconfig"}, i) +
			"&data.compiler=" + at([]string{"gcc-12", "clang-17", "gcc-14", "clang-19"}, i/4) + "&limit=100&offset=0"
	}},
	{"job_arch_recent", "nodes", func(p *params, i int) string {
		return "kind=job&data.arch=" + at(arches, i) + "&created__gt=" + ts(p.end.Add(-7*24*time.Hour)) + "&limit=100&offset=0"
	}},
	{"error_code", "nodes", func(p *params, i int) string {
		return "data.error_code=" + at([]string{"kbuild_internal_error", "node_timeout", "compile_error"}, i) + "&limit=100&offset=0"
	}},
	{"tree_re_count", "count", func(p *params, i int) string {
		return "data.kernel_revision.tree__re=" + at([]string{"stable", "next$", "android|chromiumos"}, i)
	}},
	{"kind_platform_re", "nodes", func(p *params, i int) string {
		return "kind=job&data.platform__re=" + at([]string{"rock", "qemu", "imx|sun"}, i) + "&limit=100&offset=0"
	}},
	// The pipeline's own polls (kernelci-pipeline src/): trigger.py counts
	// recent checkouts of a tree/branch and checkouts of a commit,
	// scheduler.py looks for a recent job of the same name/tree/branch/
	// platform, send_kcidb.py pages the unprocessed nodes of the last 4
	// days with /nodes/fast, timeout.py lists the closing nodes.
	{"trigger_recent_checkout", "count", func(p *params, i int) string {
		c := at(p.checkouts, i)
		return "kind=checkout&data.kernel_revision.tree=" + url.QueryEscape(c.tree) + "&data.kernel_revision.branch=" + url.QueryEscape(c.branch) +
			"&owner=production&submitter=service%3Apipeline&created__gte=" + ts(p.end.Add(-24*time.Hour))
	}},
	{"trigger_commit_incomplete", "count", func(p *params, i int) string {
		return "kind=checkout&data.kernel_revision.commit=" + at(p.checkouts, i).commit + "&owner=production&submitter=service%3Apipeline&result=incomplete"
	}},
	{"scheduler_job_freq", "nodes", func(p *params, i int) string {
		c := at(p.checkouts, i)
		return "name=" + url.QueryEscape(at([]string{"baseline-qemu-x86", "baseline-bcm2711-rpi-4-b", "kselftest-dt-mt8195-cherry-tomato-r2", "sleep-qemu-arm64"}, i)) +
			"&data.kernel_revision.tree=" + url.QueryEscape(c.tree) + "&data.kernel_revision.branch=" + url.QueryEscape(c.branch) +
			"&data.platform=" + at([]string{"qemu-x86", "bcm2711-rpi-4-b", "mt8195-cherry-tomato-r2", "qemu-arm64"}, i) +
			"&created__gte=" + ts(p.end.Add(-24*time.Hour)) + "&limit=1&offset=0"
	}},
	{"kcidb_unprocessed", "fast", func(p *params, i int) string {
		return "state=done&processed_by_kcidb_bridge=false&created__gt=" + ts(p.end.Add(-4*24*time.Hour)) +
			"&updated__lt=" + ts(p.end.Add(-5*time.Minute)) + "&limit=500"
	}},
	{"closing", "nodes", func(p *params, i int) string { return "state=closing&limit=100&offset=0" }},
	{"created_recent", "nodes", func(p *params, i int) string {
		return "created__gt=" + ts(p.end.Add(-time.Duration(1+i%6)*time.Hour)) + "&limit=100&offset=0"
	}},
	{"created_wide", "nodes", func(p *params, i int) string {
		return "created__gt=" + ts(p.end.Add(-time.Duration(60+i%30)*24*time.Hour)) + "&limit=100&offset=0"
	}},
	// Sorting and cursors (docs/paging.md): newest first against the
	// default order, a deep page by offset against one by cursor.
	{"default_page", "nodes", func(p *params, i int) string { return "limit=50" }},
	{"newest_page", "nodes", func(p *params, i int) string { return "sort=-created&limit=50" }},
	{"newest_fast", "fast", func(p *params, i int) string { return "sort=-created&limit=50" }},
	{"default_fast", "fast", func(p *params, i int) string { return "limit=50" }},
	{"newest_kind_job", "nodes", func(p *params, i int) string { return "kind=job&sort=-created&limit=50" }},
	{"newest_offset_deep", "fast", func(p *params, i int) string {
		return fmt.Sprintf("sort=-created&limit=50&offset=%d", 100000+(i*7919)%100000)
	}},
	{"newest_after_deep", "fast", func(p *params, i int) string { return "sort=-created&limit=50&after=" + at(p.after, i) }},
	{"newest_after_deep_nodes", "nodes", func(p *params, i int) string { return "sort=-created&limit=50&after=" + at(p.after, i) }},
	{"newest_cursor_walk", "cursor", func(p *params, i int) string { return "sort=-created&limit=50&after=" + at(p.after, i) }},
	{"count_kind_test", "count", func(p *params, i int) string { return "kind=test" }},
	{"count_commit", "count", func(p *params, i int) string { return "data.kernel_revision.commit=" + at(p.checkouts, i).commit }},
	{"count_name_re", "count", func(p *params, i int) string { return "name__re=rock-pi" }},
	// The web pages' first data (docs/ui.md): GET /stats/nodes as the
	// stats page, the dashboard and the viewer's trees ask it.
	{"page_stats_all", "group", func(p *params, i int) string { return "group_by=kind,result" }},
	{"page_stats_24h", "group", func(p *params, i int) string {
		return "group_by=kind,result&created__gt=" + ts(p.end.Add(-24*time.Hour))
	}},
	{"page_stats_7d", "group", func(p *params, i int) string {
		return "group_by=kind,result&created__gt=" + ts(p.end.Add(-7*24*time.Hour))
	}},
	{"page_dashboard_trees", "group", func(p *params, i int) string {
		return "kind=checkout&group_by=data.kernel_revision.tree,data.kernel_revision.branch&created__gt=" + ts(p.end.Add(-7*24*time.Hour))
	}},
	{"page_dashboard_grid", "group", func(p *params, i int) string {
		c := at(p.checkouts, i)
		return "data.kernel_revision.tree=" + url.QueryEscape(c.tree) + "&data.kernel_revision.branch=" + url.QueryEscape(c.branch) +
			"&kind__in=kbuild,job,test&group_by=data.kernel_revision.commit,kind,result&created__gt=" + ts(p.end.Add(-7*24*time.Hour))
	}},
	{"page_dashboard_grid_mainline", "group", func(p *params, i int) string {
		return "data.kernel_revision.tree=mainline&data.kernel_revision.branch=master" +
			"&kind__in=kbuild,job,test&group_by=data.kernel_revision.commit,kind,result&created__gt=" + ts(p.end.Add(-7*24*time.Hour))
	}},
	{"page_trees_matrix", "group", func(p *params, i int) string {
		c := at(p.checkouts, i)
		return "kind=kbuild&data.kernel_revision.tree=" + url.QueryEscape(c.tree) + "&data.kernel_revision.branch=" + url.QueryEscape(c.branch) +
			"&data.kernel_revision.commit__in=" + c.commit + "," + at(p.checkouts, i+1).commit +
			"&group_by=data.config_full,data.kernel_revision.commit,result"
	}},
}

// result of one spec.
type result struct {
	spec        spec
	lat         []time.Duration // per request
	cpu         []time.Duration // CPU time per request (Linux)
	countLat    []time.Duration // count part of GET /nodes, when it ran
	rows, total int64           // summed
	example     string
}

// request runs one request the way the API handler does and returns the
// number of items and the total.
func request(ctx context.Context, st *sqlite.Store, op, qs string) (items int, total int64, count time.Duration, err error) {
	if op == "get" {
		id, err := objectid.Parse(qs)
		if err != nil {
			return 0, 0, 0, err
		}
		if _, err := st.GetNodeJSON(ctx, id); err != nil {
			return 0, 0, 0, err
		}
		return 1, 1, 0, nil
	}
	v, err := url.ParseQuery(qs)
	if err != nil {
		return 0, 0, 0, err
	}
	groupBy := v.Get("group_by")
	v.Del("group_by")
	order, after, err := listing(v)
	if err != nil {
		return 0, 0, 0, err
	}
	f, err := query.Parse(v, store.NodeSchema)
	if err != nil {
		return 0, 0, 0, err
	}
	if op == "count" {
		n, err := st.CountNodes(ctx, f)
		return 0, n, 0, err
	}
	if op == "group" {
		gs, err := st.GroupNodes(ctx, f, strings.Split(groupBy, ","), 10000)
		for _, g := range gs {
			total += g.Count
		}
		return len(gs), total, 0, err
	}
	limit, offset := 50, 0
	if op == "fast" {
		limit = 0
	}
	fmt.Sscan(v.Get("limit"), &limit)
	fmt.Sscan(v.Get("offset"), &offset)
	nodes, err := st.FindNodes(ctx, f, store.Page{Limit: limit, Offset: offset, Order: order, After: after})
	if err != nil {
		return 0, 0, 0, err
	}
	if op == "fast" {
		return len(nodes), int64(len(nodes)), 0, nil
	}
	total = int64(offset + len(nodes))
	if len(nodes) == limit || (len(nodes) == 0 && offset > 0) || after != nil {
		t0 := time.Now()
		if total, err = st.CountNodes(ctx, f); err != nil {
			return 0, 0, 0, err
		}
		count = time.Since(t0)
	}
	return len(nodes), total, count, nil
}

func run(ctx context.Context, st *sqlite.Store, p *params, s spec, iters int, budget time.Duration) (*result, error) {
	runtime.LockOSThread() // threadCPU measures this thread
	defer runtime.UnlockOSThread()
	res := &result{spec: s, example: s.qs(p, 0)}
	start := time.Now()
	for i := 0; i < iters; i++ {
		if i >= 5 && time.Since(start) > budget {
			break
		}
		qs := s.qs(p, i)
		if s.op == "cursor" {
			// 20 pages by cursor, each request timed on its own.
			for range 20 {
				t0, c0 := time.Now(), threadCPU()
				last, n, err := cursorPage(ctx, st, qs)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", s.name, qs, err)
				}
				res.lat = append(res.lat, time.Since(t0))
				res.cpu = append(res.cpu, threadCPU()-c0)
				res.rows += int64(n)
				res.total += int64(n)
				if last == "" {
					break
				}
				v, _ := url.ParseQuery(qs)
				v.Set("after", last)
				qs = v.Encode()
			}
			continue
		}
		if s.op == "pages" {
			// Walk every page of the result as a client does.
			for off := 0; ; off += 100 {
				n, err := res.timed(ctx, st, "nodes", fmt.Sprintf("%s&offset=%d", qs, off))
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", s.name, qs, err)
				}
				if n < 100 {
					break
				}
			}
			continue
		}
		if _, err := res.timed(ctx, st, s.op, qs); err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.name, qs, err)
		}
	}
	return res, nil
}

// timed sends one request (op, qs) and adds its latency, CPU time, count
// latency and rows to res; it answers the rows.
func (res *result) timed(ctx context.Context, st *sqlite.Store, op, qs string) (int, error) {
	t0, c0 := time.Now(), threadCPU()
	n, total, c, err := request(ctx, st, op, qs)
	if err != nil {
		return 0, err
	}
	res.lat = append(res.lat, time.Since(t0))
	res.cpu = append(res.cpu, threadCPU()-c0)
	if c > 0 {
		res.countLat = append(res.countLat, c)
	}
	res.rows += int64(n)
	res.total += total
	return n, nil
}

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func printResults(w io.Writer, rs []*result) {
	fmt.Fprintln(w, "| query | op | n | p50 | p99 | max | cpu p50 | count p50 | avg items | avg total | example |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		n := int64(len(r.lat))
		ex := r.example
		if len(ex) > 90 {
			ex = ex[:87] + "..."
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %d | %d | `%s` |\n", r.spec.name, r.spec.op, n,
			fmtDur(pct(r.lat, 0.5)), fmtDur(pct(r.lat, 0.99)), fmtDur(pct(r.lat, 1)), fmtDur(pct(r.cpu, 0.5)), fmtDur(pct(r.countLat, 0.5)),
			r.rows/max(n, 1), r.total/max(n, 1), strings.ReplaceAll(ex, "|", "\\|"))
	}
}

// cursorPage reads one page of qs (sort=, limit=, after=) and returns the
// cursor of the next one ("" after the last).
func cursorPage(ctx context.Context, st *sqlite.Store, qs string) (string, int, error) {
	v, err := url.ParseQuery(qs)
	if err != nil {
		return "", 0, err
	}
	o, err := query.ParseSort("sort", v.Get("sort"), query.NodeSort)
	if err != nil {
		return "", 0, err
	}
	after, err := query.DecodeCursor("after", v.Get("after"), o, query.NodeSort)
	if err != nil {
		return "", 0, err
	}
	limit := 50
	fmt.Sscan(v.Get("limit"), &limit)
	nodes, err := st.FindNodes(ctx, query.Filter{}, store.Page{Limit: limit, Order: o, After: after})
	if err != nil || len(nodes) < limit {
		return "", len(nodes), err
	}
	return query.EncodeCursor(o, o.Values(store.NodeKey(nodes[len(nodes)-1]))), len(nodes), nil
}

// listing reads sort= and after= as the API does (internal/api/listing.go)
// and removes them from v.
func listing(v url.Values) (order query.Order, after []any, err error) {
	if s := v.Get("sort"); s != "" {
		if order, err = query.ParseSort("sort", s, query.NodeSort); err != nil {
			return nil, nil, err
		}
	}
	if a, ok := v["after"]; ok {
		if order == nil {
			order = query.Order{{Field: "id"}}
		}
		if a[0] != "" {
			if after, err = query.DecodeCursor("after", a[0], order, query.NodeSort); err != nil {
				return nil, nil, err
			}
		}
	}
	v.Del("sort")
	v.Del("after")
	return order, after, nil
}
