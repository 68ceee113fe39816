package model

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// goldenCase is an input and the validation errors the reference
// answers to it.
type goldenCase struct {
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Errors json.RawMessage `json:"errors"`
}

// golden.json holds what the reference (FastAPI + pydantic 2.13.4 +
// kernelci-core's models) does with the same inputs; testdata/gen_golden.py
// regenerates it.
type goldenFile struct {
	Decode []struct {
		goldenCase
		Node map[string]any `json:"node"`
	} `json:"decode"`
	Hierarchy []goldenCase `json:"hierarchy"`
	Patch     []struct {
		goldenCase
		Fields map[string]any `json:"fields"`
	} `json:"patch"`
	Kind []struct {
		Name      string            `json:"name"`
		Input     json.RawMessage   `json:"input"`
		Error     *string           `json:"error"`
		Data      map[string]any    `json:"data"`
		Artifacts map[string]string `json:"artifacts"`
	} `json:"kind"`
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// plain re-decodes v through JSON without UseNumber, so values from Go and
// from the fixture compare with reflect.DeepEqual.
func plain(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func rawObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := DecodeJSON(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func checkErrors(t *testing.T, err error, want json.RawMessage) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	got := plain(t, ve.Errors)
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("errors differ\ngot:  %s\nwant: %s", gb, wb)
	}
}

var goldenNow = time.Date(2026, 8, 21, 12, 0, 0, 123456789, time.UTC)

func TestGoldenDecodeNode(t *testing.T) {
	for _, tc := range loadGolden(t).Decode {
		t.Run(tc.Name, func(t *testing.T) {
			n, err := DecodeNode(rawObject(t, tc.Input), goldenNow, "body")
			if tc.Node == nil {
				checkErrors(t, err, tc.Errors)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			got := plain(t, n).(map[string]any)
			if n.ID.IsZero() {
				got["id"] = nil
			}
			for k := range got {
				if _, ok := tc.Node[k]; !ok {
					delete(got, k) // defaults that depend on now
				}
			}
			want := plain(t, tc.Node)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.MarshalIndent(got, "", " ")
				wb, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("node differs\ngot:  %s\nwant: %s", gb, wb)
			}
		})
	}
}

func TestGoldenDecodeHierarchy(t *testing.T) {
	for _, tc := range loadGolden(t).Hierarchy {
		t.Run(tc.Name, func(t *testing.T) {
			h, err := DecodeHierarchy(rawObject(t, tc.Input), goldenNow)
			if string(tc.Errors) == "null" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if h.Node == nil {
					t.Fatal("no root node")
				}
				return
			}
			checkErrors(t, err, tc.Errors)
		})
	}
}

func TestGoldenDecodeNodePatch(t *testing.T) {
	for _, tc := range loadGolden(t).Patch {
		t.Run(tc.Name, func(t *testing.T) {
			p, err := DecodeNodePatch(rawObject(t, tc.Input))
			if tc.Fields == nil {
				checkErrors(t, err, tc.Errors)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got, want := plain(t, p.Fields), plain(t, tc.Fields); !reflect.DeepEqual(got, want) {
				t.Errorf("fields differ\ngot:  %v\nwant: %v", got, want)
			}
		})
	}
}

func TestGoldenValidateKind(t *testing.T) {
	for _, tc := range loadGolden(t).Kind {
		t.Run(tc.Name, func(t *testing.T) {
			n, err := DecodeNode(rawObject(t, tc.Input), goldenNow)
			if err != nil {
				t.Fatalf("DecodeNode: %v", err)
			}
			before := plain(t, n)
			s, err := Specialize(n)
			verr := ValidateKind(n)
			if !reflect.DeepEqual(plain(t, n), before) {
				t.Error("validation changed the node")
			}
			if tc.Error != nil {
				if err == nil || verr == nil {
					t.Fatalf("want error %q, got none", *tc.Error)
				}
				if err.Error() != *tc.Error {
					t.Errorf("error differs\ngot:  %q\nwant: %q", err.Error(), *tc.Error)
				}
				if verr.Error() != err.Error() {
					t.Errorf("ValidateKind and Specialize disagree: %q vs %q", verr, err)
				}
				return
			}
			if err != nil || verr != nil {
				t.Fatalf("unexpected error: %v / %v", err, verr)
			}
			if got, want := plain(t, s.Data), plain(t, tc.Data); !reflect.DeepEqual(got, want) {
				t.Errorf("data differs\ngot:  %v\nwant: %v", got, want)
			}
			if got, want := plain(t, s.Artifacts), plain(t, tc.Artifacts); !reflect.DeepEqual(got, want) {
				t.Errorf("artifacts differ\ngot:  %v\nwant: %v", got, want)
			}
		})
	}
}
