package sqlite

// The filter compiler: query.Filter -> SQL WHERE expression with MongoDB
// matching semantics over the tables of schema.go.
//
// Fields mapped to a column use it directly ("kind = ?"), so indexes work.
// Every other field is read from the JSON document (docCond) by its JSON
// type at its path ($."seg1"."seg2", always a bound parameter):
//
//	CASE coalesce(json_type(doc, ?), 'missing')
//	  WHEN 'text' THEN json_extract(doc, ?) = ?     -- per value type
//	  WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(...) AS e WHERE <predicate on e.type, e.value>)
//	  WHEN 'missing' THEN <walk through arrays on the path, or null matches>
//	  ELSE 0 END
//
// so the common case (a scalar reached through objects) costs one parse of
// the document, which SQLite caches across the calls of a row. Matching is
// type-strict: a value's JSON type ('null', 'true', 'false', 'integer',
// 'real', 'text', 'array', 'object') must fit the condition's value
// before it is compared, so "5" never equals 5 and true never equals 1;
// an array matches when an element does; an object never matches.
//
// ObjectIds compare as their hex text and time.Time values as their
// model.FormatTime text (how both are stored in documents), except against
// colObjectID and colTime columns, which stand for BSON ObjectIds and
// dates: there only objectid.ID or time.Time (and null) values can match,
// never strings, numbers or regular expressions. colTextOnly columns
// answer only text-valued conditions; others go through the document.
// Ne and Nin are NOT(Eq) and NOT(In), so they match missing fields.
//
// Arrays in the middle of a path are walked as MongoDB does (see
// docCond). Limits against MongoDB: numeric path segments are object keys
// only (MongoDB also reads them as array indexes); equality with a whole
// array or object value is not supported; inside an array, scalar
// elements stand for a missing field when the path goes on below them.
//
// For the planner (docs/performance.md), without changing any result: a
// regex anchored with a literal prefix adds the range of that prefix, so
// the column's index narrows it; likelihood() marks the selective terms
// the statistics cannot see (recent time windows, deadlines, pending
// states); processed_by_kcidb_bridge compiles to the term of its partial
// index.

import (
	"database/sql/driver"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"

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
	if g := kindGuard(t, f); g != "" {
		parts = append(parts, g) // changes no result (indexes.go)
	}
	return strings.Join(parts, " AND "), args, nil
}

// findSQL is the statement of a filtered, paged SELECT of cols from t.
func findSQL(t table, cols string, f query.Filter, p store.Page) (string, []any, error) {
	where, args, err := compile(t, f)
	if err != nil {
		return "", nil, err
	}
	if len(p.Order) > 0 {
		return sortedFindSQL(t, cols, where, args, p)
	}
	if p.Limit <= 0 && p.Offset <= 0 {
		return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s", cols, t.from(), where, t.Order), args, nil
	}
	limit := p.Limit
	if limit <= 0 {
		limit = -1
	}
	// A page is chosen on row ids first and its documents read after:
	// when the plan must sort the matches (a range, an IN), the sorter
	// holds ids only, often straight from an index, instead of every
	// matching document; when the index already yields id order, the
	// inner query stops after the page as before.
	return fmt.Sprintf("SELECT %[1]s FROM %[2]s WHERE %[3]s IN (SELECT %[3]s FROM %[7]s WHERE %[4]s ORDER BY %[3]s LIMIT %[5]d OFFSET %[6]d) ORDER BY %[3]s",
		cols, t.Name, t.Order, where, limit, max(p.Offset, 0), t.from()), args, nil
}

// countSQL is the statement counting the rows of t that match f.
func countSQL(t table, f query.Filter) (string, []any, error) {
	where, args, err := compile(t, f)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", t.from(), where), args, nil
}

func condErr(c query.Cond, format string, a ...any) error {
	return &query.Error{Param: c.Field, Msg: fmt.Sprintf(format, a...)}
}

func compileCond(t table, c query.Cond) (string, []any, error) {
	if err := query.CheckField(c.Field); err != nil {
		return "", nil, err
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
		list, err := query.List(c.Value)
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
		p, err := query.CheckPattern(c)
		if err != nil {
			return "", nil, err
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
	boolExpr, isBool := boolDocFields[t.Name][c.Field]
	switch {
	case isBool && pos == query.Eq && isBoolValue(vals[0]):
		expr = boolExpr + " = 'false'"
		if vals[0].(bool) {
			expr = boolExpr + " = 'true'"
		}
	case isCol && col.Type == colTextOnly && !allText(pos, vals):
		expr, args = docCond(t, c.Field, pos, vals)
	case isCol:
		expr, args = colCond(t, col, pos, vals)
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

// boolDocFields are document fields that every stored document of a
// table holds as a JSON boolean (model.Node.ProcessedByKCIDBBridge is a
// bool, always written), with the SQL expression of their JSON type.
// Equality with a boolean compiles to "<expr> = 'true'" (or 'false'),
// exact for any value that is not an array, and the very term the partial
// index node_kcidb_pending is declared with, so the planner can use it.
var boolDocFields = map[string]map[string]string{
	"node": {"processed_by_kcidb_bridge": "json_type(doc, '$.processed_by_kcidb_bridge')"},
}

func isBoolValue(v any) bool {
	_, ok := v.(bool)
	return ok
}

// normalize maps a condition value onto nil, string, int64, float64, bool,
// time.Time (UTC) or objectid.ID.
func normalize(v any) (any, error) {
	if n, ok, err := query.Number(v); ok {
		return n, err
	}
	switch x := v.(type) {
	case nil, string, bool, objectid.ID:
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

// prefixRange returns the range [lo, hi) of the strings that start with
// the literal text every match of pat starts with, when pat is anchored at
// the start of the text (^, \A) and begins with case-sensitive literal
// characters; hi is "" when no string bounds the range from above. Text
// columns compare bytewise (BINARY), as Go strings do.
func prefixRange(pat string) (lo, hi string, ok bool) {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return "", "", false
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return "", "", false
	}
	var b strings.Builder
prefix:
	for _, sub := range re.Sub[1:] {
		if sub.Op != syntax.OpLiteral || sub.Flags&syntax.FoldCase != 0 {
			break
		}
		for _, r := range sub.Rune {
			if r == utf8.RuneError { // also matches invalid bytes
				break prefix
			}
			b.WriteRune(r)
		}
	}
	lo = b.String()
	if lo == "" {
		return "", "", false
	}
	// hi: lo without its trailing 0xff bytes, last byte incremented.
	h := []byte(lo)
	for len(h) > 0 && h[len(h)-1] == 0xff {
		h = h[:len(h)-1]
	}
	if len(h) > 0 {
		h[len(h)-1]++
	}
	return lo, string(h), true
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
func colCond(t table, col column, op query.Op, vals []any) (string, []any) {
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
		case colObjectID:
			if id, ok := v.(objectid.ID); ok {
				return id.String(), true
			}
		default:
			return text(v)
		}
		return nil, false
	}
	name := col.Name
	demoted := t.demote[name]
	if demoted {
		// A unary + keeps the term off the indexes (plan.go).
		name = "+" + name
	}
	switch op {
	case query.Re:
		if col.Type != colText && col.Type != colTextOnly {
			return "0", nil // ObjectIds, dates and numbers never match a regex
		}
		pat := vals[0].(string)
		if scope, ok := t.distinctRe[col.Name]; ok {
			return distinctReCond(name, col.Name, scope, pat)
		}
		// A pattern anchored at the start with a literal prefix can only
		// match text in a range of the column: say so, so that its index
		// can narrow the rows the regexp runs on.
		if lo, hi, ok := prefixRange(pat); ok {
			if hi == "" {
				return "(" + name + " >= ? AND " + regexpFunc + "(?, " + name + "))", []any{lo, pat}
			}
			return "(" + name + " >= ? AND " + name + " < ? AND " + regexpFunc + "(?, " + name + "))", []any{lo, hi, pat}
		}
		return regexpFunc + "(?, " + name + ")", []any{pat}
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
			terms = append(terms, rare(t, name, args, name+" = ?"))
		default:
			terms = append(terms, rare(t, name, args, name+" IN ("+placeholders(len(args))+")"))
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
	expr := name + " " + sqlOp[op] + " ?"
	if demoted {
		return expr, []any{a}
	}
	if op == query.Eq {
		expr = rare(t, name, []any{a}, expr)
	}
	if col.Type == colTime && (op == query.Gt || op == query.Gte || dueColumns[t.Name][name]) {
		// Time bounds in queries select a recent window ("created in the
		// last days") or due work (timeout or holdoff before now, which
		// the pollers ask with a pending state): tell the planner they
		// are selective, so that it reads the range from an index and
		// sorts it rather than walking the table or a state in rid order
		// until the page fills. Other upper bounds ("updated more than 5
		// minutes ago") keep most of the table and get no hint.
		// likelihood() changes no result and leaves the term usable by
		// indexes.
		expr = "likelihood(" + expr + ", " + rangeLikelihood + ")"
	}
	return expr, []any{a}
}

// rangeLikelihood is the share of rows the planner assumes a selective
// time bound keeps.
const rangeLikelihood = "0.01"

// dueColumns are the datetime columns (by table) whose upper bounds are
// selective: the deadlines of pending nodes.
var dueColumns = map[string]map[string]bool{
	"node": {"timeout": true, "holdoff": true},
}

// rareValues are values of low-cardinality columns (by table) that few
// rows hold: the pending states (nearly every node is done). The
// planner's statistics give one average per column, which for state is a
// quarter of the table; likelihood() tells it that these values are
// selective.
var rareValues = map[string]map[string]map[any]bool{
	"node": {"state": {"running": true, "available": true, "closing": true}},
}

// rare wraps the equality (or IN) expr on column name of t in a
// likelihood() hint when every value in args is rare in that column.
func rare(t table, name string, args []any, expr string) string {
	vals, ok := rareValues[t.Name][name]
	if !ok {
		return expr
	}
	for _, a := range args {
		if !vals[a] {
			return expr
		}
	}
	return "likelihood(" + expr + ", " + rareLikelihood + ")"
}

// rareLikelihood is the share of rows the planner assumes a rare value
// keeps.
const rareLikelihood = "0.001"

// sqlBuf accumulates SQL text and its arguments in step, so that every
// placeholder gets its argument in the right position.
type sqlBuf struct {
	b    strings.Builder
	args []any
}

func (s *sqlBuf) w(sql string, args ...any) {
	s.b.WriteString(sql)
	s.args = append(s.args, args...)
}

// valuePred is a condition on one candidate value, split by the value's
// JSON type, which it must fit (type-strict matching): a comparison for
// text and for numbers (op "" when no value of that type matches; "re",
// "IN", or an SQL comparison operator), and a constant outcome for true,
// false and null. Objects and arrays never match as whole values.
type valuePred struct {
	textOp, numOp     string
	textVals, numVals []any
	onTrue, onFalse   bool
	onNull            bool // also: a missing field matches
}

// newValuePred builds the per-type condition of op with vals (normalized).
func newValuePred(op query.Op, vals []any) valuePred {
	var p valuePred
	switch op {
	case query.Re:
		p.textOp, p.textVals = "re", vals[:1]
	case query.Eq, query.In:
		for _, v := range vals {
			switch x := v.(type) {
			case nil:
				p.onNull = true
			case bool:
				if x {
					p.onTrue = true
				} else {
					p.onFalse = true
				}
			case int64, float64:
				p.numVals = append(p.numVals, x)
			default:
				s, _ := text(x)
				p.textVals = append(p.textVals, s)
			}
		}
		if len(p.textVals) > 0 {
			p.textOp = "IN"
		}
		if len(p.numVals) > 0 {
			p.numOp = "IN"
		}
	default: // Lt Lte Gt Gte: compare within the value's type
		switch x := vals[0].(type) {
		case nil:
			// Nothing is less or greater than null; null <= null.
			p.onNull = op == query.Lte || op == query.Gte
		case bool:
			// false < true: compare them as 0 and 1.
			n := int64(0)
			if x {
				n = 1
			}
			p.onTrue, p.onFalse = cmpInt(1, op, n), cmpInt(0, op, n)
		case int64, float64:
			p.numOp, p.numVals = sqlOp[op], []any{x}
		default:
			s, _ := text(x)
			p.textOp, p.textVals = sqlOp[op], []any{s}
		}
	}
	return p
}

func cmpInt(a int64, op query.Op, b int64) bool {
	switch op {
	case query.Lt:
		return a < b
	case query.Lte:
		return a <= b
	case query.Gt:
		return a > b
	case query.Gte:
		return a >= b
	}
	return a == b
}

// never reports whether no value at all can match.
func (p valuePred) never() bool {
	return p.textOp == "" && p.numOp == "" && !p.onTrue && !p.onFalse && !p.onNull
}

// cmp writes "<value> <op> <vals>" where val writes the value expression.
func cmp(s *sqlBuf, op string, vals []any, val func(*sqlBuf)) {
	switch op {
	case "re":
		s.w(regexpFunc+"(?, ", vals[0])
		val(s)
		s.w(")")
	case "IN":
		val(s)
		if len(vals) == 1 {
			s.w(" = ?", vals[0])
		} else {
			s.w(" IN ("+placeholders(len(vals))+")", vals...)
		}
	default:
		val(s)
		s.w(" "+op+" ?", vals[0])
	}
}

// elem writes the predicate on a json_each row a (columns a.type and
// a.value): the value of a scalar, or one element of an array.
func (p valuePred) elem(s *sqlBuf, a string) {
	val := func(s *sqlBuf) { s.w(a + ".value") }
	var n int
	or := func() {
		if n > 0 {
			s.w(" OR ")
		}
		n++
	}
	s.w("(")
	if p.textOp != "" {
		or()
		s.w("(" + a + ".type = 'text' AND ")
		cmp(s, p.textOp, p.textVals, val)
		s.w(")")
	}
	if p.numOp != "" {
		or()
		s.w("(" + a + ".type IN ('integer', 'real') AND ")
		cmp(s, p.numOp, p.numVals, val)
		s.w(")")
	}
	for _, c := range []struct {
		on  bool
		typ string
	}{{p.onTrue, "true"}, {p.onFalse, "false"}, {p.onNull, "null"}} {
		if c.on {
			or()
			s.w(a + ".type = '" + c.typ + "'")
		}
	}
	s.w(")")
}

// docCond compiles a condition on a field of the JSON document, with
// MongoDB's matching semantics:
//
//   - when the field resolves at its JSON path (every prefix is an object),
//     its JSON type decides: a scalar is compared directly (json_extract;
//     the cheap, common case), an array matches when an element does, an
//     object never matches;
//   - when it does not resolve, it is missing (only null matches) unless a
//     prefix of the path holds an array: then it is reached the way
//     MongoDB walks a dotted path, level by level, where an array
//     contributes each of its elements and anything that is not an object
//     on the way stands for a missing field (so it matches null).
//
// SQLite caches the parse of doc across the json_type, json_extract and
// -> calls of a row (json_each does not use that cache, so it is only
// given extracted values), so the common case costs one parse of the
// document.
func docCond(t table, field string, op query.Op, vals []any) (string, []any) {
	p := newValuePred(op, vals)
	if p.never() {
		return "0", nil
	}
	segs := strings.Split(field, ".")
	path := jsonPath(field)
	extract := func(s *sqlBuf) { s.w("json_extract("+t.Doc+", ?)", path) }
	s := &sqlBuf{}
	s.w("CASE coalesce(json_type("+t.Doc+", ?), 'missing')", path)
	if p.textOp != "" {
		s.w(" WHEN 'text' THEN ")
		cmp(s, p.textOp, p.textVals, extract)
	}
	if p.numOp != "" {
		for _, typ := range []string{"integer", "real"} {
			s.w(" WHEN '" + typ + "' THEN ")
			cmp(s, p.numOp, p.numVals, extract)
		}
	}
	for _, c := range []struct {
		on  bool
		typ string
	}{{p.onTrue, "true"}, {p.onFalse, "false"}, {p.onNull, "null"}} {
		if c.on {
			s.w(" WHEN '" + c.typ + "' THEN 1")
		}
	}
	// json_each over the extracted array text: json_extract reads the
	// cached parse of doc, and json_each then parses only the array.
	s.w(" WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(json_extract("+t.Doc+", ?)) AS e WHERE ", path)
	p.elem(s, "e")
	s.w(")")
	missing := "0"
	if p.onNull {
		missing = "1"
	}
	if len(segs) == 1 {
		s.w(" WHEN 'missing' THEN " + missing + " ELSE 0 END")
		return s.b.String(), s.args
	}
	s.w(" WHEN 'missing' THEN CASE WHEN ")
	for k := 1; k < len(segs); k++ {
		if k > 1 {
			s.w(" OR ")
		}
		s.w("json_type("+t.Doc+", ?) = 'array'", jsonPath(strings.Join(segs[:k], ".")))
	}
	s.w(" THEN ")
	walk(s, t, segs, p)
	s.w(" ELSE " + missing + " END ELSE 0 END")
	return s.b.String(), s.args
}

// walk writes the EXISTS that reaches the field through arrays, level by
// level, as MongoDB does.
func walk(s *sqlBuf, t table, segs []string, p valuePred) {
	// wrap(x, k) makes the value at segment k below x into a list of
	// candidates: the elements of an array, else the value itself (null
	// when missing).
	wrap := func(x string, k int) {
		seg := jsonPath(segs[k])
		s.w("CASE json_type("+x+", ?) WHEN 'array' THEN "+x+" -> ? ELSE json_array("+x+" -> ?) END", seg, seg, seg)
	}
	s.w("EXISTS (SELECT 1 FROM ")
	last := ""
	for k := range segs {
		alias := "e" + strconv.Itoa(k+1)
		if k == len(segs)-1 {
			alias = "e"
		}
		if k > 0 {
			s.w(", ")
		}
		s.w("json_each(")
		if k == 0 {
			wrap(t.Doc, k)
		} else {
			s.w("CASE WHEN " + last + ".type = 'object' THEN ")
			wrap(last+".value", k)
			s.w(" ELSE '[null]' END")
		}
		s.w(") AS " + alias)
		last = alias
	}
	s.w(" WHERE ")
	p.elem(s, "e")
	s.w(")")
}
