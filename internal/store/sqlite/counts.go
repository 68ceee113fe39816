package sqlite

// Node counters: the number of nodes per (kind, state, result), kept
// exact by triggers in the transaction of every node write, so that the
// total of a filter on those columns only (kind=test: 98% of the nodes;
// /count with no filter) is a sum over a few dozen rows instead of a walk
// over one index entry per match (1 s of CPU at 10 M nodes; see
// docs/performance.md).
//
// Exactness does not depend on reproducing the filter compiler's
// semantics: such a filter is compiled by the same compiler against
// node_count, whose kind, state and result columns hold the very values
// (same types, same NULLs, same affinity) of the node rows they count. A
// condition on these columns (colCond) reads nothing but the column, so
// it holds for a counter row exactly when it holds for each node the row
// counts, and the sum of the matching rows is the count of the matching
// nodes, for every operator and value type (kind=1 as an integer matches
// nothing in both; result=null matches the NULL row, which is the nodes
// whose result is null or missing).

import (
	"fmt"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// schemaNodeCounts is migration 4: the counters, their triggers, and
// their initial values from one pass over node (inside the migration's
// transaction, so no write can fall between the pass and the triggers).
// The pass adds each row to its counter rather than GROUP BY, which
// would sort every row of node first: 2.5 s instead of 3.3-4.4 s at 1 M
// nodes, and no temporary storage ("WHERE true" is SQLite's required
// disambiguation of an upsert after a SELECT).
//
// result is NULL for null/missing, which a UNIQUE key would treat as
// distinct from every other NULL; the key therefore indexes
// coalesce(result, <the empty BLOB>), and a BLOB never equals a TEXT
// value (not even the empty string), so each (kind, state, result) has
// exactly one row. The upserts name that key as their conflict target,
// and the decrements compare the same expression so that they use it.
//
// AFTER UPDATE fires only when kind, state or result changes (the API
// replaces whole rows, so most updates change other columns only). Rows
// that drop to 0 stay: there are only as many as combinations ever seen,
// and a node moving through its states would otherwise delete and
// re-create them. Every node write goes through these triggers: INSERTs
// (WriteNodes, imports), UPDATEs (WriteNodes, ReplaceNodeIf) and DELETEs
// (PurgeNodes). Clear alone sets them aside (see there). No code path
// uses REPLACE conflict resolution, which deletes without firing delete
// triggers.
//
// A statement that fires triggers runs with a statement journal (for
// its own rollback), holding a copy of every page it changes; the
// writer connection keeps it in memory (temp_store, store.go), else
// each node write spills its ~25 index pages to a temporary file (3x
// slower inserts, measured).
const schemaNodeCounts = `
CREATE TABLE node_count (
	kind   TEXT NOT NULL,
	state  TEXT NOT NULL,
	result TEXT,
	n      INTEGER NOT NULL
);
CREATE UNIQUE INDEX node_count_key ON node_count(kind, state, coalesce(result, X''));

CREATE TRIGGER node_count_insert AFTER INSERT ON node BEGIN
	INSERT INTO node_count (kind, state, result, n) VALUES (NEW.kind, NEW.state, NEW.result, 1)
		ON CONFLICT (kind, state, coalesce(result, X'')) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER node_count_delete AFTER DELETE ON node BEGIN
	UPDATE node_count SET n = n - 1
		WHERE kind = OLD.kind AND state = OLD.state AND coalesce(result, X'') = coalesce(OLD.result, X'');
END;

CREATE TRIGGER node_count_update AFTER UPDATE OF kind, state, result ON node
	WHEN OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state OR OLD.result IS NOT NEW.result
BEGIN
	UPDATE node_count SET n = n - 1
		WHERE kind = OLD.kind AND state = OLD.state AND coalesce(result, X'') = coalesce(OLD.result, X'');
	INSERT INTO node_count (kind, state, result, n) VALUES (NEW.kind, NEW.state, NEW.result, 1)
		ON CONFLICT (kind, state, coalesce(result, X'')) DO UPDATE SET n = n + 1;
END;

INSERT INTO node_count (kind, state, result, n)
	SELECT kind, state, result, 1 FROM node WHERE true
	ON CONFLICT (kind, state, coalesce(result, X'')) DO UPDATE SET n = n + 1;
`

// nodeCountTable describes node_count for the filter compiler: the node
// columns it counts by, declared exactly as in nodeTable.
var nodeCountTable = table{
	Name: "node_count",
	Columns: map[string]column{
		"kind":   nodeTable.Columns["kind"],
		"state":  nodeTable.Columns["state"],
		"result": nodeTable.Columns["result"],
	},
}

// countedByCounters reports whether node_count can answer the total of f:
// every condition is on a column node_count has (an empty filter is the
// sum of all). Any other field, even one that would make the condition
// trivially true, sends the filter to the node table.
func countedByCounters(f query.Filter) bool {
	for _, c := range f.Conds {
		if _, ok := nodeCountTable.Columns[c.Field]; !ok {
			return false
		}
	}
	return true
}

// countNodesSQL is the statement CountNodes runs: a sum over node_count
// when the filter is on its columns only, else a count over node (t:
// nodeTable as planNodes prepared it).
func countNodesSQL(t table, f query.Filter) (string, []any, error) {
	if !countedByCounters(f) {
		return countSQL(t, f)
	}
	where, args, err := compile(nodeCountTable, f)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("SELECT coalesce(sum(n), 0) FROM %s WHERE %s", nodeCountTable.Name, where), args, nil
}
