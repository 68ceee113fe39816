package sqlite

import (
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

func TestCompileFilterNodes(t *testing.T) {
	db := openTestDB(t)
	seedNodes(t, db)
	all := []int{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name  string
		conds []query.Cond
		want  []int
	}{
		{"empty", nil, all},

		// Text columns.
		{"kind eq", []query.Cond{c("kind", query.Eq, "checkout")}, []int{1, 6}},
		{"kind eq is case sensitive", []query.Cond{c("kind", query.Eq, "Checkout")}, []int{5}},
		{"kind ne", []query.Cond{c("kind", query.Ne, "checkout")}, []int{2, 3, 4, 5}},
		{"kind in", []query.Cond{c("kind", query.In, []any{"checkout", "kbuild"})}, []int{1, 2, 6}},
		{"kind in one", []query.Cond{c("kind", query.In, []any{"job"})}, []int{3}},
		{"kind in []string", []query.Cond{c("kind", query.In, []string{"job", "test"})}, []int{3, 4}},
		{"kind nin", []query.Cond{c("kind", query.Nin, []any{"checkout", "kbuild"})}, []int{3, 4, 5}},
		{"kind in empty", []query.Cond{c("kind", query.In, []any{})}, []int{}},
		{"kind nin empty", []query.Cond{c("kind", query.Nin, []any{})}, all},
		{"kind eq number", []query.Cond{c("kind", query.Eq, int64(5))}, []int{}},
		{"kind ne number", []query.Cond{c("kind", query.Ne, int64(5))}, all},
		{"kind eq bool", []query.Cond{c("kind", query.Eq, true)}, []int{}},
		{"kind eq null", []query.Cond{c("kind", query.Eq, nil)}, []int{}},
		{"name gt", []query.Cond{c("name", query.Gt, "kbuild")}, []int{2, 5}},
		{"name lte", []query.Cond{c("name", query.Lte, "baseline.login")}, []int{3, 4}}, // '-' < '.'
		{"name lt", []query.Cond{c("name", query.Lt, "baseline.login")}, []int{3}},
		{"name gt number", []query.Cond{c("name", query.Gt, int64(0))}, []int{}},
		{"result null", []query.Cond{c("result", query.Eq, nil)}, []int{2, 3}},
		{"result ne null", []query.Cond{c("result", query.Ne, nil)}, []int{1, 4, 5, 6}},
		{"result ne pass", []query.Cond{c("result", query.Ne, "pass")}, []int{2, 3, 4, 5, 6}},
		{"result in pass,null", []query.Cond{c("result", query.In, []any{"pass", nil})}, []int{1, 2, 3}},
		{"result nin pass,null", []query.Cond{c("result", query.Nin, []any{"pass", nil})}, []int{4, 5, 6}},
		{"result in null", []query.Cond{c("result", query.In, []any{nil})}, []int{2, 3}},
		{"result lte null", []query.Cond{c("result", query.Lte, nil)}, []int{2, 3}},
		{"result lt null", []query.Cond{c("result", query.Lt, nil)}, []int{}},
		{"group eq", []query.Cond{c("group", query.Eq, "baseline-x86")}, []int{3}},
		{"group null", []query.Cond{c("group", query.Eq, nil)}, []int{1, 4, 5, 6}},
		{"owner null", []query.Cond{c("owner", query.Eq, nil)}, []int{4}},
		{"owner ne alice", []query.Cond{c("owner", query.Ne, "alice")}, []int{2, 4}},
		{"and", []query.Cond{c("kind", query.Eq, "checkout"), c("state", query.Eq, "done"), c("result", query.Eq, "skip")}, []int{6}},
		{"and contradiction", []query.Cond{c("kind", query.Eq, "checkout"), c("kind", query.Eq, "job")}, []int{}},

		// ObjectIds.
		{"parent oid", []query.Cond{c("parent", query.Eq, oid(t, 1))}, []int{2}},
		{"parent oid pointer", []query.Cond{c("parent", query.Eq, ptr(oid(t, 2)))}, []int{3}},
		{"parent null", []query.Cond{c("parent", query.Eq, nil)}, []int{1, 5, 6}},
		{"parent ne oid", []query.Cond{c("parent", query.Ne, oid(t, 1))}, []int{1, 3, 4, 5, 6}},
		{"parent in", []query.Cond{c("parent", query.In, []any{oid(t, 1), oid(t, 3), nil})}, []int{1, 2, 4, 5, 6}},
		{"parent nin", []query.Cond{c("parent", query.Nin, []any{oid(t, 1), oid(t, 3)})}, []int{1, 3, 5, 6}},
		{"id oid", []query.Cond{c("id", query.Eq, oid(t, 4))}, []int{4}},
		{"id gt oid", []query.Cond{c("id", query.Gt, oid(t, 4))}, []int{5, 6}},

		// Times.
		{"created gte", []query.Cond{c("created", query.Gte, day(3, 0))}, []int{3, 4, 5, 6}},
		{"created gt", []query.Cond{c("created", query.Gt, day(3, 0))}, []int{4, 5, 6}},
		{"created range", []query.Cond{c("created", query.Gte, day(2, 0)), c("created", query.Lt, day(4, 12))}, []int{2, 3}},
		{"created sub-second", []query.Cond{c("created", query.Gt, day(4, 12).Add(499*time.Millisecond))}, []int{4, 5, 6}},
		{"created eq", []query.Cond{c("created", query.Eq, day(4, 12).Add(500*time.Millisecond))}, []int{4}},
		{"created eq other zone", []query.Cond{c("created", query.Eq, day(2, 0).In(time.FixedZone("x", 3600)))}, []int{2}},
		{"created model.Time", []query.Cond{c("created", query.Lte, model.T(day(1, 0)))}, []int{1}},
		{"created in", []query.Cond{c("created", query.In, []any{day(1, 0), day(6, 0)})}, []int{1, 6}},
		{"created eq string never matches", []query.Cond{c("created", query.Eq, model.FormatTime(day(1, 0)))}, []int{}},
		{"created gt string never matches", []query.Cond{c("created", query.Gt, "2000")}, []int{}},
		{"created re never matches", []query.Cond{c("created", query.Re, "2026")}, []int{}},
		{"created ne string", []query.Cond{c("created", query.Ne, "x")}, all},
		{"holdoff null", []query.Cond{c("holdoff", query.Eq, nil)}, []int{1, 4, 5, 6}},
		{"holdoff ne null", []query.Cond{c("holdoff", query.Ne, nil)}, []int{2, 3}},
		{"holdoff lt", []query.Cond{c("holdoff", query.Lt, day(3, 0))}, []int{2}},
		{"timeout lt", []query.Cond{c("state", query.Ne, "done"), c("timeout", query.Lt, day(3, 7))}, []int{2, 3}},

		// colTextOnly generated columns and their fallback to doc.
		{"tree eq", []query.Cond{c("data.kernel_revision.tree", query.Eq, "mainline")}, []int{1, 3}},
		{"tree ne", []query.Cond{c("data.kernel_revision.tree", query.Ne, "mainline")}, []int{2, 4, 5, 6}},
		{"tree in", []query.Cond{c("data.kernel_revision.tree", query.In, []any{"mainline", "next"})}, []int{1, 2, 3}},
		{"tree nin", []query.Cond{c("data.kernel_revision.tree", query.Nin, []any{"mainline", "next"})}, []int{4, 5, 6}},
		{"tree re", []query.Cond{c("data.kernel_revision.tree", query.Re, "ain")}, []int{1, 3}},
		{"tree null (missing or null)", []query.Cond{c("data.kernel_revision.tree", query.Eq, nil)}, []int{5, 6}},
		{"tree ne null", []query.Cond{c("data.kernel_revision.tree", query.Ne, nil)}, []int{1, 2, 3, 4}},
		{"tree eq number", []query.Cond{c("data.kernel_revision.tree", query.Eq, int64(7))}, []int{4}},
		{"tree eq string 7", []query.Cond{c("data.kernel_revision.tree", query.Eq, "7")}, []int{}},
		{"tree in mixed", []query.Cond{c("data.kernel_revision.tree", query.In, []any{"next", int64(7), nil})}, []int{2, 4, 5, 6}},
		{"branch eq", []query.Cond{c("data.kernel_revision.branch", query.Eq, "master")}, []int{1, 2}},
		{"commit null", []query.Cond{c("data.kernel_revision.commit", query.Eq, nil)}, []int{2, 3, 4, 5, 6}},
		{"platform eq", []query.Cond{c("data.platform", query.Eq, "qemu")}, []int{2, 3}},
		{"platform eq number", []query.Cond{c("data.platform", query.Eq, int64(3))}, []int{4}},
		{"runtime gt", []query.Cond{c("data.runtime", query.Gt, "a")}, []int{3}},

		// Type strictness in the document.
		{"s eq string 5", []query.Cond{c("data.s", query.Eq, "5")}, []int{1}},
		{"s eq number 5", []query.Cond{c("data.s", query.Eq, int64(5))}, []int{2}},
		{"s eq float 5", []query.Cond{c("data.s", query.Eq, 5.0)}, []int{2}},
		{"s eq json.Number", []query.Cond{c("data.s", query.Eq, json.Number("5"))}, []int{2}},
		{"s null", []query.Cond{c("data.s", query.Eq, nil)}, []int{3, 4, 5}},
		{"s ne null", []query.Cond{c("data.s", query.Ne, nil)}, []int{1, 2, 6}},
		{"s ne 5", []query.Cond{c("data.s", query.Ne, "5")}, []int{2, 3, 4, 5, 6}},
		{"s in strings", []query.Cond{c("data.s", query.In, []any{"5", "five"})}, []int{1, 6}},
		{"s in mixed", []query.Cond{c("data.s", query.In, []any{"five", int64(5), nil})}, []int{2, 3, 4, 5, 6}},
		{"s nin mixed", []query.Cond{c("data.s", query.Nin, []any{"five", int64(5), nil})}, []int{1}},
		{"m eq int equals real", []query.Cond{c("data.m", query.Eq, int64(5))}, []int{2}},
		{"flag true", []query.Cond{c("data.flag", query.Eq, true)}, []int{1}},
		{"flag 1", []query.Cond{c("data.flag", query.Eq, int64(1))}, []int{2}},
		{"flag text true", []query.Cond{c("data.flag", query.Eq, "true")}, []int{3}},
		{"flag false", []query.Cond{c("data.flag", query.Eq, false)}, []int{}},
		{"flag ne true", []query.Cond{c("data.flag", query.Ne, true)}, []int{2, 3, 4, 5, 6}},
		{"flag gte false", []query.Cond{c("data.flag", query.Gte, false)}, []int{1}},
		{"flag lt true", []query.Cond{c("data.flag", query.Lt, true)}, []int{}},
		{"flag in bools", []query.Cond{c("data.flag", query.In, []any{true, false})}, []int{1}},
		{"processed true", []query.Cond{c("processed_by_kcidb_bridge", query.Eq, true)}, []int{2}},
		{"processed false", []query.Cond{c("processed_by_kcidb_bridge", query.Eq, false)}, []int{1, 3, 4, 5, 6}},
		{"processed ne false", []query.Cond{c("processed_by_kcidb_bridge", query.Ne, false)}, []int{2}},
		{"processed ne true", []query.Cond{c("processed_by_kcidb_bridge", query.Ne, true)}, []int{1, 3, 4, 5, 6}},
		{"processed in bools", []query.Cond{c("processed_by_kcidb_bridge", query.In, []any{true})}, []int{2}},
		{"processed eq string", []query.Cond{c("processed_by_kcidb_bridge", query.Eq, "false")}, []int{}},
		{"processed null", []query.Cond{c("processed_by_kcidb_bridge", query.Eq, nil)}, []int{}},
		{"retry eq", []query.Cond{c("retry_counter", query.Eq, int64(1))}, []int{2}},
		{"retry lt", []query.Cond{c("retry_counter", query.Lt, int64(2))}, []int{1, 2, 3, 5, 6}},
		{"retry gte", []query.Cond{c("retry_counter", query.Gte, int64(2))}, []int{4}},
		{"n gt number", []query.Cond{c("data.n", query.Gt, int64(5))}, []int{2, 6}},
		{"n gte number", []query.Cond{c("data.n", query.Gte, int64(5))}, []int{1, 2, 6}},
		{"n lt float", []query.Cond{c("data.n", query.Lt, 5.00005)}, []int{1, 6}},
		{"n gt string", []query.Cond{c("data.n", query.Gt, "6")}, []int{3}},
		{"n eq string 7 not 7", []query.Cond{c("data.n", query.Eq, int64(7))}, []int{}},
		{"n in numbers", []query.Cond{c("data.n", query.In, []any{int64(5), int64(9)})}, []int{1, 6}},
		{"object is not a value", []query.Cond{c("data.m", query.Eq, nil)}, []int{1, 3, 4, 5}},
		{"object members are not elements", []query.Cond{c("data.m", query.Eq, int64(5)), c("kind", query.Eq, "checkout")}, []int{}},
		{"object member by path", []query.Cond{c("data.m.k", query.Eq, int64(5))}, []int{6}},
		{"path through scalar is missing", []query.Cond{c("data.s.x", query.Eq, nil)}, all},
		{"path through null data", []query.Cond{c("data.kernel_revision", query.Eq, nil)}, []int{5}},
		{"data null", []query.Cond{c("data", query.Eq, nil)}, []int{5}},
		{"missing top-level field", []query.Cond{c("nope", query.Ne, "x")}, all},

		// Arrays.
		{"path contains", []query.Cond{c("path", query.Eq, "checkout")}, []int{1, 2, 3, 4, 6}},
		{"path contains kbuild", []query.Cond{c("path", query.Eq, "kbuild-gcc-12-x86")}, []int{2, 3, 4}},
		{"path contains both", []query.Cond{c("path", query.Eq, "checkout"), c("path", query.Eq, "baseline-x86")}, []int{3, 4}},
		{"path ne", []query.Cond{c("path", query.Ne, "checkout")}, []int{5}},
		{"path in", []query.Cond{c("path", query.In, []any{"elsewhere", "baseline.login"})}, []int{4, 5}},
		{"path nin", []query.Cond{c("path", query.Nin, []any{"elsewhere", "baseline.login"})}, []int{1, 2, 3, 6}},
		{"path re", []query.Cond{c("path", query.Re, "^baseline")}, []int{3, 4}},
		{"path gt", []query.Cond{c("path", query.Gt, "e")}, []int{2, 3, 4, 5}},
		{"user_groups foo", []query.Cond{c("user_groups", query.Eq, "foo")}, []int{1, 4}},
		{"user_groups ne foo", []query.Cond{c("user_groups", query.Ne, "foo")}, []int{2, 3, 5, 6}},
		{"user_groups null", []query.Cond{c("user_groups", query.Eq, nil)}, []int{}},
		{"jobfilter null", []query.Cond{c("jobfilter", query.Eq, nil)}, all},
		{"tags number", []query.Cond{c("data.tags", query.Eq, int64(3))}, []int{3}},
		{"tags string 3", []query.Cond{c("data.tags", query.Eq, "3")}, []int{}},
		{"tags contains null", []query.Cond{c("data.tags", query.Eq, nil)}, []int{1, 2, 3, 4, 5, 6}},
		{"tags ne null", []query.Cond{c("data.tags", query.Ne, nil)}, []int{}},
		{"tags nested array not expanded", []query.Cond{c("data.tags", query.Eq, "nested")}, []int{}},
		{"n array element gt", []query.Cond{c("data.n", query.Gt, int64(8))}, []int{6}},

		// Arrays in the middle of a path, as MongoDB walks them.
		{"groups.name", []query.Cond{c("groups.name", query.Eq, "kernelci")}, []int{1}},
		{"groups.name admin", []query.Cond{c("groups.name", query.Eq, "admin")}, []int{1, 2}},
		{"groups.name ne", []query.Cond{c("groups.name", query.Ne, "kernelci")}, []int{2, 3, 4, 5, 6}},
		{"groups.name in", []query.Cond{c("groups.name", query.In, []any{"kernelci", "nobody"})}, []int{1}},
		{"results.name array or object", []query.Cond{c("results.name", query.Eq, "a")}, []int{1, 3}},
		{"results.name scalars are not objects", []query.Cond{c("results.name", query.Eq, "b")}, []int{1}},
		{"results.name re", []query.Cond{c("results.name", query.Re, "^[abc]$")}, []int{1, 2, 3}},
		{"results.name nin", []query.Cond{c("results.name", query.Nin, []any{"a"})}, []int{2, 4, 5, 6}},
		{"results.name gt", []query.Cond{c("results.name", query.Gt, "a")}, []int{1, 2}},
		{"results.status null", []query.Cond{c("results.status", query.Eq, nil)}, []int{1, 4, 5}},
		{"results.status ne null", []query.Cond{c("results.status", query.Ne, nil)}, []int{2, 3, 6}},
		{"results.status in pass,null", []query.Cond{c("results.status", query.In, []any{"pass", nil})}, []int{1, 3, 4, 5}},
		{"results.status lte null", []query.Cond{c("results.status", query.Lte, nil)}, []int{1, 4, 5}},
		{"results.status and name", []query.Cond{c("results.status", query.Eq, "pass"), c("results.name", query.Eq, "b")}, []int{1}},
		{"deep two arrays", []query.Cond{c("deep.x.y.z", query.Eq, int64(2))}, []int{2}},
		{"deep gt", []query.Cond{c("deep.x.y.z", query.Gt, int64(1))}, []int{2}},
		{"deep lt", []query.Cond{c("deep.x.y.z", query.Lt, int64(1))}, []int{}},
		{"deep null", []query.Cond{c("deep.x.y.z", query.Eq, nil)}, []int{1, 3, 4, 5, 6}},
		{"deep partial path", []query.Cond{c("deep.x.y", query.Eq, nil)}, []int{1, 3, 4, 5, 6}},
		{"deep missing leaf", []query.Cond{c("deep.x.y.w", query.Eq, nil)}, all},

		// Regular expressions.
		{"name re", []query.Cond{c("name", query.Re, "gcc")}, []int{2}},
		{"name re anchored", []query.Cond{c("name", query.Re, "^baseline")}, []int{3, 4}},
		{"name re dot escaped", []query.Cond{c("name", query.Re, `\.`)}, []int{4}},
		{"name re prefix range", []query.Cond{c("name", query.Re, `^baseline\.lo`)}, []int{4}},
		{"name re prefix then more", []query.Cond{c("name", query.Re, `^kbuild-[a-z]+-12`)}, []int{2}},
		{"name re prefix \\A", []query.Cond{c("name", query.Re, `\Abase`)}, []int{3, 4}},
		{"name re prefix whole", []query.Cond{c("name", query.Re, `^five$`)}, []int{6}},
		{"name re prefix optional char", []query.Cond{c("name", query.Re, `^fivex?`)}, []int{6}},
		{"name re prefix fold case", []query.Cond{c("name", query.Re, `(?i)^BASELINE`)}, []int{3, 4}},
		{"name re prefix alternation", []query.Cond{c("name", query.Re, `^baseline-|five`)}, []int{3, 6}},
		{"name re multiline is not a prefix", []query.Cond{c("name", query.Re, `(?m)^login`)}, []int{}},
		{"tree re prefix", []query.Cond{c("data.kernel_revision.tree", query.Re, `^main`)}, []int{1, 3}},
		{"name re case-insensitive", []query.Cond{c("kind", query.Re, "(?i)^checkout$")}, []int{1, 5, 6}},
		{"doc re", []query.Cond{c("data.s", query.Re, "^f")}, []int{6}},
		{"doc re skips numbers", []query.Cond{c("data.s", query.Re, "5")}, []int{1}},
		{"doc re skips bools", []query.Cond{c("data.flag", query.Re, "1|true")}, []int{3}},
		{"doc re missing", []query.Cond{c("data.none", query.Re, "")}, []int{}},
		{"id re", []query.Cond{c("id", query.Re, "6$")}, []int{6}},
		{"retry re", []query.Cond{c("retry_counter", query.Re, "1")}, []int{}},

		// Keys that need quoting.
		{"quote and space key", []query.Cond{c(`data.a"b.c'd e`, query.Eq, "odd")}, []int{1}},
		{"backslash key", []query.Cond{c(`data.x\y`, query.Eq, "backslash")}, []int{1}},
		{"injection key", []query.Cond{c("data.'); DROP TABLE node; --", query.Eq, "inject")}, []int{1}},
		{"bracket key", []query.Cond{c("data.[0]", query.Eq, "brackets")}, []int{1}},
		{"control char key", []query.Cond{c("data.u\x01v", query.Eq, "control")}, []int{1}},
		{"dollar key", []query.Cond{c("data.$x", query.Eq, nil)}, all},
		{"star key", []query.Cond{c("data.*", query.Eq, nil)}, all},
		{"injection value", []query.Cond{c("name", query.Eq, "x' OR '1'='1")}, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := queryIDs(t, db, nodeTable, query.Filter{Conds: tt.conds})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				where, args, _ := compile(nodeTable, query.Filter{Conds: tt.conds})
				t.Errorf("got %v, want %v\nSQL: %s\nargs: %#v", got, tt.want, where, args)
			}
		})
	}
	// The table survived the injection attempts.
	var n int
	if err := db.QueryRow("SELECT count(*) FROM node").Scan(&n); err != nil || n != 6 {
		t.Fatalf("node count %d, %v", n, err)
	}
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
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := query.Parse(v, query.NodeSchema)
			if err != nil {
				t.Fatal(err)
			}
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
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
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

func TestCompileFilterErrors(t *testing.T) {
	tests := []query.Cond{
		c("", query.Eq, "x"),
		c("kind", query.Op("foo"), "x"),
		c("kind", query.In, "x"),
		c("kind", query.In, nil),
		c("kind", query.Re, "("),
		c("kind", query.Re, int64(1)),
		c("kind", query.Eq, struct{}{}),
		c("kind", query.Eq, []any{"x"}),
		c("kind", query.In, []any{map[string]any{}}),
		c("data.n", query.Eq, json.Number("x")),
	}
	for _, cond := range tests {
		_, _, err := compile(nodeTable, query.Filter{Conds: []query.Cond{cond}})
		var qe *query.Error
		if !errors.As(err, &qe) {
			t.Errorf("compile(%#v): error %v, want *query.Error", cond, err)
		}
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
		flt, err := query.Parse(v, query.NodeSchema)
		if err != nil {
			return
		}
		if _, err := queryIDs(t, db, nodeTable, flt); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}
