package sqlite

import (
	"fmt"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Sorting and keyset paging (store.Page.Order and After). Every sort
// field is a column with an index (schema.go), so ORDER BY walks it:
// sort=-created reads node_created backwards and stops after the page.
// Ties on the first key are broken by id with a sort of each group of
// equal values only ("USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"),
// which for created and updated (microsecond times) is a group of one
// row. A cursor adds the range of its first key (query.Seek.Bound), so a
// deep page starts where the previous one stopped.

// orderSQL renders o as an ORDER BY list of t's columns.
func orderSQL(t table, o query.Order) (string, error) {
	parts := make([]string, len(o))
	for i, k := range o {
		col, ok := t.Columns[k.Field]
		if !ok {
			return "", &query.Error{Param: "sort", Msg: fmt.Sprintf("cannot sort on %q", k.Field)}
		}
		parts[i] = col.Name
		if k.Desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", "), nil
}

// seekSQL is the WHERE term of the records after p.After in p.Order, and
// its args.
func seekSQL(t table, p store.Page) (string, []any, error) {
	if len(p.After) != len(p.Order) {
		return "", nil, fmt.Errorf("sqlite: cursor of %d values for %d sort keys", len(p.After), len(p.Order))
	}
	sk := p.Order.After(p.After, t.Sort)
	bound, args, err := compile(t, sk.Bound)
	if err != nil {
		return "", nil, err
	}
	var alts []string
	for _, f := range sk.Any {
		w, a, err := compile(t, f)
		if err != nil {
			return "", nil, err
		}
		if w == "0" {
			continue
		}
		alts = append(alts, "("+w+")")
		args = append(args, a...)
	}
	if len(alts) == 0 {
		return "0", nil, nil
	}
	return bound + " AND (" + strings.Join(alts, " OR ") + ")", args, nil
}

// sortedFindSQL is findSQL for a page with an Order (and maybe a cursor).
func sortedFindSQL(t table, cols, where string, args []any, p store.Page) (string, []any, error) {
	order, err := orderSQL(t, p.Order)
	if err != nil {
		return "", nil, err
	}
	if p.After != nil {
		seek, a, err := seekSQL(t, p)
		if err != nil {
			return "", nil, err
		}
		where = "(" + where + ") AND " + seek
		args = append(args, a...)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = -1
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d OFFSET %d",
		cols, t.from(), where, order, limit, max(p.Offset, 0)), args, nil
}
