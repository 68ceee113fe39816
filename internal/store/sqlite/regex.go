package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Regexes over the distinct values of low-cardinality columns.
//
// An unanchored regex (name__re=rock-pi) cannot narrow an index: the
// compiler's regexp(pattern, col) runs on every candidate row, the whole
// node_name index for /count?name__re=rock-pi (0.6 µs a node, 6 s at 10 M
// nodes). The values of trees, branches, platforms, runtimes, groups and
// of the names, archs, defconfigs and compilers of one kind of builds or
// jobs are few (tens to thousands) and repeat over millions of nodes. For
// such a column, the condition is compiled as
//
//	col IN (WITH RECURSIVE d(v) AS (<the smallest value>
//	        UNION ALL <the next value after d.v>) SELECT v FROM d WHERE regexp(?, v))
//
// a walk over the column's distinct values in its index (one seek per
// value), the regexp run once per value, and the index then read for the
// matching values only. The statement enumerates the values itself, so
// the result is exactly that of regexp() on every row, in the same
// snapshot, whatever was written meanwhile (new names appear all the
// time): the set of rows whose value matches is the set of rows holding
// one of the matching distinct values. TestDistinctRegexSameResults
// checks it against the row-by-row form.
//
// Whether a column qualifies is decided from its number of distinct
// values, counted (up to distinctLimit) and kept in a small cache for
// distinctTTL: a column with more values than that keeps the row-by-row
// form, which then costs less than walking them. The count also gives
// plan.go its estimate of the condition's matches. The cache only
// chooses plans; it never decides a result.
//
// Columns of a partial index over the nodes that are not tests (name,
// data.arch, data.defconfig, data.config_full, data.compiler) are walked
// within the filter's kind (kind=job&name__re=rock-pi), through
// (kind, col): a walk over every test name would not be bounded.

// distinctLimit is the most distinct values a column may have for its
// regexes to be evaluated over them (docs/performance.md): past it, the
// walk (a few µs a value) would cost more than it saves.
const distinctLimit = 20000

// distinctTTL is how long a column's count of distinct values is reused
// for planning.
const distinctTTL = time.Minute

// distinctManyTTL is how long a column found to have more than
// distinctLimit values is not walked again (a walk that stops at the
// limit costs about a tenth of a second).
const distinctManyTTL = 10 * time.Minute

// distinctCacheSize bounds the cache (the scope is a kind value a client
// sends).
const distinctCacheSize = 256

// distinctIndexes are the node columns whose full index walks their
// distinct values.
var distinctIndexes = map[string]string{
	"name": "node_name", "grp": "node_grp", "owner": "node_owner",
	"kr_tree": "node_kr_tree", "kr_branch": "node_kr_branch", "kr_commit": "node_kr_commit",
	"d_runtime": "node_runtime", "d_platform": "node_platform",
}

// distinctScope is how the values of a regex's column are walked: the
// whole column, or within kind = Kind (a value other than "test").
type distinctScope struct {
	Kind string // "" for the whole column
}

type distinctKey struct {
	col   string
	scope distinctScope
}

type distinctEntry struct {
	values []string // nil when more than distinctLimit
	at     time.Time
}

// distinctCache holds the distinct values of columns, for planning.
type distinctCache struct {
	mu sync.Mutex
	m  map[distinctKey]distinctEntry
}

// distinctSQL is the recursive walk over the distinct values of col in
// scope (its parameters: the scope's kind twice when scoped).
func distinctSQL(col string, scope distinctScope) string {
	where, next := "", col+" > d.v"
	if scope.Kind != "" {
		where = " WHERE kind = ? AND " + notTest
		next = "kind = ? AND " + notTest + " AND " + next
	}
	return "WITH RECURSIVE d(v) AS (SELECT min(" + col + ") FROM node" + where +
		" UNION ALL SELECT (SELECT min(" + col + ") FROM node WHERE " + next + ") FROM d WHERE d.v IS NOT NULL) SELECT v FROM d"
}

func scopeArgs(scope distinctScope) []any {
	if scope.Kind == "" {
		return nil
	}
	return []any{scope.Kind, scope.Kind}
}

// regexScope returns how the values of the column of regex condition c
// can be walked in filter f, or ok=false when they cannot.
func regexScope(f query.Filter, col column, c query.Cond) (distinctScope, bool) {
	if c.Op != query.Re {
		return distinctScope{}, false
	}
	pat, err := query.CheckPattern(c)
	if err != nil {
		return distinctScope{}, false // the compiler refuses it
	}
	if _, _, ok := prefixRange(pat); ok {
		return distinctScope{}, false // the index range of its prefix serves it
	}
	if notTestColumns[col.Name] != "" {
		for _, k := range f.Conds {
			if k.Op == query.Eq && kindExcludesTests(k) {
				return distinctScope{Kind: k.Value.(string)}, true
			}
		}
	}
	if distinctIndexes[col.Name] != "" {
		return distinctScope{}, true
	}
	return distinctScope{}, false
}

// distinctValues returns the distinct values of col in scope, or nil
// when there are more than distinctLimit, from the cache when fresh.
func (s *Store) distinctValues(ctx context.Context, col string, scope distinctScope) ([]string, error) {
	key := distinctKey{col, scope}
	s.distinct.mu.Lock()
	e, ok := s.distinct.m[key]
	s.distinct.mu.Unlock()
	if ok && (time.Since(e.at) < distinctTTL || e.values == nil && time.Since(e.at) < distinctManyTTL) {
		return e.values, nil
	}
	stmt, err := s.readStmt(ctx, distinctSQL(col, scope)+" WHERE v IS NOT NULL LIMIT ?")
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, append(scopeArgs(scope), distinctLimit+1)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: distinct values: %w", err)
	}
	defer rows.Close()
	values := []string{}
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: distinct values: %w", err)
		}
		values = append(values, v.String)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: distinct values: %w", err)
	}
	if len(values) > distinctLimit {
		values = nil
	}
	s.distinct.mu.Lock()
	if s.distinct.m == nil || len(s.distinct.m) >= distinctCacheSize {
		s.distinct.m = map[distinctKey]distinctEntry{}
	}
	s.distinct.m[key] = distinctEntry{values: values, at: time.Now()}
	s.distinct.mu.Unlock()
	return values, nil
}

// regexMatches returns the values that pattern matches, as the SQL
// regexp() function decides it.
func regexMatches(pat string, values []string) ([]string, error) {
	re, err := patterns.get(pat)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range values {
		if re.MatchString(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// planRegexes returns t with the regex conditions of f that qualify
// marked to be compiled over their column's distinct values.
func (s *Store) planRegexes(ctx context.Context, t table, f query.Filter) (table, error) {
	var marked map[string]distinctScope
	for _, c := range f.Conds {
		col, ok := t.Columns[c.Field]
		if !ok || (col.Type != colText && col.Type != colTextOnly) {
			continue
		}
		scope, ok := regexScope(f, col, c)
		if !ok {
			continue
		}
		values, err := s.distinctValues(ctx, col.Name, scope)
		if err != nil {
			return t, err
		}
		if values == nil {
			continue
		}
		if marked == nil {
			marked = map[string]distinctScope{}
		}
		marked[col.Name] = scope
	}
	if marked != nil {
		t.distinctRe = marked
	}
	return t, nil
}

// distinctReCond is the condition "name regexp pat" over the distinct
// values of the column (see above).
func distinctReCond(name, col string, scope distinctScope, pat string) (string, []any) {
	args := append(scopeArgs(scope), pat)
	return name + " IN (" + distinctSQL(col, scope) + " WHERE " + regexpFunc + "(?, v))", args
}
