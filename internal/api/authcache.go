package api

// The authentication cache: every authenticated request used to verify
// its JWT (or hash its API token) and read its user from the store. A
// listener makes one request per event, so with a thousand listeners
// that was a thousand store reads per event, a third of the server's CPU
// (docs/performance.md, "Listener fan-out"). The cache keeps, per
// credential, the outcome of a successful authentication for a short
// time.
//
// What it must never do is let a credential live on after it was ended:
//
//   - On this process, every store write that can end or narrow a
//     credential (UpdateUser: password change, deactivation, logout,
//     revocation, groups; DeleteUser; DeleteGroup; DeleteAPIToken;
//     DeleteUserAPITokens) goes through authWatch, which moves the cache's
//     epoch on once the write has returned: entries of an older epoch are
//     misses, so the next request reads the store again. An entry is
//     tagged with the epoch read before its store read, so a read that
//     raced with such a write is never kept.
//   - Each of those writes also calls Options.OnAuthChange, which in the
//     production multi-replica setup (MongoDB and REDIS_HOST) PUBLISHes
//     an invalidation over Redis before the write is answered; the other
//     replicas' relays call Server.InvalidateAuthCache when it arrives
//     (redisbus.Relay), and when their subscription comes back after a
//     loss (invalidations may have been missed meanwhile).
//   - Whatever else happens (no Redis, Redis down, a lost message, a
//     write by another process such as kernelci-api admin), an entry
//     lives at most AuthCacheTTL (default 500 ms), so a credential ended
//     anywhere is refused everywhere within a second.
//   - An entry never outlives its credential's own expiry (JWT exp, API
//     token expires).
//
// Only successful authentications are cached; a refused credential is
// checked in full every time, as before.

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Defaults of Options.AuthCacheTTL and Options.AuthCacheSize.
const (
	DefaultAuthCacheTTL  = 500 * time.Millisecond
	DefaultAuthCacheSize = 10000
)

type authCache struct {
	ttl   time.Duration // <= 0: off
	max   int
	epoch atomic.Uint64

	mu      sync.Mutex
	m       map[string]*authEntry
	loading map[string]*authLoad // one store read per credential at a time
}

type authEntry struct {
	user    *model.User // never handed out: callers get copies
	scopes  auth.Scopes
	epoch   uint64
	expires time.Time
}

// authLoad is an authentication in progress that others wait for.
type authLoad struct {
	done   chan struct{}
	user   *model.User
	scopes auth.Scopes
	err    error
}

func newAuthCache(ttl time.Duration, size int) *authCache {
	return &authCache{ttl: ttl, max: size, m: map[string]*authEntry{}, loading: map[string]*authLoad{}}
}

// invalidate drops every entry: called after each write that may end or
// narrow a credential.
func (c *authCache) invalidate() {
	c.epoch.Add(1)
	c.mu.Lock()
	clear(c.m)
	// Reads in flight may have read the store before the write: later
	// requests must not wait for them but read again.
	clear(c.loading)
	c.mu.Unlock()
}

// get returns a copy of the cached user of tok, if any is valid at now.
func (c *authCache) get(tok string, now time.Time) (*model.User, auth.Scopes, bool) {
	c.mu.Lock()
	e := c.m[tok]
	c.mu.Unlock()
	if e == nil || e.epoch != c.epoch.Load() || !now.Before(e.expires) {
		return nil, auth.Scopes{}, false
	}
	return copyUser(e.user), e.scopes, true
}

// authenticate returns the cached authentication of tok or computes it
// with load (once for all concurrent requests of the same credential)
// and caches a success until min(now + ttl, until). A refusal (nil user)
// or an error is not cached.
func (c *authCache) authenticate(ctx context.Context, tok string, now time.Time,
	load func(ctx context.Context) (*model.User, auth.Scopes, time.Time, error)) (*model.User, auth.Scopes, error) {
	if c.ttl <= 0 {
		u, sc, _, err := load(ctx)
		return u, sc, err
	}
	if u, sc, ok := c.get(tok, now); ok {
		return u, sc, nil
	}
	c.mu.Lock()
	if l := c.loading[tok]; l != nil {
		c.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, auth.Scopes{}, ctx.Err()
		}
		if l.err != nil || l.user == nil {
			return nil, l.scopes, l.err
		}
		return copyUser(l.user), l.scopes, nil
	}
	l := &authLoad{done: make(chan struct{})}
	c.loading[tok] = l
	c.mu.Unlock()
	epoch := c.epoch.Load() // before the store read: a write after it moves the epoch
	var until time.Time
	// The waiters share this read: it must not end with this request.
	l.user, l.scopes, until, l.err = load(context.WithoutCancel(ctx))
	c.mu.Lock()
	if c.loading[tok] == l {
		delete(c.loading, tok)
	}
	if l.err == nil && l.user != nil && epoch == c.epoch.Load() {
		exp := now.Add(c.ttl)
		if !until.IsZero() && until.Before(exp) {
			exp = until
		}
		if len(c.m) >= c.max {
			c.evict(now)
		}
		c.m[tok] = &authEntry{user: copyUser(l.user), scopes: l.scopes, epoch: epoch, expires: exp}
	}
	c.mu.Unlock()
	close(l.done)
	if l.err != nil || l.user == nil {
		return nil, l.scopes, l.err
	}
	return copyUser(l.user), l.scopes, nil
}

// evict makes room for one entry: the expired ones go, else any one
// (c.mu held).
func (c *authCache) evict(now time.Time) {
	epoch := c.epoch.Load()
	for k, e := range c.m {
		if e.epoch != epoch || !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max {
			return
		}
		delete(c.m, k)
	}
}

// copyUser copies u deeply enough that a handler may change its copy.
func copyUser(u *model.User) *model.User {
	cp := *u
	cp.Groups = slices.Clone(u.Groups)
	cp.PastUsernames = slices.Clone(u.PastUsernames)
	return &cp
}

// authWatch is the Server's store: the store itself, with the writes
// that may end or narrow a credential invalidating the cache once they
// return (whether they succeeded or not: a failed write may still have
// committed), then telling the other replicas (changed, may be nil).
type authWatch struct {
	store.Store
	c       *authCache
	changed func(context.Context)
}

// done invalidates the cache after a write, here and on the others.
func (w authWatch) done(ctx context.Context) {
	w.c.invalidate()
	if w.changed != nil {
		w.changed(ctx)
	}
}

func (w authWatch) UpdateUser(ctx context.Context, u *model.User) error {
	defer w.done(ctx)
	return w.Store.UpdateUser(ctx, u)
}

func (w authWatch) DeleteUser(ctx context.Context, id objectid.ID) error {
	defer w.done(ctx)
	return w.Store.DeleteUser(ctx, id)
}

func (w authWatch) DeleteGroup(ctx context.Context, id objectid.ID) error {
	defer w.done(ctx)
	return w.Store.DeleteGroup(ctx, id)
}

func (w authWatch) DeleteAPIToken(ctx context.Context, id objectid.ID) error {
	defer w.done(ctx)
	return w.Store.DeleteAPIToken(ctx, id)
}

func (w authWatch) DeleteUserAPITokens(ctx context.Context, userID objectid.ID) (int64, error) {
	defer w.done(ctx)
	return w.Store.DeleteUserAPITokens(ctx, userID)
}

// InvalidateAuthCache empties the authentication cache: the next request
// of every credential reads the store. The Redis relay calls it when
// another replica reports a write that may end or narrow a credential
// (Options.OnAuthChange there).
func (s *Server) InvalidateAuthCache() { s.auth.invalidate() }
