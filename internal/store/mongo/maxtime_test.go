package mongo

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
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
	_, _ = st.GroupNodes(ctx, query.Where("kind", "test"), []string{"kind", "result"}, 100)
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

// TestAggregationsFollowTheDeadline: the aggregations behind /stats/nodes,
// /count and /telemetry/stats carry the caller's deadline (the API's
// query budget) as their maxTimeMS, not only the store's MaxTime.
func TestAggregationsFollowTheDeadline(t *testing.T) {
	var (
		mu  sync.Mutex
		got []int64
	)
	o := testOptions(t)
	o.Monitor = &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "aggregate" {
			return
		}
		ms, _ := e.Command.Lookup("maxTimeMS").AsInt64OK()
		mu.Lock()
		got = append(got, ms)
		mu.Unlock()
	}}
	st := openTest(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := st.GroupNodes(ctx, query.Where("kind", "test"), []string{"kind", "result"}, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CountNodes(ctx, query.Where("kind", "test")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GroupTelemetry(ctx, query.Filter{}, []string{"runtime"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CountTelemetry(ctx, query.Filter{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("%d aggregate commands, want 4", len(got))
	}
	for i, ms := range got {
		if ms <= 0 || ms > 2000 {
			t.Errorf("aggregate %d: maxTimeMS %d, want within the caller's 2 s", i, ms)
		}
	}
}

// TestAggregationsEndAtMaxTime: an aggregation the server ends at its
// maxTimeMS (MaxTimeMSExpired) is an UnavailableError wrapping
// context.DeadlineExceeded: the API answers 504 naming the query budget
// on budgeted routes (/stats/nodes, /count), 503 elsewhere; never a 500.
// The test hook sets a 1 ms maxTimeMS on every aggregation, with no
// client deadline, so it is the server that ends them.
func TestAggregationsEndAtMaxTime(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	db := rawClient(t).Database(o.Database)
	if mongotest.External() {
		// MongoDB may group a few thousand documents within 1 ms: make
		// it time out every maxTimeMS (needs enableTestCommands).
		admin := rawClient(t).Database("admin")
		fp := bson.D{{Key: "configureFailPoint", Value: "maxTimeAlwaysTimeOut"}, {Key: "mode", Value: "alwaysOn"}}
		if err := admin.RunCommand(ctx, fp).Err(); err != nil {
			t.Skipf("the maxTimeAlwaysTimeOut fail point is not available (%v): run mongod with enableTestCommands", err)
		}
		t.Cleanup(func() {
			_ = admin.RunCommand(ctx, bson.D{{Key: "configureFailPoint", Value: "maxTimeAlwaysTimeOut"}, {Key: "mode", Value: "off"}}).Err()
		})
	}
	// Seeded store: FerretDB reads every document from SQLite and groups
	// them in Go, which takes far longer than 1 ms for these.
	nodes := make([]any, 3000)
	tel := make([]any, 3000)
	now := time.Now()
	for i := range nodes {
		nodes[i] = bson.D{{Key: "kind", Value: []string{"checkout", "kbuild", "test"}[i%3]}, {Key: "result", Value: "pass"},
			{Key: "created", Value: now}, {Key: "data", Value: bson.D{{Key: "arch", Value: "x86_64"}}}}
		tel[i] = bson.D{{Key: "kind", Value: "job_result"}, {Key: "runtime", Value: "lava"}, {Key: "result", Value: "pass"},
			{Key: "is_infra_error", Value: false}, {Key: "ts", Value: now}}
	}
	mustInsert(t, db.Collection(colNode), nodes...)
	mustInsert(t, db.Collection(colTelemetry), tel...)

	// Without the hook the same aggregations answer.
	plain := openTest(t, o)
	if n, err := plain.CountNodes(ctx, query.Filter{}); err != nil || n != 3000 {
		t.Fatalf("CountNodes without the hook = %d, %v", n, err)
	}

	o.aggregateMaxTimeMS = 1
	st := openTest(t, o)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"GroupNodes", func() error {
			_, err := st.GroupNodes(ctx, query.Filter{}, []string{"kind", "result"}, 100)
			return err
		}},
		{"CountNodes", func() error { _, err := st.CountNodes(ctx, query.Where("data.arch", "x86_64")); return err }},
		{"GroupTelemetry", func() error { _, err := st.GroupTelemetry(ctx, query.Filter{}, []string{"runtime"}); return err }},
		{"CountTelemetry", func() error { _, err := st.CountTelemetry(ctx, query.Filter{}); return err }},
	} {
		err := tc.call()
		if !hasCode(err, 50) {
			t.Errorf("%s: %v, want the server's MaxTimeMSExpired", tc.name, err)
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v is not an UnavailableError wrapping DeadlineExceeded", tc.name, err)
		}
	}
}
