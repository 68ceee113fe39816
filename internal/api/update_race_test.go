package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// changingStore is the server's store, where the node target changes
// (as the lifecycle timing it out would) right after the server first
// reads it: between the read an update is built from and its write.
type changingStore struct {
	store.Store
	target objectid.ID
	change func(n *model.Node) // applied to the stored node, once
	once   sync.Once
	reads  int
	mu     sync.Mutex
}

func (s *changingStore) Unwrap() store.Store { return s.Store }

func (s *changingStore) GetNode(ctx context.Context, id objectid.ID) (*model.Node, error) {
	n, err := s.Store.GetNode(ctx, id)
	if err != nil || id != s.target {
		return n, err
	}
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	s.once.Do(func() {
		cur := n.Clone()
		s.change(cur)
		cur.Updated = model.T(time.Now().Add(time.Second))
		if err := s.Store.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{cur}}); err != nil {
			panic(err)
		}
	})
	return n, nil
}

// A PUT or PATCH built from a node that changed before it was written
// does not undo that change: the server reads the node again and checks
// the update against what is stored now.
func TestUpdateDoesNotUndoAConcurrentChange(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			var cs *changingStore
			e := newEnvWith(t, api.Options{}, func(st store.Store) store.Store {
				cs = &changingStore{Store: st, change: func(n *model.Node) {
					n.State = model.StateDone
					r := "incomplete"
					n.Result = &r
				}}
				return cs
			}, nil)
			tok := e.token("alice")
			n := stateNode(e, tok, "running", nil)
			id, err := objectid.Parse(n["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			cs.target = id

			// running -> available was allowed when the node was read,
			// but it is done now: the update is refused as such.
			var body any = map[string]any{"state": "available"}
			if method == http.MethodPut {
				body = nodeBody("kbuild", n["name"].(string), map[string]any{"state": "available"})
			}
			e.do(method, "/latest/node/"+id.String(), tok, body).
				expectDetail(http.StatusBadRequest, "Transition not allowed with state: available")
			got := e.getNode(id.String())
			if got["state"] != "done" || got["result"] != "incomplete" {
				t.Fatalf("the concurrent change was undone: state %v result %v", got["state"], got["result"])
			}
			if cs.reads < 2 {
				t.Errorf("the node was read %d times; want it read again after the conflict", cs.reads)
			}
			if evs := e.nodeEvents(id.String()); len(evs) != 1 {
				t.Errorf("%d events, want only the creation", len(evs))
			}

			// An update still allowed from the new state is applied on top
			// of it (the concurrent change kept).
			body = map[string]any{"state": "done", "data": map[string]any{"note": "late"}}
			if method == http.MethodPut {
				body = nodeBody("kbuild", n["name"].(string), map[string]any{"state": "done", "result": "incomplete",
					"data": map[string]any{"note": "late"}})
			}
			e.do(method, "/latest/node/"+id.String(), tok, body).expect(http.StatusOK)
			got = e.getNode(id.String())
			if got["state"] != "done" || got["result"] != "incomplete" || got["data"].(map[string]any)["note"] != "late" {
				t.Errorf("after a later update: %v", got)
			}
		})
	}
}
