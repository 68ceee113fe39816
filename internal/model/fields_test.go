package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFields(t *testing.T) {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(`{"name":"x","flag":"yes","one":1.0,"bad":2,"groups":["a","b"],` +
		`"dup":["a","a"],"mail":"Ann <ann@Example.ORG>","blank":" ","list":[1]}`))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f := NewFields(m)
	if f.Str("name") != "x" || !f.Bool("flag", false) || !f.Bool("one", false) || f.Bool("absent", true) != true {
		t.Error("str or lax bool")
	}
	if f.OptStr("absent") != nil || f.OptBool("absent") != nil {
		t.Error("absent optional members are not nil")
	}
	if g, ok := f.Groups("groups"); !ok || len(g) != 2 {
		t.Errorf("groups %v %v", g, ok)
	}
	if e := f.Email("mail"); e != "ann@example.org" {
		t.Errorf("email %q", e)
	}
	if err := f.Err(); err != nil {
		t.Fatalf("valid members: %v", err)
	}
	f.Str("missing")
	f.Bool("bad", false)
	f.Groups("dup")
	f.Groups("list")
	f.NonEmpty("blank")
	f.OptEmail("name")
	err := f.Err()
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("Err = %v", err)
	}
	var got []string
	for _, e := range ve.Errors {
		b, _ := json.Marshal(e.Loc)
		got = append(got, e.Type+" "+string(b))
	}
	want := []string{`missing ["body","missing"]`, `bool_parsing ["body","bad"]`, `value_error ["body","dup"]`,
		`string_type ["body","list",0]`, `string_too_short ["body","blank"]`, `value_error ["body","name"]`}
	if b1, b2 := jsonString(got), jsonString(want); b1 != b2 {
		t.Errorf("errors\n got %s\nwant %s", b1, b2)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }
