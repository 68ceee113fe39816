package mongo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

func seqsOf(evs []*model.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.SequenceID
	}
	return out
}

// An event stored above a sequence id still on its way stays invisible to
// EventsAfter until the gap is filled, recorded as abandoned, or older
// than GapGrace (its writer died).
func TestEventsAfterHoldsBackAboveGap(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.GapGrace = 3 * time.Second
	o.Transactions = TxOff
	st := openTest(t, o)

	first := &model.Event{Channel: "c", Data: map[string]any{"i": 1}}
	if err := st.AppendEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	// A writer reserves an id and has not stored its event yet.
	inflight := &model.Event{Channel: "c", Data: map[string]any{"i": 2}}
	docs, err := st.prepareEvents(ctx, []*model.Event{inflight})
	if err != nil {
		t.Fatal(err)
	}
	later := &model.Event{Channel: "c", Data: map[string]any{"i": 3}}
	if err := st.AppendEvents(ctx, later); err != nil {
		t.Fatal(err)
	}
	got, err := st.EventsAfter(ctx, "c", 0, 0)
	if err != nil || len(got) != 1 || got[0].ID != first.ID {
		t.Fatalf("EventsAfter with a gap = %v, %v; want only the first event", seqsOf(got), err)
	}
	// The in-flight write lands: everything is visible, in order.
	if _, err := st.insertEvents(ctx, docs); err != nil {
		t.Fatal(err)
	}
	got, _ = st.EventsAfter(ctx, "c", first.SequenceID, 0)
	if want := []int64{inflight.SequenceID, later.SequenceID}; len(got) != 2 || got[0].SequenceID != want[0] || got[1].SequenceID != want[1] {
		t.Fatalf("after the gap filled: %v, want %v", seqsOf(got), want)
	}

	// A failed write records its ids as abandoned: no waiting.
	st.testHook = func(step string) error {
		if step == "events" {
			return errInjected
		}
		return nil
	}
	err = st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{testNode("x")},
		Events: []*model.Event{{Channel: "c", Data: map[string]any{"i": 4}}}})
	if !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	st.testHook = nil
	after := &model.Event{Channel: "c", Data: map[string]any{"i": 5}}
	if err := st.AppendEvents(ctx, after); err != nil {
		t.Fatal(err)
	}
	got, _ = st.EventsAfter(ctx, "c", later.SequenceID, 0)
	if len(got) != 1 || got[0].ID != after.ID {
		t.Fatalf("after an abandoned id: %v, want [%d]", seqsOf(got), after.SequenceID)
	}

	// A writer that dies after reserving: the gap is passed over once
	// the event above it is older than GapGrace.
	if _, err := st.reserveSequence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	last := &model.Event{Channel: "c", Data: map[string]any{"i": 6}}
	if err := st.AppendEvents(ctx, last); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.EventsAfter(ctx, "c", after.SequenceID, 0); len(got) != 0 {
		t.Fatalf("event above a fresh gap visible: %v", seqsOf(got))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _ := st.EventsAfter(ctx, "c", after.SequenceID, 0)
		if len(got) == 1 && got[0].ID == last.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event above a dead writer's gap never became visible: %v", seqsOf(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
