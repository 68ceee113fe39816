package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runTransfer runs the contract of store.Transfer.
func runTransfer(t *testing.T, newStore Factory) {
	ts := func(t *testing.T) store.Store {
		st := newStore(t)
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Run("EachAndCopy", func(t *testing.T) { testTransferCopy(t, ts(t), ts(t)) })
	t.Run("Paging", func(t *testing.T) { testTransferPaging(t, ts(t)) })
	t.Run("ImportEvents", func(t *testing.T) { testImportEvents(t, ts(t)) })
	t.Run("Clear", func(t *testing.T) { testTransferClear(t, ts(t)) })
}

// Dump reads every record of st through store.Transfer, as JSON text per
// collection (users with their password hash, events with their
// sequence ids), and the last sequence id.
func Dump(t testing.TB, st store.Store) (map[string][]string, int64) {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	add := func(c string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out[c] = append(out[c], string(b))
		return nil
	}
	type userRec struct {
		*model.User
		Hash string `json:"hashed_password"`
	}
	steps := []error{
		st.EachGroup(ctx, func(g *model.Group) error { return add(store.CollGroup, g) }),
		st.EachUser(ctx, func(u *model.User) error { return add(store.CollUser, userRec{u, u.HashedPassword}) }),
		st.EachNode(ctx, func(n *model.Node) error { return add(store.CollNode, n) }),
		st.EachEvent(ctx, func(ev *model.Event) error { return add(store.CollEvent, ev) }),
		st.EachTelemetry(ctx, func(ev *model.TelemetryEvent) error { return add(store.CollTelemetry, ev) }),
		st.EachSubscriberState(ctx, func(s *store.SubscriberState) error {
			return add(store.CollSubscriberState, []any{s.SubscriberID, s.Channel, s.User, s.Promiscuous, s.LastEventID,
				s.Created.UTC().Format(time.RFC3339Nano), fmtTimePtr(s.LastPoll)})
		}),
		st.EachKV(ctx, func(ns, k, v string) error { return add(store.CollKV, []string{ns, k, v}) }),
		st.EachListItem(ctx, func(l string, v []byte) error { return add(store.CollList, []string{l, string(v)}) }),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	subs, err := st.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		_ = add(store.CollSubscription, []any{s.ID, s.Channel, s.User, s.Promiscuous, s.SubscriberID, s.Cursor,
			s.Created.UTC().Format(time.RFC3339Nano), fmtTimePtr(s.LastPoll)})
	}
	last, err := st.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out, last
}

func fmtTimePtr(p *time.Time) any {
	if p == nil {
		return nil
	}
	return p.UTC().Format(time.RFC3339Nano)
}

// transferFixture fills st with a few records of every collection.
func transferFixture(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	g1, g2 := &model.Group{Name: "node:edit:any"}, &model.Group{Name: "runtime:lava:node-editor"}
	for _, g := range []*model.Group{g1, g2} {
		if err := st.InsertGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"admin", "alice", "bob"} {
		u := &model.User{Username: name, Email: name + "@example.org",
			HashedPassword: fmt.Sprintf("$2b$12$hash-of-%s-%d", name, i), IsActive: i != 2, IsSuperuser: i == 0,
			IsVerified: i < 2, Groups: []model.Group{}}
		if i == 1 {
			u.Groups = []model.Group{*g1, *g2}
		}
		if err := st.InsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	parent := node("checkout", "checkout", func(n *model.Node) {
		n.Data = map[string]any{"kernel_revision": map[string]any{"tree": "mainline", "commit": "abc",
			"n": json.Number("42"), "f": json.Number("1.5"), "list": []any{"x", json.Number("2"), nil, true}}}
	})
	child := node("kbuild", "kbuild", func(n *model.Node) {
		n.Parent = &parent.ID
		n.Holdoff = &model.Time{Time: base.Add(time.Hour)}
		n.Result = model.Str("pass")
		n.State = model.StateDone
		n.Artifacts = map[string]string{"log": "https://example.org/log"}
		n.Jobfilter = []string{"baseline"}
		n.UserGroups = []string{"runtime:lava:node-editor"}
		n.ProcessedByKCIDBBridge = true
		n.RetryCounter = 2
	})
	evs := []*model.Event{
		{Channel: "node", Owner: model.Str("alice"), Timestamp: model.T(base), Data: model.NodeEventData("created", parent, false, nil)},
		{Channel: "node", Owner: model.Str("alice"), Timestamp: model.T(base.Add(time.Second)), Data: model.NodeEventData("created", child, false, nil)},
	}
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{parent, child}, Events: evs})
	if err := st.AppendEvents(ctx, &model.Event{Channel: "abc", Owner: model.Str("bob"), Timestamp: model.T(base.Add(2 * time.Second)),
		Data: map[string]any{"msg": "hello"}, Attributes: map[string]any{"type": "api.kernelci.org", "source": "https://example.org"}}); err != nil {
		t.Fatal(err)
	}
	mustInsertTelemetry(t, st,
		tev("job_result", "lava-collabora", time.Minute, func(e *model.TelemetryEvent) {
			e.DeviceType, e.Result, e.IsInfraError, e.Retry = model.Str("rk3588"), model.Str("incomplete"), true, 1
			e.Extra = map[string]any{"n": json.Number("3")}
		}),
		tev("runtime_error", "k8s", 2*time.Minute))
	poll := base.Add(time.Minute)
	for _, s := range []*store.SubscriberState{
		{SubscriberID: "sched-1", Channel: "node", User: "alice", LastEventID: 2, Created: base},
		{SubscriberID: "sched-2", Channel: "abc", User: "bob", Promiscuous: true, LastEventID: 3, Created: base, LastPoll: &poll},
	} {
		if err := st.CreateSubscriberState(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*store.Subscription{
		{Channel: "node", User: "alice", Cursor: 1, Created: base},
		{Channel: "abc", User: "bob", Promiscuous: true, SubscriberID: "sched-2", Cursor: 3, Created: base, LastPoll: &poll},
	} {
		if err := st.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range [][3]string{{"ns", "k1", "v1"}, {"ns", "k2", ""}, {"other", "k", "x"}} {
		if err := st.SetKV(ctx, kv[0], kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := st.PushList(ctx, "q", []byte(fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PushList(ctx, "a-list", []byte(`{"first":true}`)); err != nil {
		t.Fatal(err)
	}
}

// copyStore copies src into dst through store.Transfer and the ordinary
// insert methods, as internal/transfer does (without its file format).
func copyStore(t *testing.T, src, dst store.Store) {
	t.Helper()
	ctx := context.Background()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(src.EachGroup(ctx, func(g *model.Group) error { return dst.InsertGroup(ctx, g) }))
	check(src.EachUser(ctx, func(u *model.User) error { return dst.InsertUser(ctx, u) }))
	check(src.EachNode(ctx, func(n *model.Node) error { return dst.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}}) }))
	check(src.EachEvent(ctx, func(ev *model.Event) error { return dst.ImportEvents(ctx, []*model.Event{ev}) }))
	check(src.EachTelemetry(ctx, func(ev *model.TelemetryEvent) error {
		return dst.InsertTelemetry(ctx, []*model.TelemetryEvent{ev})
	}))
	check(src.EachSubscriberState(ctx, func(s *store.SubscriberState) error { return dst.CreateSubscriberState(ctx, s) }))
	subs, err := src.ListSubscriptions(ctx)
	check(err)
	for _, s := range subs {
		check(dst.ImportSubscription(ctx, s))
	}
	check(src.EachKV(ctx, func(ns, k, v string) error { return dst.SetKV(ctx, ns, k, v) }))
	check(src.EachListItem(ctx, func(l string, v []byte) error { return dst.PushList(ctx, l, v) }))
	last, err := src.LastSequence(ctx)
	check(err)
	check(dst.RaiseSequence(ctx, last))
}

func testTransferCopy(t *testing.T, src, dst store.Store) {
	ctx := context.Background()
	// An empty store has nothing to walk.
	empty, last := Dump(t, dst)
	if len(empty) != 0 || last != 0 {
		t.Fatalf("empty store dump = %v, last sequence %d", empty, last)
	}
	transferFixture(t, src)
	counts, err := src.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{store.CollGroup: 2, store.CollUser: 3, store.CollNode: 2, store.CollEvent: 3, store.CollTelemetry: 2,
		store.CollSubscriberState: 2, store.CollSubscription: 2, store.CollKV: 3, store.CollList: 4}
	for _, c := range store.TransferCollections {
		if counts[c] != want[c] {
			t.Errorf("Counts[%s] = %d, want %d", c, counts[c], want[c])
		}
	}
	got, last := Dump(t, src)
	if last != 3 {
		t.Fatalf("last sequence %d, want 3", last)
	}
	for c, n := range want {
		if int64(len(got[c])) != n {
			t.Errorf("Each of %s gave %d records, want %d: %v", c, len(got[c]), n, got[c])
		}
	}
	// What Each gives is what the ordinary reads give.
	for i, c := range []string{store.CollNode, store.CollEvent} {
		var reads []string
		if i == 0 {
			ns, err := src.FindNodes(ctx, query.Filter{}, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range sortedByID(ns, func(n *model.Node) objectid.ID { return n.ID }) {
				b, _ := json.Marshal(n)
				reads = append(reads, string(b))
			}
		} else {
			evs, err := src.FindEvents(ctx, query.Filter{}, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				b, _ := json.Marshal(ev)
				reads = append(reads, string(b))
			}
		}
		jsonEqual(t, got[c], reads)
	}
	if u := got[store.CollUser]; len(u) == 3 {
		var a struct {
			Username string `json:"username"`
			Hash     string `json:"hashed_password"`
		}
		found := false
		for _, s := range u {
			_ = json.Unmarshal([]byte(s), &a)
			if a.Username == "alice" && a.Hash == "$2b$12$hash-of-alice-1" {
				found = true
			}
		}
		if !found {
			t.Errorf("alice's password hash not given by EachUser: %v", u)
		}
	}
	// Lists come list by list, head first.
	jsonEqual(t, got[store.CollList], []string{`["a-list","{\"first\":true}"]`, `["q","{\"i\":0}"]`, `["q","{\"i\":1}"]`, `["q","{\"i\":2}"]`})
	jsonEqual(t, got[store.CollKV], []string{`["ns","k1","v1"]`, `["ns","k2",""]`, `["other","k","x"]`})

	// A copy holds the same records.
	copyStore(t, src, dst)
	again, last2 := Dump(t, dst)
	jsonEqual(t, again, got)
	if last2 != last {
		t.Fatalf("copy's last sequence %d, want %d", last2, last)
	}
	// The copy's counters continue above what it received.
	ev := &model.Event{Channel: "node", Data: map[string]any{}}
	if err := dst.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ev.SequenceID <= last {
		t.Fatalf("new event got sequence %d, not above the imported %d", ev.SequenceID, last)
	}
	subs, _ := src.ListSubscriptions(ctx)
	sub := &store.Subscription{Channel: "node", User: "carol", Created: base}
	if err := dst.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if sub.ID <= subs[len(subs)-1].ID {
		t.Fatalf("new subscription id %d, not above the imported %d", sub.ID, subs[len(subs)-1].ID)
	}
	// And a copied user logs in as before: same hash, groups with ids.
	u, err := dst.GetUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := src.GetUserByUsername(ctx, "alice")
	if u.HashedPassword != orig.HashedPassword || u.ID != orig.ID {
		t.Fatalf("copied user %+v, want %+v", u, orig)
	}
	jsonEqual(t, u.Groups, orig.Groups)
	// The sequence counter never goes down.
	if err := dst.RaiseSequence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if l, _ := dst.LastSequence(ctx); l != ev.SequenceID {
		t.Fatalf("RaiseSequence(1) moved the counter to %d, want %d", l, ev.SequenceID)
	}
	if err := dst.RaiseSequence(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	ev2 := &model.Event{Channel: "node", Data: map[string]any{}}
	if err := dst.AppendEvents(ctx, ev2); err != nil || ev2.SequenceID != 1001 {
		t.Fatalf("after RaiseSequence(1000): sequence %d, %v; want 1001", ev2.SequenceID, err)
	}
}

func sortedByID[T any](l []T, id func(T) objectid.ID) []T {
	out := append([]T(nil), l...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && id(out[j]).String() < id(out[j-1]).String(); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// testTransferPaging walks more records than one batch of the backends
// (1000) holds.
func testTransferPaging(t *testing.T, st store.Store) {
	ctx := context.Background()
	const nNodes, nEvents = 1234, 2345
	nodes := make([]*model.Node, nNodes)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n%d", i), "test")
	}
	mustWrite(t, st, store.NodeWrite{Insert: nodes})
	evs := make([]*model.Event, nEvents)
	for i := range evs {
		evs[i] = &model.Event{Channel: "node", Timestamp: model.T(base), Data: map[string]any{"i": json.Number(fmt.Sprint(i))}}
	}
	if err := st.AppendEvents(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	var prev string
	n := 0
	if err := st.EachNode(ctx, func(nd *model.Node) error {
		if id := nd.ID.String(); id <= prev {
			return fmt.Errorf("node %s after %s: not in id order", id, prev)
		} else {
			prev = id
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != nNodes {
		t.Fatalf("EachNode gave %d nodes, want %d", n, nNodes)
	}
	var seq int64
	n = 0
	if err := st.EachEvent(ctx, func(ev *model.Event) error {
		if ev.SequenceID != seq+1 {
			return fmt.Errorf("event sequence %d after %d", ev.SequenceID, seq)
		}
		seq = ev.SequenceID
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != nEvents {
		t.Fatalf("EachEvent gave %d events, want %d", n, nEvents)
	}
	// An error from fn stops the walk and comes back.
	stop := errors.New("stop")
	calls := 0
	if err := st.EachNode(ctx, func(*model.Node) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("EachNode with a failing fn = %v after %d calls", err, calls)
	}
}

func testImportEvents(t *testing.T, st store.Store) {
	ctx := context.Background()
	mk := func(seq int64) *model.Event {
		return &model.Event{ID: objectid.New(), SequenceID: seq, Channel: "node", Owner: model.Str("alice"),
			Timestamp: model.T(base.Add(time.Duration(seq) * time.Second)), Data: map[string]any{"seq": json.Number(fmt.Sprint(seq))}}
	}
	a, b := mk(5), mk(9)
	if err := st.ImportEvents(ctx, []*model.Event{a, b}); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.LastSequence(ctx); l != 9 {
		t.Fatalf("LastSequence after importing 5 and 9 = %d", l)
	}
	got, err := st.EventsAfter(ctx, "node", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, []*model.Event{a, b})
	// A taken sequence id or event id fails the whole call.
	c := mk(12)
	dup := mk(9)
	if err := st.ImportEvents(ctx, []*model.Event{c, dup}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("import of a taken sequence id = %v, want ErrConflict", err)
	}
	sameID := mk(13)
	sameID.ID = a.ID
	if err := st.ImportEvents(ctx, []*model.Event{mk(14), sameID}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("import of a taken event id = %v, want ErrConflict", err)
	}
	if err := st.ImportEvents(ctx, []*model.Event{mk(0)}); err == nil {
		t.Fatal("imported an event without a sequence id")
	}
	got, _ = st.EventsAfter(ctx, "node", 0, 10)
	if len(got) != 2 {
		t.Fatalf("failed imports stored events: %v", seqs(got))
	}
	// Later events continue above.
	ev := &model.Event{Channel: "node", Data: map[string]any{}}
	if err := st.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ev.SequenceID <= 9 {
		t.Fatalf("appended event got sequence %d after imported 9", ev.SequenceID)
	}
	// A subscription keeps its id; new ones go above.
	sub := &store.Subscription{ID: 40, Channel: "node", User: "alice", Cursor: 9, Created: base}
	if err := st.ImportSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.ImportSubscription(ctx, sub); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second import of subscription 40 = %v, want ErrConflict", err)
	}
	if g, err := st.GetSubscription(ctx, 40); err != nil || g.Cursor != 9 || g.User != "alice" {
		t.Fatalf("GetSubscription(40) = %+v, %v", g, err)
	}
	next := &store.Subscription{Channel: "node", User: "bob", Created: base}
	if err := st.CreateSubscription(ctx, next); err != nil || next.ID <= 40 {
		t.Fatalf("new subscription id %d (%v), want above 40", next.ID, err)
	}
}

func testTransferClear(t *testing.T, st store.Store) {
	ctx := context.Background()
	transferFixture(t, st)
	last, _ := st.LastSequence(ctx)
	subs, _ := st.ListSubscriptions(ctx)
	if err := st.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	d, _ := Dump(t, st)
	if len(d) != 0 {
		t.Fatalf("after Clear: %v", d)
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for c, n := range counts {
		if n != 0 {
			t.Errorf("after Clear, Counts[%s] = %d", c, n)
		}
	}
	// Counters never go back.
	ev := &model.Event{Channel: "node", Data: map[string]any{}}
	if err := st.AppendEvents(ctx, ev); err != nil || ev.SequenceID <= last {
		t.Fatalf("event after Clear: sequence %d (%v), want above %d", ev.SequenceID, err, last)
	}
	sub := &store.Subscription{Channel: "node", User: "carol", Created: base}
	if err := st.CreateSubscription(ctx, sub); err != nil || sub.ID <= subs[len(subs)-1].ID {
		t.Fatalf("subscription after Clear: id %d (%v), want above %d", sub.ID, err, subs[len(subs)-1].ID)
	}
	// The store works as before.
	if err := st.InsertGroup(ctx, &model.Group{Name: "node:edit:any"}); err != nil {
		t.Fatal(err)
	}
}
