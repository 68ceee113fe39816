package mongo

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Node data is free-form JSON: keys with dots or a leading '$' are data,
// stored and read back as they are (MongoDB 5.0+ stores such field
// names; they cannot be reached by a query filter, which refuses '$'
// segments and reads dots as path separators).
func TestDataKeysWithDotsAndDollars(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, testOptions(t))
	n := testNode("keys")
	n.Data = map[string]any{"a.b": "dot", "nested": map[string]any{"$x": json.Number("1"), "é ü": true, "": "empty"}}
	err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}})
	if err != nil {
		t.Skipf("server refuses such keys (FerretDB 1.x or MongoDB < 5.0): %v", err)
	}
	got, err := st.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got.Data)
	b, _ := json.Marshal(n.Data)
	if string(a) != string(b) {
		t.Fatalf("data %s, want %s", a, b)
	}
}
