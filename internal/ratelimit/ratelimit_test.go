package ratelimit

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable fake time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiterBlocksAfterMaxFailures(t *testing.T) {
	c := newClock()
	l := New(3, time.Minute, c.now)
	for i := range 3 {
		if d := l.Blocked("k"); d != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("k")
		c.add(time.Second)
	}
	// Three failures at t0, t0+1s, t0+2s; now t0+3s: blocked until t0+60s.
	if d := l.Blocked("k"); d != 57*time.Second {
		t.Fatalf("Blocked = %v, want 57s", d)
	}
	if d := l.Blocked("other"); d != 0 {
		t.Fatalf("another key is blocked: %v", d)
	}
	// Attempts while blocked do not extend the block.
	l.Fail("k")
	c.add(56 * time.Second)
	if d := l.Blocked("k"); d != time.Second {
		t.Fatalf("Blocked = %v, want 1s", d)
	}
	c.add(time.Second)
	if d := l.Blocked("k"); d != 0 {
		t.Fatalf("still blocked at the end of the window: %v", d)
	}
	// A new window starts from scratch.
	l.Fail("k")
	if d := l.Blocked("k"); d != 0 {
		t.Fatalf("blocked after one failure of a new window: %v", d)
	}
}

func TestLimiterWindowExpiresUnblocked(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.now)
	l.Fail("k")
	c.add(time.Minute)
	l.Fail("k") // the first failure's window is over
	if d := l.Blocked("k"); d != 0 {
		t.Fatalf("blocked by failures of two windows: %v", d)
	}
}

func TestLimiterReset(t *testing.T) {
	c := newClock()
	l := New(1, time.Minute, c.now)
	l.Fail("k")
	if l.Blocked("k") == 0 {
		t.Fatal("not blocked")
	}
	l.Reset("k")
	if d := l.Blocked("k"); d != 0 {
		t.Fatalf("blocked after Reset: %v", d)
	}
}

func TestLimiterDisabled(t *testing.T) {
	for name, l := range map[string]*Limiter{
		"nil":          nil,
		"max 0":        New(0, time.Minute, nil),
		"no window":    New(3, 0, nil),
		"negative max": New(-1, time.Minute, nil),
	} {
		t.Run(name, func(t *testing.T) {
			for range 100 {
				l.Fail("k")
			}
			if d := l.Blocked("k"); d != 0 {
				t.Fatalf("disabled limiter blocks: %v", d)
			}
			l.Reset("k")
			if n := l.Len(); n != 0 {
				t.Fatalf("disabled limiter tracks %d keys", n)
			}
		})
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	c := newClock()
	l := New(3, time.Minute, c.now)
	l.maxKeys = 100
	// A blocked key made early survives pruning as long as unblocked
	// ones can go first.
	for range 3 {
		l.Fail("victim")
	}
	for i := range 1000 {
		l.Fail(fmt.Sprint("junk-", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d keys tracked, limit 100", n)
		}
	}
	if l.Blocked("victim") == 0 {
		t.Fatal("a blocked key was pruned before unblocked ones")
	}
	c.add(time.Minute)
	l.Fail("fresh")
	if l.Blocked("victim") != 0 {
		t.Fatal("victim still blocked after its window")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := New(1000, time.Minute, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				k := fmt.Sprint(i, "-", j%10)
				l.Fail(k)
				l.Blocked(k)
				if j%50 == 0 {
					l.Reset(k)
				}
			}
		})
	}
	wg.Wait()
}

func TestLogin(t *testing.T) {
	c := newClock()
	l := NewLogin(LoginConfig{MaxPerUser: 2, MaxPerClient: 3, Window: time.Minute}, c.now)

	// Per username, whatever the client.
	l.Fail("192.0.2.1", "alice")
	l.Fail("192.0.2.2", "alice")
	if l.Check("192.0.2.3", "alice") == 0 {
		t.Fatal("alice not blocked after 2 failures from two clients")
	}
	if l.Check("192.0.2.3", "bob") != 0 {
		t.Fatal("bob blocked")
	}
	// Success clears the username, not the client.
	l.Succeed("alice")
	if l.Check("192.0.2.3", "alice") != 0 {
		t.Fatal("alice still blocked after a success")
	}

	// Per client, whatever the username.
	l.Fail("198.51.100.7", "u1")
	l.Fail("198.51.100.7", "u2")
	l.Fail("198.51.100.7", "u3")
	if d := l.Check("198.51.100.7", "u4"); d != time.Minute {
		t.Fatalf("client not blocked: %v", d)
	}
	l.Succeed("u4")
	if l.Check("198.51.100.7", "u4") == 0 {
		t.Fatal("a success cleared the client")
	}

	// IPv6 clients count per /64.
	l.Fail("2001:db8:1:2::1", "a")
	l.Fail("2001:db8:1:2::ffff", "b")
	l.Fail("2001:db8:1:2:aaaa::1", "c")
	if l.Check("2001:db8:1:2::99", "d") == 0 {
		t.Fatal("the /64 is not blocked")
	}
	if l.Check("2001:db8:1:3::1", "d") != 0 {
		t.Fatal("another /64 is blocked")
	}

	var nilLogin *Login
	nilLogin.Fail("x", "y")
	nilLogin.Succeed("y")
	if nilLogin.Check("x", "y") != 0 {
		t.Fatal("nil Login blocks")
	}
}

func TestLongUsernamesAreHashed(t *testing.T) {
	c := newClock()
	l := NewLogin(LoginConfig{MaxPerUser: 1, Window: time.Minute}, c.now)
	long := strings.Repeat("x", 1<<20)
	l.Fail("192.0.2.1", long)
	if l.Check("192.0.2.1", long) == 0 {
		t.Fatal("a long username is not limited")
	}
	if l.Check("192.0.2.1", long+"y") != 0 {
		t.Fatal("another long username is limited")
	}
	for k := range l.user.keys {
		if len(k) > 128 {
			t.Fatalf("a key of %d bytes is kept", len(k))
		}
	}
}

func TestResetEmails(t *testing.T) {
	c := newClock()
	l := NewLogin(LoginConfig{MaxResetEmails: 2, Window: time.Hour}, c.now)
	if !l.ResetEmail("a@example.org") || !l.ResetEmail("A@Example.org") {
		t.Fatal("first two emails refused")
	}
	if l.ResetEmail("a@example.org") {
		t.Fatal("third email within the window allowed")
	}
	if !l.ResetEmail("b@example.org") {
		t.Fatal("another address refused")
	}
	c.add(time.Hour)
	if !l.ResetEmail("a@example.org") {
		t.Fatal("refused after the window")
	}
	var nl *Login
	if !nl.ResetEmail("a@example.org") {
		t.Fatal("nil Login refuses")
	}
	if off := NewLogin(LoginConfig{Window: time.Hour}, c.now); !off.ResetEmail("a") || !off.ResetEmail("a") || !off.ResetEmail("a") {
		t.Fatal("no limit configured, yet refused")
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "192.0.2.1",
		"::ffff:192.0.2.1": "192.0.2.1",
		"2001:db8::1":      "2001:db8::/64",
		"fe80::1%eth0":     "fe80::/64",
		"not an address":   "not an address",
		"":                 "",
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginBeginCountsBeforeThePasswordCheck(t *testing.T) {
	l := NewLogin(LoginConfig{MaxPerUser: 10, MaxPerClient: 1000, Window: time.Minute}, nil)
	var wg sync.WaitGroup
	var passed atomic.Int64
	start := make(chan struct{})
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if w, _ := l.Begin("192.0.2.1", "alice"); w == 0 {
				passed.Add(1) // the password would be checked here, and fail
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := passed.Load(); n != 10 {
		t.Fatalf("%d of 20 concurrent guesses reached the password check, want 10", n)
	}
}

func TestLoginGuessingDoesNotLockTheOwnerOut(t *testing.T) {
	l := NewLogin(LoginConfig{MaxPerUser: 10, MaxPerClient: 50, Window: 15 * time.Minute}, nil)
	for i := 0; i < 10; i++ {
		if w, _ := l.Begin("203.0.113.7", "alice"); w != 0 {
			t.Fatalf("guess %d refused early", i)
		}
	}
	if w, _ := l.Begin("203.0.113.7", "alice"); w == 0 {
		t.Fatal("the guessing client goes on")
	}
	// The owner, from a client with no recent failures, logs in.
	w, a := l.Begin("198.51.100.1", "alice")
	if w != 0 {
		t.Fatalf("the owner is locked out for %v", w)
	}
	a.Succeed()
	// A second attacker that already failed elsewhere gets no guess at
	// the account the first one made hot...
	for i := 0; i < 10; i++ {
		l.Begin("203.0.113.9", "bob")
	}
	for i := 0; i < 10; i++ {
		l.Begin("203.0.113.7", "alice") // refused: counts nothing
	}
	for i := 0; i < 10; i++ {
		l.Begin("203.0.113.8", "alice")
	}
	if w, _ := l.Begin("203.0.113.9", "alice"); w == 0 {
		t.Fatal("a client with recent failures guessed at an account past its limit")
	}
	// ...and the owner still gets in from a clean client.
	if w, _ := l.Begin("198.51.100.2", "alice"); w != 0 {
		t.Fatalf("the owner is locked out for %v", w)
	}
	// A success takes its own attempt back from the client's count.
	l2 := NewLogin(LoginConfig{MaxPerUser: 10, MaxPerClient: 2, Window: time.Minute}, nil)
	for i := 0; i < 5; i++ {
		w, a := l2.Begin("192.0.2.5", "carol")
		if w != 0 {
			t.Fatalf("successful login %d refused", i)
		}
		a.Succeed()
	}
}
