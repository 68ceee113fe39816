package sqlite

import (
	"context"
	"fmt"
	"slices"
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
// its indexes.
func (s *Store) GroupNodes(ctx context.Context, f query.Filter, by []string, limit int) ([]store.NodeGroup, error) {
	if err := store.CheckGroupBy(by); err != nil {
		return nil, err
	}
	var q string
	var args []any
	if countedByCounters(f) && !slices.ContainsFunc(by, func(b string) bool { _, ok := nodeCountTable.Columns[b]; return !ok }) {
		where, wargs, err := compile(nodeCountTable, f)
		if err != nil {
			return nil, err
		}
		cols := make([]string, len(by))
		for i, b := range by {
			cols[i] = "'text', " + b // node_count's kind, state, result are text or NULL
		}
		q = fmt.Sprintf("SELECT %s, sum(n) FROM node_count WHERE %s GROUP BY %s HAVING sum(n) > 0",
			strings.Join(cols, ", "), where, strings.Join(by, ", "))
		args = wargs
	} else {
		where, wargs, err := compile(nodeTable, f)
		if err != nil {
			return nil, err
		}
		var cols, group []string
		for _, b := range by {
			if c, ok := groupColumns[b]; ok {
				cols = append(cols, "'text', "+c)
				group = append(group, c)
				continue
			}
			p := jsonPath(b)
			cols = append(cols, "json_type(doc, ?), json_extract(doc, ?)")
			group = append(group, "json_type(doc, ?), json_extract(doc, ?)")
			args = append(args, p, p)
		}
		// The GROUP BY repeats the expressions (and their parameters):
		// SQLite matches them to the selected ones and computes each once.
		gargs := slices.Clone(args)
		args = append(args, wargs...)
		args = append(args, gargs...)
		q = fmt.Sprintf("SELECT %s, count(*) FROM node WHERE %s GROUP BY %s",
			strings.Join(cols, ", "), where, strings.Join(group, ", "))
	}
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
