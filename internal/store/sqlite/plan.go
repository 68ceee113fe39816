package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Choosing the driving index from measured selectivity.
//
// The statistics of optimize.go give one average per index, and the
// compiler's likelihood() hints say "a lower time bound is a recent
// window": both are guesses about values they have not seen. When a
// filter has several conditions an index could drive, a wrong guess
// reads the wrong one: kind=test&result=fail&...&created__gt=2000-01-01
// took the (kind, created) index for a window that holds every node and
// read every test to find a page of failures.
//
// So before a node query with two or more such conditions runs, each is
// measured on the data:
//
//   - kind, state, result equalities: exactly, from the node_count
//     counters (counts.go);
//   - equalities on other indexed columns (name, group, parent, owner,
//     tree, branch, commit, runtime, platform, error_code): by counting their index
//     entries, up to the best count so far or probeLimit; past
//     probeLimit, the statistics' average for the column is used (never
//     less than probeLimit);
//   - regexes with a literal prefix on those columns (name__re=^kselftest),
//     which the compiler turns into a range of the index: likewise;
//   - lower bounds on created: likewise by counting the window's index
//     entries; past probeLimit, from the row id of the window's oldest
//     node (nodes are inserted in creation order, so the ids after it
//     are about the window);
//
// and every measured condition but the most selective is compiled so
// that no index can use it (a unary +, which changes no result), without
// its hint. The planner is then left with the most selective condition
// (alone, or in a composite index with unmeasured conditions) to drive
// the query, and the cost is bounded by its matches.
// TestPlanBoundedByMostSelective checks this on generated filters.
//
// The probes cost at most probeLimit index entries each (well under a
// millisecond) and run only for filters with two or more measurable
// conditions on a table past minStatsRows.

// probeLimit is how many index entries a probe counts at most (a few
// milliseconds at worst); a probe also stops past the best estimate so
// far, so that next to a selective condition probes cost little.
const probeLimit = 20000

// probeFirst is the limit of the first round of probes.
const probeFirst = 1000

// probeColumns are the indexed node columns whose equalities are
// measured by a probe, with the index that holds each.
var probeColumns = map[string]string{
	"name": "node_name", "grp": "node_grp", "parent": "node_parent", "owner": "node_owner",
	"kr_tree": "node_kr_tree", "kr_branch": "node_kr_branch", "kr_commit": "node_kr_commit",
	"d_runtime": "node_runtime", "d_platform": "node_platform", "d_error_code": "node_error_code",
}

// counterColumns are measured exactly by node_count.
var counterColumns = map[string]bool{"kind": true, "state": true, "result": true}

// measured is the estimated number of nodes matching the conditions on
// cols: one condition, or kind with a column of a partial index over the
// nodes that are not tests (indexes.go), which drive a plan together.
type measured struct {
	cols     []string
	est      int64
	distinct bool // a regex over distinct values (regex.go)
}

// planNodes returns the node table as the compiler should see it for f:
// nodeTable itself, or a copy whose measured conditions, but the most
// selective, are kept off the indexes.
func (s *Store) planNodes(ctx context.Context, f query.Filter) (table, error) {
	rt, err := s.planRegexes(ctx, nodeTable, f)
	if err != nil {
		return nodeTable, err
	}
	t, err := s.planIndexes(ctx, f, rt.distinctRe)
	t.distinctRe = rt.distinctRe
	if err == nil && t.indexedBy == "" && len(t.demote) == 0 {
		// Nothing measured: a regex over distinct values drives the
		// query when no other condition has an index.
		t.indexedBy = onlyDistinctRe(f, rt.distinctRe)
	}
	return t, err
}

// onlyDistinctRe returns the index of the regex over distinct values of
// f when no other condition of f could use an index, else "".
func onlyDistinctRe(f query.Filter, distinctRe map[string]distinctScope) string {
	index := ""
	for _, c := range f.Conds {
		col, ok := nodeTable.Columns[c.Field]
		if !ok {
			continue
		}
		if scope, ok := distinctRe[col.Name]; ok && c.Op == query.Re {
			if index == "" {
				index = distinctIndex(col.Name, scope)
			}
			continue
		}
		if c.Field == "kind" || col.Type == colTextOnly && notTestColumns[col.Name] != "" {
			continue // served with the regex when it is walked within a kind
		}
		return ""
	}
	return index
}

// distinctIndex is the index that serves a regex on col over its
// distinct values in scope.
func distinctIndex(col string, scope distinctScope) string {
	if scope.Kind != "" {
		return notTestColumns[col]
	}
	return distinctIndexes[col]
}

// planIndexes is planNodes but for the regexes over distinct values
// (regex.go), which it measures.
func (s *Store) planIndexes(ctx context.Context, f query.Filter, distinctRe map[string]distinctScope) (table, error) {
	var cands, pairs []query.Cond
	var kind *query.Cond
	seen := map[string]bool{}
	for _, c := range f.Conds {
		if selectiveAlways(c) {
			return nodeTable, nil
		}
		col, ok := nodeTable.Columns[c.Field]
		if !ok || seen[col.Name] {
			continue
		}
		v, err := normalize(c.Value)
		if err != nil {
			continue // the compiler reports it
		}
		if _, ok := v.(string); ok && c.Op == query.Eq && c.Field == "kind" {
			kind = &c
		}
		if s, ok := v.(string); ok && c.Op == query.Eq && (notTestColumns[col.Name] != "" || kindColumns[col.Name] != "") {
			pc := c
			pc.Value = s
			pairs = append(pairs, pc)
		}
		if _, ok := distinctRe[col.Name]; ok && c.Op == query.Re {
			seen[col.Name] = true
			cands = append(cands, c)
			continue
		}
		if c, ok = measurable(col, c, v); ok {
			seen[col.Name] = true
			cands = append(cands, c)
		}
	}
	if kind == nil {
		pairs = nil
	}
	if kind != nil && !kindExcludesTests(*kind) {
		pairs = slices.DeleteFunc(pairs, func(c query.Cond) bool { return kindColumns[nodeTable.Columns[c.Field].Name] == "" })
	}
	// An equality measured with kind as a pair is not measured alone:
	// the pair matches no more nodes and its index drives at least as
	// well, so the probe of the column alone (up to probeFirst entries
	// of a commit's every node) would only cost.
	cands = slices.DeleteFunc(cands, func(c query.Cond) bool {
		return c.Op == query.Eq && slices.ContainsFunc(pairs, func(p query.Cond) bool { return p.Field == c.Field })
	})
	if len(cands)+len(pairs) < 2 {
		return nodeTable, nil
	}
	n, err := s.nodeRows(ctx)
	if err != nil || n < minStatsRows {
		return nodeTable, err
	}
	// Counters first (exact and free), then the pairs (the most
	// selective, usually), then the other conditions: each bounds the
	// probes that follow.
	type probe struct {
		c    query.Cond
		pair bool
	}
	var probes []probe
	for _, c := range cands {
		if counterColumns[nodeTable.Columns[c.Field].Name] {
			probes = append(probes, probe{c: c})
		}
	}
	for _, c := range pairs {
		probes = append(probes, probe{c: c, pair: true})
	}
	for _, c := range cands {
		if !counterColumns[nodeTable.Columns[c.Field].Name] {
			probes = append(probes, probe{c: c})
		}
	}
	// Two rounds: probes first count at most probeFirst entries, enough
	// to find a selective condition cheaply; only when none is, they
	// count again up to probeLimit.
	var ms []measured
	best := -1
	for _, cap := range []int64{probeFirst, probeLimit} {
		ms, best = ms[:0], -1
		for _, p := range probes {
			limit := cap
			if best >= 0 {
				limit = min(limit, ms[best].est+1)
			}
			var m measured
			var err error
			switch scope, ok := distinctRe[nodeTable.Columns[p.c.Field].Name]; {
			case p.pair:
				m, err = s.measurePair(ctx, *kind, p.c, limit)
			case ok && p.c.Op == query.Re:
				m, err = s.measureDistinctRe(ctx, p.c, scope, limit)
			default:
				m, err = s.measure(ctx, p.c, n, limit, cap)
			}
			if err != nil {
				return nodeTable, err
			}
			ms = append(ms, m)
			if best < 0 || m.est < ms[best].est {
				best = len(ms) - 1
			}
		}
		if ms[best].est < cap {
			break
		}
	}
	if s.probed != nil {
		s.probed(ms)
	}
	t := nodeTable
	t.demote = map[string]bool{}
	for _, m := range ms {
		for _, col := range m.cols {
			if !slices.Contains(ms[best].cols, col) {
				t.demote[col] = true
			}
		}
	}
	// The planner cannot estimate the matches of a regex over distinct
	// values: when it is the most selective, say which index reads it.
	if b := ms[best]; b.distinct {
		col := b.cols[len(b.cols)-1]
		t.indexedBy = distinctIndex(col, distinctRe[col])
	}
	return t, nil
}

// measureDistinctRe counts the nodes whose column holds one of the
// distinct values (regex.go) the regex c matches (at most limit index
// entries); within a kind, with the kind.
func (s *Store) measureDistinctRe(ctx context.Context, c query.Cond, scope distinctScope, limit int64) (measured, error) {
	col := nodeTable.Columns[c.Field].Name
	m := measured{cols: []string{col}, distinct: true}
	if scope.Kind != "" {
		m.cols = []string{"kind", col}
	}
	values, err := s.distinctValues(ctx, col, scope)
	if err != nil || values == nil {
		m.est = limit
		return m, err
	}
	matched, err := regexMatches(c.Value.(string), values)
	if err != nil {
		return m, err
	}
	if len(matched) == 0 {
		return m, nil
	}
	list, err := json.Marshal(matched)
	if err != nil {
		return m, fmt.Errorf("sqlite: plan: %w", err)
	}
	q, args := "SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY "+distinctIndexes[col]+" WHERE "+col+" IN (SELECT value FROM json_each(?)) LIMIT ?)", []any{string(list), limit}
	if scope.Kind != "" {
		q = "SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY " + notTestColumns[col] + " WHERE kind = ? AND " + notTest + " AND " + col + " IN (SELECT value FROM json_each(?)) LIMIT ?)"
		args = append([]any{scope.Kind}, args...)
	}
	stmt, err := s.readStmt(ctx, q)
	if err != nil {
		return m, err
	}
	if err := stmt.QueryRowContext(ctx, args...).Scan(&m.est); err != nil {
		return m, fmt.Errorf("sqlite: plan: %w", err)
	}
	return m, nil
}

// kindColumns are the columns indexed with kind over every node, with
// their index.
var kindColumns = map[string]string{"kr_commit": "node_kind_commit"}

// measurePair counts the nodes matching kind and c together through the
// index of (kind, c's column): over every node, or the partial index
// over the nodes that are not tests (at most limit entries).
func (s *Store) measurePair(ctx context.Context, kind, c query.Cond, limit int64) (measured, error) {
	col := nodeTable.Columns[c.Field].Name
	m := measured{cols: []string{"kind", col}}
	q := "SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY " + kindColumns[col] + " WHERE kind = ? AND " + col + " = ? LIMIT ?)"
	if kindColumns[col] == "" {
		q = "SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY " + notTestColumns[col] + " WHERE kind = ? AND " + notTest + " AND " + col + " = ? LIMIT ?)"
	}
	stmt, err := s.readStmt(ctx, q)
	if err != nil {
		return m, err
	}
	if err := stmt.QueryRowContext(ctx, kind.Value, c.Value, limit).Scan(&m.est); err != nil {
		return m, fmt.Errorf("sqlite: plan: %w", err)
	}
	return m, nil
}

// selectiveAlways reports whether c has an access path that bounds any
// filter holding it better than a measurement would: the id (unique) and
// processed_by_kcidb_bridge=false (the partial index node_kcidb_pending,
// the kcidb bridge's backlog). Filters with one are left as they are.
func selectiveAlways(c query.Cond) bool {
	switch {
	case c.Field == "id" && c.Op == query.Eq:
		return true
	case c.Field == "processed_by_kcidb_bridge" && c.Op == query.Eq:
		b, ok := c.Value.(bool)
		return ok && !b
	}
	return false
}

// measurable reports whether c, of normalized value v, is a condition
// planNodes measures, and returns it with the value as measure wants it:
// the column's text, or a time.
func measurable(col column, c query.Cond, v any) (query.Cond, bool) {
	switch {
	case c.Op == query.Eq && (counterColumns[col.Name] || probeColumns[col.Name] != ""):
		if _, isTime := v.(time.Time); isTime {
			return c, false
		}
		s, ok := text(v)
		c.Value = s
		return c, ok
	case (c.Op == query.Gt || c.Op == query.Gte) && col.Name == "created":
		_, ok := v.(time.Time)
		c.Value = v
		return c, ok
	case c.Op == query.Re && probeColumns[col.Name] != "":
		// Only a pattern with a literal prefix, which the compiler turns
		// into a range of the index.
		pat, _ := v.(string)
		_, _, ok := prefixRange(pat)
		return c, ok
	}
	return c, false
}

// nodeRows is the size of the node table as Optimize reckons it (the row
// id span: two index lookups).
func (s *Store) nodeRows(ctx context.Context) (int64, error) {
	stmt, err := s.readStmt(ctx, "SELECT (SELECT min(rid) FROM node), (SELECT max(rid) FROM node)")
	if err != nil {
		return 0, err
	}
	var lo, hi sql.NullInt64
	if err := stmt.QueryRowContext(ctx).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("sqlite: plan: %w", err)
	}
	if !lo.Valid || !hi.Valid {
		return 0, nil
	}
	return hi.Int64 - lo.Int64 + 1, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// measure estimates the number of nodes matching c (see above), counting
// at most limit index entries: a count that reaches a limit below
// probeLimit only says "no better than the best so far".
func (s *Store) measure(ctx context.Context, c query.Cond, n, limit, probeLimit int64) (measured, error) {
	col := nodeTable.Columns[c.Field]
	m := measured{cols: []string{col.Name}}
	one := func(q string, args ...any) (int64, error) {
		stmt, err := s.readStmt(ctx, q)
		if err != nil {
			return 0, err
		}
		var v sql.NullInt64
		if err := stmt.QueryRowContext(ctx, args...).Scan(&v); err != nil {
			return 0, fmt.Errorf("sqlite: plan: %w", err)
		}
		return v.Int64, nil
	}
	var err error
	switch {
	case counterColumns[col.Name]:
		m.est, err = one("SELECT coalesce(sum(n), 0) FROM node_count WHERE "+col.Name+" = ?", c.Value)
	case col.Name == "created":
		bound := model.FormatTime(c.Value.(time.Time))
		op := sqlOp[c.Op]
		m.est, err = one("SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY node_created WHERE created "+op+" ? LIMIT ?)", bound, limit)
		if err == nil && m.est >= probeLimit {
			var first int64
			first, err = one("SELECT rid FROM node INDEXED BY node_created WHERE created "+op+" ? ORDER BY created LIMIT 1", bound)
			if err == nil {
				var last int64
				last, err = one("SELECT max(rid) FROM node")
				m.est = max(probeLimit, last-first+1)
			}
		}
	case c.Op == query.Re:
		lo, hi, _ := prefixRange(c.Value.(string))
		q, args := col.Name+" >= ?", []any{lo}
		if hi != "" {
			q, args = q+" AND "+col.Name+" < ?", append(args, hi)
		}
		m.est, err = one("SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY "+probeColumns[col.Name]+" WHERE "+q+" LIMIT ?)", append(args, limit)...)
		if err == nil && m.est >= probeLimit {
			m.est = max(probeLimit, n/4) // SQLite's own guess for a range
		}
	default:
		m.est, err = one("SELECT count(*) FROM (SELECT 1 FROM node INDEXED BY "+probeColumns[col.Name]+" WHERE "+col.Name+" = ? LIMIT ?)", c.Value, limit)
		if err == nil && m.est >= probeLimit {
			m.est = probeLimit
			if stat, ok := nodeIndexStats[probeColumns[col.Name]]; ok {
				m.est = max(probeLimit, stat(n)[1])
			}
		}
	}
	return m, err
}

// readStmt returns the statement q prepared on the reader pool, preparing
// it the first time: the planner's probes are a few fixed statements run
// on every planned query, where preparing them each time would cost more
// than running them.
func (s *Store) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: plan: %w", err)
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
