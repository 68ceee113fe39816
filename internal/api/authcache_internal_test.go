package api

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
)

// loader returns a load function answering user u and counting calls.
func loader(u *model.User, until time.Time, calls *int) func(context.Context) (*model.User, auth.Scopes, time.Time, error) {
	return func(context.Context) (*model.User, auth.Scopes, time.Time, error) {
		*calls++
		return u, auth.Full, until, nil
	}
}

func TestAuthCacheEntryEndsWithTheCredential(t *testing.T) {
	c := newAuthCache(time.Hour, 10)
	now := time.Now()
	calls := 0
	load := loader(&model.User{Username: "a"}, now.Add(time.Second), &calls)
	ctx := context.Background()
	for _, at := range []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond} {
		if _, _, err := c.authenticate(ctx, "tok", now.Add(at), load); err != nil {
			t.Fatal(err)
		}
	}
	// Read at 0, cached at 0.5 s, read again past the token's expiry.
	if calls != 2 {
		t.Errorf("%d reads, want 2: the entry outlived the credential's expiry or was not kept", calls)
	}
}

// TestAuthCacheReadRacingARevocation: a read of the store that started
// before a revocation is neither kept nor shared with requests made after
// the revocation returned.
func TestAuthCacheReadRacingARevocation(t *testing.T) {
	c := newAuthCache(time.Hour, 10)
	now := time.Now()
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan *model.User)
	go func() {
		u, _, _ := c.authenticate(ctx, "tok", now, func(context.Context) (*model.User, auth.Scopes, time.Time, error) {
			close(started)
			<-release // the store read, before the revocation
			return &model.User{Username: "old"}, auth.Full, time.Time{}, nil
		})
		done <- u
	}()
	<-started
	c.invalidate() // the revocation's write has returned
	calls := 0
	// Without the fix this request waits for the racing read: the
	// deadline (a guard, not a measure) makes that a failure, not a hang.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u, _, err := c.authenticate(wctx, "tok", now, loader(nil, time.Time{}, &calls))
	if err != nil {
		close(release)
		t.Fatalf("a request after the revocation waited for a read made before it: %v", err)
	}
	if calls != 1 || u != nil {
		t.Fatalf("a request after the revocation got %v with %d reads; want its own read (refused)", u, calls)
	}
	close(release)
	if u := <-done; u == nil || u.Username != "old" {
		t.Fatalf("the racing request got %v", u)
	}
	if u, _, ok := c.get("tok", now); ok {
		t.Errorf("the read made before the revocation was cached: %v", u)
	}
}

func TestAuthCacheBounded(t *testing.T) {
	c := newAuthCache(time.Hour, 3)
	now := time.Now()
	calls := 0
	for _, tok := range []string{"a", "b", "c", "d", "e"} {
		if _, _, err := c.authenticate(context.Background(), tok, now, loader(&model.User{Username: tok}, time.Time{}, &calls)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > 3 {
		t.Errorf("%d entries, bound 3", len(c.m))
	}
	if _, _, ok := c.get("e", now); !ok {
		t.Error("the newest entry is not cached")
	}
}

// TestAuthCacheHandsOutCopies: a handler changing its user does not
// change the cached one.
func TestAuthCacheHandsOutCopies(t *testing.T) {
	c := newAuthCache(time.Hour, 3)
	now := time.Now()
	calls := 0
	u, _, _ := c.authenticate(context.Background(), "t", now, loader(&model.User{Username: "a", Groups: []model.Group{{Name: "g"}}}, time.Time{}, &calls))
	u.Username, u.Groups[0].Name = "changed", "changed"
	v, _, ok := c.get("t", now)
	if !ok || v.Username != "a" || v.Groups[0].Name != "g" {
		t.Errorf("cached user changed through a copy: %+v", v)
	}
}
