package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
)

// TestAuthCacheDoesNotOutliveRevocation: with the authentication cache
// on and a clock that never moves (so no entry ever expires), every way
// of ending or narrowing a credential through the API holds at the very
// next request of this server, and of another server over the same
// store that this one tells through Options.OnAuthChange (what the Redis
// relay does between replicas).
func TestAuthCacheDoesNotOutliveRevocation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var other *api.Server
	var told atomic.Int64
	e := newEnvWith(t, api.Options{AuthCacheTTL: time.Hour, Now: clock.Now, OnAuthChange: func(context.Context) {
		told.Add(1)
		other.InvalidateAuthCache()
	}}, nil, nil)
	other = api.New(e.store, e.tokens, api.Options{AuthCacheTTL: time.Hour, Now: clock.Now}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	srvB := httptest.NewServer(other)
	t.Cleanup(srvB.Close)
	b := &env{t: t, base: srvB.URL, client: srvB.Client(), store: e.store, tokens: e.tokens}
	admin := e.token("root", superuser)
	alice := e.addUser("alice", inGroups("lab-a"))
	changes := []struct {
		name string
		cred func() string // a credential, used once (cached) before the change
		// change ends it; want is the status of GET /whoami after.
		change func(cred string)
		want   int
	}{
		{"logout", func() string { return e.login("alice") }, func(c string) {
			e.do("POST", "/latest/user/logout", c, nil).expect(http.StatusNoContent)
		}, http.StatusUnauthorized},
		{"admin revocation", func() string { return e.login("alice") }, func(string) {
			e.do("POST", "/latest/user/"+alice.ID.String()+"/logout", admin, nil).expect(http.StatusNoContent)
		}, http.StatusUnauthorized},
		{"password change", func() string { return e.login("alice") }, func(string) {
			e.postForm("/latest/user/update-password", url.Values{"username": {"alice"}, "password": {testPassword},
				"new_password": {testPassword}}).expect(http.StatusOK)
		}, http.StatusUnauthorized},
		{"deactivation", func() string { return e.login("alice") }, func(string) {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": false}).expect(http.StatusOK)
		}, http.StatusUnauthorized},
		{"API token revoked", func() string {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": true}).expect(http.StatusOK)
			return secretOf(e.newToken(e.login("alice"), "ci", "read"))
		}, func(c string) {
			id := e.do("GET", "/latest/user/tokens", e.login("alice"), nil).expect(http.StatusOK).list()[0].(map[string]any)["id"].(string)
			e.do("DELETE", "/latest/user/tokens/"+id, admin, nil).expect(http.StatusNoContent)
		}, http.StatusUnauthorized},
		{"API token's user deactivated", func() string { return secretOf(e.newToken(e.login("alice"), "ci2", "read")) }, func(string) {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": false}).expect(http.StatusOK)
		}, http.StatusUnauthorized},
		{"user deleted", func() string {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": true}).expect(http.StatusOK)
			return e.login("alice")
		}, func(string) {
			e.do("DELETE", "/latest/user/"+alice.ID.String(), admin, nil).expect(http.StatusNoContent)
		}, http.StatusUnauthorized},
	}
	for _, c := range changes {
		cred := c.cred()
		for _, srv := range []*env{e, b} {
			srv.do("GET", "/latest/whoami", cred, nil).expect(http.StatusOK)
			srv.do("GET", "/latest/whoami", cred, nil).expect(http.StatusOK) // from the cache
		}
		before := told.Load()
		c.change(cred)
		if told.Load() == before {
			t.Errorf("%s: the other servers were not told", c.name)
		}
		for _, srv := range []*env{e, b} {
			if r := srv.do("GET", "/latest/whoami", cred, nil); r.status != c.want {
				t.Errorf("%s: GET /whoami on %s answers %d after it, want %d", c.name, srv.base, r.status, c.want)
			}
		}
	}
	// Groups: the user seen by the next request is the changed one.
	bob := e.addUser("bob", inGroups("lab-b"))
	tok := e.login("bob")
	for _, srv := range []*env{e, b} {
		if g := srv.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK).object()["groups"].([]any); len(g) != 1 {
			t.Fatalf("bob's groups: %v", g)
		}
	}
	e.do("PATCH", "/latest/user/"+bob.ID.String(), admin, map[string]any{"groups": []string{}}).expect(http.StatusOK)
	for _, srv := range []*env{e, b} {
		if g := srv.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK).object()["groups"].([]any); len(g) != 0 {
			t.Errorf("bob's groups on %s after their removal: %v (a stale cached user)", srv.base, g)
		}
	}
	// Deleting a group tells the others too.
	g := e.do("POST", "/latest/user-groups", admin, map[string]any{"name": "short-lived"}).expect(http.StatusOK).object()
	before := told.Load()
	e.do("DELETE", "/latest/user-groups/"+g["id"].(string), admin, nil).expect(http.StatusNoContent)
	if told.Load() == before {
		t.Error("group deletion: the other servers were not told")
	}
}

// TestAuthCacheExpiry: an entry lasts AuthCacheTTL on the server's clock
// and never past the credential's own expiry (an API token expiring
// before the TTL).
func TestAuthCacheExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEnvWith(t, api.Options{AuthCacheTTL: 72 * time.Hour, Now: clock.Now}, nil, nil)
	jwt := e.token("lab")
	tok := e.do("POST", "/latest/user/tokens", jwt, map[string]any{"name": "short", "scopes": []string{"read"},
		"expires_in_days": 1}).expect(http.StatusCreated).object()["token"].(string)
	e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK)
	clock.Advance(24*time.Hour + time.Second)
	e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusUnauthorized)
	e.do("GET", "/latest/whoami", jwt, nil).expect(http.StatusOK)
}
