package sqlite

import (
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// docTable is a bare table of documents with no mapped column, so that
// every condition goes through docCond.
var docTable = table{Name: "t", Doc: "doc", Columns: map[string]column{}, Order: "rid"}

// refCond compiles c the way compileCond does, but with docCondRef.
func refCond(tbl table, c query.Cond) (string, []any) {
	pos, neg := c.Op, false
	switch c.Op {
	case query.Ne:
		pos, neg = query.Eq, true
	case query.Nin:
		pos, neg = query.In, true
	}
	var vals []any
	switch pos {
	case query.In:
		for _, v := range c.Value.([]any) {
			nv, _ := normalize(v)
			vals = append(vals, nv)
		}
	case query.Re:
		vals = []any{c.Value}
	default:
		nv, _ := normalize(c.Value)
		vals = []any{nv}
	}
	expr, args := docCondRef(tbl, c.Field, pos, vals)
	if !neg {
		return expr, args
	}
	switch expr {
	case "0":
		return "1", nil
	case "1":
		return "0", nil
	}
	return "NOT IFNULL(" + expr + ", 0)", args
}

func randValue(r *rand.Rand, depth int) any {
	scalars := []any{nil, "a", "b", "5", 5, 5.0, 6.5, 7, true, false, "", "[1]"}
	switch n := r.IntN(10); {
	case depth < 3 && n < 3:
		return randObject(r, depth+1)
	case depth < 3 && n < 5:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randValue(r, depth+1)
		}
		return a
	default:
		return scalars[r.IntN(len(scalars))]
	}
}

func randObject(r *rand.Rand, depth int) map[string]any {
	o := map[string]any{}
	for _, k := range []string{"x", "y", "z"} {
		if r.IntN(3) > 0 {
			o[k] = randValue(r, depth)
		}
	}
	return o
}

func randCond(r *rand.Rand) query.Cond {
	segs := make([]string, 1+r.IntN(3))
	for i := range segs {
		segs[i] = string("xyz"[r.IntN(3)])
	}
	vals := []any{nil, "a", "b", "5", int64(5), 5.0, 6.5, int64(7), true, false, "", int64(-1)}
	ops := []query.Op{query.Eq, query.Ne, query.Lt, query.Lte, query.Gt, query.Gte, query.In, query.Nin, query.Re}
	c := query.Cond{Field: strings.Join(segs, "."), Op: ops[r.IntN(len(ops))]}
	switch c.Op {
	case query.In, query.Nin:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = vals[r.IntN(len(vals))]
		}
		c.Value = l
	case query.Re:
		c.Value = []string{"a", "^b$", "5", "^$", "\\["}[r.IntN(5)]
	default:
		c.Value = vals[r.IntN(len(vals))]
	}
	return c
}

func selectRids(t *testing.T, db *sql.DB, where string, args []any) []int {
	t.Helper()
	rows, err := db.Query("SELECT rid FROM t WHERE "+where+" ORDER BY rid", args...)
	if err != nil {
		t.Fatalf("%v\nSQL: %s\nargs: %#v", err, where, args)
	}
	defer rows.Close()
	ids := []int{}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n)
	}
	return ids
}

// TestDocCondFastPathMatchesReference runs random conditions over random
// documents (nested objects, arrays of arrays, every scalar type) through
// the compiler and through the reference compiler without the fast path,
// which must select exactly the same rows.
func TestDocCondFastPathMatchesReference(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "fast.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 150; i++ {
		doc, err := json.Marshal(randObject(r, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO t (doc) VALUES (?)", string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 800; i++ {
		c := randCond(r)
		where, args, err := compile(docTable, query.Filter{Conds: []query.Cond{c}})
		if err != nil {
			t.Fatalf("%#v: %v", c, err)
		}
		rwhere, rargs := refCond(docTable, c)
		got, want := selectRids(t, db, where, args), selectRids(t, db, rwhere, rargs)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %s %#v: got %v, want %v\nSQL: %s\nargs: %#v", c.Field, c.Op, c.Value, got, want, where, args)
		}
	}
}

// TestDocCondFastPathSQL checks the shape of the common case: a field
// reached without arrays costs json_type and json_extract, no json_each
// and no walk over the prefixes unless the path does not resolve.
func TestDocCondFastPathSQL(t *testing.T) {
	where, args, err := compile(nodeTable, query.Where("data.kernel_type", "x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	want := `CASE coalesce(json_type(doc, ?), 'missing') WHEN 'text' THEN json_extract(doc, ?) = ? ` +
		`WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(json_extract(doc, ?)) AS e WHERE ((e.type = 'text' AND e.value = ?))) ` +
		`WHEN 'missing' THEN CASE WHEN json_type(doc, ?) = 'array' THEN `
	if !strings.HasPrefix(where, want) {
		t.Errorf("SQL:\n%s\nwant prefix:\n%s", where, want)
	}
	p := `$."data"."kernel_type"`
	if !reflect.DeepEqual(args[:6], []any{p, p, "x86_64", p, "x86_64", `$."data"`}) {
		t.Errorf("args %#v", args)
	}
	// A single segment has no walk at all.
	where, _, _ = compile(nodeTable, query.Where("treeid", "x"))
	if strings.Contains(where, "json_array") || !strings.HasSuffix(where, "WHEN 'missing' THEN 0 ELSE 0 END") {
		t.Errorf("SQL: %s", where)
	}
}

// docCondRef is the compiler of document conditions before the fast
// path (always json_each, and the level-by-level walk whenever a prefix
// holds an array): the reference the fast path is checked against.
//
// When no prefix of the path holds an array, the field is read directly
// at its JSON path (one json_each; the common, cheap case). Otherwise it
// is reached the way MongoDB walks a dotted path: level by level, where an
// array contributes each of its elements and anything that is not an
// object on the way stands for a missing field (so it matches null).
func docCondRef(t table, field string, op query.Op, vals []any) (string, []any) {
	segs := strings.Split(field, ".")
	pred, predArgs, hasNull := docPredRef("e", op, vals)
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

// docPredRef is the type-strict predicate on the JSON type and value columns
// of json_each alias a. hasNull is set when null matches (then a missing
// field must match too). An empty pred means nothing can match.
func docPredRef(a string, op query.Op, vals []any) (pred string, args []any, hasNull bool) {
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
