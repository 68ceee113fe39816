package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// testCountSubscriptions checks that CountSubscriptions counts exactly
// the subscriptions one user holds now: not other users' (names that
// differ only in case, or that would match as a pattern), not deleted
// or reaped ones.
func testCountSubscriptions(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	created := base.Truncate(time.Microsecond)
	subscribe := func(user string, at time.Time, n int) []*store.Subscription {
		var out []*store.Subscription
		for range n {
			s := &store.Subscription{Channel: "node", User: user, Created: at}
			if err := st.CreateSubscription(ctx, s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	want := func(user string, n int64) {
		t.Helper()
		got, err := st.CountSubscriptions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Fatalf("CountSubscriptions(%q) = %d, want %d", user, got, n)
		}
	}
	want("alice", 0)
	alice := subscribe("alice", created, 3)
	subscribe("bob", created, 2)
	subscribe("Alice", created, 1)
	subscribe("al.*", created, 1)
	subscribe("alice ", created, 1)
	old := subscribe("alice", created.Add(-time.Hour), 2) // older: reaped below
	want("alice", 5)
	want("bob", 2)
	want("Alice", 1)
	want("al.*", 1)
	want("al", 0)
	want("", 0)
	want("nobody", 0)

	if err := st.DeleteSubscription(ctx, alice[0].ID); err != nil {
		t.Fatal(err)
	}
	want("alice", 4)
	// Subscriptions polled recently stay; the rest idle since before
	// the cut are reaped and no longer counted.
	if err := st.TouchSubscription(ctx, old[0].ID, created.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReapSubscriptions(ctx, created.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	want("alice", 3)
	want("bob", 2)
}
