package query

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// Sorting and keyset ("cursor") paging.
//
// An Order is a list of keys, the last of which is unique (a node's id,
// an event's sequence_id), so that it is a total order and every record
// has one place in it. A cursor is the key values of the last record of
// a page; the next page is the records strictly after it (Order.After),
// which a backend finds with a range on its indexes, however deep the
// page: it costs what the first page costs. Records inserted while a
// client pages appear if they sort after its cursor, and no record is
// ever returned twice or skipped, as long as its own key values do not
// change meanwhile (sort on created, which never changes, for that).

// SortKey is one key of an Order: a field, ascending unless Desc.
type SortKey struct {
	Field string
	Desc  bool
}

// Order is a sort order, most significant key first.
type Order []SortKey

// String renders o as a sort= value: "-created,id".
func (o Order) String() string {
	parts := make([]string, len(o))
	for i, k := range o {
		parts[i] = k.Field
		if k.Desc {
			parts[i] = "-" + k.Field
		}
	}
	return strings.Join(parts, ",")
}

// SortField describes a field a collection can be sorted on.
type SortField struct {
	Type FieldType // TypeTime, TypeString, TypeInt or TypeObjectID
	// Nullable says that the field may be null or missing; null sorts
	// before every value, as in MongoDB (and SQLite's NULL).
	Nullable bool
}

// SortSchema is what a collection can be sorted on.
type SortSchema struct {
	Fields map[string]SortField
	// Unique is the field that ends every Order (the tie-break); it may
	// also be sorted on directly.
	Unique string
}

// Limits on sort=.
const MaxSortKeys = 4

// NodeSort is the sort schema of nodes: the indexed fields, ties broken
// by id.
var NodeSort = SortSchema{
	Fields: map[string]SortField{
		"id":      {Type: TypeObjectID},
		"created": {Type: TypeTime},
		"updated": {Type: TypeTime},
		"name":    {Type: TypeString},
		"kind":    {Type: TypeString},
		"state":   {Type: TypeString},
		"result":  {Type: TypeString, Nullable: true},
	},
	Unique: "id",
}

// EventSort is the sort schema of the event history.
var EventSort = SortSchema{
	Fields: map[string]SortField{
		"sequence_id": {Type: TypeInt},
	},
	Unique: "sequence_id",
}

// ParseSort reads a sort= value: comma-separated field names, each
// prefixed with '-' for descending ('+' or nothing for ascending). The
// schema's unique field is appended (in the direction of the last key)
// unless already there, and nothing after it is kept (it decides every
// tie). An unknown field, a repeated one, an empty key or more than
// MaxSortKeys keys is an *Error on param.
func ParseSort(param, raw string, s SortSchema) (Order, error) {
	var o Order
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		k := SortKey{Field: part}
		switch {
		case strings.HasPrefix(part, "-"):
			k = SortKey{Field: part[1:], Desc: true}
		case strings.HasPrefix(part, "+"):
			k.Field = part[1:]
		}
		if k.Field == "" {
			return nil, bad(param, "empty sort key in %q", truncate(raw))
		}
		if _, ok := s.Fields[k.Field]; !ok {
			return nil, bad(param, "cannot sort on %q (sortable fields: %s)", truncate(k.Field), s.names())
		}
		if seen[k.Field] {
			return nil, bad(param, "field %q given twice", k.Field)
		}
		seen[k.Field] = true
		o = append(o, k)
		if k.Field == s.Unique {
			break
		}
	}
	if len(o) > MaxSortKeys {
		return nil, bad(param, "more than %d sort keys", MaxSortKeys)
	}
	if last := o[len(o)-1]; last.Field != s.Unique {
		o = append(o, SortKey{Field: s.Unique, Desc: last.Desc})
	}
	return o, nil
}

func (s SortSchema) names() string {
	var out []string
	for f := range s.Fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// cursorTimeLayout writes datetimes in cursors: the wire format, naive
// UTC with microseconds.
const cursorTimeLayout = "2006-01-02T15:04:05.000000"

// cursorVersion is the first element of every encoded cursor.
const cursorVersion = 1

// EncodeCursor returns the opaque after= token for the record whose key
// values (one per key of o, typed as Values documents) are vals.
func EncodeCursor(o Order, vals []any) string {
	enc := make([]any, 0, len(vals)+2)
	enc = append(enc, cursorVersion, o.String())
	for _, v := range vals {
		switch x := v.(type) {
		case time.Time:
			enc = append(enc, x.UTC().Format(cursorTimeLayout))
		case objectid.ID:
			enc = append(enc, x.String())
		default:
			enc = append(enc, x)
		}
	}
	b, _ := json.Marshal(enc)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads an after= token made by EncodeCursor for the same
// order o and returns its key values, typed for s. A token of another
// order, or anything not a token, is an *Error on param.
func DecodeCursor(param, token string, o Order, s SortSchema) ([]any, error) {
	invalid := func(why string) error {
		return bad(param, "not a cursor of this server (%s); use the one the previous page gave", why)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, invalid("not base64url")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) < 2 {
		return nil, invalid("malformed")
	}
	var version int
	var order string
	if json.Unmarshal(raw[0], &version) != nil || version != cursorVersion || json.Unmarshal(raw[1], &order) != nil {
		return nil, invalid("unknown version")
	}
	if order != o.String() {
		return nil, bad(param, "the cursor was made for sort=%s, not sort=%s", truncate(order), o.String())
	}
	raw = raw[2:]
	if len(raw) != len(o) {
		return nil, invalid("wrong number of values")
	}
	vals := make([]any, len(o))
	for i, k := range o {
		f := s.Fields[k.Field]
		if string(raw[i]) == "null" {
			if !f.Nullable {
				return nil, invalid(k.Field + " is null")
			}
			continue
		}
		var v any
		var str string
		switch f.Type {
		case TypeInt:
			var n int64
			err = json.Unmarshal(raw[i], &n)
			v = n
		case TypeTime:
			if err = json.Unmarshal(raw[i], &str); err == nil {
				var t time.Time
				t, err = isotime.Parse(str)
				v = t.UTC()
			}
		case TypeObjectID:
			if err = json.Unmarshal(raw[i], &str); err == nil {
				v, err = objectid.Parse(str)
			}
		default:
			err = json.Unmarshal(raw[i], &str)
			v = str
		}
		if err != nil {
			return nil, invalid("bad value of " + k.Field)
		}
		vals[i] = v
	}
	return vals, nil
}

// Seek selects the records strictly after a cursor: Bound AND (Any[0] OR
// Any[1] OR ...). Bound repeats the range of the first key on its own so
// that a backend's planner sees an index range (it is implied by Any).
type Seek struct {
	Bound Filter
	Any   []Filter
}

// After returns the Seek of the records strictly after the one whose key
// values are vals (nil for a null), in order o of schema s.
//
// In ascending order null comes first; in descending order last. For
// keys k1..kn the records after the cursor are those equal on k1..k(i-1)
// and after it on ki, for some i.
func (o Order) After(vals []any, s SortSchema) Seek {
	var sk Seek
	var prefix []Cond
	for i, k := range o {
		v := vals[i]
		nullable := s.Fields[k.Field].Nullable
		var alts [][]Cond
		switch {
		case !k.Desc && v == nil: // every non-null value is after null
			alts = [][]Cond{{{Field: k.Field, Op: Ne, Value: nil}}}
		case !k.Desc:
			alts = [][]Cond{{{Field: k.Field, Op: Gt, Value: v}}}
		case v == nil: // nothing is after null in descending order
		default:
			alts = [][]Cond{{{Field: k.Field, Op: Lt, Value: v}}}
			if nullable {
				alts = append(alts, []Cond{{Field: k.Field, Op: Eq, Value: nil}})
			}
		}
		for _, a := range alts {
			sk.Any = append(sk.Any, Filter{Conds: append(append([]Cond{}, prefix...), a...)})
		}
		if i == 0 && v != nil && !nullable {
			op := Gte
			if k.Desc {
				op = Lte
			}
			sk.Bound = Filter{Conds: []Cond{{Field: k.Field, Op: op, Value: v}}}
		}
		prefix = append(prefix, Cond{Field: k.Field, Op: Eq, Value: v})
	}
	return sk
}

// Values returns the key values of o read from a record by get, which
// answers a field's value as the schema types it (nil for null).
func (o Order) Values(get func(field string) any) []any {
	out := make([]any, len(o))
	for i, k := range o {
		out[i] = get(k.Field)
	}
	return out
}

// Compare compares two key value lists of o (as Order.Values gives
// them) in the order o sorts them: null first when ascending, ids and
// strings bytewise.
func (o Order) Compare(a, b []any) int {
	for i, k := range o {
		c := compareValues(a[i], b[i])
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		return cmpInt64(x, b.(int64))
	case objectid.ID:
		return strings.Compare(x.String(), b.(objectid.ID).String())
	}
	panic(fmt.Sprintf("query: cannot compare %T", a))
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
