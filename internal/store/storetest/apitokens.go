package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runAPITokens is the contract of store.APITokens.
func runAPITokens(t *testing.T, newStore Factory) {
	st := newStore(t)
	ctx := context.Background()
	alice, bob := objectid.New(), objectid.New()
	exp := base.Add(90 * 24 * time.Hour)
	mk := func(user objectid.ID, name string, mod ...func(*store.APIToken)) *store.APIToken {
		tok := &store.APIToken{UserID: user, Name: name, Scopes: []string{"read", "node:write:lava-a"},
			Prefix: "kci_" + name, Hash: fmt.Sprintf("%s-%s", user, name), Created: base}
		for _, m := range mod {
			m(tok)
		}
		return tok
	}
	a1 := mk(alice, "lab-a", func(t *store.APIToken) { t.Expires = &exp })
	a2 := mk(alice, "ci")
	b1 := mk(bob, "lab-a") // the same name for another user is fine
	for _, tok := range []*store.APIToken{a1, a2, b1} {
		if err := st.InsertAPIToken(ctx, tok); err != nil {
			t.Fatalf("insert %s: %v", tok.Name, err)
		}
		if tok.ID.IsZero() {
			t.Fatalf("insert %s: no id assigned", tok.Name)
		}
	}

	t.Run("Conflicts", func(t *testing.T) {
		if err := st.InsertAPIToken(ctx, mk(alice, "lab-a", func(t *store.APIToken) { t.Hash = "other" })); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same name for the same user: %v, want ErrConflict", err)
		}
		if err := st.InsertAPIToken(ctx, mk(alice, "other", func(t *store.APIToken) { t.Hash = a1.Hash })); !errors.Is(err, store.ErrConflict) {
			t.Errorf("same hash: %v, want ErrConflict", err)
		}
	})

	t.Run("Get", func(t *testing.T) {
		got, err := st.GetAPIToken(ctx, a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameToken(t, got, a1)
		got, err = st.GetAPITokenByHash(ctx, a2.Hash)
		if err != nil {
			t.Fatal(err)
		}
		sameToken(t, got, a2)
		if _, err := st.GetAPITokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown hash: %v, want ErrNotFound", err)
		}
		if _, err := st.GetAPIToken(ctx, objectid.New()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		mine, err := st.ListAPITokens(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if got := tokenNames(mine); !slices.Equal(got, []string{"lab-a", "ci"}) {
			t.Errorf("alice's tokens: %v", got)
		}
		all, err := st.ListAPITokens(ctx, objectid.ID{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 {
			t.Errorf("all tokens: %d, want 3", len(all))
		}
		none, err := st.ListAPITokens(ctx, objectid.New())
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("tokens of a user with none: %v, %v; want an empty list", none, err)
		}
	})

	t.Run("Touch", func(t *testing.T) {
		used := base.Add(time.Hour)
		if err := st.TouchAPIToken(ctx, a2.ID, used); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetAPIToken(ctx, a2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsed == nil || !got.LastUsed.Equal(used) {
			t.Errorf("last used %v, want %v", got.LastUsed, used)
		}
		if err := st.TouchAPIToken(ctx, objectid.New(), used); err != nil {
			t.Errorf("touch of a deleted token: %v, want nil", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := st.DeleteAPIToken(ctx, a1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetAPITokenByHash(ctx, a1.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked token still found: %v", err)
		}
		if err := st.DeleteAPIToken(ctx, a1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
		// The name is free again.
		if err := st.InsertAPIToken(ctx, mk(alice, "lab-a", func(t *store.APIToken) { t.Hash = "new-hash" })); err != nil {
			t.Errorf("reuse of a revoked token's name: %v", err)
		}
		n, err := st.DeleteUserAPITokens(ctx, alice)
		if err != nil || n != 2 {
			t.Errorf("delete alice's tokens: %d, %v; want 2", n, err)
		}
		left, err := st.ListAPITokens(ctx, objectid.ID{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tokenNames(left); !slices.Equal(got, []string{"lab-a"}) || left[0].UserID != bob {
			t.Errorf("tokens left: %v, want bob's lab-a", got)
		}
	})
}

func tokenNames(ts []*store.APIToken) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func sameToken(t *testing.T, got, want *store.APIToken) {
	t.Helper()
	eqTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name || got.Prefix != want.Prefix ||
		got.Hash != want.Hash || !slices.Equal(got.Scopes, want.Scopes) || !got.Created.Equal(want.Created) ||
		!eqTime(got.Expires, want.Expires) || !eqTime(got.LastUsed, want.LastUsed) {
		t.Errorf("got token %+v, want %+v", got, want)
	}
	if got.Created.Location() != time.UTC {
		t.Errorf("created %v is not in UTC", got.Created)
	}
}
