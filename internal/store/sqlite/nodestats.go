package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

var _ store.NodeStats = (*Store)(nil)

// groupColumns are the grouping fields read from a column of node: text
// or NULL, exactly the field's value. Other fields are read from the
// document by JSON type and value.
var groupColumns = map[string]string{
	"kind": "kind", "state": "state", "result": "result", "name": "name", "group": "grp", "owner": "owner",
}

// GroupNodes counts nodes by the values of the fields in by. A filter
// and grouping on kind, state and result only are answered from the
// node counters (counts.go), a few dozen rows whatever the store's size;
// anything else is one GROUP BY over the rows the filter selects through
// its indexes (groupNodeRows).
func (s *Store) GroupNodes(ctx context.Context, f query.Filter, by []string, limit int) ([]store.NodeGroup, error) {
	if err := store.CheckGroupBy(by); err != nil {
		return nil, err
	}
	if !countedByCounters(f) || slices.ContainsFunc(by, func(b string) bool { _, ok := nodeCountTable.Columns[b]; return !ok }) {
		return s.groupNodeRows(ctx, f, by, limit)
	}
	where, args, err := compile(nodeCountTable, f)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(by))
	for i, b := range by {
		cols[i] = "'text', " + b // node_count's kind, state, result are text or NULL
	}
	q := fmt.Sprintf("SELECT %s, sum(n) FROM node_count WHERE %s GROUP BY %s HAVING sum(n) > 0",
		strings.Join(cols, ", "), where, strings.Join(by, ", "))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: group nodes: %w", err)
	}
	defer rows.Close()
	set := store.NewNodeGroupSet(limit)
	types := make([]*string, len(by))
	vals := make([]any, len(by))
	dst := make([]any, 0, 2*len(by)+1)
	for i := range by {
		dst = append(dst, &types[i], &vals[i])
	}
	var n int64
	dst = append(dst, &n)
	for rows.Next() {
		for i := range vals {
			types[i], vals[i] = nil, nil
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sqlite: scan node group: %w", err)
		}
		key := make([]any, len(by))
		for i := range by {
			key[i] = jsonValue(types[i], vals[i])
		}
		if !set.Add(key, n) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: group nodes: %w", err)
	}
	return set.Groups, nil
}

// jsonValue is a grouping key from its JSON type and SQL value: scalars
// as Go values, anything else nil.
func jsonValue(typ *string, v any) any {
	if typ == nil || v == nil {
		return nil
	}
	switch *typ {
	case "true":
		return true
	case "false":
		return false
	case "text":
		switch v := v.(type) {
		case string:
			return v
		case []byte:
			return string(v)
		}
	case "integer", "real":
		return v
	}
	return nil
}

// windowFields are the document fields of node_tree_window (indexes.go)
// that a grouping reads from that index: their text value, NULL for any
// other JSON type.
var windowFields = map[string]string{
	"data.kernel_revision.tree":   textExpr("$.data.kernel_revision.tree"),
	"data.kernel_revision.branch": textExpr("$.data.kernel_revision.branch"),
	"data.kernel_revision.commit": textExpr("$.data.kernel_revision.commit"),
}

// groupNodeTable is nodeTable with the tree and branch named by the
// expressions of node_tree_window, so that a grouping filtered on them
// (and a time window) reads that index only. Equalities and ranges on
// these expressions are exactly those on the virtual columns, which
// have the same definition.
var groupNodeTable = func() table {
	t := nodeTable
	t.Columns = map[string]column{}
	for k, v := range nodeTable.Columns {
		t.Columns[k] = v
	}
	for _, f := range []string{"data.kernel_revision.tree", "data.kernel_revision.branch"} {
		t.Columns[f] = column{windowFields[f], colTextOnly}
	}
	return t
}()

// groupNodeRows is GroupNodes over the node table: one GROUP BY over
// the rows the filter selects, with node columns read as they are and
// document fields by JSON type and value. The rows are selected in a
// subquery that SQLite does not merge into the GROUP BY (LIMIT -1), so
// that an index holding every column the grouping reads serves it
// alone (SQLite does not see an index on expressions as covering in an
// aggregate): the stats page's kind and result in a time window from
// node_created, the dashboard's commit, kind and result of a tree and
// branch in a window from node_tree_window.
//
// The tree, branch and commit are read there as their text value
// (windowFields). The rows where one of them is not text (missing, null,
// a number...) are grouped in a second pass, only when there are some,
// by JSON type and value read from the document, as every other field.
func (s *Store) groupNodeRows(ctx context.Context, f query.Filter, by []string, limit int) ([]store.NodeGroup, error) {
	set := store.NewNodeGroupSet(limit)
	var fast []string // expressions of the window fields in by
	for _, b := range by {
		if e, ok := windowFields[b]; ok {
			fast = append(fast, e)
		}
	}
	where, wargs, err := compile(groupNodeTable, f)
	if err != nil {
		return nil, err
	}
	rest, full, err := s.groupPass(ctx, set, by, where, wargs, true)
	if err != nil || !rest || full {
		return set.Groups, err
	}
	// The rows where a window field is not text.
	nulls := make([]string, len(fast))
	for i, e := range fast {
		nulls[i] = e + " IS NULL"
	}
	where = "(" + where + ") AND (" + strings.Join(nulls, " OR ") + ")"
	_, _, err = s.groupPass(ctx, set, by, where, wargs, false)
	return set.Groups, err
}

// groupPass adds to set the groups of the rows matching where. With
// fast, the window fields are read as text and the rows where one is
// not text are left out (rest reports that there were some). full
// reports that the set went past its limit.
func (s *Store) groupPass(ctx context.Context, set *store.NodeGroupSet, by []string, where string, wargs []any, fast bool) (rest, full bool, err error) {
	q, args, kinds := groupSQL(by, where, wargs, fast)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return false, false, fmt.Errorf("sqlite: group nodes: %w", err)
	}
	defer rows.Close()
	width := 0 // columns of a group's key
	for _, k := range kinds {
		width += 1 + k/2
	}
	vals := make([]any, width)
	dst := make([]any, 0, width+1)
	for i := range vals {
		dst = append(dst, &vals[i])
	}
	var n int64
	dst = append(dst, &n)
	text := "text"
rows:
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
		}
		if err := rows.Scan(dst...); err != nil {
			return false, false, fmt.Errorf("sqlite: scan node group: %w", err)
		}
		key := make([]any, len(by))
		j := 0
		for i, k := range kinds {
			switch k {
			case 2:
				var typ *string
				if t, ok := vals[j].(string); ok {
					typ = &t
				} else if t, ok := vals[j].([]byte); ok {
					ts := string(t)
					typ = &ts
				}
				key[i] = jsonValue(typ, vals[j+1])
				j += 2
				continue
			case 1:
				if vals[j] == nil {
					rest = true
					continue rows
				}
			}
			if vals[j] != nil {
				key[i] = jsonValue(&text, vals[j])
			}
			j++
		}
		if !set.Add(key, n) {
			return rest, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, false, fmt.Errorf("sqlite: group nodes: %w", err)
	}
	return rest, false, nil
}

// groupSQL is the statement of a grouping pass (see groupPass), its
// arguments, and how each field of by is read: 0 a column, 1 a window
// field as text, 2 a document field by JSON type and value.
func groupSQL(by []string, where string, wargs []any, fast bool) (string, []any, []int) {
	var inner, outer []string
	var args []any
	kinds := make([]int, len(by))
	for i, b := range by {
		g := "g" + strconv.Itoa(i)
		switch e, isWindow := windowFields[b]; {
		case groupColumns[b] != "":
			inner = append(inner, groupColumns[b]+" AS "+g)
			outer = append(outer, g)
		case isWindow && fast:
			kinds[i] = 1
			inner = append(inner, e+" AS "+g)
			outer = append(outer, g)
		default:
			kinds[i] = 2
			p := jsonPath(b)
			inner = append(inner, "json_type(doc, ?) AS "+g+"t", "json_extract(doc, ?) AS "+g+"v")
			outer = append(outer, g+"t", g+"v")
			args = append(args, p, p)
		}
	}
	args = append(args, wargs...)
	q := fmt.Sprintf("SELECT %[1]s, count(*) FROM (SELECT %[2]s FROM node WHERE %[3]s LIMIT -1) GROUP BY %[1]s",
		strings.Join(outer, ", "), strings.Join(inner, ", "), where)
	return q, args, kinds
}
