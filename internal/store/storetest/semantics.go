package storetest

// The MongoDB query semantics every backend reproduces, as one table run
// against a fixture of six nodes (semanticsFixture): text, ObjectId,
// datetime, boolean and integer fields, JSON values of every type inside
// data, arrays at the end and in the middle of a path, regular
// expressions and keys that need quoting. The SQLite compiler was built
// against this table; the MongoDB backend runs it on a real server.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// SemanticsCase is a filter and the fixture nodes it matches, by number
// (1 to 6, see semanticsFixture).
type SemanticsCase struct {
	Name   string
	Filter query.Filter
	Want   []int
}

// nodeID is the id of fixture node n: "00000000000000000000000n".
func nodeID(n int) objectid.ID {
	id, err := objectid.Parse(fmt.Sprintf("%024x", n))
	if err != nil {
		panic(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

func day(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }

// semanticsNode is fixture node n with the fields every node has.
func semanticsNode(n int, kind, name string, path []string, parent int, state string, result *string, created time.Time, data map[string]any) *model.Node {
	nd := &model.Node{
		ID: nodeID(n), Kind: kind, Name: name, Path: path, State: state, Result: result, Data: data,
		PlatformFilter: []string{}, UserGroups: []string{}, Owner: model.Str("alice"),
		Created: model.T(created), Updated: model.T(created.Add(time.Minute)), Timeout: model.T(created.Add(6 * time.Hour)),
	}
	if parent > 0 {
		nd.Parent = ptr(nodeID(parent))
	}
	return nd
}

// semanticsFixture is six nodes whose fields take every shape the table
// queries: numbers as strings and strings as numbers, null and missing
// values, arrays of objects and objects where arrays are elsewhere. With
// o.NoNestedArrays, data.tags of node 3 has no array element (the case
// "tags nested array not expanded" then checks nothing).
func semanticsFixture(o Options) []*model.Node {
	n1 := semanticsNode(1, "checkout", "checkout", []string{"checkout"}, 0, "done", model.Str("pass"), day(1, 0),
		map[string]any{
			"kernel_revision":         map[string]any{"tree": "mainline", "branch": "master", "commit": "abc123"},
			"n":                       json.Number("5"),
			"s":                       "5",
			"flag":                    true,
			"a\"b":                    map[string]any{"c'd e": "odd"},
			`x\y`:                     "backslash",
			"'); DROP TABLE node; --": "inject",
			"[0]":                     "brackets",
			"u\x01v":                  "control",
			"groups":                  []any{map[string]any{"name": "kernelci"}, map[string]any{"name": "admin"}},
			"results":                 []any{map[string]any{"name": "a", "status": "pass"}, map[string]any{"name": "b"}},
		})
	n1.UserGroups = []string{"foo"}

	n2 := semanticsNode(2, "kbuild", "kbuild-gcc-12-x86", []string{"checkout", "kbuild-gcc-12-x86"}, 1, "available", nil, day(2, 0),
		map[string]any{
			"kernel_revision": map[string]any{"tree": "next", "branch": "master"},
			"n":               json.Number("5.0001"),
			"m":               json.Number("5.0"),
			"s":               json.Number("5"),
			"flag":            json.Number("1"),
			"arch":            "x86_64",
			"platform":        "qemu",
			"groups":          []any{map[string]any{"name": "admin"}},
			"results":         []any{map[string]any{"name": "c", "status": "fail"}},
			"deep": map[string]any{"x": []any{map[string]any{"y": []any{
				map[string]any{"z": json.Number("1")}, map[string]any{"z": json.Number("2")}}}}},
		})
	n2.Group, n2.Owner = model.Str("kbuild-gcc-12-x86"), model.Str("bob")
	n2.ProcessedByKCIDBBridge, n2.RetryCounter = true, 1
	n2.Holdoff = &model.Time{Time: day(2, 1)}

	n3 := semanticsNode(3, "job", "baseline-x86", []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86"}, 2, "running", nil, day(3, 0),
		map[string]any{
			"kernel_revision": map[string]any{"tree": "mainline"},
			"n":               "7",
			"flag":            "true",
			"tags":            []any{"a", json.Number("3"), nil},
			"runtime":         "lava-collabora",
			"platform":        "qemu",
			"results":         map[string]any{"name": "a", "status": "pass"},
		})
	if !o.NoNestedArrays {
		n3.Data["tags"] = append(n3.Data["tags"].([]any), []any{"nested"})
	}
	n3.Group = model.Str("baseline-x86")
	n3.Holdoff = &model.Time{Time: day(3, 5)}

	n4 := semanticsNode(4, "test", "baseline.login", []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86", "baseline.login"}, 3,
		"done", model.Str("fail"), day(4, 12).Add(500*time.Millisecond),
		map[string]any{"s": nil, "kernel_revision": map[string]any{"tree": json.Number("7")}, "platform": json.Number("3"),
			"results": []any{"a", "b"}})
	n4.Owner, n4.UserGroups, n4.RetryCounter = nil, []string{"foo", "bar"}, 2

	n5 := semanticsNode(5, "Checkout", "other", []string{"elsewhere"}, 0, "closing", model.Str("incomplete"), day(5, 0), nil)

	n6 := semanticsNode(6, "checkout", "five", []string{"checkout"}, 0, "done", model.Str("skip"), day(6, 0),
		map[string]any{"s": "five", "n": []any{json.Number("1"), json.Number("9")}, "kernel_revision": map[string]any{"tree": nil},
			"m": map[string]any{"k": json.Number("5")}, "results": []any{}})
	return []*model.Node{n1, n2, n3, n4, n5, n6}
}

// SemanticsCases are the MongoDB query semantics every backend must
// reproduce, over semanticsFixture.
func SemanticsCases() []SemanticsCase {
	all := []int{1, 2, 3, 4, 5, 6}
	return []SemanticsCase{
		{"empty", f(), all},

		// Text columns.
		{"kind eq", f(c("kind", query.Eq, "checkout")), []int{1, 6}},
		{"kind eq is case sensitive", f(c("kind", query.Eq, "Checkout")), []int{5}},
		{"kind ne", f(c("kind", query.Ne, "checkout")), []int{2, 3, 4, 5}},
		{"kind in", f(c("kind", query.In, []any{"checkout", "kbuild"})), []int{1, 2, 6}},
		{"kind in one", f(c("kind", query.In, []any{"job"})), []int{3}},
		{"kind in []string", f(c("kind", query.In, []string{"job", "test"})), []int{3, 4}},
		{"kind nin", f(c("kind", query.Nin, []any{"checkout", "kbuild"})), []int{3, 4, 5}},
		{"kind in empty", f(c("kind", query.In, []any{})), []int{}},
		{"kind nin empty", f(c("kind", query.Nin, []any{})), all},
		{"kind eq number", f(c("kind", query.Eq, int64(5))), []int{}},
		{"kind ne number", f(c("kind", query.Ne, int64(5))), all},
		{"kind eq bool", f(c("kind", query.Eq, true)), []int{}},
		{"kind eq null", f(c("kind", query.Eq, nil)), []int{}},
		{"name gt", f(c("name", query.Gt, "kbuild")), []int{2, 5}},
		{"name lte", f(c("name", query.Lte, "baseline.login")), []int{3, 4}}, // '-' < '.'
		{"name lt", f(c("name", query.Lt, "baseline.login")), []int{3}},
		{"name gt number", f(c("name", query.Gt, int64(0))), []int{}},
		{"result null", f(c("result", query.Eq, nil)), []int{2, 3}},
		{"result ne null", f(c("result", query.Ne, nil)), []int{1, 4, 5, 6}},
		{"result ne pass", f(c("result", query.Ne, "pass")), []int{2, 3, 4, 5, 6}},
		{"result in pass,null", f(c("result", query.In, []any{"pass", nil})), []int{1, 2, 3}},
		{"result nin pass,null", f(c("result", query.Nin, []any{"pass", nil})), []int{4, 5, 6}},
		{"result in null", f(c("result", query.In, []any{nil})), []int{2, 3}},
		{"result lte null", f(c("result", query.Lte, nil)), []int{2, 3}},
		{"result lt null", f(c("result", query.Lt, nil)), []int{}},
		{"group eq", f(c("group", query.Eq, "baseline-x86")), []int{3}},
		{"group null", f(c("group", query.Eq, nil)), []int{1, 4, 5, 6}},
		{"owner null", f(c("owner", query.Eq, nil)), []int{4}},
		{"owner ne alice", f(c("owner", query.Ne, "alice")), []int{2, 4}},
		{"and", f(c("kind", query.Eq, "checkout"), c("state", query.Eq, "done"), c("result", query.Eq, "skip")), []int{6}},
		{"and contradiction", f(c("kind", query.Eq, "checkout"), c("kind", query.Eq, "job")), []int{}},

		// ObjectIds.
		{"parent oid", f(c("parent", query.Eq, nodeID(1))), []int{2}},
		{"parent oid pointer", f(c("parent", query.Eq, ptr(nodeID(2)))), []int{3}},
		{"parent null", f(c("parent", query.Eq, nil)), []int{1, 5, 6}},
		{"parent ne oid", f(c("parent", query.Ne, nodeID(1))), []int{1, 3, 4, 5, 6}},
		{"parent in", f(c("parent", query.In, []any{nodeID(1), nodeID(3), nil})), []int{1, 2, 4, 5, 6}},
		{"parent nin", f(c("parent", query.Nin, []any{nodeID(1), nodeID(3)})), []int{1, 3, 5, 6}},
		{"id oid", f(c("id", query.Eq, nodeID(4))), []int{4}},
		{"id gt oid", f(c("id", query.Gt, nodeID(4))), []int{5, 6}},
		{"id eq hex string never matches", f(c("id", query.Eq, nodeID(4).String())), []int{}},
		{"parent in hex strings never matches", f(c("parent", query.In, []any{nodeID(1).String(), nodeID(2).String()})), []int{}},

		// Times.
		{"created gte", f(c("created", query.Gte, day(3, 0))), []int{3, 4, 5, 6}},
		{"created gt", f(c("created", query.Gt, day(3, 0))), []int{4, 5, 6}},
		{"created range", f(c("created", query.Gte, day(2, 0)), c("created", query.Lt, day(4, 12))), []int{2, 3}},
		{"created sub-second", f(c("created", query.Gt, day(4, 12).Add(499*time.Millisecond))), []int{4, 5, 6}},
		{"created eq", f(c("created", query.Eq, day(4, 12).Add(500*time.Millisecond))), []int{4}},
		{"created eq other zone", f(c("created", query.Eq, day(2, 0).In(time.FixedZone("x", 3600)))), []int{2}},
		{"created model.Time", f(c("created", query.Lte, model.T(day(1, 0)))), []int{1}},
		{"created in", f(c("created", query.In, []any{day(1, 0), day(6, 0)})), []int{1, 6}},
		{"created eq string never matches", f(c("created", query.Eq, model.FormatTime(day(1, 0)))), []int{}},
		{"created gt string never matches", f(c("created", query.Gt, "2000")), []int{}},
		{"created re never matches", f(c("created", query.Re, "2026")), []int{}},
		{"created ne string", f(c("created", query.Ne, "x")), all},
		{"holdoff null", f(c("holdoff", query.Eq, nil)), []int{1, 4, 5, 6}},
		{"holdoff ne null", f(c("holdoff", query.Ne, nil)), []int{2, 3}},
		{"holdoff lt", f(c("holdoff", query.Lt, day(3, 0))), []int{2}},
		{"timeout lt", f(c("state", query.Ne, "done"), c("timeout", query.Lt, day(3, 7))), []int{2, 3}},

		// colTextOnly generated columns and their fallback to doc.
		{"tree eq", f(c("data.kernel_revision.tree", query.Eq, "mainline")), []int{1, 3}},
		{"tree ne", f(c("data.kernel_revision.tree", query.Ne, "mainline")), []int{2, 4, 5, 6}},
		{"tree in", f(c("data.kernel_revision.tree", query.In, []any{"mainline", "next"})), []int{1, 2, 3}},
		{"tree nin", f(c("data.kernel_revision.tree", query.Nin, []any{"mainline", "next"})), []int{4, 5, 6}},
		{"tree re", f(c("data.kernel_revision.tree", query.Re, "ain")), []int{1, 3}},
		{"tree null (missing or null)", f(c("data.kernel_revision.tree", query.Eq, nil)), []int{5, 6}},
		{"tree ne null", f(c("data.kernel_revision.tree", query.Ne, nil)), []int{1, 2, 3, 4}},
		{"tree eq number", f(c("data.kernel_revision.tree", query.Eq, int64(7))), []int{4}},
		{"tree eq string 7", f(c("data.kernel_revision.tree", query.Eq, "7")), []int{}},
		{"tree in mixed", f(c("data.kernel_revision.tree", query.In, []any{"next", int64(7), nil})), []int{2, 4, 5, 6}},
		{"branch eq", f(c("data.kernel_revision.branch", query.Eq, "master")), []int{1, 2}},
		{"commit null", f(c("data.kernel_revision.commit", query.Eq, nil)), []int{2, 3, 4, 5, 6}},
		{"platform eq", f(c("data.platform", query.Eq, "qemu")), []int{2, 3}},
		{"platform eq number", f(c("data.platform", query.Eq, int64(3))), []int{4}},
		{"runtime gt", f(c("data.runtime", query.Gt, "a")), []int{3}},

		// Type strictness in the document.
		{"s eq string 5", f(c("data.s", query.Eq, "5")), []int{1}},
		{"s eq number 5", f(c("data.s", query.Eq, int64(5))), []int{2}},
		{"s eq float 5", f(c("data.s", query.Eq, 5.0)), []int{2}},
		{"s eq json.Number", f(c("data.s", query.Eq, json.Number("5"))), []int{2}},
		{"s null", f(c("data.s", query.Eq, nil)), []int{3, 4, 5}},
		{"s ne null", f(c("data.s", query.Ne, nil)), []int{1, 2, 6}},
		{"s ne 5", f(c("data.s", query.Ne, "5")), []int{2, 3, 4, 5, 6}},
		{"s in strings", f(c("data.s", query.In, []any{"5", "five"})), []int{1, 6}},
		{"s in mixed", f(c("data.s", query.In, []any{"five", int64(5), nil})), []int{2, 3, 4, 5, 6}},
		{"s nin mixed", f(c("data.s", query.Nin, []any{"five", int64(5), nil})), []int{1}},
		{"m eq int equals real", f(c("data.m", query.Eq, int64(5))), []int{2}},
		{"flag true", f(c("data.flag", query.Eq, true)), []int{1}},
		{"flag 1", f(c("data.flag", query.Eq, int64(1))), []int{2}},
		{"flag text true", f(c("data.flag", query.Eq, "true")), []int{3}},
		{"flag false", f(c("data.flag", query.Eq, false)), []int{}},
		{"flag ne true", f(c("data.flag", query.Ne, true)), []int{2, 3, 4, 5, 6}},
		{"flag gte false", f(c("data.flag", query.Gte, false)), []int{1}},
		{"flag lt true", f(c("data.flag", query.Lt, true)), []int{}},
		{"flag in bools", f(c("data.flag", query.In, []any{true, false})), []int{1}},
		{"processed true", f(c("processed_by_kcidb_bridge", query.Eq, true)), []int{2}},
		{"processed false", f(c("processed_by_kcidb_bridge", query.Eq, false)), []int{1, 3, 4, 5, 6}},
		{"processed ne false", f(c("processed_by_kcidb_bridge", query.Ne, false)), []int{2}},
		{"processed ne true", f(c("processed_by_kcidb_bridge", query.Ne, true)), []int{1, 3, 4, 5, 6}},
		{"processed in bools", f(c("processed_by_kcidb_bridge", query.In, []any{true})), []int{2}},
		{"processed eq string", f(c("processed_by_kcidb_bridge", query.Eq, "false")), []int{}},
		{"processed null", f(c("processed_by_kcidb_bridge", query.Eq, nil)), []int{}},
		{"retry eq", f(c("retry_counter", query.Eq, int64(1))), []int{2}},
		{"retry lt", f(c("retry_counter", query.Lt, int64(2))), []int{1, 2, 3, 5, 6}},
		{"retry gte", f(c("retry_counter", query.Gte, int64(2))), []int{4}},
		{"n gt number", f(c("data.n", query.Gt, int64(5))), []int{2, 6}},
		{"n gte number", f(c("data.n", query.Gte, int64(5))), []int{1, 2, 6}},
		{"n lt float", f(c("data.n", query.Lt, 5.00005)), []int{1, 6}},
		{"n gt string", f(c("data.n", query.Gt, "6")), []int{3}},
		{"n eq string 7 not 7", f(c("data.n", query.Eq, int64(7))), []int{}},
		{"n in numbers", f(c("data.n", query.In, []any{int64(5), int64(9)})), []int{1, 6}},
		{"object is not a value", f(c("data.m", query.Eq, nil)), []int{1, 3, 4, 5}},
		{"object members are not elements", f(c("data.m", query.Eq, int64(5)), c("kind", query.Eq, "checkout")), []int{}},
		{"object member by path", f(c("data.m.k", query.Eq, int64(5))), []int{6}},
		{"path through scalar is missing", f(c("data.s.x", query.Eq, nil)), all},
		{"path through null data", f(c("data.kernel_revision", query.Eq, nil)), []int{5}},
		{"data null", f(c("data", query.Eq, nil)), []int{5}},
		{"missing top-level field", f(c("nope", query.Ne, "x")), all},

		// Arrays.
		{"path contains", f(c("path", query.Eq, "checkout")), []int{1, 2, 3, 4, 6}},
		{"path contains kbuild", f(c("path", query.Eq, "kbuild-gcc-12-x86")), []int{2, 3, 4}},
		{"path contains both", f(c("path", query.Eq, "checkout"), c("path", query.Eq, "baseline-x86")), []int{3, 4}},
		{"path ne", f(c("path", query.Ne, "checkout")), []int{5}},
		{"path in", f(c("path", query.In, []any{"elsewhere", "baseline.login"})), []int{4, 5}},
		{"path nin", f(c("path", query.Nin, []any{"elsewhere", "baseline.login"})), []int{1, 2, 3, 6}},
		{"path re", f(c("path", query.Re, "^baseline")), []int{3, 4}},
		{"path gt", f(c("path", query.Gt, "e")), []int{2, 3, 4, 5}},
		{"user_groups foo", f(c("user_groups", query.Eq, "foo")), []int{1, 4}},
		{"user_groups ne foo", f(c("user_groups", query.Ne, "foo")), []int{2, 3, 5, 6}},
		{"user_groups null", f(c("user_groups", query.Eq, nil)), []int{}},
		{"jobfilter null", f(c("jobfilter", query.Eq, nil)), all},
		{"tags number", f(c("data.tags", query.Eq, int64(3))), []int{3}},
		{"tags string 3", f(c("data.tags", query.Eq, "3")), []int{}},
		{"tags contains null", f(c("data.tags", query.Eq, nil)), []int{1, 2, 3, 4, 5, 6}},
		{"tags ne null", f(c("data.tags", query.Ne, nil)), []int{}},
		{"tags nested array not expanded", f(c("data.tags", query.Eq, "nested")), []int{}},
		{"n array element gt", f(c("data.n", query.Gt, int64(8))), []int{6}},

		// Arrays in the middle of a path, as MongoDB walks them.
		{"groups.name", f(c("data.groups.name", query.Eq, "kernelci")), []int{1}},
		{"groups.name admin", f(c("data.groups.name", query.Eq, "admin")), []int{1, 2}},
		{"groups.name ne", f(c("data.groups.name", query.Ne, "kernelci")), []int{2, 3, 4, 5, 6}},
		{"groups.name in", f(c("data.groups.name", query.In, []any{"kernelci", "nobody"})), []int{1}},
		{"results.name array or object", f(c("data.results.name", query.Eq, "a")), []int{1, 3}},
		{"results.name scalars are not objects", f(c("data.results.name", query.Eq, "b")), []int{1}},
		{"results.name re", f(c("data.results.name", query.Re, "^[abc]$")), []int{1, 2, 3}},
		{"results.name nin", f(c("data.results.name", query.Nin, []any{"a"})), []int{2, 4, 5, 6}},
		{"results.name gt", f(c("data.results.name", query.Gt, "a")), []int{1, 2}},
		{"results.status null", f(c("data.results.status", query.Eq, nil)), []int{1, 4, 5}},
		{"results.status ne null", f(c("data.results.status", query.Ne, nil)), []int{2, 3, 6}},
		{"results.status in pass,null", f(c("data.results.status", query.In, []any{"pass", nil})), []int{1, 3, 4, 5}},
		{"results.status lte null", f(c("data.results.status", query.Lte, nil)), []int{1, 4, 5}},
		{"results.status and name", f(c("data.results.status", query.Eq, "pass"), c("data.results.name", query.Eq, "b")), []int{1}},
		{"deep two arrays", f(c("data.deep.x.y.z", query.Eq, int64(2))), []int{2}},
		{"deep gt", f(c("data.deep.x.y.z", query.Gt, int64(1))), []int{2}},
		{"deep lt", f(c("data.deep.x.y.z", query.Lt, int64(1))), []int{}},
		{"deep null", f(c("data.deep.x.y.z", query.Eq, nil)), []int{1, 3, 4, 5, 6}},
		{"deep partial path", f(c("data.deep.x.y", query.Eq, nil)), []int{1, 3, 4, 5, 6}},
		{"deep missing leaf", f(c("data.deep.x.y.w", query.Eq, nil)), all},

		// Regular expressions.
		{"name re", f(c("name", query.Re, "gcc")), []int{2}},
		{"name re anchored", f(c("name", query.Re, "^baseline")), []int{3, 4}},
		{"name re dot escaped", f(c("name", query.Re, `\.`)), []int{4}},
		{"name re prefix range", f(c("name", query.Re, `^baseline\.lo`)), []int{4}},
		{"name re prefix then more", f(c("name", query.Re, `^kbuild-[a-z]+-12`)), []int{2}},
		{"name re prefix \\A", f(c("name", query.Re, `\Abase`)), []int{3, 4}},
		{"name re prefix whole", f(c("name", query.Re, `^five$`)), []int{6}},
		{"name re prefix optional char", f(c("name", query.Re, `^fivex?`)), []int{6}},
		{"name re prefix fold case", f(c("name", query.Re, `(?i)^BASELINE`)), []int{3, 4}},
		{"name re prefix alternation", f(c("name", query.Re, `^baseline-|five`)), []int{3, 6}},
		{"name re multiline is not a prefix", f(c("name", query.Re, `(?m)^login`)), []int{}},
		{"tree re prefix", f(c("data.kernel_revision.tree", query.Re, `^main`)), []int{1, 3}},
		{"name re case-insensitive", f(c("kind", query.Re, "(?i)^checkout$")), []int{1, 5, 6}},
		// Unanchored regexes on indexed fields (the SQLite store runs them
		// over the fields' distinct values).
		{"platform re", f(c("data.platform", query.Re, "em")), []int{2, 3}},
		{"platform re skips numbers", f(c("data.platform", query.Re, "3")), []int{}},
		{"runtime re", f(c("data.runtime", query.Re, "collabora$")), []int{3}},
		{"group re", f(c("group", query.Re, "x86")), []int{2, 3}},
		{"owner re", f(c("owner", query.Re, "li|bo")), []int{1, 2, 3, 5, 6}},
		{"branch re", f(c("data.kernel_revision.branch", query.Re, "ast")), []int{1, 2}},
		{"tree re no match", f(c("data.kernel_revision.tree", query.Re, "zzz")), []int{}},
		{"tree re skips numbers and null", f(c("data.kernel_revision.tree", query.Re, "7|null")), []int{}},
		{"name re any", f(c("name", query.Re, "")), all},
		{"name re fold case", f(c("name", query.Re, "(?i)X86")), []int{2, 3}},
		{"name re within kind", f(c("kind", query.Eq, "job"), c("name", query.Re, "x86")), []int{3}},
		{"name re within kinds", f(c("kind", query.In, []any{"job", "kbuild"}), c("name", query.Re, "x86$")), []int{2, 3}},
		{"name re within kind none", f(c("kind", query.Eq, "checkout"), c("name", query.Re, "x86")), []int{}},
		{"arch re within kind", f(c("kind", query.Eq, "kbuild"), c("data.arch", query.Re, "86")), []int{2}},
		{"arch re", f(c("data.arch", query.Re, "_")), []int{2}},
		{"doc re", f(c("data.s", query.Re, "^f")), []int{6}},
		{"doc re skips numbers", f(c("data.s", query.Re, "5")), []int{1}},
		{"doc re skips bools", f(c("data.flag", query.Re, "1|true")), []int{3}},
		{"doc re missing", f(c("data.none", query.Re, "")), []int{}},
		{"id re never matches", f(c("id", query.Re, "6$")), []int{}}, // an ObjectId is not a string
		{"parent re never matches", f(c("parent", query.Re, "1")), []int{}},
		{"retry re", f(c("retry_counter", query.Re, "1")), []int{}},

		// Keys that need quoting.
		{"quote and space key", f(c(`data.a"b.c'd e`, query.Eq, "odd")), []int{1}},
		{"backslash key", f(c(`data.x\y`, query.Eq, "backslash")), []int{1}},
		{"injection key", f(c("data.'); DROP TABLE node; --", query.Eq, "inject")), []int{1}},
		{"bracket key", f(c("data.[0]", query.Eq, "brackets")), []int{1}},
		{"control char key", f(c("data.u\x01v", query.Eq, "control")), []int{1}},
		{"star key", f(c("data.*", query.Eq, nil)), all},
		{"injection value", f(c("name", query.Eq, "x' OR '1'='1")), []int{}},
	}
}

// RefusedConds are conditions every backend refuses with a *query.Error
// (a 400 naming the parameter), whatever built the filter: query.Parse
// refuses them first, the backends check again.
func RefusedConds() []query.Cond {
	return []query.Cond{
		c("", query.Eq, "x"),
		c("data..x", query.Eq, "x"),
		c("data.$x", query.Eq, nil),
		c("$where", query.Eq, "1"),
		c("$or", query.In, []any{"x"}),
		c("da\x00ta", query.Eq, "x"),
		c("data.\xff", query.Eq, "x"),
		c(strings.Repeat("a.", query.MaxPathSegments)+"a", query.Eq, "x"),
		c("kind", query.Op("where"), "x"),
		c("kind", query.In, "x"),
		c("kind", query.In, nil),
		c("kind", query.Re, int64(1)),
		c("kind", query.Re, strings.Repeat("a", query.MaxPatternLen+1)),
		c("name", query.Re, "rock("), // an indexed, low-cardinality field (regexes over distinct values)
		c("data.kernel_revision.tree", query.Re, "[main"),
		c("kind", query.Eq, struct{}{}),
		c("kind", query.Eq, []any{"x"}),
		c("kind", query.Eq, map[string]any{"$gt": ""}),
		c("kind", query.In, []any{map[string]any{}}),
		c("data.n", query.Eq, json.Number("x")),
		c("data.n", query.Gt, math.NaN()),
	}
}

// Deviation is what a backend's test server answers to a case instead of
// Want, and why: a known difference of that server from MongoDB (FerretDB
// 1.x), not of the backend, which sends MongoDB the same query.
type Deviation struct {
	Want []int
	Why  string
}

// testSemantics runs every case through FindNodes and CountNodes.
func testSemantics(t *testing.T, st store.Store, o Options) {
	defer st.Close()
	ctx := context.Background()
	mustWrite(t, st, store.NodeWrite{Insert: semanticsFixture(o)})
	number := map[objectid.ID]int{}
	for i := 1; i <= 6; i++ {
		number[nodeID(i)] = i
	}
	for _, tc := range SemanticsCases() {
		t.Run(tc.Name, func(t *testing.T) {
			if d, ok := o.Deviations[tc.Name]; ok {
				t.Logf("the test server deviates from MongoDB here, answering %v instead of %v: %s", d.Want, tc.Want, d.Why)
				tc.Want = d.Want
			}
			got, err := st.FindNodes(ctx, tc.Filter, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			ids := []int{}
			for _, n := range got {
				ids = append(ids, number[n.ID])
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.Want) {
				t.Errorf("FindNodes matched %v, want %v", ids, tc.Want)
			}
			count, err := st.CountNodes(ctx, tc.Filter)
			if err != nil {
				t.Fatal(err)
			}
			if int(count) != len(tc.Want) {
				t.Errorf("CountNodes = %d, want %d", count, len(tc.Want))
			}
		})
	}
	for i, cd := range RefusedConds() {
		t.Run(fmt.Sprintf("refused %d %.40q %s", i, cd.Field, cd.Op), func(t *testing.T) {
			var qe *query.Error
			flt := query.Filter{Conds: []query.Cond{c("kind", query.Eq, "checkout"), cd}}
			if _, err := st.FindNodes(ctx, flt, store.Page{}); !errors.As(err, &qe) {
				t.Errorf("FindNodes: %v, want a *query.Error", err)
			}
			if _, err := st.CountNodes(ctx, flt); !errors.As(err, &qe) {
				t.Errorf("CountNodes: %v, want a *query.Error", err)
			}
		})
	}
	for name := range o.Deviations {
		if !slices.ContainsFunc(SemanticsCases(), func(tc SemanticsCase) bool { return tc.Name == name }) {
			t.Errorf("deviation %q names no case", name)
		}
	}
}
