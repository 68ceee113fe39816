package query

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

func TestParseSort(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "created", want: "created,id"},
		{in: "-created", want: "-created,-id"},
		{in: "+name", want: "name,id"},
		{in: "kind,-created", want: "kind,-created,-id"},
		{in: " kind , -updated ", want: "kind,-updated,-id"},
		{in: "-id", want: "-id"},
		{in: "id,name", want: "id"}, // nothing after the unique key
		{in: "result,-id", want: "result,-id"},
		{in: "data.runtime", err: `cannot sort on "data.runtime"`},
		{in: "", err: "empty sort key"},
		{in: "-", err: "empty sort key"},
		{in: "name,,kind", err: "empty sort key"},
		{in: "name,-name", err: `field "name" given twice`},
		{in: "name,kind,state,result,created", err: "more than 4 sort keys"},
	} {
		o, err := ParseSort("sort", tc.in, NodeSort)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "Invalid query parameter 'sort'") {
				t.Errorf("ParseSort(%q) = %v, %v; want error %q", tc.in, o, err, tc.err)
			}
			continue
		}
		if err != nil || o.String() != tc.want {
			t.Errorf("ParseSort(%q) = %v, %v; want %s", tc.in, o, err, tc.want)
		}
	}
	if o, err := ParseSort("sort", "-sequence_id", EventSort); err != nil || o.String() != "-sequence_id" {
		t.Errorf("events: %v, %v", o, err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	o, _ := ParseSort("sort", "-result,created", NodeSort)
	when := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	id := objectid.NewAt(when)
	for _, vals := range [][]any{{"pass", when, id}, {nil, when, id}} {
		tok := EncodeCursor(o, vals)
		got, err := DecodeCursor("after", tok, o, NodeSort)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(vals) {
			t.Errorf("round trip of %v: %v, %v", vals, got, err)
		}
	}
	tok := EncodeCursor(o, []any{"pass", when, id})
	other, _ := ParseSort("sort", "result,created", NodeSort)
	if _, err := DecodeCursor("after", tok, other, NodeSort); err == nil || !strings.Contains(err.Error(), "made for sort=-result,created,id") {
		t.Errorf("other order: %v", err)
	}
	for _, bad := range []string{"", "!!", "bnVsbA", EncodeCursor(o, []any{"pass", when}), EncodeCursor(o, []any{"pass", "x", id}), EncodeCursor(o, []any{"pass", when, "x"})} {
		if _, err := DecodeCursor("after", bad, o, NodeSort); err == nil {
			t.Errorf("DecodeCursor(%q) accepted", bad)
		}
	}
	// null in a field that cannot be null
	c, _ := ParseSort("sort", "created", NodeSort)
	if _, err := DecodeCursor("after", EncodeCursor(c, []any{nil, id}), c, NodeSort); err == nil {
		t.Error("null created accepted")
	}
}

func TestAfter(t *testing.T) {
	render := func(sk Seek) string {
		var alts []string
		for _, f := range sk.Any {
			var cs []string
			for _, c := range f.Conds {
				cs = append(cs, fmt.Sprintf("%s %s %v", c.Field, c.Op, c.Value))
			}
			alts = append(alts, strings.Join(cs, " & "))
		}
		var b []string
		for _, c := range sk.Bound.Conds {
			b = append(b, fmt.Sprintf("%s %s %v", c.Field, c.Op, c.Value))
		}
		return strings.Join(b, " & ") + " :: " + strings.Join(alts, " | ")
	}
	for _, tc := range []struct {
		sort string
		vals []any
		want string
	}{
		{"-created", []any{"T", "I"}, "created lte T :: created lt T | created eq T & id lt I"},
		{"name", []any{"n", "I"}, "name gte n :: name gt n | name eq n & id gt I"},
		{"result", []any{nil, "I"}, " :: result ne <nil> | result eq <nil> & id gt I"},
		{"result", []any{"pass", "I"}, " :: result gt pass | result eq pass & id gt I"},
		{"-result", []any{"pass", "I"}, " :: result lt pass | result eq <nil> | result eq pass & id lt I"},
		{"-result", []any{nil, "I"}, " :: result eq <nil> & id lt I"},
	} {
		o, _ := ParseSort("sort", tc.sort, NodeSort)
		if got := render(o.After(tc.vals, NodeSort)); got != tc.want {
			t.Errorf("%s after %v:\n got %s\nwant %s", tc.sort, tc.vals, got, tc.want)
		}
	}
}
