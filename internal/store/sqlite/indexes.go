package sqlite

import (
	"fmt"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Migration 7: indexes for the data.* fields pipelines filter on, and for
// the first data of the web pages (docs/performance.md, docs/ui.md).
//
//   - data.arch, data.defconfig, data.config_full, data.compiler: virtual
//     columns, each indexed with kind, over the nodes that are not tests
//     (WHERE kind <> 'test'). The pipelines ask these fields of builds and
//     jobs (kind=kbuild&data.arch=...); tests, 98% of the nodes, carry the
//     same values but get no entry, so a test insert pays nothing for
//     these indexes. A partial index is usable only when the query holds
//     its WHERE term, so the compiler adds "kind <> 'test'" (kindGuard)
//     when the filter's kind condition already excludes tests.
//     Like the other text-only columns (schema.go), they hold text
//     values only: a text condition on them does not match a field that
//     is an array holding that text.
//   - data.error_code: indexed where it is text (the errors; most nodes
//     hold null): data.error_code=node_timeout reads the errored nodes.
//   - (kind, name) over the nodes that are not tests: the distinct job
//     and build names of a kind, for regexes (regex.go).
//   - node_created becomes (created, kind, result): the stats page's
//     counts by kind and result over a time window read the index only.
//   - node_tree_window: (tree, branch, created, kind, result, commit) as
//     expressions, so that the dashboard's grid (one tree and branch, a
//     window, counts by commit, kind and result) reads the index only:
//     SQLite never treats an index on a virtual column as covering, but
//     it does an index on the same expressions when the query names them
//     (GroupNodes, nodestats.go).
//
// At 10 M nodes the migration reads every document once per new index
// (several minutes at the first start of the new version).
var schemaDataFields = strings.Join([]string{
	addTextColumn("d_arch", "$.data.arch"),
	addTextColumn("d_defconfig", "$.data.defconfig"),
	addTextColumn("d_config_full", "$.data.config_full"),
	addTextColumn("d_compiler", "$.data.compiler"),
	addTextColumn("d_error_code", "$.data.error_code"),
	"CREATE INDEX node_kind_arch ON node(kind, d_arch) WHERE " + notTest + ";",
	"CREATE INDEX node_kind_defconfig ON node(kind, d_defconfig) WHERE " + notTest + ";",
	"CREATE INDEX node_kind_config_full ON node(kind, d_config_full) WHERE " + notTest + ";",
	"CREATE INDEX node_kind_compiler ON node(kind, d_compiler) WHERE " + notTest + ";",
	"CREATE INDEX node_kind_name ON node(kind, name) WHERE " + notTest + ";",
	"CREATE INDEX node_error_code ON node(d_error_code) WHERE d_error_code IS NOT NULL;",
	"DROP INDEX node_created;",
	"CREATE INDEX node_created ON node(created, kind, result);",
	"CREATE INDEX node_tree_window ON node(" + textExpr("$.data.kernel_revision.tree") + ", " + textExpr("$.data.kernel_revision.branch") +
		", created, kind, result, " + textExpr("$.data.kernel_revision.commit") + ");",
}, "\n")

// schemaKindPlatform is migration 9: data.platform indexed with kind over
// the nodes that are not tests, as data.arch and the others of migration
// 7. node_platform (migration 1) holds every node, tests included (98%
// of them): kind=job&data.platform__re=rock read the entries of every
// test run on a matching platform to find the jobs. Through (kind,
// d_platform) a regex within a kind of builds or jobs is walked over
// that kind's platforms (regex.go) and reads the matching jobs only; an
// equality with such a kind is measured as a pair (plan.go). A test
// insert pays nothing for it.
const schemaKindPlatform = "CREATE INDEX node_kind_platform ON node(kind, d_platform) WHERE " + notTest + ";"

// notTest is the WHERE term of the partial indexes on nodes that are not
// tests, spelled exactly as the compiler adds it (kindGuard).
const notTest = "kind <> 'test'"

// textExpr is the SQL expression of the text value at a JSON path of
// the node document, NULL for any other type: the definition of the
// text-only virtual columns.
func textExpr(path string) string {
	return "(CASE WHEN json_type(doc, '" + path + "') = 'text' THEN json_extract(doc, '" + path + "') END)"
}

func addTextColumn(name, path string) string {
	return fmt.Sprintf("ALTER TABLE node ADD COLUMN %s TEXT GENERATED ALWAYS AS %s VIRTUAL;", name, textExpr(path))
}

// notTestColumns are the columns indexed with kind over the nodes that
// are not tests, with their index.
var notTestColumns = map[string]string{
	"d_arch": "node_kind_arch", "d_defconfig": "node_kind_defconfig", "d_config_full": "node_kind_config_full",
	"d_compiler": "node_kind_compiler", "name": "node_kind_name", "d_platform": "node_kind_platform",
}

// kindExcludesTests reports whether the kind condition c can only match
// nodes that are not tests: an equality or IN with text values, none of
// them "test".
func kindExcludesTests(c query.Cond) bool {
	return c.Field == "kind" && c.OnlyTextOtherThan("test")
}

// kindGuard returns the term "kind <> 'test'" when f's kind condition
// already excludes tests and f has a condition on a column of the
// partial indexes over the nodes that are not tests: the term changes
// no result and lets the planner use those indexes.
func kindGuard(t table, f query.Filter) string {
	if t.Name != nodeTable.Name || t.demote["kind"] {
		return ""
	}
	var guarded, indexed bool
	for _, c := range f.Conds {
		if kindExcludesTests(c) {
			guarded = true
		}
		if col, ok := t.Columns[c.Field]; ok && notTestColumns[col.Name] != "" && !t.demote[col.Name] {
			indexed = true
		}
	}
	if guarded && indexed {
		return notTest
	}
	return ""
}
