package model

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestDecodeNodePatch(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		has   []string
		state *string
		empty bool
	}{
		{"empty", `{}`, nil, nil, true},
		{"unknown keys only", `{"name": "x", "kind": "test", "owner": "me"}`, nil, nil, true},
		{"state", `{"state": "done"}`, []string{"state"}, Str("done"), false},
		{"null state", `{"state": null}`, []string{"state"}, nil, false},
		{"several", `{"result": "pass", "data": {}, "holdoff": null}`, []string{"result", "data", "holdoff"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeNodePatch(mustObject(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if p.Empty() != tc.empty {
				t.Errorf("Empty() = %v", p.Empty())
			}
			for _, f := range patchFields {
				want := false
				for _, h := range tc.has {
					want = want || h == f
				}
				if p.Has(f) != want {
					t.Errorf("Has(%q) = %v", f, p.Has(f))
				}
			}
			if !reflect.DeepEqual(p.State, tc.state) {
				t.Errorf("State = %v", StrOr(p.State))
			}
		})
	}
}

func TestDecodeNodePatchErrors(t *testing.T) {
	_, err := DecodeNodePatch(mustObject(t, `{"state": "bad", "artifacts": {"a": 1}, "timeout": "x",
		"processed_by_kcidb_bridge": null, "name": 5}`))
	var got []string
	for _, fe := range fieldErrors(t, err) {
		got = append(got, fe.Type+" "+locString(fe.Loc))
	}
	want := []string{
		"enum body.state",
		"string_type body.artifacts.a",
		"datetime_from_date_parsing body.timeout",
		"bool_type body.processed_by_kcidb_bridge", // deviation: the reference fails later, with 400
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestNodePatchApply(t *testing.T) {
	n := sampleNode()
	orig := n.Clone()
	p, err := DecodeNodePatch(mustObject(t, `{
		"state": "done", "result": null, "artifacts": {"x": "not checked here"},
		"data": {"new": [1]}, "debug": null, "jobfilter": ["j"], "platform_filter": null,
		"timeout": "2026-08-21T09:54:55+02:00", "holdoff": null, "processed_by_kcidb_bridge": "false"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(n)
	want := orig.Clone()
	want.Result = nil
	want.Artifacts = map[string]string{"x": "not checked here"}
	want.Data = map[string]any{"new": []any{json.Number("1")}}
	want.Debug = nil
	want.Jobfilter = []string{"j"}
	want.PlatformFilter = nil
	want.Timeout = T(time.Date(2026, 8, 21, 7, 54, 55, 0, time.UTC))
	want.Holdoff = nil
	want.ProcessedByKCIDBBridge = false
	if !reflect.DeepEqual(n, want) {
		t.Errorf("got  %+v\nwant %+v", n, want)
	}
	if n.State != orig.State {
		t.Error("Apply changed state")
	}
	// Applied values are copies.
	n.Data["new"].([]any)[0] = "changed"
	n.Jobfilter[0] = "changed"
	m := orig.Clone()
	p.Apply(m)
	if !reflect.DeepEqual(m, want) {
		t.Error("second Apply saw the first node's changes")
	}
	// The patched node fails kind validation on its bad artifact, as the
	// reference does.
	if err := ValidateKind(m); err == nil {
		t.Error("bad artifact accepted")
	}
}

func TestNodePatchNullTimeout(t *testing.T) {
	n := sampleNode()
	n.Data = map[string]any{"arch": "x86_64"}
	if err := ValidateKind(n); err != nil {
		t.Fatal(err)
	}
	p, err := DecodeNodePatch(mustObject(t, `{"timeout": null}`))
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(n)
	if !n.Timeout.IsZero() {
		t.Fatal("timeout not cleared")
	}
	err = ValidateKind(n)
	if err == nil || err.Error() != "1 validation error for Test\ntimeout\n  Input should be a valid datetime [type=datetime_type, input_value=None, input_type=NoneType]\n    For further information visit https://errors.pydantic.dev/2.13/v/datetime_type" {
		t.Errorf("got %v", err)
	}
}
