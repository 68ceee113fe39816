package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// Expected values are Python's repr() and pydantic-core's truncation.
func TestPyRepr(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "None"},
		{true, "True"},
		{false, "False"},
		{"x", "'x'"},
		{"it's", `"it's"`},
		{`say "hi"`, `'say "hi"'`},
		{`it's "q"`, `'it\'s "q"'`},
		{"a\nb\tc\x01é\u2028\\", `'a\nb\tc\x01é\u2028\\'`},
		{"\U0001F600\U000e0001", "'\U0001F600\\U000e0001'"},
		{json.Number("5"), "5"},
		{json.Number("-0"), "0"},
		{json.Number("12345678901234567890123"), "12345678901234567890123"},
		{json.Number("1.0"), "1.0"},
		{json.Number("1e20"), "1e+20"},
		{json.Number("1e16"), "1e+16"},
		{json.Number("1e15"), "1000000000000000.0"},
		{json.Number("0.0001"), "0.0001"},
		{json.Number("1e-5"), "1e-05"},
		{json.Number("-0.0"), "-0.0"},
		{json.Number("1.5"), "1.5"},
		{json.Number("123.456"), "123.456"},
		{json.Number("1.2345e-7"), "1.2345e-07"},
		{json.Number("1.7976931348623157e308"), "1.7976931348623157e+308"},
		{2.5, "2.5"},
		{[]any{json.Number("1"), json.Number("2.5"), nil, true, "s"}, "[1, 2.5, None, True, 's']"},
		{map[string]any{"b": json.Number("1"), "a": []any{}}, "{'a': [], 'b': 1}"},
		{[]string{"a"}, "['a']"},
		{map[string]string{"k": "v"}, "{'k': 'v'}"},
	}
	for _, tc := range tests {
		if got := pyRepr(tc.in); got != tc.want {
			t.Errorf("pyRepr(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestTruncRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{pyRepr(strings.Repeat("x", 48)), "'" + strings.Repeat("x", 48) + "'"},
		{pyRepr(strings.Repeat("x", 49)), "'" + strings.Repeat("x", 24) + "..." + strings.Repeat("x", 23) + "'"},
		{pyRepr(strings.Repeat("é", 24)), "'" + strings.Repeat("é", 24) + "'"},
		{pyRepr(strings.Repeat("é", 25)), "'" + strings.Repeat("é", 12) + "..." + strings.Repeat("é", 11) + "'"},
		{pyRepr("a" + strings.Repeat("é", 30)), "'a" + strings.Repeat("é", 11) + "..." + strings.Repeat("é", 11) + "'"},
	}
	for _, tc := range tests {
		if got := truncRepr(tc.in); got != tc.want {
			t.Errorf("truncRepr(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPyTypeName(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "NoneType"}, {"", "str"}, {true, "bool"}, {json.Number("1"), "int"},
		{json.Number("1.0"), "float"}, {json.Number("1E5"), "float"}, {1.5, "float"},
		{map[string]any{}, "dict"}, {[]any{}, "list"},
	}
	for _, tc := range tests {
		if got := pyTypeName(tc.in); got != tc.want {
			t.Errorf("pyTypeName(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestKindErrorMessage(t *testing.T) {
	e := &KindError{Model: "Checkout", Errors: []FieldError{{
		Type: "missing", Loc: []any{"data", "kernel_revision", "tree"}, Msg: "Field required",
		Input: map[string]any{"url": json.Number("5")},
	}}}
	want := "1 validation error for Checkout\ndata.kernel_revision.tree\n  Field required [type=missing, input_value={'url': 5}, input_type=dict]\n" +
		"    For further information visit https://errors.pydantic.dev/2.13/v/missing"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	e.Errors = append(e.Errors, FieldError{Type: "string_type", Loc: []any{"data", "fragments", 1}, Msg: "Input should be a valid string", Input: json.Number("2")})
	if !strings.HasPrefix(e.Error(), "2 validation errors for Checkout\n") ||
		!strings.Contains(e.Error(), "\ndata.fragments.1\n  Input should be a valid string [type=string_type, input_value=2, input_type=int]") {
		t.Errorf("got %q", e.Error())
	}
}
