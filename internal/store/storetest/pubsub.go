package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runPubSub runs the contract of store.Events (the event log part) and
// store.PubSub.
func runPubSub(t *testing.T, newStore Factory) {
	ps := newStore
	t.Run("EventsAfter", func(t *testing.T) { testEventsAfter(t, ps(t)) })
	t.Run("EventsAfterConcurrent", func(t *testing.T) { testEventsAfterConcurrent(t, ps(t)) })
	t.Run("DeleteEventsBefore", func(t *testing.T) { testDeleteEventsBefore(t, ps(t)) })
	t.Run("Subscriptions", func(t *testing.T) { testSubscriptions(t, ps(t)) })
	t.Run("CountSubscriptions", func(t *testing.T) { testCountSubscriptions(t, ps(t)) }) // subcount.go
	t.Run("SubscriberStates", func(t *testing.T) { testSubscriberStates(t, ps(t)) })
	t.Run("Lists", func(t *testing.T) { testLists(t, ps(t)) })
	t.Run("KV", func(t *testing.T) { testKV(t, ps(t)) })
}

func seqs(evs []*model.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.SequenceID
	}
	return out
}

func testEventsAfter(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	var onA []int64
	for i := range 10 {
		ch := "a"
		if i%3 == 1 {
			ch = "b"
		}
		ev := &model.Event{Channel: ch, Owner: model.Str("u"), Data: map[string]any{"i": i},
			Attributes: map[string]any{"type": "t", "x-ext": "v"}}
		if err := st.AppendEvents(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if ch == "a" {
			onA = append(onA, ev.SequenceID)
		}
	}
	got, err := st.EventsAfter(ctx, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs(got), onA) {
		t.Fatalf("EventsAfter(a, 0) = %v, want %v", seqs(got), onA)
	}
	for _, ev := range got {
		if ev.Channel != "a" || ev.ID.IsZero() || ev.Timestamp.IsZero() || ev.Owner == nil || *ev.Owner != "u" {
			t.Fatalf("event not round-tripped: %+v", ev)
		}
		if ev.Attributes["type"] != "t" || ev.Attributes["x-ext"] != "v" {
			t.Fatalf("attributes not round-tripped: %+v", ev.Attributes)
		}
	}
	got, _ = st.EventsAfter(ctx, "a", onA[2], 2)
	if !slices.Equal(seqs(got), onA[3:5]) {
		t.Fatalf("EventsAfter(a, %d, 2) = %v, want %v", onA[2], seqs(got), onA[3:5])
	}
	got, _ = st.EventsAfter(ctx, "a", onA[len(onA)-1], 5)
	if len(got) != 0 {
		t.Fatalf("EventsAfter(a, last) = %v, want none", seqs(got))
	}
	got, _ = st.EventsAfter(ctx, "nothing", 0, 5)
	if got == nil || len(got) != 0 {
		t.Fatalf("EventsAfter(unknown channel) = %#v, want an empty list", got)
	}
	// The attributes reach GET /events too.
	all, _ := st.FindEvents(ctx, f(c("channel", query.Eq, "b")), store.Page{})
	if len(all) == 0 || all[0].Attributes["x-ext"] != "v" {
		t.Fatalf("FindEvents lost the attributes: %+v", all)
	}
}

// testEventsAfterConcurrent checks the visibility rule of store.EventLog:
// a reader that follows a channel with EventsAfter while writers append
// concurrently never skips an event.
func testEventsAfterConcurrent(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	const writers, each = 6, 60
	errs := goEach(writers, func(w int) error {
		for i := range each {
			ev := &model.Event{Channel: "c", Data: map[string]any{"w": w, "i": i}}
			if err := st.AppendEvents(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	var seen []int64
	cursor := int64(0)
	finished := false
	for !finished {
		select {
		case err, ok := <-errs:
			if ok {
				t.Fatal(err)
			}
			finished = true // one more read after the writers are done
		default:
		}
		evs, err := st.EventsAfter(ctx, "c", cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			seen = append(seen, ev.SequenceID)
			cursor = ev.SequenceID
		}
		if len(evs) == 7 {
			finished = false
		}
	}
	all, _ := st.EventsAfter(ctx, "c", 0, 0)
	if !slices.Equal(seen, seqs(all)) {
		t.Fatalf("following reader saw %d events, the history holds %d: an event became visible behind the cursor", len(seen), len(all))
	}
	if len(all) != writers*each {
		t.Fatalf("%d events stored, want %d", len(all), writers*each)
	}
}

func testDeleteEventsBefore(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	old := base.Add(-48 * time.Hour)
	var oldEvs, newEvs []*model.Event
	for i := range 7 {
		ev := &model.Event{Channel: "node", Timestamp: model.T(old.Add(time.Duration(i) * time.Minute)), Data: map[string]any{"i": i}}
		oldEvs = append(oldEvs, ev)
	}
	for i := range 3 {
		newEvs = append(newEvs, &model.Event{Channel: "node", Timestamp: model.T(base.Add(time.Duration(i) * time.Minute)), Data: map[string]any{"i": i}})
	}
	if err := st.AppendEvents(ctx, append(slices.Clone(oldEvs), newEvs...)...); err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastSequence(ctx)
	cut := base.Add(-time.Hour)
	n, err := st.DeleteEventsBefore(ctx, cut, 5)
	if err != nil || n != 5 {
		t.Fatalf("DeleteEventsBefore(limit 5) = %d, %v; want 5", n, err)
	}
	left, _ := st.EventsAfter(ctx, "node", 0, 0)
	if want := append(seqs(oldEvs[5:]), seqs(newEvs)...); !slices.Equal(seqs(left), want) {
		t.Fatalf("after the first batch: %v, want the oldest deleted first, leaving %v", seqs(left), want)
	}
	n, err = st.DeleteEventsBefore(ctx, cut, 5)
	if err != nil || n != 2 {
		t.Fatalf("DeleteEventsBefore(second batch) = %d, %v; want 2", n, err)
	}
	if n, _ := st.DeleteEventsBefore(ctx, cut, 5); n != 0 {
		t.Fatalf("third batch deleted %d", n)
	}
	left, _ = st.EventsAfter(ctx, "node", 0, 0)
	if !slices.Equal(seqs(left), seqs(newEvs)) {
		t.Fatalf("left %v, want %v", seqs(left), seqs(newEvs))
	}
	if s, _ := st.LastSequence(ctx); s != last {
		t.Fatalf("LastSequence moved from %d to %d after deletions", last, s)
	}
	// Deleting everything never makes sequence ids restart.
	if _, err := st.DeleteEventsBefore(ctx, base.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.LastSequence(ctx); s != last {
		t.Fatalf("LastSequence = %d after emptying the history, want %d", s, last)
	}
	ev := &model.Event{Channel: "node", Data: map[string]any{}}
	if err := st.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ev.SequenceID <= last {
		t.Fatalf("sequence id %d reused after deletions (last was %d)", ev.SequenceID, last)
	}
}

func testSubscriptions(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	created := base.Truncate(time.Microsecond)
	a := &store.Subscription{Channel: "node", User: "alice", Cursor: 7, Created: created}
	b := &store.Subscription{Channel: "abc", User: "bob", Promiscuous: true, SubscriberID: "bob-1", Cursor: 9, Created: created.Add(time.Minute)}
	for _, s := range []*store.Subscription{a, b} {
		if err := st.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if a.ID <= 0 || b.ID <= a.ID {
		t.Fatalf("ids %d, %d: want positive and increasing", a.ID, b.ID)
	}
	got, err := st.GetSubscription(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Channel != "abc" || got.User != "bob" || !got.Promiscuous || got.SubscriberID != "bob-1" || got.Cursor != 9 ||
		!got.Created.Equal(b.Created) || got.LastPoll != nil {
		t.Fatalf("GetSubscription = %+v, want %+v", got, b)
	}
	if _, err := st.GetSubscription(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSubscription(unknown) = %v", err)
	}
	// Ids are never reused, even after deleting the newest.
	if err := st.DeleteSubscription(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSubscription(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
	c := &store.Subscription{Channel: "node", User: "carol", Created: created}
	if err := st.CreateSubscription(ctx, c); err != nil {
		t.Fatal(err)
	}
	if c.ID <= b.ID {
		t.Fatalf("id %d reused (deleted %d)", c.ID, b.ID)
	}
	// The cursor moves only from where the caller saw it.
	poll := created.Add(2 * time.Minute)
	if err := st.AdvanceSubscription(ctx, a.ID, 7, 12, poll); err != nil {
		t.Fatal(err)
	}
	if err := st.AdvanceSubscription(ctx, a.ID, 7, 13, poll); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale advance = %v, want ErrConflict", err)
	}
	if err := st.AdvanceSubscription(ctx, b.ID, 9, 10, poll); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("advance of a deleted subscription = %v, want ErrNotFound", err)
	}
	got, _ = st.GetSubscription(ctx, a.ID)
	if got.Cursor != 12 || got.LastPoll == nil || !got.LastPoll.Equal(poll) {
		t.Fatalf("after advance: %+v", got)
	}
	if err := st.TouchSubscription(ctx, c.ID, poll.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchSubscription(ctx, b.ID, poll); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch of a deleted subscription = %v", err)
	}
	list, err := st.ListSubscriptions(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != c.ID {
		t.Fatalf("ListSubscriptions = %v, %v", list, err)
	}
	if list[1].LastPoll == nil || !list[1].LastPoll.Equal(poll.Add(time.Minute)) {
		t.Fatalf("touch not stored: %+v", list[1])
	}
	// Reaping goes by last poll, or creation when never polled.
	d := &store.Subscription{Channel: "node", User: "dave", Created: created.Add(-time.Hour)}
	if err := st.CreateSubscription(ctx, d); err != nil {
		t.Fatal(err)
	}
	n, err := st.ReapSubscriptions(ctx, poll.Add(30*time.Second))
	if err != nil || n != 2 {
		t.Fatalf("ReapSubscriptions = %d, %v; want 2 (a polled at +2m, d never polled)", n, err)
	}
	list, _ = st.ListSubscriptions(ctx)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("after reaping: %v", list)
	}
}

func testSubscriberStates(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	created := base.Truncate(time.Microsecond)
	s := &store.SubscriberState{SubscriberID: "sched-1", Channel: "node", User: "alice", LastEventID: 5, Created: created}
	if err := st.CreateSubscriberState(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscriberState(ctx, s); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate create = %v, want ErrConflict", err)
	}
	if _, err := st.GetSubscriberState(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown = %v", err)
	}
	poll := created.Add(time.Minute)
	if err := st.AckSubscriberState(ctx, "sched-1", 9, poll); err != nil {
		t.Fatal(err)
	}
	if err := st.AckSubscriberState(ctx, "sched-1", 3, poll.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetSubscriberState(ctx, "sched-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.LastEventID != 9 || got.LastPoll == nil || !got.LastPoll.Equal(poll.Add(time.Minute)) || got.User != "alice" ||
		got.Channel != "node" || !got.Created.Equal(created) {
		t.Fatalf("after acks: %+v (the ack must never lower last_event_id)", got)
	}
	if err := st.AckSubscriberState(ctx, "nobody", 1, poll); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ack unknown = %v", err)
	}
	got.Channel, got.Promiscuous, got.LastEventID = "abc", true, 2
	if err := st.UpdateSubscriberState(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := st.GetSubscriberState(ctx, "sched-1")
	if again.Channel != "abc" || !again.Promiscuous || again.LastEventID != 2 {
		t.Fatalf("update not stored: %+v", again)
	}
	if err := st.UpdateSubscriberState(ctx, &store.SubscriberState{SubscriberID: "nobody", Created: created}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unknown = %v", err)
	}
	old := &store.SubscriberState{SubscriberID: "old", Channel: "node", User: "bob", Created: created.Add(-40 * 24 * time.Hour)}
	if err := st.CreateSubscriberState(ctx, old); err != nil {
		t.Fatal(err)
	}
	n, err := st.ReapSubscriberStates(ctx, created.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ReapSubscriberStates = %d, %v; want 1", n, err)
	}
	if _, err := st.GetSubscriberState(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reaped state still there: %v", err)
	}
	if err := st.DeleteSubscriberState(ctx, "sched-1"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSubscriberState(ctx, "sched-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func testLists(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	if _, err := st.PopList(ctx, "q"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pop of an empty list = %v", err)
	}
	for i := range 5 {
		if err := st.PushList(ctx, "q", []byte(fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
		if err := st.PushList(ctx, "other", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		v, err := st.PopList(ctx, "q")
		if err != nil || string(v) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("pop %d = %s, %v", i, v, err)
		}
	}
	// Concurrent pops get each remaining item exactly once.
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := st.PopList(ctx, "q")
			if errors.Is(err, store.ErrNotFound) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, string(v))
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(got)
	if want := []string{`{"i":2}`, `{"i":3}`, `{"i":4}`}; !slices.Equal(got, want) {
		t.Fatalf("concurrent pops got %v, want %v", got, want)
	}
	for range 5 {
		if _, err := st.PopList(ctx, "other"); err != nil {
			t.Fatalf("other list: %v", err)
		}
	}
	if _, err := st.PopList(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other list not empty: %v", err)
	}
}

func testKV(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	if _, err := st.GetKV(ctx, "ns", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing = %v", err)
	}
	if err := st.SetKV(ctx, "ns", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetKV(ctx, "ns", "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetKV(ctx, "ns2", "k", "other"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.GetKV(ctx, "ns", "k"); err != nil || v != "v2" {
		t.Fatalf("get = %q, %v", v, err)
	}
	if err := st.DeleteKV(ctx, "ns", "k"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteKV(ctx, "ns", "k"); err != nil {
		t.Fatalf("delete of a missing key = %v", err)
	}
	if _, err := st.GetKV(ctx, "ns", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get deleted = %v", err)
	}
	if v, _ := st.GetKV(ctx, "ns2", "k"); v != "other" {
		t.Fatalf("namespaces not separate: %q", v)
	}
}
