package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"

	_ "modernc.org/sqlite"
)

// Test node ids: n1..n6 are "00000000000000000000000N".
func nid(n int) string { return fmt.Sprintf("%024x", n) }

func oid(t testing.TB, n int) objectid.ID {
	t.Helper()
	id, err := objectid.Parse(nid(n))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func day(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }

func openTestDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "filter.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, m := range migrations {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// testNode builds a node document with the usual fields; extra overrides
// or adds top-level keys (a nil value in extra writes JSON null).
func testNode(n int, kind, name string, path []string, parent any, state string, result any, created time.Time, data any, extra map[string]any) map[string]any {
	d := map[string]any{
		"id":                        nid(n),
		"kind":                      kind,
		"name":                      name,
		"path":                      path,
		"group":                     nil,
		"parent":                    parent,
		"state":                     state,
		"result":                    result,
		"artifacts":                 nil,
		"data":                      data,
		"debug":                     nil,
		"jobfilter":                 nil,
		"platform_filter":           []string{},
		"created":                   model.FormatTime(created),
		"updated":                   model.FormatTime(created.Add(time.Minute)),
		"timeout":                   model.FormatTime(created.Add(6 * time.Hour)),
		"holdoff":                   nil,
		"owner":                     "alice",
		"submitter":                 nil,
		"treeid":                    nil,
		"user_groups":               []string{},
		"processed_by_kcidb_bridge": false,
		"retry_counter":             0,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func insertNode(t testing.TB, db *sql.DB, d map[string]any) {
	t.Helper()
	doc, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	col := func(k string) any {
		if v, ok := d[k]; ok && v != nil {
			return v
		}
		return nil
	}
	_, err = db.Exec(`INSERT INTO node (id, kind, name, grp, parent, state, result, owner, created, updated, timeout, holdoff, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		col("id"), col("kind"), col("name"), col("group"), col("parent"), col("state"), col("result"),
		col("owner"), col("created"), col("updated"), col("timeout"), col("holdoff"), string(doc))
	if err != nil {
		t.Fatal(err)
	}
}

func seedNodes(t testing.TB, db *sql.DB) {
	t.Helper()
	insertNode(t, db, testNode(1, "checkout", "checkout", []string{"checkout"}, nil, "done", "pass", day(1, 0),
		map[string]any{
			"kernel_revision":         map[string]any{"tree": "mainline", "branch": "master", "commit": "abc123"},
			"n":                       5,
			"s":                       "5",
			"flag":                    true,
			"a\"b":                    map[string]any{"c'd e": "odd"},
			`x\y`:                     "backslash",
			"'); DROP TABLE node; --": "inject",
			"[0]":                     "brackets",
			"u\x01v":                  "control",
		},
		map[string]any{"user_groups": []string{"foo"},
			"groups":  []any{map[string]any{"name": "kernelci"}, map[string]any{"name": "admin"}},
			"results": []any{map[string]any{"name": "a", "status": "pass"}, map[string]any{"name": "b"}}}))
	insertNode(t, db, testNode(2, "kbuild", "kbuild-gcc-12-x86", []string{"checkout", "kbuild-gcc-12-x86"}, nid(1), "available", nil, day(2, 0),
		map[string]any{
			"kernel_revision": map[string]any{"tree": "next", "branch": "master"},
			"n":               5.0001,
			"m":               5.0,
			"s":               5,
			"flag":            1,
			"arch":            "x86_64",
			"platform":        "qemu",
		},
		map[string]any{"group": "kbuild-gcc-12-x86", "owner": "bob", "processed_by_kcidb_bridge": true,
			"retry_counter": 1, "holdoff": model.FormatTime(day(2, 1)),
			"groups":  []any{map[string]any{"name": "admin"}},
			"results": []any{map[string]any{"name": "c", "status": "fail"}},
			"deep":    map[string]any{"x": []any{map[string]any{"y": []any{map[string]any{"z": 1}, map[string]any{"z": 2}}}}}}))
	insertNode(t, db, testNode(3, "job", "baseline-x86", []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86"}, nid(2), "running", nil, day(3, 0),
		map[string]any{
			"kernel_revision": map[string]any{"tree": "mainline"},
			"n":               "7",
			"flag":            "true",
			"tags":            []any{"a", 3, nil, []any{"nested"}},
			"runtime":         "lava-collabora",
			"platform":        "qemu",
		},
		map[string]any{"group": "baseline-x86", "holdoff": model.FormatTime(day(3, 5)),
			"results": map[string]any{"name": "a", "status": "pass"}}))
	insertNode(t, db, testNode(4, "test", "baseline.login", []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86", "baseline.login"}, nid(3), "done", "fail", day(4, 12).Add(500*time.Millisecond),
		map[string]any{"s": nil, "kernel_revision": map[string]any{"tree": 7}, "platform": 3},
		map[string]any{"owner": nil, "user_groups": []string{"foo", "bar"}, "retry_counter": 2,
			"results": []any{"a", "b"}}))
	insertNode(t, db, testNode(5, "Checkout", "other", []string{"elsewhere"}, nil, "closing", "incomplete", day(5, 0),
		nil,
		map[string]any{"group": nil, "results": nil}))
	insertNode(t, db, testNode(6, "checkout", "five", []string{"checkout"}, nil, "done", "skip", day(6, 0),
		map[string]any{"s": "five", "n": []any{1, 9}, "kernel_revision": map[string]any{"tree": nil}, "m": map[string]any{"k": 5}},
		map[string]any{"results": []any{}}))
}

func queryIDs(t testing.TB, db *sql.DB, tbl table, f query.Filter) ([]int, error) {
	t.Helper()
	where, args, err := compile(tbl, f)
	if err != nil {
		return nil, err
	}
	col := "id"
	if tbl.Name == eventTable.Name {
		col = "sequence_id"
	}
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s", col, tbl.Name, where, tbl.Order), args...)
	if err != nil {
		return nil, fmt.Errorf("%w\nSQL: %s\nargs: %#v", err, where, args)
	}
	defer rows.Close()
	ids := []int{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		var n int
		if tbl.Name == eventTable.Name {
			fmt.Sscanf(s, "%d", &n)
		} else {
			fmt.Sscanf(s, "%x", &n)
		}
		ids = append(ids, n)
	}
	sort.Ints(ids)
	return ids, rows.Err()
}

func c(field string, op query.Op, v any) query.Cond {
	return query.Cond{Field: field, Op: op, Value: v}
}

func ptr[T any](v T) *T { return &v }

// TestCompileFilterParsed runs query strings through query.Parse and the
// compiler, as the API does.
func TestCompileFilterParsed(t *testing.T) {
	db := openTestDB(t)
	seedNodes(t, db)
	tests := []struct {
		query string
		want  []int
	}{
		{"kind=checkout&limit=10", []int{1, 6}},
		{"kind__in=checkout,job&state__ne=done", []int{3}},
		{"parent=" + nid(1), []int{2}},
		{"parent=null&kind=checkout", []int{1, 6}},
		{"result=null", []int{2, 3}},
		{"created__gte=2026-01-02&created__lt=2026-01-04T12:00:00.5 00:00", []int{2, 3}},
		{"created__gt=2026-01-04T13:00:00.000000 01:00", []int{4, 5, 6}},
		{"processed_by_kcidb_bridge=True", []int{2}},
		{"data.s=5", []int{1}},
		{"data.s__int=5", []int{2}},
		{"data.n__gt=5", []int{2, 6}},
		{"data.n__gt=6", []int{6}},
		{"data.n__in=5,7", []int{3}},
		{"retry_counter__gte=1", []int{2, 4}},
		{"retry_counter=0", []int{1, 3, 5, 6}},
		{"path=kbuild-gcc-12-x86&name__re=%5Ebaseline", []int{3, 4}},
		{"user_groups=foo&user_groups=bar", []int{4}},
		{"holdoff=null", []int{1, 4, 5, 6}},
		{"data.kernel_revision.tree=mainline&data.kernel_revision.branch=null", []int{3}},
		{"result__nin=pass,fail,null", []int{5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := storetest.NodeFilter(t, tt.query)
			got, err := queryIDs(t, db, nodeTable, f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v (filter %#v)", got, tt.want, f.Conds)
			}
		})
	}
}

func TestCompileFilterEvents(t *testing.T) {
	db := openTestDB(t)
	base := day(10, 0)
	evs := []struct {
		channel string
		data    map[string]any
	}{
		{"node", map[string]any{"op": "created", "id": nid(1), "kind": "checkout", "path": []string{"checkout"}}},
		{"node", map[string]any{"op": "updated", "id": nid(2), "kind": "kbuild", "path": []string{"checkout", "kbuild"}}},
		{"other", map[string]any{"kind": "checkout", "id": 5}},
		{"node", map[string]any{"op": "created", "id": nid(3), "kind": "job", "path": []string{"checkout", "kbuild", "job"}}},
	}
	for i, e := range evs {
		ts := model.FormatTime(base.Add(time.Duration(i) * time.Hour))
		doc, _ := json.Marshal(map[string]any{"id": nid(100 + i), "timestamp": ts, "channel": e.channel, "owner": nil, "data": e.data})
		if _, err := db.Exec("INSERT INTO eventhistory (id, timestamp, channel, owner, doc) VALUES (?, ?, ?, ?, ?)",
			nid(100+i), ts, e.channel, nil, string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		conds []query.Cond
		want  []int
	}{
		{"all", nil, []int{1, 2, 3, 4}},
		{"data.kind", []query.Cond{c("data.kind", query.Eq, "checkout")}, []int{1, 3}},
		{"channel", []query.Cond{c("channel", query.Eq, "node")}, []int{1, 2, 4}},
		{"channel and kind", []query.Cond{c("channel", query.Eq, "node"), c("data.kind", query.Eq, "checkout")}, []int{1}},
		{"sequence gt", []query.Cond{c("sequence_id", query.Gt, int64(1))}, []int{2, 3, 4}},
		{"sequence gt float", []query.Cond{c("sequence_id", query.Gt, 2.5)}, []int{3, 4}},
		{"sequence gt string never", []query.Cond{c("sequence_id", query.Gt, "1")}, []int{}},
		{"sequence in", []query.Cond{c("sequence_id", query.In, []any{int64(1), int64(4), "2"})}, []int{1, 4}},
		{"sequence nin", []query.Cond{c("sequence_id", query.Nin, []any{int64(1), int64(4)})}, []int{2, 3}},
		{"timestamp gt", []query.Cond{c("timestamp", query.Gt, base.Add(time.Hour))}, []int{3, 4}},
		{"data.id text column", []query.Cond{c("data.id", query.Eq, nid(2))}, []int{2}},
		{"data.id oid", []query.Cond{c("data.id", query.Eq, oid(t, 3))}, []int{4}},
		{"data.id number via doc", []query.Cond{c("data.id", query.Eq, int64(5))}, []int{3}},
		{"data.path re", []query.Cond{c("data.path", query.Re, "^kbuild$")}, []int{2, 4}},
		{"data.op null", []query.Cond{c("data.op", query.Eq, nil)}, []int{3}},
		{"owner null", []query.Cond{c("owner", query.Eq, nil)}, []int{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := queryIDs(t, db, eventTable, query.Filter{Conds: tt.conds})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				where, args, _ := compile(eventTable, query.Filter{Conds: tt.conds})
				t.Errorf("got %v, want %v\nSQL: %s\nargs: %#v", got, tt.want, where, args)
			}
		})
	}
}

// explainPlan returns the plan of a statement, one line per step.
func explainPlan(t testing.TB, db *sql.DB, q string, args []any) []string {
	t.Helper()
	plan, err := explainQuery(context.Background(), db, q, args)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestCompileFilterQueryPlan checks that Find statements (ORDER BY rid,
// with a LIMIT) on a column condition use that column's index, and walk
// it in rid order with no sort when the condition is an equality.
func TestCompileFilterQueryPlan(t *testing.T) {
	db := openTestDB(t)
	seedNodes(t, db)
	tests := []struct {
		tbl   table
		conds []query.Cond
		index string
		sort  bool // a sort step is expected
	}{
		{nodeTable, []query.Cond{c("kind", query.Eq, "checkout")}, "node_kind", false},
		{nodeTable, []query.Cond{c("parent", query.Eq, oid(t, 1))}, "node_parent", false},
		{nodeTable, []query.Cond{c("kind", query.In, []any{"checkout", "job"})}, "node_kind", true},
		{nodeTable, []query.Cond{c("parent", query.Eq, nil)}, "node_parent", false},
		{nodeTable, []query.Cond{c("result", query.Eq, nil)}, "node_result", false},
		{nodeTable, []query.Cond{c("data.kernel_revision.tree", query.Eq, "mainline")}, "node_kr_tree", false},
		{nodeTable, []query.Cond{c("created", query.Gt, day(3, 0))}, "node_created", true},
		{nodeTable, []query.Cond{c("name", query.Re, "^baseline")}, "node_name", true},
		{nodeTable, []query.Cond{c("kind", query.Eq, "checkout"), c("data.kernel_revision.commit", query.Eq, "abc123")}, "node_kind_commit", false},
		{nodeTable, []query.Cond{c("kind", query.Eq, "checkout"), c("created", query.Gte, day(3, 0))}, "node_kind_created", true},
		{nodeTable, []query.Cond{c("state", query.Eq, "available"), c("holdoff", query.Lt, day(3, 0))}, "node_state_holdoff", true},
		{nodeTable, []query.Cond{c("state", query.Eq, "running"), c("timeout", query.Lt, day(3, 0))}, "node_state_timeout", true},
		{eventTable, []query.Cond{c("data.kind", query.Eq, "checkout")}, "eventhistory_kind_seq", false},
		{eventTable, []query.Cond{c("data.kind", query.Eq, "checkout"), c("timestamp", query.Gt, day(3, 0))}, "eventhistory_kind", true},
		// A pull lab's poll.
		{eventTable, []query.Cond{c("data.kind", query.Eq, "job"), c("data.state", query.Eq, "done"), c("timestamp", query.Gt, day(3, 0))}, "eventhistory_kind_state", true},
	}
	for _, tt := range tests {
		t.Run(tt.conds[0].Field, func(t *testing.T) {
			f := query.Filter{Conds: tt.conds}
			where, _, err := compile(tt.tbl, f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(where, "(") && len(tt.conds) == 1 && tt.conds[0].Op == query.Eq {
				t.Errorf("column condition wrapped: %s", where)
			}
			q, args, err := findSQL(tt.tbl, "doc", f, store.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(explainPlan(t, db, q, args), "\n")
			if !strings.Contains(plan, "INDEX "+tt.index+" ") {
				t.Errorf("%s: plan %q does not use %s", where, plan, tt.index)
			}
			if sorted := strings.Contains(plan, "TEMP B-TREE"); sorted != tt.sort {
				t.Errorf("%s: plan %q, want sort %v", where, plan, tt.sort)
			}
		})
	}
}

func TestCompileFilterSQL(t *testing.T) {
	where, args, err := compile(nodeTable, query.Filter{})
	if where != "1" || args != nil || err != nil {
		t.Errorf("empty filter: %q %v %v", where, args, err)
	}
	where, args, err = compile(nodeTable, query.Where("kind", "checkout", "parent", oid(t, 1)))
	if err != nil || where != "kind = ? AND parent = ?" || !reflect.DeepEqual(args, []any{"checkout", nid(1)}) {
		t.Errorf("got %q %#v %v", where, args, err)
	}
	// User text never reaches the SQL text.
	evil := `x"'); DROP TABLE node; --`
	where, args, err = compile(nodeTable, query.Filter{Conds: []query.Cond{c("data."+evil, query.Eq, evil), c(evil, query.Re, regexp.QuoteMeta(evil))}})
	if err != nil || strings.Contains(where, "DROP") || len(args) == 0 {
		t.Errorf("got %q %#v %v", where, args, err)
	}
	if got, want := jsonPath(`data.a"b.c\d.e f`), `$."data"."a\"b"."c\\d"."e f"`; got != want {
		t.Errorf("jsonPath = %s, want %s", got, want)
	}
}

func TestPrefixRange(t *testing.T) {
	tests := []struct {
		pat, lo, hi string
		ok          bool
	}{
		{"^abc", "abc", "abd", true},
		{`\Aabc`, "abc", "abd", true},
		{"^abc$", "abc", "abd", true},
		{"^ab*", "a", "b", true},
		{"^ab?c", "a", "b", true},
		{"^a.c", "a", "b", true},
		{`^kselftest\.`, "kselftest.", "kselftest/", true},
		{"^az", "az", "a{", true},
		{"^é", "é", "\xc3\xaa", true},
		{"^\x7f", "\x7f", "\x80", true},
		{`^\x{10FFFF}`, "\U0010FFFF", "\xf4\x8f\xbf\xc0", true},
		{"abc", "", "", false},
		{"^(abc)", "", "", false},
		{"^abc|^abd", "", "", false},
		{"(?i)^abc", "", "", false},
		{"(?m)^abc", "", "", false},
		{"^", "", "", false},
		{"^[ab]", "", "", false},
		{`^\x{FFFD}`, "", "", false},
		{"(", "", "", false},
	}
	for _, tt := range tests {
		lo, hi, ok := prefixRange(tt.pat)
		if lo != tt.lo || hi != tt.hi || ok != tt.ok {
			t.Errorf("prefixRange(%q) = %q, %q, %v; want %q, %q, %v", tt.pat, lo, hi, ok, tt.lo, tt.hi, tt.ok)
		}
		if !ok {
			continue
		}
		// Every string the pattern matches is in [lo, hi).
		re := regexp.MustCompile(tt.pat)
		for _, s := range []string{tt.lo, tt.lo + "x", tt.lo + "\xff", tt.lo + "\U0010FFFF", tt.hi, "abd", "ab", "a", ""} {
			if re.MatchString(s) && (s < lo || s >= hi) {
				t.Errorf("%q matches %q outside [%q, %q)", tt.pat, s, lo, hi)
			}
		}
	}
}

func TestCompileFilterDepth(t *testing.T) {
	db := openTestDB(t)
	seedNodes(t, db)
	segs := make([]string, query.MaxPathSegments)
	for i := range segs {
		segs[i] = "results"
	}
	field := strings.Join(segs, ".")
	for _, v := range []any{nil, "a", int64(1)} {
		if _, err := queryIDs(t, db, nodeTable, query.Filter{Conds: []query.Cond{c(field, query.Eq, v)}}); err != nil {
			t.Fatalf("%d segments, %v: %v", len(segs), v, err)
		}
	}
	_, _, err := compile(nodeTable, query.Filter{Conds: []query.Cond{c(field+".x", query.Eq, "a")}})
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Fatalf("%d segments: %v, want *query.Error", len(segs)+1, err)
	}
}

func TestCompileFilterRegexpCache(t *testing.T) {
	rc := &reCache{max: 3, m: map[string]*regexp.Regexp{}}
	for i := 0; i < 10; i++ {
		re, err := rc.get(fmt.Sprintf("a{%d}", i))
		if err != nil || !re.MatchString(strings.Repeat("a", i)) {
			t.Fatal(i, err)
		}
		if len(rc.m) > 3 {
			t.Fatalf("cache grew to %d", len(rc.m))
		}
	}
	if _, err := rc.get("("); err == nil {
		t.Fatal("invalid pattern accepted")
	}
}

// FuzzCompileFilter checks that every filter Parse accepts compiles to SQL
// that SQLite runs without error.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{
		"kind=checkout&state__ne=done&result__in=pass,null",
		"data.a%22b.c%27d=1&data.x%5Cy__re=a%7C%5E",
		"created__gte=2026-01-02&holdoff__lte=null&parent__nin=" + nid(1),
		"data.n__gt=5&data.n__lt=x&data.flag=TRUE&data.s__int=5",
		"path__re=(?i)check&user_groups__nin=,foo,",
	} {
		f.Add(s)
	}
	db := openTestDB(f)
	seedNodes(f, db)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := query.Parse(v, store.NodeSchema)
		if err != nil {
			return
		}
		if _, err := queryIDs(t, db, nodeTable, flt); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}
