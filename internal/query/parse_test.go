package query

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

func mustID(t testing.TB, s string) objectid.ID {
	t.Helper()
	id, err := objectid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestParse(t *testing.T) {
	const hex = "65a1f0c2e4b0a1b2c3d4e5f6"
	id := mustID(t, hex)
	ts := time.Date(2026, 8, 21, 9, 54, 55, 123456000, time.UTC)
	tests := []struct {
		name  string
		query string
		want  []Cond
	}{
		{"empty", "", nil},
		{"skip", "limit=10&offset=5", nil},
		{"eq string", "kind=checkout", []Cond{{"kind", Eq, "checkout"}}},
		{"eq keeps decimal string", "data.arch=5", []Cond{{"data.arch", Eq, "5"}}},
		{"eq empty string", "name=", []Cond{{"name", Eq, ""}}},
		{"eq null", "result=null", []Cond{{"result", Eq, nil}}},
		{"eq true", "processed_by_kcidb_bridge=True", []Cond{{"processed_by_kcidb_bridge", Eq, true}}},
		{"eq false", "a=FALSE", []Cond{{"a", Eq, false}}},
		{"eq truthy text stays", "a=yes", []Cond{{"a", Eq, "yes"}}},
		{"nested", "data.kernel_revision.tree=mainline", []Cond{{"data.kernel_revision.tree", Eq, "mainline"}}},
		{"objectid", "parent=" + hex, []Cond{{"parent", Eq, id}}},
		{"objectid id", "id=" + hex, []Cond{{"id", Eq, id}}},
		{"objectid null", "parent=null", []Cond{{"parent", Eq, nil}}},
		{"objectid in", "parent__in=" + hex + ",," + hex + ",null", []Cond{{"parent", In, []any{id, id, nil}}}},
		{"objectid ne", "parent__ne=" + hex, []Cond{{"parent", Ne, id}}},
		{"time space offset", "created__gt=2026-08-21 09:54:55.123456 00:00", []Cond{{"created", Gt, ts}}},
		{"time plus offset", "created__gte=" + url.QueryEscape("2026-08-21T11:54:55.123456+02:00"), []Cond{{"created", Gte, ts}}},
		{"time naive", "updated=2026-08-21T09:54:55.123456", []Cond{{"updated", Eq, ts}}},
		{"time truncated to µs", "timeout__lt=2026-08-21T09:54:55.123456789", []Cond{{"timeout", Lt, ts}}},
		{"time null", "holdoff=null", []Cond{{"holdoff", Eq, nil}}},
		{"time ne null", "holdoff__ne=null", []Cond{{"holdoff", Ne, nil}}},
		{"time lte null", "holdoff__lte=null", []Cond{{"holdoff", Lte, nil}}},
		{"int typed", "retry_counter=3", []Cond{{"retry_counter", Eq, int64(3)}}},
		{"int typed lt", "retry_counter__lt=3", []Cond{{"retry_counter", Lt, int64(3)}}},
		{"int typed negative", "retry_counter__gte=-1", []Cond{{"retry_counter", Gte, int64(-1)}}},
		{"int typed in", "retry_counter__in=1,2", []Cond{{"retry_counter", In, []any{int64(1), int64(2)}}}},
		{"int op", "data.count__int=42", []Cond{{"data.count", Eq, int64(42)}}},
		{"int op null", "data.count__int=null", []Cond{{"data.count", Eq, nil}}},
		{"int op typed", "retry_counter__int=1", []Cond{{"retry_counter", Eq, int64(1)}}},
		{"lt decimal", "data.n__lt=10", []Cond{{"data.n", Lt, int64(10)}}},
		{"gt text", "name__gt=abc", []Cond{{"name", Gt, "abc"}}},
		{"gt float stays text", "data.n__gt=1.5", []Cond{{"data.n", Gt, "1.5"}}},
		{"ne decimal", "data.n__ne=7", []Cond{{"data.n", Ne, int64(7)}}},
		{"ne text", "state__ne=done", []Cond{{"state", Ne, "done"}}},
		{"ne true stays text", "a__ne=true", []Cond{{"a", Ne, "true"}}},
		{"ne null", "result__ne=null", []Cond{{"result", Ne, nil}}},
		{"gte null", "result__gte=null", []Cond{{"result", Gte, nil}}},
		{"signed stays text", "data.n__lt=-5", []Cond{{"data.n", Lt, "-5"}}},
		{"non-ascii digits stay text", "data.n__lt=" + url.QueryEscape("١٢"), []Cond{{"data.n", Lt, "١٢"}}},
		{"in", "kind__in=checkout,kbuild,,job", []Cond{{"kind", In, []any{"checkout", "kbuild", "job"}}}},
		{"in keeps decimals", "data.n__in=1,2", []Cond{{"data.n", In, []any{"1", "2"}}}},
		{"in null element", "result__in=pass,null", []Cond{{"result", In, []any{"pass", nil}}}},
		{"in whole null", "result__in=null", []Cond{{"result", In, []any{nil}}}},
		{"in empty", "kind__in=", []Cond{{"kind", In, []any{}}}},
		{"in only commas", "kind__in=,,", []Cond{{"kind", In, []any{}}}},
		{"nin", "state__nin=done,closing", []Cond{{"state", Nin, []any{"done", "closing"}}}},
		{"re", "name__re=^baseline-", []Cond{{"name", Re, "^baseline-"}}},
		{"re empty", "name__re=", []Cond{{"name", Re, ""}}},
		{"re text null is pattern", "name__re=%5Enull%24", []Cond{{"name", Re, "^null$"}}},
		{"several ops on one field", "created__gte=2026-08-21T09:54:55.123456&created__lt=2026-08-21T09:54:55.123456",
			[]Cond{{"created", Gte, ts}, {"created", Lt, ts}}},
		{"repeated key ANDs, keys sorted", "path=b&kind=x&path=a", []Cond{{"kind", Eq, "x"}, {"path", Eq, "b"}, {"path", Eq, "a"}}},
		{"odd characters in path", "data.a%22b.c%27d%20e=1", []Cond{{"data.a\"b.c'd e", Eq, "1"}}},
		{"single underscore", "a_b=1", []Cond{{"a_b", Eq, "1"}}},
		{"dollar inside segment", "a.b$c=1", []Cond{{"a.b$c", Eq, "1"}}},
		{"plus decoded to space in value", "name=a+b", []Cond{{"name", Eq, "a b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.query, err)
			}
			if !reflect.DeepEqual(f.Conds, tt.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tt.query, f.Conds, tt.want)
			}
		})
	}
}

// parseString parses a query string with testSchema.
func parseString(t *testing.T, qs string) (Filter, error) {
	t.Helper()
	v, err := url.ParseQuery(qs)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(v, testSchema)
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", MaxKeyLen+1)
	tests := []struct {
		name, query, param string
	}{
		{"unknown op", "name__foo=1", "name__foo"},
		{"empty op", "name__=1", "name__"},
		{"two ops", "name__in__ne=1", "name__in__ne"},
		{"double separator", "a____in=1", "a____in"},
		{"empty field", "__in=1", "__in"},
		{"empty field eq", "=1", ""},
		{"empty segment", "a..b=1", "a..b"},
		{"leading dot", ".a=1", ".a"},
		{"trailing dot", "a.=1", "a."},
		{"dollar segment", "data.$where=1", "data.$where"},
		{"dollar field", "$or=1", "$or"},
		{"dollar with op", "$gt__gt=1", "$gt__gt"},
		{"nul in field", "a%00b=1", "a\x00b"},
		{"long key", long + "=1", long[:64] + "..."},
		{"deep path", strings.Repeat("a.", MaxPathSegments) + "a=1", strings.Repeat("a.", MaxPathSegments) + "a"},
		{"bad objectid", "parent=xyz", "parent"},
		{"bad objectid in list", "parent__in=65a1f0c2e4b0a1b2c3d4e5f6,xyz", "parent__in"},
		{"bool on objectid", "parent=true", "parent"},
		{"bad time", "created__gt=yesterday", "created__gt"},
		{"empty time", "created=", "created"},
		{"bad int", "retry_counter=abc", "retry_counter"},
		{"bad int op", "data.n__int=1.5", "data.n__int"},
		{"int op on time", "created__int=1", "created__int"},
		{"int overflow", "data.n__lt=99999999999999999999", "data.n__lt"},
		{"lt null", "result__lt=null", "result__lt"},
		{"gt null", "result__gt=null", "result__gt"},
		{"re null", "name__re=null", "name__re"},
		{"bad re", "name__re=(", "name__re"},
		{"long re", "name__re=" + strings.Repeat("a", MaxPatternLen+1), "name__re"},
		{"re on objectid", "parent__re=abc", "parent__re"},
		{"re on time", "created__re=2026", "created__re"},
		{"invalid utf8 value", "name=%ff", "name"},
		{"invalid utf8 key", "n%ffame=1", "n\xffame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.query)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want error", tt.query, f)
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q): error %T is not *query.Error", tt.query, err)
			}
			if qe.Param != tt.param {
				t.Errorf("Parse(%q): Param %q, want %q (%v)", tt.query, qe.Param, tt.param, err)
			}
			if len(f.Conds) != 0 {
				t.Errorf("Parse(%q): filter not empty on error", tt.query)
			}
		})
	}
}

func TestParseSchema(t *testing.T) {
	s := Schema{Types: map[string]FieldType{"name": TypeString, "n": TypeInt}}
	v := url.Values{"name": {"true"}, "name__lt": {"5"}, "n__ne": {"7"}, "limit": {"3"}}
	f, err := Parse(v, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []Cond{{"limit", Eq, "3"}, {"n", Ne, int64(7)}, {"name", Eq, "true"}, {"name", Lt, "5"}}
	if !reflect.DeepEqual(f.Conds, want) {
		t.Errorf("got %#v\nwant %#v", f.Conds, want)
	}
	// The zero Schema treats everything as untyped.
	f, err = Parse(url.Values{"parent": {"x"}}, Schema{})
	if err != nil || !reflect.DeepEqual(f.Conds, []Cond{{"parent", Eq, "x"}}) {
		t.Errorf("zero schema: %#v %v", f.Conds, err)
	}
}

// validValue reports whether v is one of the value types Cond documents.
func validValue(v any) bool {
	switch v.(type) {
	case nil, string, int64, float64, bool, time.Time, objectid.ID:
		return true
	}
	return false
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"kind=checkout&state__ne=done",
		"created__gte=2026-08-21 09:54:55.123456 00:00&created__lt=2026-08-22",
		"parent=65a1f0c2e4b0a1b2c3d4e5f6&id__in=65a1f0c2e4b0a1b2c3d4e5f6,null",
		"retry_counter__lt=3&data.n__int=5&data.x__gt=10",
		"name__re=^base.*(x|y)$&path=checkout&kind__nin=a,,b",
		"a..b=1", "$x=1", "a__b__c=1", "x__foo=1", "result=null&result__lt=null",
		"processed_by_kcidb_bridge=TRUE&limit=5&offset=1",
		"data.a%22b.c%27d=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := Parse(v, testSchema)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not *query.Error", err, err)
			}
			if len(flt.Conds) != 0 {
				t.Fatal("non-empty filter with error")
			}
			return
		}
		for _, c := range flt.Conds {
			if c.Field == "" || strings.HasPrefix(c.Field, "$") || strings.Contains(c.Field, "..") {
				t.Fatalf("bad field %q", c.Field)
			}
			switch c.Op {
			case In, Nin:
				list, ok := c.Value.([]any)
				if !ok {
					t.Fatalf("%s value %T", c.Op, c.Value)
				}
				for _, e := range list {
					if !validValue(e) {
						t.Fatalf("%s element %T", c.Op, e)
					}
				}
			case Re:
				p, ok := c.Value.(string)
				if !ok || len(p) > MaxPatternLen {
					t.Fatalf("re value %T", c.Value)
				}
			case Eq, Ne, Lt, Lte, Gt, Gte:
				if !validValue(c.Value) {
					t.Fatalf("%s value %T", c.Op, c.Value)
				}
				if c.Value == nil && (c.Op == Lt || c.Op == Gt) {
					t.Fatalf("%s with nil", c.Op)
				}
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
		}
	})
}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want []any
		ok   bool
	}{
		{[]any{"a", int64(1)}, []any{"a", int64(1)}, true},
		{[]string{"a", "b"}, []any{"a", "b"}, true},
		{[2]int64{1, 2}, []any{int64(1), int64(2)}, true},
		{[]any{}, []any{}, true},
		{nil, nil, false},
		{"a,b", nil, false},
		{[]byte("ab"), nil, false},
		{int64(3), nil, false},
	} {
		got, err := List(tc.in)
		if (err == nil) != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%#v) = %#v, %v; want %#v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in     any
		want   any
		ok, er bool
	}{
		{int64(-3), int64(-3), true, false},
		{int(7), int64(7), true, false},
		{uint8(255), int64(255), true, false},
		{uint64(1 << 63), float64(1 << 63), true, false},
		{float32(1.5), float64(1.5), true, false},
		{json.Number("42"), int64(42), true, false},
		{json.Number("1e3"), float64(1000), true, false},
		{json.Number("x"), nil, true, true},
		{math.NaN(), nil, true, true},
		{"42", nil, false, false},
		{nil, nil, false, false},
		{true, nil, false, false},
	} {
		got, ok, err := Number(tc.in)
		if ok != tc.ok || (err != nil) != tc.er || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Number(%#v) = %#v, %v, %v; want %#v, %v, error %v", tc.in, got, ok, err, tc.want, tc.ok, tc.er)
		}
	}
}

// testSchema types fields as the node collection's schema does.
var testSchema = Schema{
	Types: map[string]FieldType{
		"id":            TypeObjectID,
		"parent":        TypeObjectID,
		"created":       TypeTime,
		"updated":       TypeTime,
		"timeout":       TypeTime,
		"holdoff":       TypeTime,
		"retry_counter": TypeInt,
	},
	Skip: []string{"limit", "offset"},
}

func TestParseLimitsRefuseHostileQueries(t *testing.T) {
	many := url.Values{}
	for i := 0; i < 101; i++ {
		many.Add("kind", "x")
	}
	list := url.Values{"kind__in": {strings.Repeat("a,", 1001)}}
	for _, tc := range []struct {
		name string
		v    url.Values
		s    Schema
		want string
	}{
		{"conditions", many, testSchema, "more than 100 conditions"},
		{"conditions configured", url.Values{"a": {"1"}, "b": {"2"}}, testSchema.WithLimits(Limits{MaxConds: 1}), "more than 1 conditions"},
		{"list values", list, testSchema, "more than 1000 values"},
		{"list values of all lists together", url.Values{"kind__in": {strings.Repeat("a,", 600)}, "name__nin": {strings.Repeat("b,", 401)}},
			testSchema, "more than 1000 values in the query's in/nin lists"},
		{"repeat", url.Values{"name__re": {"[a-z]{1,1000}[a-z]{1,1000}b"}}, testSchema, "add up to 2000, more than the limit of 100"},
		{"nested repeat", url.Values{"name__re": {"((a{2,10}){1,5}){0,3}"}}, testSchema, "add up to 150"},
		{"open repeat counts its minimum", url.Values{"name__re": {"a{101,}"}}, testSchema, "add up to 101"},
	} {
		_, err := Parse(tc.v, tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	for _, ok := range []string{"^mainline$", "a+b*c?", "[a-z]{1,50}[0-9]{1,50}", "(x{2,5}){1,20}", "^(baseline|kselftest)-.*"} {
		if _, err := Parse(url.Values{"name__re": {ok}}, testSchema); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	if _, err := Parse(url.Values{"kind__in": {strings.Repeat("a,", 600)}, "name__nin": {strings.Repeat("b,", 400)}}, testSchema); err != nil {
		t.Errorf("1000 values in two lists: %v", err)
	}
	if _, err := Parse(many, testSchema.WithLimits(Limits{MaxConds: 101})); err != nil {
		t.Errorf("101 conditions under a limit of 101: %v", err)
	}
}
