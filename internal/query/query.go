// Package query turns a request's query string into a small typed filter
// description (field, operator, value) that every store backend compiles
// its own way (SQL over JSON for SQLite, BSON for MongoDB). It does no I/O
// and never imports the application.
package query

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// Op is a comparison operator, written field__op in a query string.
type Op string

// The operators; Eq is a bare field=value.
const (
	Eq  Op = "eq"
	Ne  Op = "ne"
	Lt  Op = "lt"
	Lte Op = "lte"
	Gt  Op = "gt"
	Gte Op = "gte"
	Re  Op = "re"
	In  Op = "in"
	Nin Op = "nin"
)

// Cond is one condition on a dotted field path.
//
// Value is one of: nil (JSON null / missing), string, int64, float64, bool,
// time.Time (UTC), objectid.ID; for In and Nin a []any of those; for Re a
// string holding a valid RE2 pattern, matched as an unanchored search.
//
// Matching follows MongoDB: when the field is an array, the condition holds
// if any element matches; nil matches a missing field; comparisons are
// type-strict (a string never equals a number); Ne and Nin are the negation
// of Eq and In (so they match missing fields).
type Cond struct {
	Field string
	Op    Op
	Value any
}

// Filter is a conjunction of conditions.
type Filter struct {
	Conds []Cond
}

// And returns a filter with c appended.
func (f Filter) And(c ...Cond) Filter {
	out := Filter{Conds: make([]Cond, 0, len(f.Conds)+len(c))}
	out.Conds = append(out.Conds, f.Conds...)
	out.Conds = append(out.Conds, c...)
	return out
}

// Where builds a filter of equality conditions from field/value pairs.
func Where(kv ...any) Filter {
	var f Filter
	for i := 0; i+1 < len(kv); i += 2 {
		f.Conds = append(f.Conds, Cond{Field: kv[i].(string), Op: Eq, Value: kv[i+1]})
	}
	return f
}

// Error is a bad query parameter; its message names the parameter.
type Error struct {
	Param string
	Msg   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("Invalid query parameter '%s': %s", e.Param, e.Msg)
}

// OnlyTextOtherThan reports whether c can only match text values other
// than v: an equality with a text value, or an In list of text values,
// none of them v.
func (c Cond) OnlyTextOtherThan(v string) bool {
	var vals []any
	switch c.Op {
	case Eq:
		vals = []any{c.Value}
	case In:
		list, err := List(c.Value)
		if err != nil || len(list) == 0 {
			return false
		}
		vals = list
	default:
		return false
	}
	for _, x := range vals {
		if s, ok := x.(string); !ok || s == v {
			return false
		}
	}
	return true
}

// List returns the values of an In or Nin condition: a []any as it is,
// any other slice or array as a []any; nil, a string or a []byte is an
// error (a list is needed).
func List(v any) ([]any, error) {
	switch l := v.(type) {
	case []any:
		return l, nil
	case nil:
		return nil, fmt.Errorf("in/nin needs a list, not null")
	case []byte, string:
		return nil, fmt.Errorf("in/nin needs a list, not %T", v)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("in/nin needs a list, not %T", v)
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, nil
}

// Number maps a Go number or a json.Number onto the two number types the
// filter compilers know: int64, or float64 for fractions and unsigned
// values beyond int64. ok is false when v is not a number; NaN (not
// comparable) and a malformed json.Number are errors.
func Number(v any) (n any, ok bool, err error) {
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		return unsigned(uint64(x)), true, nil
	case uint64:
		return unsigned(x), true, nil
	case float32:
		return Number(float64(x))
	case float64:
		if math.IsNaN(x) {
			return nil, true, fmt.Errorf("NaN is not comparable")
		}
		return x, true, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, true, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, true, fmt.Errorf("invalid number %q", string(x))
		}
		return Number(f)
	}
	return nil, false, nil
}

func unsigned(x uint64) any {
	if x > math.MaxInt64 {
		return float64(x)
	}
	return int64(x)
}
