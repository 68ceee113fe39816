package mongo

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// setCounter puts a counter back to v: what a findAndModify that is not
// atomic leaves behind when two replicas increment it at once (both read
// the same value, so the second one hands out ids already given).
func setCounter(t *testing.T, st *Store, id string, v int64) {
	t.Helper()
	if _, err := st.counters.UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "value", Value: v}}}}); err != nil {
		t.Fatal(err)
	}
}

// A sequence id handed out twice costs a retry, counted, never a shared
// id: the unique index refuses the second event and the write takes a
// fresh id, for every way an event is written.
func TestSequenceCollisionRetries(t *testing.T) {
	for name, tx := range map[string]TxMode{"no-tx": TxOff, "auto": TxAuto} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			o.Transactions = tx
			st := openTest(t, o)
			ctx := context.Background()
			var announced []int64
			st.OnCommit(func(_ context.Context, evs []*model.Event) {
				for _, ev := range evs {
					announced = append(announced, ev.SequenceID)
				}
			})
			for range 3 {
				if err := st.AppendEvents(ctx, &model.Event{Channel: "c", Data: "x"}); err != nil {
					t.Fatal(err)
				}
			}
			setCounter(t, st, seqCounterID, 1) // the next id handed out is 2, stored already
			ev := &model.Event{Channel: "c", Data: "after"}
			if err := st.AppendEvents(ctx, ev); err != nil {
				t.Fatalf("append over a taken id: %v", err)
			}
			if ev.SequenceID != 4 {
				t.Fatalf("sequence id %d, want 4 (above every stored one)", ev.SequenceID)
			}
			if r := st.IDRetries(); r.Sequence != 1 {
				t.Fatalf("IDRetries = %+v, want one sequence retry", r)
			}
			// A node write with two events, the counter behind again.
			setCounter(t, st, seqCounterID, 0)
			n := &model.Node{Kind: "checkout", Name: "c", Path: []string{"c"}, State: model.StateRunning,
				Created: model.T(time.Now()), Updated: model.T(time.Now())}
			n.ID = objectid.New()
			evs := []*model.Event{{Channel: "node", Data: "a"}, {Channel: "node", Data: "b"}}
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: evs}); err != nil {
				t.Fatal(err)
			}
			if evs[0].SequenceID != 5 || evs[1].SequenceID != 6 {
				t.Fatalf("sequence ids %d %d, want 5 6", evs[0].SequenceID, evs[1].SequenceID)
			}
			all, err := st.FindEvents(ctx, query.Filter{}, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int64]bool{}
			for _, e := range all {
				if seen[e.SequenceID] {
					t.Fatalf("sequence id %d stored twice", e.SequenceID)
				}
				seen[e.SequenceID] = true
			}
			if len(all) != 6 || len(announced) != 6 {
				t.Fatalf("%d events stored, %d announced; want 6 and 6", len(all), len(announced))
			}
			if r := st.IDRetries(); r.Sequence != 2 {
				t.Fatalf("IDRetries = %+v, want two sequence retries", r)
			}
		})
	}
}

// A subscription id handed out twice is replaced by a fresh one.
func TestSubscriptionIDCollisionRetries(t *testing.T) {
	st := openTest(t, testOptions(t))
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	first := &store.Subscription{Channel: "c", User: "u", Created: now}
	if err := st.CreateSubscription(ctx, first); err != nil {
		t.Fatal(err)
	}
	setCounter(t, st, subscriptionCounter, first.ID-1)
	second := &store.Subscription{Channel: "c", User: "u", Created: now}
	if err := st.CreateSubscription(ctx, second); err != nil {
		t.Fatal(err)
	}
	if second.ID <= first.ID {
		t.Fatalf("second subscription id %d, first %d", second.ID, first.ID)
	}
	if r := st.IDRetries(); r.Subscription != 1 {
		t.Fatalf("IDRetries = %+v, want one subscription retry", r)
	}
}
