package api_test

import (
	"net/http"
	"testing"
)

// Field names a backend may refuse to store ('$' first, '.', empty:
// FerretDB refuses the first two, MongoDB some of them in some places,
// SQLite none) are stored, or refused with a 422 that names the reason
// and writes nothing: never a 500.
func TestOddFieldNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	parent := e.postNode(tok, checkoutBody())
	for _, key := range []string{"$gt", "a.b", "", "$where", "x.$y"} {
		data := map[string]any{"nested": map[string]any{key: 1}}
		t.Run("key "+key, func(t *testing.T) {
			e := e.with(t)
			check := func(what string, r *response) {
				t.Helper()
				switch r.status {
				case http.StatusOK:
				case http.StatusUnprocessableEntity:
					if d, _ := r.object()["detail"].(string); d == "" {
						t.Errorf("%s: 422 without a detail: %s", what, r.body)
					}
				default:
					t.Errorf("%s: %d %s; want 200 or 422", what, r.status, r.body)
				}
			}
			before := e.snapshot()
			r := e.do(http.MethodPost, "/latest/node", tok, nodeBody("kbuild", "k", map[string]any{"data": data, "parent": parent["id"]}))
			check("POST /node", r)
			if r.status != http.StatusOK {
				e.expectUnchanged(before, "a refused POST /node")
			}
			before = e.snapshot()
			r = e.do(http.MethodPatch, "/latest/node/"+parent["id"].(string), tok, map[string]any{"data": data})
			check("PATCH /node", r)
			if r.status != http.StatusOK {
				e.expectUnchanged(before, "a refused PATCH /node")
			}
			r = e.do(http.MethodPost, "/latest/publish/odd", tok, map[string]any{"data": data})
			check("POST /publish", r)
			// A refused publish leaves no gap behind: the next one is
			// listed at once.
			e.do(http.MethodPost, "/latest/publish/odd", tok, map[string]any{"data": "after"}).expect(http.StatusOK)
			evs := e.events("channel=odd&limit=1000")
			if len(evs) == 0 || evs[len(evs)-1]["data"] != "after" {
				t.Errorf("events of channel odd after the publishes: %v", evs)
			}
		})
	}
}
