package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runLifecycle runs the contract of store.Lifecycle.
func runLifecycle(t *testing.T, newStore Factory) {
	lc := newStore
	t.Run("LapsedNodes", func(t *testing.T) { testLapsedNodes(t, lc(t)) })
	t.Run("NodesInState", func(t *testing.T) { testNodesInState(t, lc(t)) })
	t.Run("HasPendingDescendant", func(t *testing.T) { testHasPendingDescendant(t, lc(t)) })
	t.Run("ReplaceNodeIf", func(t *testing.T) { testReplaceNodeIf(t, lc(t)) })
	t.Run("ReplaceNodeIfRace", func(t *testing.T) { testReplaceNodeIfRace(t, lc(t)) })
	t.Run("PurgeNodes", func(t *testing.T) { testPurgeNodes(t, lc(t)) })
}

func at(d time.Duration) *model.Time { return &model.Time{Time: base.Add(d)} }

func testLapsedNodes(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	mk := func(name, state string, timeout time.Duration, holdoff *model.Time) *model.Node {
		return node(name, "job", func(n *model.Node) {
			n.State = state
			n.Timeout = model.Time{Time: base.Add(timeout)}
			n.Holdoff = holdoff
		})
	}
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{
		mk("run-late", model.StateRunning, 3*time.Minute, nil),
		mk("run-early", model.StateRunning, 1*time.Minute, nil),
		mk("run-future", model.StateRunning, time.Hour, nil),
		mk("run-exact", model.StateRunning, 10*time.Minute, nil),
		mk("avail-old-timeout", model.StateAvailable, 2*time.Minute, at(time.Minute)),
		mk("avail-holdoff-late", model.StateAvailable, time.Hour, at(4*time.Minute)),
		mk("avail-holdoff-early", model.StateAvailable, time.Hour, at(2*time.Minute)),
		mk("avail-holdoff-future", model.StateAvailable, time.Hour, at(time.Hour)),
		mk("avail-no-holdoff", model.StateAvailable, time.Hour, nil),
		mk("closing-late", model.StateClosing, 5*time.Minute, nil),
		mk("done-late", model.StateDone, time.Minute, at(time.Minute)),
	}})
	now := base.Add(10 * time.Minute)
	cases := []struct {
		state string
		field store.Deadline
		limit int
		want  []string
	}{
		{model.StateRunning, store.DeadlineTimeout, 10, []string{"run-early", "run-late"}},
		{model.StateRunning, store.DeadlineTimeout, 1, []string{"run-early"}},
		{model.StateAvailable, store.DeadlineTimeout, 10, []string{"avail-old-timeout"}},
		{model.StateClosing, store.DeadlineTimeout, 10, []string{"closing-late"}},
		{model.StateAvailable, store.DeadlineHoldoff, 10, []string{"avail-old-timeout", "avail-holdoff-early", "avail-holdoff-late"}},
		{model.StateAvailable, store.DeadlineHoldoff, 2, []string{"avail-old-timeout", "avail-holdoff-early"}},
		{model.StateRunning, store.DeadlineHoldoff, 10, []string{}},
		{model.StateDone, store.DeadlineTimeout, 10, []string{"done-late"}},
	}
	for _, tc := range cases {
		got, err := st.LapsedNodes(ctx, tc.state, tc.field, now, tc.limit)
		if err != nil {
			t.Fatalf("LapsedNodes(%s, %s): %v", tc.state, tc.field, err)
		}
		if g := names(got); !slices.Equal(g, tc.want) {
			t.Errorf("LapsedNodes(%s, %s, limit %d) = %v, want %v", tc.state, tc.field, tc.limit, g, tc.want)
		}
	}
	// The bound is strict: a deadline equal to it has not lapsed yet.
	got, err := st.LapsedNodes(ctx, model.StateRunning, store.DeadlineTimeout, base.Add(3*time.Minute), 10)
	if err != nil || !slices.Equal(names(got), []string{"run-early"}) {
		t.Errorf("LapsedNodes(strict bound) = %v, %v", names(got), err)
	}
	// Whole documents come back.
	got, _ = st.LapsedNodes(ctx, model.StateAvailable, store.DeadlineHoldoff, now, 1)
	full, _ := st.GetNode(ctx, got[0].ID)
	jsonEqual(t, got[0], full)
}

func testNodesInState(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	var want []string
	var all []*model.Node
	for i := range 23 {
		state := model.StateClosing
		if i%4 == 1 {
			state = model.StateDone
		}
		n := node(fmt.Sprintf("n%02d", i), "kbuild", func(n *model.Node) { n.State = state })
		all = append(all, n)
	}
	// Insert out of id order: the paging is by id, not by insertion.
	slices.Reverse(all)
	mustWrite(t, st, store.NodeWrite{Insert: all})
	slices.SortFunc(all, func(a, b *model.Node) int { return compareIDs(a.ID, b.ID) })
	for _, n := range all {
		if n.State == model.StateClosing {
			want = append(want, n.Name)
		}
	}
	var seen []string
	after := objectid.Nil
	for range 100 {
		page, err := st.NodesInState(ctx, model.StateClosing, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, names(page)...)
		if len(page) < 5 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("paged closing nodes %v, want %v", seen, want)
	}
	if got, _ := st.NodesInState(ctx, model.StateAvailable, objectid.Nil, 5); len(got) != 0 {
		t.Fatalf("NodesInState(available) = %v", names(got))
	}
}

func compareIDs(a, b objectid.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func testHasPendingDescendant(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	// checkout -> kbuild-a -> job-a -> test-a
	//          -> kbuild-b (done, no children)
	// lone (no children)
	child := func(name, kind string, parent *model.Node, state string) *model.Node {
		return node(name, kind, func(n *model.Node) {
			n.Parent = &parent.ID
			n.State = state
		})
	}
	co := node("checkout", "checkout", func(n *model.Node) { n.State = model.StateAvailable })
	ka := child("kbuild-a", "kbuild", co, model.StateDone)
	kb := child("kbuild-b", "kbuild", co, model.StateDone)
	ja := child("job-a", "job", ka, model.StateDone)
	ta := child("test-a", "test", ja, model.StateRunning)
	lone := node("lone", "checkout")
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{co, ka, kb, ja, ta, lone}})
	check := func(id objectid.ID, want bool, what string) {
		t.Helper()
		got, err := st.HasPendingDescendant(ctx, id)
		if err != nil {
			t.Fatalf("HasPendingDescendant(%s): %v", what, err)
		}
		if got != want {
			t.Fatalf("HasPendingDescendant(%s) = %v, want %v", what, got, want)
		}
	}
	check(co.ID, true, "checkout with a running grandchild's child")
	check(ka.ID, true, "kbuild-a")
	check(ja.ID, true, "job-a")
	check(ta.ID, false, "leaf")
	check(kb.ID, false, "done leaf kbuild")
	check(lone.ID, false, "node without children")
	check(objectid.New(), false, "unknown id")
	// Every non-done state counts as pending.
	for _, state := range []string{model.StateAvailable, model.StateClosing, model.StateDone} {
		ta.State = state
		mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{ta}})
		check(co.ID, state != model.StateDone, "checkout, test "+state)
	}
	// The node itself does not count, only what is below it.
	check(ka.ID, false, "kbuild-a, all below done")

	// A wide, deep tree: one pending node at the bottom of one branch.
	wide := node("wide", "checkout", func(n *model.Node) { n.State = model.StateClosing })
	w := store.NodeWrite{Insert: []*model.Node{wide}}
	var last *model.Node
	for i := range 20 {
		kb := child(fmt.Sprintf("wk%d", i), "kbuild", wide, model.StateDone)
		w.Insert = append(w.Insert, kb)
		prev := kb
		for j := range 10 {
			n := child(fmt.Sprintf("wj%d-%d", i, j), "job", prev, model.StateDone)
			w.Insert = append(w.Insert, n)
			prev = n
		}
		last = prev
	}
	mustWrite(t, st, w)
	check(wide.ID, false, "wide tree all done")
	last.State = model.StateRunning
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{last}})
	check(wide.ID, true, "wide tree, deepest leaf of the last branch running")

	// A parent cycle terminates (a -> b -> c -> a, all done).
	a := node("cyc-a", "job", func(n *model.Node) { n.State = model.StateDone })
	b := child("cyc-b", "job", a, model.StateDone)
	c := child("cyc-c", "job", b, model.StateDone)
	a.Parent = &c.ID
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{a, b, c}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(a.ID, false, "cycle, all done")
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("HasPendingDescendant did not terminate on a parent cycle")
	}
	// The root of the walk, pending itself, is not its own descendant.
	a.State = model.StateClosing
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{a}})
	check(a.ID, false, "cycle through a pending root")
	check(b.ID, true, "cycle, pending node below")
}

func testReplaceNodeIf(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	n := node("job", "job")
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{n}})
	old, err := st.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	next := old.Clone()
	next.State = model.StateDone
	next.Result = model.Str("incomplete")
	next.Updated = model.Time{Time: base.Add(time.Minute)}
	ev := &model.Event{Channel: "node", Owner: next.Owner, Data: model.NodeEventData("updated", next, false, old)}
	if err := st.ReplaceNodeIf(ctx, next, old.State, old.Updated.Time, ev); err != nil {
		t.Fatalf("ReplaceNodeIf: %v", err)
	}
	if ev.SequenceID <= 0 || ev.ID.IsZero() || ev.Timestamp.IsZero() {
		t.Fatalf("event not assigned: %+v", ev)
	}
	got, _ := st.GetNode(ctx, n.ID)
	jsonEqual(t, got, next)
	evs, _ := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events after ReplaceNodeIf: %d", len(evs))
	}

	// Stale updated, stale state: conflict, nothing written.
	stale := next.Clone()
	stale.Name = "stale"
	stale.Updated = model.Time{Time: base.Add(2 * time.Minute)}
	for _, tc := range []struct {
		what    string
		state   string
		updated time.Time
	}{
		{"stale updated", next.State, old.Updated.Time},
		{"stale state", old.State, next.Updated.Time},
		{"both stale", old.State, old.Updated.Time},
	} {
		lost := &model.Event{Channel: "node", Data: map[string]any{"op": "updated"}}
		err := st.ReplaceNodeIf(ctx, stale, tc.state, tc.updated, lost)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("ReplaceNodeIf(%s) = %v, want ErrConflict", tc.what, err)
		}
		if got, _ := st.GetNode(ctx, n.ID); got.Name != next.Name {
			t.Fatalf("ReplaceNodeIf(%s) wrote the node", tc.what)
		}
		if evs, _ := st.FindEvents(ctx, query.Filter{}, store.Page{}); len(evs) != 1 {
			t.Fatalf("ReplaceNodeIf(%s) kept its event", tc.what)
		}
	}
	// Unknown node.
	ghost := node("ghost", "job")
	if err := st.ReplaceNodeIf(ctx, ghost, ghost.State, ghost.Updated.Time); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceNodeIf(unknown) = %v, want ErrNotFound", err)
	}
	// Without events, the replacement alone.
	again := next.Clone()
	again.Name = "again"
	if err := st.ReplaceNodeIf(ctx, again, next.State, next.Updated.Time); err != nil {
		t.Fatalf("ReplaceNodeIf(no events): %v", err)
	}
	if got, _ := st.GetNode(ctx, n.ID); got.Name != "again" {
		t.Fatalf("ReplaceNodeIf(no events) not applied")
	}
}

func testReplaceNodeIfRace(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	const nodes, racers = 10, 6
	var all []*model.Node
	for i := range nodes {
		all = append(all, node(fmt.Sprintf("r%d", i), "job"))
	}
	mustWrite(t, st, store.NodeWrite{Insert: all})
	var mu sync.Mutex
	wins := map[objectid.ID]int{}
	waitEach(t, goEach(racers, func(r int) error {
		for _, n := range all {
			old, err := st.GetNode(ctx, n.ID)
			if err != nil {
				return err
			}
			next := old.Clone()
			next.State = model.StateDone
			next.Name = fmt.Sprintf("%s-by-%d", old.Name, r)
			next.Updated = model.Time{Time: base.Add(time.Duration(r+1) * time.Second)}
			ev := &model.Event{Channel: "node", Data: model.NodeEventData("updated", next, false, old)}
			err = st.ReplaceNodeIf(ctx, next, model.StateRunning, n.Updated.Time, ev)
			switch {
			case err == nil:
				mu.Lock()
				wins[n.ID]++
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				return err
			}
		}
		return nil
	}))
	for _, n := range all {
		if wins[n.ID] != 1 {
			t.Errorf("node %s replaced %d times, want once", n.Name, wins[n.ID])
		}
	}
	evs, _ := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if len(evs) != nodes {
		t.Fatalf("%d events, want %d (one per node)", len(evs), nodes)
	}
}

func testPurgeNodes(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	cut := base.Add(100 * 24 * time.Hour)
	old := func(name, kind string, age time.Duration) *model.Node {
		return node(name, kind, func(n *model.Node) { n.Created = model.Time{Time: cut.Add(-age)} })
	}
	var w store.NodeWrite
	wantGone := map[string]bool{}
	for i := range 7 {
		n := old(fmt.Sprintf("old-job-%d", i), "job", time.Duration(i+1)*time.Hour)
		w.Insert = append(w.Insert, n)
		wantGone[n.Name] = true
	}
	for i := range 3 {
		n := old(fmt.Sprintf("old-kbuild-%d", i), "kbuild", time.Duration(i+1)*24*time.Hour)
		w.Insert = append(w.Insert, n)
		wantGone[n.Name] = true
	}
	w.Insert = append(w.Insert,
		old("old-checkout-1", "checkout", 30*24*time.Hour),
		old("old-checkout-2", "checkout", time.Hour),
		old("edge-job", "job", 0), // created exactly at the cut: kept
		old("new-job", "job", -time.Hour),
		old("new-checkout", "checkout", -time.Hour),
	)
	mustWrite(t, st, w)

	counts, err := st.CountPurgeable(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"job": 7, "kbuild": 3}; !maps.Equal(counts, want) {
		t.Fatalf("CountPurgeable = %v, want %v", counts, want)
	}
	if total, _ := st.CountNodes(ctx, query.Filter{}); total != 15 {
		t.Fatalf("CountPurgeable deleted something: %d nodes", total)
	}
	if counts, _ := st.CountPurgeable(ctx, base); len(counts) != 0 {
		t.Fatalf("CountPurgeable(nothing old) = %v", counts)
	}

	// Batches of 4: 4, 4, 2, then 0.
	var got []int64
	for range 10 {
		n, err := st.PurgeNodes(ctx, cut, 4)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		if n < 4 {
			break
		}
	}
	if !slices.Equal(got, []int64{4, 4, 2}) {
		t.Fatalf("PurgeNodes batches %v, want [4 4 2]", got)
	}
	left, _ := st.FindNodes(ctx, query.Filter{}, store.Page{})
	for _, n := range left {
		if wantGone[n.Name] {
			t.Errorf("%s was not purged", n.Name)
		}
	}
	if g := names(left); len(g) != 5 {
		t.Fatalf("left %v, want the checkouts and the new nodes", g)
	}
	if n, err := st.PurgeNodes(ctx, cut, 4); err != nil || n != 0 {
		t.Fatalf("PurgeNodes(nothing left) = %d, %v", n, err)
	}
	if counts, _ := st.CountPurgeable(ctx, cut); len(counts) != 0 {
		t.Fatalf("CountPurgeable after purge = %v", counts)
	}
	// The oldest go first.
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{
		old("older", "test", 2*time.Hour), old("oldest", "test", 3*time.Hour), old("old", "test", time.Hour),
	}})
	if n, _ := st.PurgeNodes(ctx, cut, 2); n != 2 {
		t.Fatalf("PurgeNodes = %d, want 2", n)
	}
	left, _ = st.FindNodes(ctx, query.Where("kind", "test"), store.Page{})
	if g := names(left); !slices.Equal(g, []string{"old"}) {
		t.Fatalf("after purging the 2 oldest tests: %v", g)
	}
}
