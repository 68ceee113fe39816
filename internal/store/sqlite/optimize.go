package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Query planning. SQLite's planner chooses among the indexes of schema.go
// with the statistics in sqlite_stat1 (rows per distinct key prefix of
// each index). Without statistics it assumes that an equality on any
// index matches about ten rows, so "state = 'done'" (most of the table)
// looks as selective as "parent = ?", and a Find (ORDER BY rid LIMIT n)
// may walk such an index, or the whole table, in rid order filtering as
// it goes: on millions of nodes that reads most of the table to return a
// page.
//
// ANALYZE measures the statistics but does not fit this store: a full
// ANALYZE reads every index inside a write transaction (tens of seconds
// at 10 million nodes, blocking every writer), and a sampled one
// (analysis_limit, as PRAGMA optimize runs it) misjudges the skewed,
// low-cardinality columns badly (it rated state at 334 rows per value on
// 200k nodes where the true mean is 50,000), which brings the same bad
// plans back. Statistics also reach only new connections, not the pool of
// readers already open.
//
// So Optimize writes the node table's statistics from a fixed profile of
// KernelCI data (few kinds, states and results, most nodes are tests;
// parents have tens of children; a kernel commit has thousands of nodes;
// names repeat), scaled to the current number of rows. The plans they
// give are deterministic and checked by TestNodePlans against the
// pipeline's queries; docs/performance.md has the measurements.

// minStatsRows is the table size below which the planner is left to its
// defaults: small tables are fast with any plan.
const minStatsRows = 10000

// nodeIndexStats gives, for each index of node, the sqlite_stat1 "stat"
// column for a table of n rows: n, then the average number of rows per
// distinct value of each leading prefix of the index's columns.
var nodeIndexStats = map[string]func(n int64) []int64{
	"sqlite_autoindex_node_1": func(n int64) []int64 { return []int64{n, 1} }, // id
	"node_kind":               func(n int64) []int64 { return []int64{n, n / 5} },
	"node_kind_commit":        func(n int64) []int64 { return []int64{n, n / 5, 50} },
	"node_kind_created":       func(n int64) []int64 { return []int64{n, n / 5, 1} },
	"node_kcidb_pending":      func(n int64) []int64 { return []int64{max(n/1000, 1), max(n/4000, 1), 1} }, // partial: unprocessed nodes
	"node_name":               func(n int64) []int64 { return []int64{n, 200} },                            // test and job names repeat
	"node_grp":                func(n int64) []int64 { return []int64{n, 200} },
	"node_parent":             func(n int64) []int64 { return []int64{n, 50} },
	"node_state":              func(n int64) []int64 { return []int64{n, n / 4} },
	"node_result":             func(n int64) []int64 { return []int64{n, n / 5} },
	"node_owner":              func(n int64) []int64 { return []int64{n, n / 10} },
	"node_created":            func(n int64) []int64 { return []int64{n, 1, 1, 1} }, // (created, kind, result)
	"node_updated":            func(n int64) []int64 { return []int64{n, 1} },
	"node_state_timeout":      func(n int64) []int64 { return []int64{n, n / 4, 1} },
	"node_state_holdoff":      func(n int64) []int64 { return []int64{n, n / 4, 1} },
	// Trees, branches, runtimes and platforms are few, and a handful of
	// them (mainline, master, qemu...) hold most nodes.
	"node_kr_tree":   func(n int64) []int64 { return []int64{n, n / 10} },
	"node_kr_branch": func(n int64) []int64 { return []int64{n, n / 20} },
	"node_kr_commit": func(n int64) []int64 { return []int64{n, 1000} },
	"node_runtime":   func(n int64) []int64 { return []int64{n, n / 5} },
	"node_platform":  func(n int64) []int64 { return []int64{n, n / 50} },
	// Migration 7 (indexes.go). The partial indexes over the nodes that
	// are not tests hold about 2% of the nodes, a few kinds; archs,
	// compilers and defconfigs are few, names of jobs and builds repeat
	// for every checkout.
	"node_kind_arch":        func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), max(n/1000, 1)} },
	"node_kind_defconfig":   func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), max(n/2000, 1)} },
	"node_kind_config_full": func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), max(n/2000, 1)} },
	"node_kind_compiler":    func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), max(n/1000, 1)} },
	"node_kind_name":        func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), 200} },
	"node_error_code":       func(n int64) []int64 { return []int64{max(n/100, 1), max(n/1000, 1)} },               // partial: errored nodes
	"node_kind_platform":    func(n int64) []int64 { return []int64{max(n/50, 1), max(n/200, 1), max(n/5000, 1)} }, // migration 9
	"node_tree_window":      func(n int64) []int64 { return []int64{n, n / 10, n / 40, 1, 1, 1, 1} },
}

// nodeStats returns the sqlite_stat1 rows (index name -> stat) of the
// node table holding n rows; an index missing from the profile gets the
// planner's own default guess for one key column (ten rows per value).
func nodeStats(n int64, indexes []string) map[string]string {
	out := map[string]string{}
	for _, idx := range indexes {
		var v []int64
		if f, ok := nodeIndexStats[idx]; ok {
			v = f(n)
		} else {
			v = []int64{n, 10}
		}
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.FormatInt(max(x, 1), 10)
		}
		out[idx] = strings.Join(parts, " ")
	}
	return out
}

// Optimize refreshes the query planner's statistics of the node table
// (see above): it is cheap (a few index lookups and a small write), so
// the server runs it at open and every hour (app/maintenance.go)
// as the table grows. Every connection picks the new statistics up at its
// next statement.
func (s *Store) Optimize(ctx context.Context) error {
	var changed bool
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		changed, err = writeNodeStats(ctx, tx)
		return err
	})
	if err != nil || !changed {
		return err
	}
	// The writer reloads now; the readers reload because the schema
	// cookie changed (writeNodeStats).
	if _, err := s.w.ExecContext(ctx, "ANALYZE sqlite_schema"); err != nil {
		return fmt.Errorf("sqlite: optimize: %w", err)
	}
	return nil
}

// writeNodeStats replaces the statistics of the node table; it reports
// whether it changed anything.
func writeNodeStats(ctx context.Context, tx *sql.Tx) (bool, error) {
	// Rows: the rid span (purges delete the oldest nodes, so it tracks
	// the count closely) costs two index lookups instead of a count. (One
	// SELECT of both min and max would scan the table.)
	var lo, hi sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT min(rid) FROM node), (SELECT max(rid) FROM node)").Scan(&lo, &hi); err != nil {
		return false, fmt.Errorf("sqlite: optimize: %w", err)
	}
	n := int64(0)
	if lo.Valid && hi.Valid {
		n = hi.Int64 - lo.Int64 + 1
	}
	stats := map[string]string{}
	var indexes []string
	if n >= minStatsRows {
		var err error
		indexes, err = queryStrings(ctx, tx, "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'node'")
		if err != nil {
			return false, err
		}
		stats = nodeStats(n, indexes)
	}
	tables, err := queryStrings(ctx, tx, "SELECT name FROM sqlite_schema WHERE name IN ('sqlite_stat1', 'sqlite_stat4')")
	if err != nil {
		return false, err
	}
	if len(tables) == 0 {
		if len(stats) == 0 {
			return false, nil
		}
		// Only ANALYZE creates the statistics tables (and sqlite_stat4
		// when compiled in); the user table is small.
		if _, err := tx.ExecContext(ctx, "ANALYZE user"); err != nil {
			return false, fmt.Errorf("sqlite: optimize: %w", err)
		}
		if tables, err = queryStrings(ctx, tx, "SELECT name FROM sqlite_schema WHERE name IN ('sqlite_stat1', 'sqlite_stat4')"); err != nil {
			return false, err
		}
	}
	old := map[string]string{}
	rows, err := tx.QueryContext(ctx, "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'node'")
	if err != nil {
		return false, fmt.Errorf("sqlite: optimize: %w", err)
	}
	for rows.Next() {
		var idx, stat sql.NullString
		if err := rows.Scan(&idx, &stat); err != nil {
			rows.Close()
			return false, fmt.Errorf("sqlite: optimize: %w", err)
		}
		old[idx.String] = stat.String
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("sqlite: optimize: %w", err)
	}
	if maps.Equal(old, stats) || similar(old, n, indexes) {
		return false, nil
	}
	for _, q := range []string{"DELETE FROM sqlite_stat1 WHERE tbl = 'node'", "DELETE FROM sqlite_stat4 WHERE tbl = 'node'"} {
		if strings.Contains(q, "stat4") && !slices.Contains(tables, "sqlite_stat4") {
			continue
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("sqlite: optimize: %w", err)
		}
	}
	for idx, stat := range stats {
		if _, err := tx.ExecContext(ctx, "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('node', ?, ?)", idx, stat); err != nil {
			return false, fmt.Errorf("sqlite: optimize: %w", err)
		}
	}
	// Statistics are read when a connection loads the schema; changing
	// the schema makes every open connection reload it.
	if _, err := tx.ExecContext(ctx, "CREATE TABLE kci_reload_stats (x); DROP TABLE kci_reload_stats"); err != nil {
		return false, fmt.Errorf("sqlite: optimize: %w", err)
	}
	return true, nil
}

// similar reports whether the statistics in place are this profile's for
// a table size within 25% of n, which would give the same plans:
// rewriting them would only make every connection reload its schema.
func similar(old map[string]string, n int64, indexes []string) bool {
	f := strings.Fields(old["sqlite_autoindex_node_1"])
	if len(f) == 0 || n <= 0 {
		return false
	}
	m, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || m <= 0 || float64(m)/float64(n) >= 1.25 || float64(n)/float64(m) >= 1.25 {
		return false
	}
	return maps.Equal(old, nodeStats(m, indexes))
}

func queryStrings(ctx context.Context, tx *sql.Tx, q string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: optimize: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: optimize: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: optimize: %w", err)
	}
	return out, nil
}

// ExplainFindNodes returns SQLite's query plan of FindNodes(f, p), one
// line per step, for diagnostics and benchmarks.
func (s *Store) ExplainFindNodes(ctx context.Context, f query.Filter, p store.Page) ([]string, error) {
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	q, args, err := findSQL(t, "doc", f, p)
	if err != nil {
		return nil, err
	}
	return s.explain(ctx, q, args)
}

// ExplainCountNodes returns SQLite's query plan of CountNodes(f).
func (s *Store) ExplainCountNodes(ctx context.Context, f query.Filter) ([]string, error) {
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	q, args, err := countNodesSQL(t, f)
	if err != nil {
		return nil, err
	}
	return s.explain(ctx, q, args)
}

func (s *Store) explain(ctx context.Context, q string, args []any) ([]string, error) {
	return explainQuery(ctx, s.r, q, args)
}

// explainQuery answers the details of SQLite's plan for q, one line per
// step.
func explainQuery(ctx context.Context, db *sql.DB, q string, args []any) ([]string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: explain: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, fmt.Errorf("sqlite: explain: %w", err)
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}
