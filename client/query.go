package client

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// Query is a filter and page of the list endpoints (FindNodes,
// FindNodesFast, CountNodes, Events, Telemetry, ListUsers...), written
// in the API's query language: field=value, field__op=value for the
// operators lt, lte, gt, gte, ne, re, in and nin, "null" for a missing or
// null field. Fields are dotted paths (data.kernel_revision.tree). The
// zero value (or Where()) matches everything; methods chain.
//
// Values are written as the API reads them: a time.Time or Time as a
// naive UTC datetime, a bool as true/false, nil as null, numbers in
// decimal, anything else with fmt.Sprint.
type Query struct {
	v url.Values
}

// Where starts a query.
func Where() *Query { return &Query{v: url.Values{}} }

func (q *Query) add(key string, value any) *Query {
	if q.v == nil {
		q.v = url.Values{}
	}
	q.v.Add(key, queryValue(value))
	return q
}

func queryValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return model.FormatTime(x)
	case Time:
		return model.FormatTime(x.Time)
	case *Time:
		if x == nil {
			return "null"
		}
		return model.FormatTime(x.Time)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Eq matches field = value (for a list field, any element).
func (q *Query) Eq(field string, value any) *Query { return q.add(field, value) }

// Null matches a field that is null or missing.
func (q *Query) Null(field string) *Query { return q.add(field, nil) }

// Ne matches field != value.
func (q *Query) Ne(field string, value any) *Query { return q.add(field+"__ne", value) }

// Lt matches field < value.
func (q *Query) Lt(field string, value any) *Query { return q.add(field+"__lt", value) }

// Lte matches field <= value.
func (q *Query) Lte(field string, value any) *Query { return q.add(field+"__lte", value) }

// Gt matches field > value.
func (q *Query) Gt(field string, value any) *Query { return q.add(field+"__gt", value) }

// Gte matches field >= value.
func (q *Query) Gte(field string, value any) *Query { return q.add(field+"__gte", value) }

// Re matches a string field that contains a match of the RE2 pattern (a
// search, as MongoDB's $regex).
func (q *Query) Re(field, pattern string) *Query { return q.add(field+"__re", pattern) }

// In matches field equal to one of values.
func (q *Query) In(field string, values ...any) *Query {
	return q.add(field+"__in", joinValues(values))
}

// Nin matches field equal to none of values.
func (q *Query) Nin(field string, values ...any) *Query {
	return q.add(field+"__nin", joinValues(values))
}

func joinValues(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = queryValue(v)
	}
	return strings.Join(parts, ",")
}

// Limit sets the page size.
func (q *Query) Limit(n int) *Query {
	if q.v == nil {
		q.v = url.Values{}
	}
	q.v.Set("limit", strconv.Itoa(n))
	return q
}

// Offset sets how many results to skip.
func (q *Query) Offset(n int) *Query {
	if q.v == nil {
		q.v = url.Values{}
	}
	q.v.Set("offset", strconv.Itoa(n))
	return q
}

// Sort orders the results by the given keys (GET /nodes, /nodes/fast,
// /events): indexed fields, "-" in front for descending, ties broken by
// id ("-created", "name"). Sorted pages carry the next page's cursor
// (FindNodesAfter).
func (q *Query) Sort(keys ...string) *Query { return q.Param("sort", strings.Join(keys, ",")) }

// After continues a sorted listing after the cursor a previous page gave
// ("" starts cursor paging from the first page, in id order when there
// is no Sort).
func (q *Query) After(cursor string) *Query { return q.Param("after", cursor) }

// Fields answers only the listed fields of each item (dotted paths select
// inside objects; the id is always kept).
func (q *Query) Fields(fields ...string) *Query { return q.Param("fields", strings.Join(fields, ",")) }

// Param sets a parameter as is, for the endpoints' own parameters
// (recursive=true of /events, group_by of /telemetry/stats, ...).
func (q *Query) Param(key, value string) *Query {
	if q.v == nil {
		q.v = url.Values{}
	}
	q.v.Set(key, value)
	return q
}

// Values is the query string the query sends (a copy).
func (q *Query) Values() url.Values {
	out := url.Values{}
	if q == nil {
		return out
	}
	for k, v := range q.v {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// String is the encoded query string.
func (q *Query) String() string { return q.Values().Encode() }
