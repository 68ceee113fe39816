package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// The answer of PUT /nodes/{id} is built from the nodes' encodings for
// the store: it must be byte for byte what json.Marshal of the answer's
// list writes (HTML-escaped characters, exact numbers, nulls), and the
// stored documents each node's own encoding.
func TestEncodeHierarchyIsJSONMarshal(t *testing.T) {
	now := model.T(time.Date(2026, 8, 21, 9, 54, 55, 123456000, time.UTC))
	mk := func(name string, data map[string]any) *model.Node {
		return &model.Node{ID: objectid.NewAt(now.Time), Kind: "test", Name: name, Path: []string{"checkout", name},
			State: model.StateDone, Result: model.Str("pass"), Created: now, Updated: now, Timeout: now, Data: data}
	}
	root := mk("root <a&b>", map[string]any{"n": json.Number("12345678901234567890"), "f": json.Number("1.50")})
	a := mk("é\u2028", map[string]any{"html": "<script>&amp;</script>", "nil": nil})
	b := mk("b", nil)
	b.Parent = &root.ID
	out := []*model.Node{root, a, b}
	docs, body, err := encodeHierarchy(out, []*model.Node{a, b}, []*model.Node{root})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(out)
	if !bytes.Equal(body, want) {
		t.Errorf("answer\n%s\nwant\n%s", body, want)
	}
	for i, n := range []*model.Node{a, b, root} { // insert, then replace
		want, _ := json.Marshal(n)
		if !bytes.Equal(docs[i], want) {
			t.Errorf("doc %d = %s, want %s", i, docs[i], want)
		}
	}
	// A large one, encoded in parts on every core.
	var many []*model.Node
	for i := range 3*parallelEncodeMin + 7 {
		many = append(many, mk(fmt.Sprintf("n%d<", i), map[string]any{"i": json.Number(fmt.Sprint(i))}))
	}
	docs, body, err = encodeHierarchy(many, many[1:], many[:1])
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(many); !bytes.Equal(body, want) {
		t.Errorf("answer of %d nodes differs from json.Marshal", len(many))
	}
	for i, n := range append(append([]*model.Node{}, many[1:]...), many[0]) {
		if want, _ := json.Marshal(n); !bytes.Equal(docs[i], want) {
			t.Fatalf("doc %d = %s, want %s", i, docs[i], want)
		}
	}
	if _, body, _ := encodeHierarchy(nil, nil, nil); string(body) != "[]" {
		t.Errorf("empty answer %s", body)
	}
}
