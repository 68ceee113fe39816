package broker

import (
	"context"
	"testing"
	"time"
)

func TestBrokerWakesOnlyConcernedWaiters(t *testing.T) {
	b := New()
	ctx := context.Background()
	alice := b.Wait("node", "alice", false)
	bob := b.Wait("node", "bob", false)
	all := b.Wait("node", "x", true)
	other := b.Wait("abc", "", true)
	list := b.WaitList("q")
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	b.Notify(ctx, Notification{Channel: "node", Seq: 5, Owner: "alice"})
	if !closed(alice) || !closed(all) || closed(bob) || closed(other) || closed(list) {
		t.Fatalf("an event of alice woke alice=%v promisc=%v bob=%v other channel=%v list=%v",
			closed(alice), closed(all), closed(bob), closed(other), closed(list))
	}
	if e, s := b.Reached("node"); e == 0 || s != 5 {
		t.Fatalf("Reached = %d, %d", e, s)
	}
	b.Notify(ctx, Notification{Channel: "node", Seq: 6}) // no owner: everyone
	if !closed(bob) {
		t.Fatal("an event without owner did not wake bob")
	}
	b.Notify(ctx, Notification{List: "q"})
	if !closed(list) || closed(other) {
		t.Fatal("push did not wake the list only")
	}
	// A channel nobody waits on is not tracked.
	b.Notify(ctx, Notification{Channel: "nobody", Seq: 7})
	if ch, _ := b.Stats(); ch != 2 {
		t.Fatalf("%d channels tracked, want 2", ch)
	}
	// Sweep forgets idle entries and a later Reached starts a new epoch.
	e1, _ := b.Reached("abc")
	b.now = func() time.Time { return time.Now().Add(time.Hour) }
	b.Sweep(time.Minute)
	if ch, l := b.Stats(); ch != 0 || l != 0 {
		t.Fatalf("after sweep: %d channels, %d lists", ch, l)
	}
	if e2, s := b.Reached("abc"); e2 == e1 || s != 0 {
		t.Fatalf("after sweep: epoch %d (was %d), reached %d", e2, e1, s)
	}
}
