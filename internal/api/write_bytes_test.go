package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// POST /node and PUT /nodes/{id} answer each node's encoding once made
// for the store: byte for byte what GET /node/{id} answers for it (the
// wire JSON of the stored node), HTML-escaped characters and exact
// numbers included; the hierarchy's answer is the list of them in
// pre-order. On SQLite, which keeps the JSON (MongoDB stores BSON, whose
// numbers and reads are its own).
func TestWriteAnswersAreTheStoredBytes(t *testing.T) {
	t.Parallel()
	if onMongo(t) {
		t.Skip("the stored bytes are SQLite's")
	}
	e := newEnv(t)
	tok := e.token("alice")
	data := map[string]any{"html": "<b>&amp;</b>", "big": json.Number("12345678901234567890"), "f": json.Number("1.50"), "u": "é\u2028"}
	created := e.do(http.MethodPost, "/latest/node", tok, nodeBody("job", "<root&>", map[string]any{"data": data})).expect(http.StatusOK)
	id := created.object()["id"].(string)
	if got := e.do(http.MethodGet, "/latest/node/"+id, "", nil).expect(http.StatusOK).body; !bytes.Equal(created.body, got) {
		t.Errorf("POST /node answered\n%s\nGET /node answers\n%s", created.body, got)
	}
	leaf := func(name string) map[string]any {
		return map[string]any{"node": nodeBody("test", name, map[string]any{"data": data, "state": "done", "result": "pass"}), "child_nodes": []any{}}
	}
	body := map[string]any{
		"node":        nodeBody("job", "<root&>", map[string]any{"data": data, "state": "done", "result": "pass"}),
		"child_nodes": []any{map[string]any{"node": nodeBody("test", "suite", nil), "child_nodes": []any{leaf("a<"), leaf("b&")}}, leaf("c")},
	}
	r := e.do(http.MethodPut, "/latest/nodes/"+id, tok, body).expect(http.StatusOK)
	want := []byte{'['}
	for i, n := range r.list() {
		if i > 0 {
			want = append(want, ',')
		}
		want = append(want, e.do(http.MethodGet, "/latest/node/"+n.(map[string]any)["id"].(string), "", nil).expect(http.StatusOK).body...)
	}
	want = append(want, ']')
	if !bytes.Equal(r.body, want) {
		t.Errorf("PUT /nodes answered\n%s\nthe stored nodes are\n%s", r.body, want)
	}
}
