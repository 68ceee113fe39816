// Package ratelimit counts failed attempts (logins, password checks) per
// key and blocks a key for the rest of a fixed window once it has failed
// too often. It keeps everything in memory: the limits hold per process.
//
// A key's window starts at its first failure; after Max failures within
// Window the key is blocked until the window ends, then starts afresh.
// Attempts refused while blocked are not counted, so a blocked key is
// never blocked for longer than one window.
package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the number of keys a Limiter tracks.
const DefaultMaxKeys = 100_000

// Limiter counts failures per key. A nil *Limiter, or one with Max <= 0,
// never blocks. It is safe for concurrent use.
type Limiter struct {
	max     int
	window  time.Duration
	now     func() time.Time
	maxKeys int

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	start    time.Time // first failure of the current window
	failures int
}

// New returns a Limiter blocking a key after max failures within window.
// max <= 0 or window <= 0 disables it. now is the clock (nil: time.Now).
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, now: now, maxKeys: DefaultMaxKeys, keys: map[string]*entry{}}
}

func (l *Limiter) disabled() bool { return l == nil || l.max <= 0 || l.window <= 0 }

// Blocked returns how long key stays blocked: 0 when an attempt is
// allowed now.
func (l *Limiter) Blocked(key string) time.Duration {
	if l.disabled() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.current(key, now)
	if e == nil || e.failures < l.max {
		return 0
	}
	return e.start.Add(l.window).Sub(now)
}

// Fail records a failed attempt of key.
func (l *Limiter) Fail(key string) {
	if l.disabled() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.started(key, l.now()); e.failures < math.MaxInt32 {
		e.failures++
	}
}

// TryFail counts an attempt of key as a failure unless key is blocked,
// in one step: concurrent attempts cannot all pass a check made before
// any of them is counted. It returns how long key stays blocked (0: the
// attempt was counted and may go ahead).
func (l *Limiter) TryFail(key string) time.Duration {
	if l.disabled() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.started(key, now)
	if e.failures >= l.max {
		return e.start.Add(l.window).Sub(now)
	}
	e.failures++
	return 0
}

// Unfail takes back one failure of key (an attempt counted beforehand
// that succeeded).
func (l *Limiter) Unfail(key string) {
	if l.disabled() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.current(key, l.now()); e != nil && e.failures > 0 {
		e.failures--
	}
}

// Failing reports whether key has failures in its current window.
func (l *Limiter) Failing(key string) bool {
	if l.disabled() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key, l.now())
	return e != nil && e.failures > 0
}

// Reset forgets the failures of key (after a successful attempt).
func (l *Limiter) Reset(key string) {
	if l.disabled() {
		return
	}
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// current returns key's entry if its window is still open.
func (l *Limiter) current(key string, now time.Time) *entry {
	e := l.keys[key]
	if e == nil {
		return nil
	}
	if !now.Before(e.start.Add(l.window)) || now.Before(e.start) {
		delete(l.keys, key)
		return nil
	}
	return e
}

// started returns key's entry of the current window, starting a window
// (after pruning, when the map is full) if there is none.
func (l *Limiter) started(key string, now time.Time) *entry {
	e := l.current(key, now)
	if e == nil {
		if len(l.keys) >= l.maxKeys {
			l.prune(now)
		}
		e = &entry{start: now}
		l.keys[key] = e
	}
	return e
}

// prune drops expired entries and, if the map is still full, arbitrary
// unblocked ones, then arbitrary ones: memory stays bounded whatever the
// number of distinct keys an attacker makes up.
func (l *Limiter) prune(now time.Time) {
	for k, e := range l.keys {
		if !now.Before(e.start.Add(l.window)) {
			delete(l.keys, k)
		}
	}
	for k, e := range l.keys {
		if len(l.keys) < l.maxKeys*9/10 {
			return
		}
		if e.failures < l.max {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < l.maxKeys*9/10 {
			return
		}
		delete(l.keys, k)
	}
}

// Len is the number of keys tracked (for tests and metrics).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// LoginConfig are the limits on failed logins.
type LoginConfig struct {
	MaxPerUser   int           // failures of one username per window; 0 = no limit
	MaxPerClient int           // failures from one client address per window; 0 = no limit
	Window       time.Duration // the window
	// MaxResetEmails bounds the password reset emails sent to one address
	// per window, so that nobody can flood a mailbox; 0 = no limit.
	MaxResetEmails int
}

// DefaultLoginConfig: 10 failures per username and 50 per client address
// within 15 minutes, and 3 password reset emails per address.
var DefaultLoginConfig = LoginConfig{MaxPerUser: 10, MaxPerClient: 50, Window: 15 * time.Minute, MaxResetEmails: 3}

// Login limits failed password checks per username and per client
// address. A nil *Login never blocks.
type Login struct {
	user, client, reset *Limiter
	// pair counts failures per (username, client) with the per-user
	// limit (Begin).
	pair *Limiter
}

// NewLogin returns a Login limiter with the given limits and clock (nil:
// time.Now).
func NewLogin(c LoginConfig, now func() time.Time) *Login {
	return &Login{
		user:   New(c.MaxPerUser, c.Window, now),
		client: New(c.MaxPerClient, c.Window, now),
		reset:  New(c.MaxResetEmails, c.Window, now),
		pair:   New(c.MaxPerUser, c.Window, now),
	}
}

// Begin counts a login attempt of username from client before its
// password is checked, and returns how long it must wait instead (0: go
// ahead). The rules, which stop guessing without locking the owner out:
//
//   - a client past MaxPerClient failures waits;
//   - a (username, client) pair past MaxPerUser failures waits;
//   - a username past MaxPerUser failures from all clients together
//     makes clients that have failed recently wait, but a client with no
//     recent failure (the owner at their usual machine) goes ahead.
//
// The attempt is counted as a failure at once, so concurrent guesses
// cannot all pass a check made before any is counted; on success call
// Attempt.Succeed, which takes it back.
func (l *Login) Begin(client, username string) (time.Duration, *Attempt) {
	if l == nil {
		return 0, nil
	}
	ck, uk := ClientKey(client), userKey(username)
	pk := uk + "|" + ck
	if w := l.client.Blocked(ck); w > 0 {
		return w, nil
	}
	if l.client.Failing(ck) {
		if w := l.user.Blocked(uk); w > 0 {
			return w, nil
		}
	}
	if w := l.pair.TryFail(pk); w > 0 {
		return w, nil
	}
	if w := l.client.TryFail(ck); w > 0 {
		l.pair.Unfail(pk)
		return w, nil
	}
	l.user.Fail(uk)
	return 0, &Attempt{l: l, ck: ck, uk: uk, pk: pk}
}

// Attempt is a login attempt counted by Begin.
type Attempt struct {
	l          *Login
	ck, uk, pk string
}

// Succeed takes back the attempt's failure and clears those of its
// username: a good password ends the guessing of this account.
func (a *Attempt) Succeed() {
	if a == nil {
		return
	}
	a.l.client.Unfail(a.ck)
	a.l.user.Reset(a.uk)
	a.l.pair.Reset(a.pk)
}

// Check returns how long an attempt for username from client must wait:
// 0 when it may go ahead.
func (l *Login) Check(client, username string) time.Duration {
	if l == nil {
		return 0
	}
	return max(l.user.Blocked(userKey(username)), l.client.Blocked(ClientKey(client)))
}

// Fail records a failed attempt.
func (l *Login) Fail(client, username string) {
	if l == nil {
		return
	}
	l.user.Fail(userKey(username))
	l.client.Fail(ClientKey(client))
}

// Succeed clears the failures of username. Those of the client stay: one
// good account must not let a client go on guessing the others.
func (l *Login) Succeed(username string) {
	if l == nil {
		return
	}
	l.user.Reset(userKey(username))
}

// ResetEmail reports whether a password reset email may go to addr now,
// and counts it.
func (l *Login) ResetEmail(addr string) bool {
	if l == nil {
		return true
	}
	k := userKey(strings.ToLower(addr))
	if l.reset.Blocked(k) > 0 {
		return false
	}
	l.reset.Fail(k)
	return true
}

// userKey bounds the memory a key takes: a long name (anyone can send
// one) is kept as its SHA-256.
func userKey(name string) string {
	if len(name) <= 128 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ClientKey normalises a client address: an IPv6 address counts as its
// /64 (one end site usually holds a whole /64), an IPv4-mapped IPv6
// address as the IPv4 address. Anything unparsable is used as is.
func ClientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
