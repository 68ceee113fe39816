package query

import (
	"fmt"
	"net/url"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// FieldType says how the values of a field are typed in the store, so that
// Parse can convert query-string text into comparable values.
type FieldType int

// The field types; TypeAny is an untyped (free-form JSON) field.
const (
	TypeAny      FieldType = iota // JSON value: strings, numbers, booleans
	TypeTime                      // datetime, time.Time (UTC)
	TypeObjectID                  // objectid.ID
	TypeInt                       // int64
	TypeString                    // always a string, never converted
)

func (t FieldType) String() string {
	switch t {
	case TypeTime:
		return "datetime"
	case TypeObjectID:
		return "ObjectId"
	case TypeInt:
		return "integer"
	case TypeString:
		return "string"
	}
	return "any"
}

// Schema tells Parse which fields have typed values and which keys are not
// filters.
type Schema struct {
	Types map[string]FieldType // dotted field path -> type; absent means TypeAny
	Skip  []string             // keys that are not filters (e.g. limit, offset)
	// Limits bounds what Parse accepts; zero fields take DefaultLimits.
	Limits Limits
}

// Limits bound the size of a query, so that a hostile query string is
// refused with a 400 naming the limit instead of reaching the store (where
// it could exhaust SQLite's limits, answered with a 500, or burn CPU).
type Limits struct {
	// MaxConds bounds the number of conditions (one per value of each
	// filter key).
	MaxConds int
	// MaxListValues bounds the values of the in/nin lists of a query,
	// all lists together: each value is an SQL variable (two on data.*
	// fields), and SQLite refuses a statement with more than 32,766.
	MaxListValues int
	// MaxRegexRepeat bounds the counted repetitions of a re pattern: the
	// sum over every x{n,m} of its largest count (m, or n when open),
	// nested repetitions multiplied. Matching costs about the text's
	// length times this.
	MaxRegexRepeat int
}

// DefaultLimits are the limits of a zero Limits field.
var DefaultLimits = Limits{MaxConds: 100, MaxListValues: 1000, MaxRegexRepeat: 100}

// WithLimits returns s with l as its limits.
func (s Schema) WithLimits(l Limits) Schema {
	s.Limits = l
	return s
}

func (l Limits) orDefault() Limits {
	if l.MaxConds <= 0 {
		l.MaxConds = DefaultLimits.MaxConds
	}
	if l.MaxListValues <= 0 {
		l.MaxListValues = DefaultLimits.MaxListValues
	}
	if l.MaxRegexRepeat <= 0 {
		l.MaxRegexRepeat = DefaultLimits.MaxRegexRepeat
	}
	return l
}

// Limits on what Parse accepts.
const (
	MaxKeyLen     = 256  // bytes in a parameter name
	MaxPatternLen = 1024 // bytes in a re pattern
	// MaxPathSegments bounds the dotted segments of a field path (store
	// backends walk one level per segment).
	MaxPathSegments = 32
)

// opInt is the reference's field__int=N: equality with an integer.
const opInt = "int"

var ops = map[string]Op{
	string(Ne): Ne, string(Lt): Lt, string(Lte): Lte, string(Gt): Gt,
	string(Gte): Gte, string(Re): Re, string(In): In, string(Nin): Nin,
}

// Parse turns query-string parameters into a Filter, following the
// reference API (MongoDB semantics) and rejecting what it would answer
// with a server error. Every error is a *Error naming the parameter.
//
// A key is "field" (equality) or "field__op" with op one of lt, lte, gt,
// gte, ne, re, in, nin, or "int" (equality with an integer). Field names
// are dotted paths. Keys listed in s.Skip are ignored. Rejected keys:
// unknown operators, more than one "__", an empty field name or path
// segment, a segment starting with '$', a NUL byte, invalid UTF-8, more
// than MaxKeyLen bytes or MaxPathSegments segments.
//
// Several values for the same key (?kind=a&kind=b) each become a
// condition, and all conditions are ANDed (on an array field this means
// "contains all of"). Conditions come out sorted by key, then in the order
// the values were given, so a query string always yields the same Filter.
//
// Values: "null" is nil for every operator except re (rejected: not a
// pattern) and lt/gt (rejected: nothing is less or greater than null);
// inside an in/nin list a "null" element is nil as well. Typed fields
// (s.Types) convert every value to their type or fail. Untyped fields:
// bare equality turns true/false (any case) into bool and keeps anything
// else a string; lt/lte/gt/gte/ne turn ASCII-decimal strings into int64;
// in/nin elements stay strings; re values are RE2 patterns (at most
// MaxPatternLen bytes), allowed on untyped and string fields only.
func Parse(v url.Values, s Schema) (Filter, error) {
	lim := s.Limits.orDefault()
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var f Filter
	listValues := 0 // values of the in/nin lists so far
	for _, key := range keys {
		if skipped(key, s.Skip) {
			continue
		}
		field, op, err := parseKey(key)
		if err != nil {
			return Filter{}, err
		}
		ft := TypeAny
		if s.Types != nil {
			ft = s.Types[field]
		}
		for _, raw := range v[key] {
			if len(f.Conds) >= lim.MaxConds {
				return Filter{}, bad(key, "more than %d conditions in the query (the limit of conditions per query)", lim.MaxConds)
			}
			c, err := parseValue(key, field, op, ft, raw, lim.MaxListValues-listValues, lim)
			if err != nil {
				return Filter{}, err
			}
			if list, ok := c.Value.([]any); ok {
				listValues += len(list)
			}
			f.Conds = append(f.Conds, c)
		}
	}
	return f, nil
}

func skipped(key string, skip []string) bool {
	for _, k := range skip {
		if k == key {
			return true
		}
	}
	return false
}

func bad(param, format string, args ...any) *Error {
	return &Error{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// parseKey splits "field__op" and validates both parts. op is "" for bare
// equality and opInt for field__int.
func parseKey(key string) (field, op string, err error) {
	if len(key) > MaxKeyLen {
		return "", "", bad(truncate(key), "parameter name longer than %d bytes", MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return "", "", bad(key, "parameter name is not valid UTF-8")
	}
	parts := strings.Split(key, "__")
	switch len(parts) {
	case 1:
		field = key
	case 2:
		field, op = parts[0], parts[1]
		if _, ok := ops[op]; !ok && op != opInt {
			return "", "", bad(key, "unknown operator %q (expected one of lt, lte, gt, gte, ne, re, in, nin, int)", op)
		}
	default:
		return "", "", bad(key, "more than one \"__\" operator separator")
	}
	if err := checkField(key, field); err != nil {
		return "", "", err
	}
	return field, op, nil
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	s = s[:64]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// checkField validates the field of parameter key (see CheckField).
func checkField(key, field string) error {
	if msg := fieldProblem(field); msg != "" {
		return bad(key, "%s", msg)
	}
	return nil
}

// CheckField validates a dotted field path, whatever built the filter:
// valid UTF-8, no NUL byte, at most MaxPathSegments segments, no empty
// segment, none starting with '$' (so that no path can become a MongoDB
// operator). Parse checks every key with it; the store backends check
// every condition again. The error is a *Error.
func CheckField(field string) error { return checkField(field, field) }

// CheckPattern returns the pattern of a re condition, checked whatever
// built the filter: a string of at most MaxPatternLen bytes, valid UTF-8
// without NUL, in RE2 syntax. The error is a *Error.
func CheckPattern(c Cond) (string, error) {
	p, ok := c.Value.(string)
	if !ok {
		return "", bad(c.Field, "re needs a string pattern, not %T", c.Value)
	}
	if msg := patternProblem(p); msg != "" {
		return "", bad(c.Field, "%s", msg)
	}
	return p, nil
}

func patternProblem(p string) string {
	if len(p) > MaxPatternLen {
		return fmt.Sprintf("pattern longer than %d bytes", MaxPatternLen)
	}
	if !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return "invalid pattern"
	}
	if _, err := regexp.Compile(p); err != nil {
		return fmt.Sprintf("invalid regular expression: %v", err)
	}
	return ""
}

func fieldProblem(field string) string {
	if field == "" {
		return "empty field name"
	}
	if !utf8.ValidString(field) {
		return "field name is not valid UTF-8"
	}
	if strings.IndexByte(field, 0) >= 0 {
		return "field name contains a NUL byte"
	}
	segs := strings.Split(field, ".")
	if len(segs) > MaxPathSegments {
		return fmt.Sprintf("field path has more than %d segments", MaxPathSegments)
	}
	for _, seg := range segs {
		if seg == "" {
			return fmt.Sprintf("empty segment in field path %q", field)
		}
		if seg[0] == '$' {
			return fmt.Sprintf("field path segment %q starts with '$'", seg)
		}
	}
	return ""
}

// parseValue parses one condition; an in/nin list may hold at most
// listRoom values (what the query's earlier lists left of the limit).
func parseValue(key, field, op string, ft FieldType, raw string, listRoom int, lim Limits) (Cond, error) {
	if !utf8.ValidString(raw) {
		return Cond{}, bad(key, "value is not valid UTF-8")
	}
	switch op {
	case "":
		val, err := eqValue(key, ft, raw)
		return Cond{Field: field, Op: Eq, Value: val}, err
	case opInt:
		if raw == "null" {
			return Cond{Field: field, Op: Eq, Value: nil}, nil
		}
		if ft != TypeAny && ft != TypeInt {
			return Cond{}, bad(key, "int is not valid for %s field %q", ft, field)
		}
		n, err := parseInt(key, raw)
		return Cond{Field: field, Op: Eq, Value: n}, err
	case string(In), string(Nin):
		var list []any
		for _, el := range strings.Split(raw, ",") {
			if el == "" {
				continue
			}
			if len(list) >= listRoom {
				return Cond{}, bad(key, "more than %d values in the query's in/nin lists (the limit of list values per query, all lists together)", lim.MaxListValues)
			}
			val, err := listValue(key, ft, el)
			if err != nil {
				return Cond{}, err
			}
			list = append(list, val)
		}
		if list == nil {
			list = []any{}
		}
		return Cond{Field: field, Op: ops[op], Value: list}, nil
	case string(Re):
		if raw == "null" {
			return Cond{}, bad(key, "null is not a pattern (use e.g. \"^null$\" to search the text)")
		}
		if ft != TypeAny && ft != TypeString {
			return Cond{}, bad(key, "re is not valid for %s field %q", ft, field)
		}
		if msg := patternProblem(raw); msg != "" {
			return Cond{}, bad(key, "%s", msg)
		}
		if msg := repeatProblem(raw, lim.MaxRegexRepeat); msg != "" {
			return Cond{}, bad(key, "%s", msg)
		}
		return Cond{Field: field, Op: Re, Value: raw}, nil
	default: // lt lte gt gte ne
		o := ops[op]
		if raw == "null" {
			if o == Lt || o == Gt {
				return Cond{}, bad(key, "%s cannot compare with null", op)
			}
			return Cond{Field: field, Op: o, Value: nil}, nil
		}
		val, err := cmpValue(key, ft, raw)
		return Cond{Field: field, Op: o, Value: val}, err
	}
}

// repeatProblem describes why a valid pattern repeats too much to be
// matched against large fields ("" when it does not): its counted
// repetitions add up to more than maxRepeat (see Limits.MaxRegexRepeat).
func repeatProblem(pat string, maxRepeat int) string {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return fmt.Sprintf("invalid regular expression: %v", err)
	}
	if n := repeatWeight(re); n > maxRepeat {
		return fmt.Sprintf("pattern repeats too much: its counted repetitions {n,m} add up to %d, more than the limit of %d", n, maxRepeat)
	}
	return ""
}

// repeatWeight sums the largest counts of the x{n,m} repetitions of re,
// multiplying nested ones; saturates well above any limit.
func repeatWeight(re *syntax.Regexp) int {
	const ceiling = 1 << 30
	sum := 0
	for _, sub := range re.Sub {
		sum += repeatWeight(sub)
	}
	if re.Op == syntax.OpRepeat {
		n := re.Max
		if n < 0 {
			n = re.Min
		}
		inner := max(sum, 1)
		if n > 0 && inner > ceiling/n {
			return ceiling
		}
		sum = inner * n
	}
	return min(sum, ceiling)
}

// eqValue converts the value of a bare field=value.
func eqValue(key string, ft FieldType, raw string) (any, error) {
	if raw == "null" {
		return nil, nil
	}
	if ft == TypeAny {
		switch strings.ToLower(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return raw, nil
	}
	return typed(key, ft, raw)
}

// cmpValue converts the value of lt/lte/gt/gte/ne.
func cmpValue(key string, ft FieldType, raw string) (any, error) {
	if ft == TypeAny {
		if isDecimal(raw) {
			return parseInt(key, raw)
		}
		return raw, nil
	}
	return typed(key, ft, raw)
}

// listValue converts one element of an in/nin list.
func listValue(key string, ft FieldType, raw string) (any, error) {
	if raw == "null" {
		return nil, nil
	}
	if ft == TypeAny {
		return raw, nil
	}
	return typed(key, ft, raw)
}

// typed converts raw for a typed field (ft != TypeAny).
func typed(key string, ft FieldType, raw string) (any, error) {
	switch ft {
	case TypeObjectID:
		id, err := objectid.Parse(raw)
		if err != nil {
			return nil, bad(key, "%q is not a valid ObjectId (24 hex characters)", truncate(raw))
		}
		return id, nil
	case TypeTime:
		t, err := isotime.Parse(raw)
		if err != nil {
			return nil, bad(key, "%q is not a valid datetime (ISO 8601 expected)", truncate(raw))
		}
		return t.Truncate(time.Microsecond), nil
	case TypeInt:
		return parseInt(key, raw)
	}
	return raw, nil
}

func isDecimal(s string) bool {
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

func parseInt(key, raw string) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, bad(key, "integer %q out of range", truncate(raw))
		}
		return 0, bad(key, "%q is not an integer", truncate(raw))
	}
	return n, nil
}
