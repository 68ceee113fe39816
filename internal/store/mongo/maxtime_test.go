package mongo

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// TestEveryCommandHasMaxTime watches the commands the store sends: every
// one that runs a query or a write carries maxTimeMS, bounded by
// Options.MaxTime.
func TestEveryCommandHasMaxTime(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
		bad  []string
	)
	// Cursor and session housekeeping carry no maxTimeMS in MongoDB's
	// protocol (getMore's is the cursor's own).
	exempt := []string{"getMore", "killCursors", "endSessions"}
	o := testOptions(t)
	o.MaxTime = 20 * time.Second
	o.Monitor = &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.CommandName)
		if slices.Contains(exempt, e.CommandName) {
			return
		}
		v, err := e.Command.LookupErr("maxTimeMS")
		if err != nil {
			bad = append(bad, e.CommandName+" without maxTimeMS")
			return
		}
		limit := int64(20000)
		if e.CommandName == "createIndexes" { // index builds: Options.IndexTimeout
			limit = int64(DefaultIndexTimeout / time.Millisecond)
		}
		if ms, ok := v.AsInt64OK(); !ok || ms <= 0 || ms > limit {
			bad = append(bad, e.CommandName+" with maxTimeMS "+v.String())
		}
	}}
	st := openTest(t, o)
	ctx := context.Background()
	n := testNode("n")
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n},
		Events: []*model.Event{{Channel: "node", Data: map[string]any{"op": "created"}}}}); err != nil {
		t.Fatal(err)
	}
	n2 := modified(n, model.StateDone)
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{n2}}); err != nil {
		t.Fatal(err)
	}
	_, _ = st.GetNode(ctx, n.ID)
	_, _ = st.FindNodes(ctx, query.Where("kind", "test"), store.Page{Limit: 5})
	_, _ = st.CountNodes(ctx, query.Filter{})
	_, _ = st.FindEvents(ctx, query.Filter{}, store.Page{})
	_, _ = st.LastSequence(ctx)
	u := &model.User{Username: "u", Email: "u@x", HashedPassword: "h"}
	_ = st.InsertUser(ctx, u)
	_ = st.UpdateUser(ctx, u)
	_, _ = st.GetUserByEmail(ctx, "u@x")
	_, _ = st.CountUsers(ctx, query.Filter{})
	_ = st.DeleteUser(ctx, u.ID)
	g := &model.Group{Name: "g"}
	_ = st.InsertGroup(ctx, g)
	_, _ = st.FindGroups(ctx, query.Filter{}, store.Page{})
	_ = st.DeleteGroup(ctx, objectid.New())
	_, _ = st.PurgeEvents(ctx, time.Now().Add(-time.Hour))
	_, _ = st.Indexes(ctx)
	_, _ = st.LapsedNodes(ctx, model.StateRunning, store.DeadlineTimeout, time.Now(), 10)
	_, _ = st.HasPendingDescendant(ctx, n.ID)
	_ = st.ReplaceNodeIf(ctx, modified(n2, model.StateDone), n2.State, n2.Updated.Time)
	_, _ = st.CountPurgeable(ctx, time.Now())
	_, _ = st.PurgeNodes(ctx, time.Now().Add(-time.Hour), 10)
	_, _ = st.EventsAfter(ctx, "node", 0, 10)
	_, _ = st.DeleteEventsBefore(ctx, time.Now().Add(-time.Hour), 10)
	sub := &store.Subscription{Channel: "node", User: "u", Created: time.Now()}
	_ = st.CreateSubscription(ctx, sub)
	_ = st.AdvanceSubscription(ctx, sub.ID, 0, 1, time.Now())
	_, _ = st.ListSubscriptions(ctx)
	_, _ = st.ReapSubscriptions(ctx, time.Now().Add(-time.Hour))
	_ = st.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: "s", Channel: "node", User: "u", Created: time.Now()})
	_ = st.AckSubscriberState(ctx, "s", 1, time.Now())
	_, _ = st.GetSubscriberState(ctx, "s")
	_ = st.PushList(ctx, "l", []byte("x"))
	_, _ = st.PopList(ctx, "l")
	_ = st.SetKV(ctx, "ns", "k", "v")
	_, _ = st.GetKV(ctx, "ns", "k")
	_ = st.InsertTelemetry(ctx, []*model.TelemetryEvent{{Kind: "k", Runtime: "r", Ts: model.T(time.Now())}})
	_, _ = st.GroupTelemetry(ctx, query.Filter{}, []string{"runtime"})
	_, _ = st.FindTelemetry(ctx, query.Filter{}, store.Page{})
	_, _ = st.DeleteTelemetryBefore(ctx, time.Now().Add(-time.Hour), 10)

	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"insert", "update", "find", "aggregate", "findAndModify", "delete", "listIndexes", "createIndexes"} {
		if !slices.Contains(seen, want) {
			t.Errorf("no %s command seen (saw %v)", want, seen)
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
}
