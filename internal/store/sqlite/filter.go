package sqlite

// The filter compiler: query.Filter -> SQL WHERE expression with MongoDB
// matching semantics over the tables of schema.go.
//
// Fields mapped to a column use it directly ("kind = ?"), so indexes work.
// Every other field is read from the JSON document with
//
//	EXISTS (SELECT 1 FROM json_each(doc, ?) AS e
//	        WHERE typeof(e.key) <> 'text' AND <predicate on e.type, e.value>)
//
// where ? is a bound JSON path ($."seg1"."seg2"). json_each over a scalar
// yields one row whose key is NULL, over an array one row per element with
// an integer key, and over an object one row per member with a text key;
// dropping text keys leaves exactly MongoDB's candidates: the value itself
// or, for an array, each element. The predicate is type-strict: e.type
// ('null', 'true', 'false', 'integer', 'real', 'text', 'array', 'object')
// must fit the value's type before e.value is compared, so "5" never
// equals 5 and true never equals 1.
//
// ObjectIds compare as their hex text and time.Time values as their
// model.FormatTime text (how both are stored in documents), except against
// colTime columns, which stand for BSON dates: there only time.Time (and
// null) values can match, never strings or numbers. colTextOnly columns
// answer only text-valued conditions; others go through the document.
// Ne and Nin are NOT(Eq) and NOT(In), so they match missing fields.
//
// Arrays in the middle of a path are walked as MongoDB does (see
// docCond). Limits against MongoDB: numeric path segments are object keys
// only (MongoDB also reads them as array indexes); equality with a whole
// array or object value is not supported; inside an array, scalar
// elements stand for a missing field when the path goes on below them.

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"

	"modernc.org/sqlite"
)

// regexpFunc is the name of the SQL function regexp(pattern, value): 1 when
// value is text and the RE2 pattern matches anywhere in it, else 0.
const regexpFunc = "regexp"

func init() {
	if err := sqlite.RegisterDeterministicScalarFunction(regexpFunc, 2, sqlRegexp); err != nil {
		panic(fmt.Sprintf("sqlite: registering %s(): %v", regexpFunc, err))
	}
}

func sqlRegexp(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	pat, ok := args[0].(string)
	if !ok {
		return int64(0), nil
	}
	s, ok := args[1].(string)
	if !ok { // NULL, numbers, blobs: MongoDB regexes match strings only
		return int64(0), nil
	}
	re, err := patterns.get(pat)
	if err != nil {
		return nil, err
	}
	if re.MatchString(s) {
		return int64(1), nil
	}
	return int64(0), nil
}

// reCache is a bounded cache of compiled patterns.
type reCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*regexp.Regexp
}

var patterns = &reCache{max: 256, m: map[string]*regexp.Regexp{}}

func (c *reCache) get(pat string) (*regexp.Regexp, error) {
	c.mu.Lock()
	re, ok := c.m[pat]
	c.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[pat] = re
	c.mu.Unlock()
	return re, nil
}

// jsonPath renders a dotted field path as an SQLite JSON path with every
// segment quoted: $."seg1"."seg2". Inside the quotes '"' and '\' are
// backslash-escaped and control characters written as \u00XX, which
// SQLite decodes before comparing labels, so any key text is addressed
// exactly. The path is always bound as a parameter, never spliced in.
func jsonPath(field string) string {
	var b strings.Builder
	b.Grow(len(field) + 8)
	b.WriteByte('$')
	for _, seg := range strings.Split(field, ".") {
		b.WriteString(`."`)
		for _, r := range seg {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// compile returns a WHERE expression (without the word WHERE; "1" when f
// is empty) and its args.
func compile(t table, f query.Filter) (string, []any, error) {
	if len(f.Conds) == 0 {
		return "1", nil, nil
	}
	var (
		parts []string
		args  []any
	)
	for _, c := range f.Conds {
		expr, a, err := compileCond(t, c)
		if err != nil {
			return "", nil, err
		}
		if expr == "1" {
			continue
		}
		if expr == "0" {
			return "0", nil, nil
		}
		parts = append(parts, expr)
		args = append(args, a...)
	}
	if len(parts) == 0 {
		return "1", nil, nil
	}
	return strings.Join(parts, " AND "), args, nil
}

func condErr(c query.Cond, format string, a ...any) error {
	return &query.Error{Param: c.Field, Msg: fmt.Sprintf(format, a...)}
}

func compileCond(t table, c query.Cond) (string, []any, error) {
	if c.Field == "" {
		return "", nil, condErr(c, "empty field name")
	}
	if !utf8.ValidString(c.Field) || strings.IndexByte(c.Field, 0) >= 0 {
		return "", nil, condErr(c, "invalid field name")
	}
	if strings.Count(c.Field, ".") >= query.MaxPathSegments {
		return "", nil, condErr(c, "field path has more than %d segments", query.MaxPathSegments)
	}
	var (
		pos  query.Op // the positive operator
		neg  bool
		vals []any
	)
	switch c.Op {
	case query.Eq, query.Lt, query.Lte, query.Gt, query.Gte:
		pos = c.Op
	case query.Ne:
		pos, neg = query.Eq, true
	case query.In:
		pos = query.In
	case query.Nin:
		pos, neg = query.In, true
	case query.Re:
		pos = query.Re
	default:
		return "", nil, condErr(c, "unknown operator %q", c.Op)
	}
	switch pos {
	case query.In:
		list, err := toList(c.Value)
		if err != nil {
			return "", nil, condErr(c, "%v", err)
		}
		for _, v := range list {
			nv, err := normalize(v)
			if err != nil {
				return "", nil, condErr(c, "%v", err)
			}
			vals = append(vals, nv)
		}
	case query.Re:
		p, ok := c.Value.(string)
		if !ok {
			return "", nil, condErr(c, "re needs a string pattern, not %T", c.Value)
		}
		if _, err := patterns.get(p); err != nil {
			return "", nil, condErr(c, "invalid regular expression: %v", err)
		}
		vals = []any{p}
	default:
		nv, err := normalize(c.Value)
		if err != nil {
			return "", nil, condErr(c, "%v", err)
		}
		vals = []any{nv}
	}

	var (
		expr string
		args []any
	)
	col, isCol := t.Columns[c.Field]
	switch {
	case isCol && col.Type == colTextOnly && !allText(pos, vals):
		expr, args = docCond(t, c.Field, pos, vals)
	case isCol:
		expr, args = colCond(col, pos, vals)
	default:
		expr, args = docCond(t, c.Field, pos, vals)
	}
	if !neg {
		return expr, args, nil
	}
	switch expr {
	case "0":
		return "1", nil, nil
	case "1":
		return "0", nil, nil
	}
	// The positive expression is NULL where a column is NULL (missing or
	// null field), which must count as "no match" before negating.
	return "NOT IFNULL(" + expr + ", 0)", args, nil
}

// toList accepts []any and any other slice type for In and Nin.
func toList(v any) ([]any, error) {
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

// normalize maps a condition value onto nil, string, int64, float64, bool,
// time.Time (UTC) or objectid.ID.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, int64, bool, objectid.ID:
		return x, nil
	case float64:
		if math.IsNaN(x) {
			return nil, fmt.Errorf("NaN is not comparable")
		}
		return x, nil
	case time.Time:
		return x.UTC(), nil
	case model.Time:
		return x.Time.UTC(), nil
	case *objectid.ID:
		if x == nil {
			return nil, nil
		}
		return *x, nil
	case *string:
		if x == nil {
			return nil, nil
		}
		return *x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case float32:
		return normalize(float64(x))
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return normalize(f)
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// text returns the text a value is stored as in JSON documents and text
// columns: strings themselves, ObjectIds as hex, times formatted.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case objectid.ID:
		return x.String(), true
	case time.Time:
		return model.FormatTime(x), true
	}
	return "", false
}

// allText reports whether every value of a condition is text-like, so a
// colTextOnly column (text values only) can answer it.
func allText(op query.Op, vals []any) bool {
	for _, v := range vals {
		if _, ok := text(v); !ok {
			return false
		}
	}
	return op == query.In || len(vals) == 1
}

var sqlOp = map[query.Op]string{
	query.Eq: "=", query.Lt: "<", query.Lte: "<=", query.Gt: ">", query.Gte: ">=",
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// colCond compiles a condition on a column. Columns hold a single scalar
// type: text (colText, colTextOnly), naive UTC datetime text (colTime) or
// integers (colInt); NULL means null or missing. Values of other types
// never match, as in MongoDB.
func colCond(col column, op query.Op, vals []any) (string, []any) {
	// conv returns the SQL argument for v, or ok=false when v cannot
	// equal any non-null value of the column.
	conv := func(v any) (any, bool) {
		switch col.Type {
		case colTime:
			if t, ok := v.(time.Time); ok {
				return model.FormatTime(t), true
			}
		case colInt:
			switch x := v.(type) {
			case int64, float64:
				return x, true
			}
		default:
			return text(v)
		}
		return nil, false
	}
	name := col.Name
	switch op {
	case query.Re:
		if col.Type == colTime || col.Type == colInt {
			return "0", nil // dates and numbers never match a regex
		}
		return regexpFunc + "(?, " + name + ")", []any{vals[0]}
	case query.In:
		var (
			args    []any
			hasNull bool
		)
		for _, v := range vals {
			if v == nil {
				hasNull = true
			} else if a, ok := conv(v); ok {
				args = append(args, a)
			}
		}
		var terms []string
		switch len(args) {
		case 0:
		case 1:
			terms = append(terms, name+" = ?")
		default:
			terms = append(terms, name+" IN ("+placeholders(len(args))+")")
		}
		if hasNull {
			terms = append(terms, name+" IS NULL")
		}
		switch len(terms) {
		case 0:
			return "0", nil
		case 1:
			return terms[0], args
		}
		return "(" + strings.Join(terms, " OR ") + ")", args
	}
	v := vals[0]
	if v == nil {
		// null equals null; nothing is less or greater than null.
		if op == query.Eq || op == query.Lte || op == query.Gte {
			return name + " IS NULL", nil
		}
		return "0", nil
	}
	a, ok := conv(v)
	if !ok {
		return "0", nil
	}
	return name + " " + sqlOp[op] + " ?", []any{a}
}

// docCond compiles a condition on a field of the JSON document.
//
// When no prefix of the path holds an array, the field is read directly
// at its JSON path (one json_each; the common, cheap case). Otherwise it
// is reached the way MongoDB walks a dotted path: level by level, where an
// array contributes each of its elements and anything that is not an
// object on the way stands for a missing field (so it matches null).
func docCond(t table, field string, op query.Op, vals []any) (string, []any) {
	segs := strings.Split(field, ".")
	pred, predArgs, hasNull := docPred("e", op, vals)
	if pred == "" {
		return "0", nil
	}
	path := jsonPath(field)
	direct := "EXISTS (SELECT 1 FROM json_each(" + t.Doc + ", ?) AS e WHERE typeof(e.key) <> 'text' AND " + pred + ")"
	directArgs := append([]any{path}, predArgs...)
	if hasNull {
		// null also matches a missing field.
		direct = "(json_type(" + t.Doc + ", ?) IS NULL OR " + direct + ")"
		directArgs = append([]any{path}, directArgs...)
	}
	if len(segs) == 1 {
		return direct, directArgs
	}

	var (
		b    strings.Builder
		args []any
	)
	b.WriteString("(CASE WHEN ")
	for k := 1; k < len(segs); k++ {
		if k > 1 {
			b.WriteString(" OR ")
		}
		b.WriteString("json_type(" + t.Doc + ", ?) = 'array'")
		args = append(args, jsonPath(strings.Join(segs[:k], ".")))
	}
	// wrap(x, p) makes the value at p into a list of candidates: the
	// elements of an array, else the value itself (null when missing).
	wrap := func(x, p string) {
		b.WriteString("CASE json_type(" + x + ", ?) WHEN 'array' THEN " + x + " -> ? ELSE json_array(" + x + " -> ?) END")
		args = append(args, p, p, p)
	}
	b.WriteString(" THEN EXISTS (SELECT 1 FROM ")
	last := ""
	for k, seg := range segs {
		alias := "e" + strconv.Itoa(k+1)
		if k == len(segs)-1 {
			alias = "e"
		}
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString("json_each(")
		p := jsonPath(seg)
		if k == 0 {
			wrap(t.Doc, p)
		} else {
			b.WriteString("CASE WHEN " + last + ".type = 'object' THEN ")
			wrap(last+".value", p)
			b.WriteString(" ELSE '[null]' END")
		}
		b.WriteString(") AS " + alias)
		last = alias
	}
	b.WriteString(" WHERE " + pred + ") ELSE " + direct + " END)")
	args = append(args, predArgs...)
	args = append(args, directArgs...)
	return b.String(), args
}

// docPred is the type-strict predicate on the JSON type and value columns
// of json_each alias a. hasNull is set when null matches (then a missing
// field must match too). An empty pred means nothing can match.
func docPred(a string, op query.Op, vals []any) (pred string, args []any, hasNull bool) {
	var (
		typ   = a + ".type"
		val   = a + ".value"
		num   = typ + " IN ('integer', 'real')"
		terms []string
	)
	switch op {
	case query.Re:
		terms = append(terms, typ+" = 'text' AND "+regexpFunc+"(?, "+val+")")
		args = append(args, vals[0])
	case query.Eq, query.In:
		var texts, nums []any
		var hasTrue, hasFalse bool
		for _, v := range vals {
			switch x := v.(type) {
			case nil:
				hasNull = true
			case bool:
				if x {
					hasTrue = true
				} else {
					hasFalse = true
				}
			case int64, float64:
				nums = append(nums, x)
			default:
				s, _ := text(x)
				texts = append(texts, s)
			}
		}
		in := func(vs []any) string {
			if len(vs) == 1 {
				return " = ?"
			}
			return " IN (" + placeholders(len(vs)) + ")"
		}
		if len(texts) > 0 {
			terms = append(terms, "("+typ+" = 'text' AND "+val+in(texts)+")")
			args = append(args, texts...)
		}
		if len(nums) > 0 {
			terms = append(terms, "("+num+" AND "+val+in(nums)+")")
			args = append(args, nums...)
		}
		if hasTrue {
			terms = append(terms, typ+" = 'true'")
		}
		if hasFalse {
			terms = append(terms, typ+" = 'false'")
		}
		if hasNull {
			terms = append(terms, typ+" = 'null'")
		}
	default: // Lt Lte Gt Gte: compare within the value's type
		cmp := " " + sqlOp[op] + " ?"
		switch x := vals[0].(type) {
		case nil:
			if op == query.Lte || op == query.Gte {
				hasNull = true
				terms = append(terms, typ+" = 'null'")
			}
		case bool:
			// false < true; json_each gives them as 0 and 1.
			n := int64(0)
			if x {
				n = 1
			}
			terms = append(terms, "("+typ+" IN ('true', 'false') AND "+val+cmp+")")
			args = append(args, n)
		case int64, float64:
			terms = append(terms, "("+num+" AND "+val+cmp+")")
			args = append(args, x)
		default:
			s, _ := text(x)
			terms = append(terms, "("+typ+" = 'text' AND "+val+cmp+")")
			args = append(args, s)
		}
	}
	switch len(terms) {
	case 0:
		return "", nil, false
	case 1:
		return terms[0], args, hasNull
	}
	return "(" + strings.Join(terms, " OR ") + ")", args, hasNull
}
