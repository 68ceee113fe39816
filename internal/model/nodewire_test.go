package model

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// reencode is the slow path IsWireNode lets a store skip: decode the
// document as the stores do (UseNumber) and encode it again.
func reencode(b []byte) ([]byte, error) {
	var n Node
	if err := DecodeJSON(b, &n); err != nil {
		return nil, err
	}
	return json.Marshal(&n)
}

// wireNodes are nodes as the server writes them, varied in every field.
func wireNodes() []*Node {
	at := time.Date(2026, 2, 28, 23, 59, 59, 999999000, time.UTC)
	parent := objectid.New()
	full := &Node{
		ID: objectid.New(), Kind: "test", Name: "baseline.dmesg.crit", Path: []string{"checkout", "kbuild", "baseline"},
		Group: Str("baseline"), Parent: &parent, State: StateDone, Result: Str(ResultFail),
		Artifacts: map[string]string{"log": "https://example.org/a?b=1&c=<2>", "dmesg": "x"},
		Data: map[string]any{
			"kernel_revision": map[string]any{"tree": "mainline", "branch": "master", "commit": "abc",
				"version": map[string]any{"version": json.Number("6"), "patchlevel": json.Number("12"), "extra": "-rc1"}},
			"big": json.Number("123456789012345678901234567890"), "float": json.Number("1.5e-7"), "neg": json.Number("-0.0"),
			"list":    []any{json.Number("1"), "two", nil, true, false, []any{}, map[string]any{}, []any{"x", json.Number("3E+2")}},
			"unicode": "é ü 日本 🐧 \u2028 \u2029 \x7f \x00 \x01 \x1f \b \f \n \r \t \" \\ / < > &",
			"":        "empty key", "Z": "upper", "a": "lower", "é": "non-ascii key", "\x7f": "del key",
		},
		Debug:     map[string]any{"nested": map[string]any{"deep": []any{map[string]any{"k": nil}}}},
		Jobfilter: []string{"baseline", "kunit"}, PlatformFilter: []string{}, UserGroups: []string{"lab-a", "é"},
		Created: T(at), Updated: T(at.Add(time.Microsecond)), Timeout: T(at.Add(6 * time.Hour)), Holdoff: &Time{at},
		Owner: Str("admin"), Submitter: Str("service:pipeline"), Treeid: Str("0123abcd"),
		ProcessedByKCIDBBridge: true, RetryCounter: math.MaxInt64,
	}
	empty := &Node{ID: objectid.New(), Created: T(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))}
	minimal := &Node{ID: objectid.New(), Kind: "checkout", Name: "checkout", State: StateRunning,
		Path: []string{}, Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{},
		Created: T(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)), Updated: T(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)),
		Timeout: T(time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC)), RetryCounter: math.MinInt64}
	negative := &Node{ID: objectid.New(), Kind: "job", Name: "n", State: StateAvailable, RetryCounter: -1,
		Data: map[string]any{"error_code": nil, "arch": "x86_64"}, Created: T(at), Updated: T(at), Timeout: T(at)}
	return []*Node{full, empty, minimal, negative}
}

// TestIsWireNodeAcceptsWhatMarshalWrites: the documents the server
// stores (json.Marshal of a Node) take the fast path, and answering them
// as they are is what decoding and encoding them answers.
func TestIsWireNodeAcceptsWhatMarshalWrites(t *testing.T) {
	for i, n := range wireNodes() {
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if !IsWireNode(b) {
			t.Errorf("node %d: IsWireNode(Marshal(n)) = false\n%s", i, b)
		}
		again, err := reencode(b)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("node %d: re-encoded differs (%v)\n got: %s\nwant: %s", i, err, again, b)
		}
	}
}

// TestIsWireNodeRejectsOtherForms: documents in any other form (older
// versions, other programs, hand edits) are not answered as they are:
// each of these re-encodes to other bytes, so a store must decode them.
func TestIsWireNodeRejectsOtherForms(t *testing.T) {
	n := wireNodes()[2]
	n.ID, _ = objectid.Parse("65bb6c9e0123456789abcdef")
	b, _ := json.Marshal(n)
	doc := string(b)
	id := n.ID.String()
	cases := map[string]string{
		"trailing newline":     doc + "\n",
		"leading space":        " " + doc,
		"space after colon":    strings.Replace(doc, `"kind":"checkout"`, `"kind": "checkout"`, 1),
		"missing field":        strings.Replace(doc, `"treeid":null,`, ``, 1),
		"extra field":          strings.Replace(doc, `"treeid":null,`, `"treeid":null,"legacy":1,`, 1),
		"fields out of order":  strings.Replace(doc, `"kind":"checkout","name":"checkout"`, `"name":"checkout","kind":"checkout"`, 1),
		"uppercase id":         strings.Replace(doc, id, strings.ToUpper(id), 1),
		"escaped ascii":        strings.Replace(doc, `"kind":"checkout"`, `"kind":"\u0063heckout"`, 1),
		"escaped slash":        strings.Replace(doc, `"name":"checkout"`, `"name":"a\/b"`, 1),
		"escaped non-ascii":    strings.Replace(doc, `"name":"checkout"`, `"name":"\u00e9"`, 1),
		"uppercase escape":     strings.Replace(doc, `"name":"checkout"`, `"name":"\u001B"`, 1),
		"long form of \\n":     strings.Replace(doc, `"name":"checkout"`, `"name":"\u000a"`, 1),
		"escaped replacement":  strings.Replace(doc, `"name":"checkout"`, `"name":"\ufffd"`, 1),
		"surrogate pair":       strings.Replace(doc, `"name":"checkout"`, `"name":"\ud83d\udc27"`, 1),
		"invalid utf-8":        strings.Replace(doc, `"name":"checkout"`, "\"name\":\"\xff\"", 1),
		"raw line separator":   strings.Replace(doc, `"name":"checkout"`, "\"name\":\"\u2028\"", 1),
		"raw <":                strings.Replace(doc, `"name":"checkout"`, `"name":"<"`, 1),
		"null string":          strings.Replace(doc, `"kind":"checkout"`, `"kind":null`, 1),
		"null list item":       strings.Replace(doc, `"path":[]`, `"path":[null]`, 1),
		"null artifact":        strings.Replace(doc, `"artifacts":{}`, `"artifacts":{"a":null}`, 1),
		"datetime with Z":      strings.Replace(doc, `"2024-02-29T00:00:00.000000"`, `"2024-02-29T00:00:00.000000Z"`, 1),
		"datetime with offset": strings.Replace(doc, `"2024-02-29T00:00:00.000000"`, `"2024-02-29T01:00:00+01:00"`, 1),
		"datetime millis":      strings.Replace(doc, `"2024-02-29T00:00:00.000000"`, `"2024-02-29T00:00:00.000"`, 1),
		"datetime space":       strings.Replace(doc, `"2024-02-29T00:00:00.000000"`, `"2024-02-29 00:00:00.000000"`, 1),
		"null datetime":        strings.Replace(doc, `"created":"2024-02-29T00:00:00.000000"`, `"created":null`, 1),
		"null bool":            strings.Replace(doc, `"processed_by_kcidb_bridge":false`, `"processed_by_kcidb_bridge":null`, 1),
		"retry 1.0":            strings.Replace(doc, `"retry_counter":-9223372036854775808`, `"retry_counter":1.0`, 1),
		"retry -0":             strings.Replace(doc, `"retry_counter":-9223372036854775808`, `"retry_counter":-0`, 1),
		"retry null":           strings.Replace(doc, `"retry_counter":-9223372036854775808`, `"retry_counter":null`, 1),
		"unsorted data":        strings.Replace(doc, `"data":{}`, `"data":{"b":1,"a":2}`, 1),
		"repeated data key":    strings.Replace(doc, `"data":{}`, `"data":{"a":1,"a":2}`, 1),
		"escaped data key":     strings.Replace(doc, `"data":{}`, `"data":{"\u00e9":1}`, 1),
		"nested unsorted":      strings.Replace(doc, `"debug":{}`, `"debug":{"x":[{"b":1,"a":2}]}`, 1),
		"nested whitespace":    strings.Replace(doc, `"debug":{}`, `"debug":{"x":[1, 2]}`, 1),
	}
	for name, c := range cases {
		if c == doc {
			t.Fatalf("%s: the case does not change the document", name)
		}
		if IsWireNode([]byte(c)) {
			t.Errorf("%s: IsWireNode = true for\n%s", name, c)
		}
		if again, err := reencode([]byte(c)); err == nil && string(again) == c {
			t.Errorf("%s: re-encodes to itself; not a case for the fallback", name)
		}
	}
}

// FuzzIsWireNode: whatever the document, when IsWireNode accepts it,
// decoding and encoding it gives exactly its bytes.
func FuzzIsWireNode(f *testing.F) {
	for _, n := range wireNodes() {
		b, _ := json.Marshal(n)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"0123456789abcdef01234567"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !IsWireNode(b) {
			return
		}
		again, err := reencode(b)
		if err != nil {
			t.Fatalf("IsWireNode accepts what does not decode (%v):\n%s", err, b)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("IsWireNode accepts what re-encodes otherwise:\n got: %s\nwant: %s", again, b)
		}
	})
}

func BenchmarkGetNodeJSONPaths(b *testing.B) {
	doc, _ := json.Marshal(wireNodes()[0])
	b.Run("IsWireNode", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !IsWireNode(doc) {
				b.Fatal("not wire")
			}
		}
	})
	b.Run("DecodeEncode", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := reencode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzIsWireNodeStrings: any string, in a field and as a data key and
// value, as the server would store it: when IsWireNode accepts the
// document, it re-encodes to itself; it accepts every string the
// decoder reads back unchanged and whose key needs no escaping.
func FuzzIsWireNodeStrings(f *testing.F) {
	for _, s := range []string{"", "a", "é", "<>&", "\u2028", "\x00\x1f\x7f", "\xff", "\ufffd", "\\\"/", "🐧"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := wireNodes()[2]
		n.Name, n.Group, n.Data = s, &s, map[string]any{s: s, "k": []any{s}}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		ok := IsWireNode(b)
		if again, err := reencode(b); ok && (err != nil || !bytes.Equal(again, b)) {
			t.Fatalf("accepted, but re-encodes otherwise (%v):\n got: %s\nwant: %s", err, again, b)
		}
		key, _ := json.Marshal(s)
		if !ok && utf8.ValidString(s) && !strings.ContainsRune(string(key[1:len(key)-1]), '\\') {
			t.Fatalf("rejected a document as the server writes it:\n%s", b)
		}
	})
}

// TestIsWireNodeDatetimes: a datetime is accepted exactly when it reads
// back as itself (valid dates only, leap years included).
func TestIsWireNodeDatetimes(t *testing.T) {
	n := wireNodes()[2]
	b, _ := json.Marshal(n)
	doc := string(b)
	for _, v := range []string{"2024-02-29T00:00:00.000000", "2000-02-29T23:59:59.999999", "1900-02-28T00:00:00.000000",
		"1900-02-29T00:00:00.000000", "2023-02-29T00:00:00.000000", "2024-04-31T00:00:00.000000", "2024-12-31T00:00:00.000000",
		"2024-13-01T00:00:00.000000", "2024-00-01T00:00:00.000000", "2024-01-00T00:00:00.000000", "2024-01-01T24:00:00.000000",
		"2024-01-01T00:60:00.000000", "2024-01-01T00:00:60.000000", "0000-01-01T00:00:00.000000", "0001-01-01T00:00:00.000000",
		"9999-12-31T23:59:59.999999", "2024-01-01t00:00:00.000000", "2024-01-01T00:00:00,000000", "2024-1-01T00:00:00.0000000"} {
		c := strings.Replace(doc, `"created":"2024-02-29T00:00:00.000000"`, `"created":"`+v+`"`, 1)
		again, err := reencode([]byte(c))
		want := err == nil && string(again) == c
		if got := IsWireNode([]byte(c)); got != want {
			t.Errorf("%s: IsWireNode = %v, want %v (re-encoded: %v)", v, got, want, err)
		}
	}
}
