package model

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

func TestDecodeTelemetryEventDefaults(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	e, err := DecodeTelemetryEvent(map[string]any{"kind": "job_result", "runtime": "lava", "_id": nil, "other": 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(e)
	want := `{"id":"000000000000000000000000","ts":"2025-01-02T03:04:05.678901","kind":"job_result","runtime":"lava",` +
		`"device_type":null,"device_id":null,"job_name":null,"test_name":null,"job_id":null,"node_id":null,"tree":null,` +
		`"branch":null,"arch":null,"result":null,"is_infra_error":false,"error_type":null,"error_msg":null,"retry":0,"extra":{}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for _, name := range TelemetryStringFields {
		if _, ok := e.StringField(name); !ok {
			t.Errorf("StringField(%q) not known", name)
		}
	}
	if _, ok := e.StringField("extra"); ok {
		t.Error("StringField(extra) known")
	}
}

func TestTelemetryRetry(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int64
		typ  string
	}{
		{json.Number("4"), 4, ""},
		{json.Number("-4"), -4, ""},
		{json.Number("2.0"), 2, ""},
		{json.Number("1e2"), 100, ""},
		{json.Number("2.5"), 0, "int_from_float"},
		{json.Number("9223372036854775808"), 0, "int_parsing_size"},
		{json.Number("1e300"), 0, "int_parsing_size"},
		{" 5 ", 5, ""},
		{"+3", 3, ""},
		{"-2", -2, ""},
		{"", 0, "int_parsing"},
		{"--2", 0, "int_parsing"},
		{"1.0", 0, "int_parsing"},
		{"99999999999999999999", 0, "int_parsing_size"},
		{true, 1, ""},
		{false, 0, ""},
		{3.0, 3, ""},
		{nil, 0, "int_type"},
		{[]any{}, 0, "int_type"},
	} {
		e, err := DecodeTelemetryEvent(map[string]any{"kind": "k", "runtime": "r", "retry": tc.in}, time.Now())
		if tc.typ == "" {
			if err != nil || e.Retry != tc.want {
				t.Errorf("retry %#v: %v, %v; want %d", tc.in, e, err, tc.want)
			}
			continue
		}
		var ke *KindError
		if !errors.As(err, &ke) || len(ke.Errors) != 1 || ke.Errors[0].Type != tc.typ {
			t.Errorf("retry %#v: error %v, want type %s", tc.in, err, tc.typ)
		}
	}
}

func TestTelemetryErrorText(t *testing.T) {
	_, err := DecodeTelemetryEvent(map[string]any{"runtime": "lava", "is_infra_error": "perhaps"}, time.Now())
	want := "2 validation errors for TelemetryEvent\n" +
		"kind\n  Field required [type=missing, input_value={'is_infra_error': 'perhaps', 'runtime': 'lava'}, input_type=dict]\n" +
		"    For further information visit https://errors.pydantic.dev/" + pydanticDocsVersion + "/v/missing\n" +
		"is_infra_error\n  Input should be a valid boolean, unable to interpret input [type=bool_parsing, input_value='perhaps', input_type=str]\n" +
		"    For further information visit https://errors.pydantic.dev/" + pydanticDocsVersion + "/v/bool_parsing"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestPyFloat(t *testing.T) {
	for in, want := range map[float64]string{0: "0.0", 1: "1.0", 0.5: "0.5", 0.333: "0.333", 2.0 / 3: "0.6666666666666666", 1e-5: "1e-05", 1e16: "1e+16", -0.25: "-0.25"} {
		b, err := json.Marshal(PyFloat(in))
		if err != nil || string(b) != want {
			t.Errorf("PyFloat(%v) = %s, %v; want %s", in, b, err, want)
		}
	}
	if _, err := json.Marshal(PyFloat(math.Inf(1))); err == nil {
		t.Error("NaN or Inf marshalled")
	}
}
