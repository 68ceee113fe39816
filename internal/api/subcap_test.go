package api_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// unlistable is a store whose ListSubscriptions fails: the subscription
// cap must count the caller's subscriptions, not read everyone's.
type unlistable struct{ store.Store }

func (unlistable) ListSubscriptions(context.Context) ([]*store.Subscription, error) {
	return nil, errors.New("test: every subscription listed")
}

// holdSubscriptions stores n subscriptions of user directly.
func holdSubscriptions(t *testing.T, st store.Store, user string, n int) {
	t.Helper()
	for range n {
		s := &store.Subscription{Channel: "node", User: user, Created: time.Now().UTC()}
		if err := st.CreateSubscription(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubscriptionCapCountsOnlyTheCaller(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{MaxSubscriptionsPerUser: 3}, func(st store.Store) store.Store { return unlistable{st} }, nil)
	alice, bob := e.token("alice"), e.token("bob")
	// bob holds more than the cap (it was lowered, or replicas each let
	// one more through): alice is not charged for them, and bob's
	// answer names how many he holds.
	holdSubscriptions(t, e.store, "bob", 5)
	for range 3 {
		e.do("POST", "/latest/subscribe/node", alice, nil).expect(http.StatusOK)
	}
	e.do("POST", "/latest/subscribe/node", alice, nil).
		expectDetail(http.StatusTooManyRequests, "Too many subscriptions: user alice holds 3, the limit is 3 (KCI_MAX_SUBSCRIPTIONS_PER_USER); unsubscribe unused ones")
	e.do("POST", "/latest/subscribe/node", bob, nil).
		expectDetail(http.StatusTooManyRequests, "Too many subscriptions: user bob holds 5, the limit is 3 (KCI_MAX_SUBSCRIPTIONS_PER_USER); unsubscribe unused ones")
}

// TestSubscriptionCapConcurrent sends concurrent subscribes of a user one
// below the cap: exactly one gets through (the check and the insert are
// made under one lock in the process).
func TestSubscriptionCapConcurrent(t *testing.T) {
	t.Parallel()
	const limit, tries = 3, 8
	e := newEnvWith(t, api.Options{MaxSubscriptionsPerUser: limit}, nil, nil)
	alice := e.token("alice")
	holdSubscriptions(t, e.store, "alice", limit-1)
	statuses := make(chan int, tries)
	var wg sync.WaitGroup
	for range tries {
		wg.Go(func() {
			req, err := http.NewRequest("POST", e.base+"/latest/subscribe/node", nil)
			if err != nil {
				statuses <- 0
				return
			}
			req.Header.Set("Authorization", "Bearer "+alice)
			resp, err := e.client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusOK] != 1 || got[http.StatusTooManyRequests] != tries-1 {
		t.Fatalf("statuses %v, want one 200 and %d 429", got, tries-1)
	}
	if n, err := e.store.CountSubscriptions(context.Background(), "alice"); err != nil || n != limit {
		t.Fatalf("alice holds %d (%v), want %d", n, err, limit)
	}
}
