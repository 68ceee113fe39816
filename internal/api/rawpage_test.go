package api

import (
	"encoding/json"
	"testing"
)

// rawPage writes exactly what json.Marshal writes for the envelope of
// GET /nodes over the same items.
func TestRawPageIsTheEnvelope(t *testing.T) {
	node := json.RawMessage(`{"id":"65bb6c9e0123456789abcdef","name":"a \u003c\u2028 é","data":{"n":1.50}}`)
	for _, c := range []struct {
		items                []json.RawMessage
		total, limit, offset int
	}{
		{[]json.RawMessage{}, 0, 50, 0},
		{[]json.RawMessage{node}, 1, 50, 0},
		{[]json.RawMessage{node, node, node}, 123456789012, 3, 9000},
	} {
		want, err := json.Marshal(pageResponse{Items: c.items, Total: int64(c.total), Limit: c.limit, Offset: c.offset})
		if err != nil {
			t.Fatal(err)
		}
		if got := rawPage(c.items, int64(c.total), c.limit, c.offset); string(got) != string(want) {
			t.Errorf("rawPage\n got: %s\nwant: %s", got, want)
		}
	}
}
