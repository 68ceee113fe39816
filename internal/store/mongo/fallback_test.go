package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// The non-transactional write path (standalone mongod, FerretDB): a write
// that fails part-way must leave no trace a client can see.

var errInjected = errors.New("injected failure")

func testNode(name string) *model.Node {
	now := model.Now().Truncate(time.Millisecond)
	return &model.Node{
		ID: objectid.New(), Kind: "test", Name: name, Path: []string{name}, State: model.StateRunning,
		Artifacts: map[string]string{}, Data: map[string]any{"v": json.Number("1")}, Debug: map[string]any{},
		PlatformFilter: []string{}, UserGroups: []string{},
		Created: model.T(now), Updated: model.T(now), Timeout: model.T(now.Add(time.Hour)), Owner: model.Str("admin"),
	}
}

func noTxStore(t *testing.T) *Store {
	o := testOptions(t)
	o.Transactions = TxOff
	return openTest(t, o)
}

func nodeJSON(t *testing.T, st *Store, id objectid.ID) string {
	t.Helper()
	n, err := st.GetNode(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(n)
	return string(b)
}

func eventCount(t *testing.T, st *Store) int {
	t.Helper()
	evs, err := st.FindEvents(context.Background(), query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// modified returns a copy of n as an update would make it.
func modified(n *model.Node, state string) *model.Node {
	m := *n
	m.State = state
	m.Updated = model.T(n.Updated.Add(time.Second))
	m.Data = map[string]any{"v": json.Number("2")}
	return &m
}

func TestNoTxUndo(t *testing.T) {
	for _, step := range []string{"insert", "replace", "events"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			st := noTxStore(t)
			b, c := testNode("b"), testNode("c")
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{b, c}}); err != nil {
				t.Fatal(err)
			}
			beforeB, beforeC := nodeJSON(t, st, b.ID), nodeJSON(t, st, c.ID)
			calls := 0
			st.testHook = func(s string) error {
				if s != step {
					return nil
				}
				calls++
				if step == "replace" && calls == 1 {
					return nil // fail on the second replacement: the first must be undone
				}
				return errInjected
			}
			a := testNode("a")
			err := st.WriteNodes(ctx, store.NodeWrite{
				Insert:  []*model.Node{a},
				Replace: []*model.Node{modified(b, model.StateDone), modified(c, model.StateDone)},
				Events:  []*model.Event{{Channel: "node", Data: map[string]any{"op": "updated"}}},
			})
			if !errors.Is(err, errInjected) {
				t.Fatalf("WriteNodes = %v, want the injected failure", err)
			}
			st.testHook = nil
			if got := nodeJSON(t, st, a.ID); got != "<missing>" {
				t.Fatalf("inserted node kept: %s", got)
			}
			if got := nodeJSON(t, st, b.ID); got != beforeB {
				t.Fatalf("b not restored\n got: %s\nwant: %s", got, beforeB)
			}
			if got := nodeJSON(t, st, c.ID); got != beforeC {
				t.Fatalf("c not restored\n got: %s\nwant: %s", got, beforeC)
			}
			if n := eventCount(t, st); n != 0 {
				t.Fatalf("%d events kept", n)
			}
			// The store still works, and sequence ids never go back.
			ev := &model.Event{Channel: "node", Data: map[string]any{"op": "x"}}
			if err := st.AppendEvents(ctx, ev); err != nil || ev.SequenceID < 1 {
				t.Fatalf("AppendEvents after undo: %d, %v", ev.SequenceID, err)
			}
		})
	}
}

// A duplicate id among the inserts: the nodes inserted before it are
// removed, the existing node is untouched, nothing after it is written.
func TestNoTxDuplicateInsert(t *testing.T) {
	ctx := context.Background()
	st := noTxStore(t)
	old := testNode("old")
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{old}}); err != nil {
		t.Fatal(err)
	}
	before := nodeJSON(t, st, old.ID)
	n1, n2 := testNode("n1"), testNode("n2")
	dup := *old
	dup.Name = "impostor"
	err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n1, &dup, n2},
		Events: []*model.Event{{Channel: "node", Data: map[string]any{"op": "created"}}}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("WriteNodes = %v, want ErrConflict", err)
	}
	for _, id := range []objectid.ID{n1.ID, n2.ID} {
		if got := nodeJSON(t, st, id); got != "<missing>" {
			t.Fatalf("node of a failed write kept: %s", got)
		}
	}
	if got := nodeJSON(t, st, old.ID); got != before {
		t.Fatalf("existing node changed: %s", got)
	}
	if n := eventCount(t, st); n != 0 {
		t.Fatalf("%d events kept", n)
	}
}

// The undo does not overwrite a node that another writer replaced after
// this write did.
func TestNoTxUndoKeepsNewerWrite(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.Transactions = TxOff
	st, other := openTest(t, o), openTest(t, o) // two API processes
	b := testNode("b")
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{b}}); err != nil {
		t.Fatal(err)
	}
	newer := modified(b, model.StateAvailable)
	newer.Updated = model.T(b.Updated.Add(time.Minute))
	st.testHook = func(step string) error {
		if step != "events" {
			return nil
		}
		// Another writer gets in between.
		if err := other.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{newer}}); err != nil {
			t.Errorf("concurrent write: %v", err)
		}
		return errInjected
	}
	err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{modified(b, model.StateDone)},
		Events: []*model.Event{{Channel: "node", Data: map[string]any{"op": "updated"}}}})
	if !errors.Is(err, errInjected) {
		t.Fatalf("WriteNodes = %v", err)
	}
	st.testHook = nil
	got, err := st.GetNode(ctx, b.ID)
	if err != nil || got.State != model.StateAvailable {
		t.Fatalf("the newer write was undone: %+v, %v", got, err)
	}
}

// The undo runs even when the request's context is cancelled.
func TestNoTxUndoAfterCancel(t *testing.T) {
	st := noTxStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	st.testHook = func(step string) error {
		if step == "events" {
			cancel()
			return context.Canceled
		}
		return nil
	}
	a := testNode("a")
	err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{a},
		Events: []*model.Event{{Channel: "node", Data: map[string]any{"op": "created"}}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteNodes = %v", err)
	}
	st.testHook = nil
	if got := nodeJSON(t, st, a.ID); got != "<missing>" {
		t.Fatalf("inserted node kept after a cancelled write: %s", got)
	}
}

// AppendEvents stores all its events or none.
func TestNoTxAppendEventsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := noTxStore(t)
	first := &model.Event{Channel: "c", Data: map[string]any{"i": 1}}
	if err := st.AppendEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	a := &model.Event{Channel: "c", Data: map[string]any{"i": 2}}
	dup := &model.Event{ID: first.ID, Channel: "c", Data: map[string]any{"i": 3}}
	if err := st.AppendEvents(ctx, a, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AppendEvents = %v, want ErrConflict", err)
	}
	evs, _ := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if len(evs) != 1 || evs[0].ID != first.ID {
		t.Fatalf("events after a failed append: %+v", evs)
	}
}
