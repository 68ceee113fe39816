package pubsub

import (
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// subCache keeps the subscriptions this process has served, so that a
// listen costs no read of the store: only the cursor move it makes (one
// batched write per delivered event). The store stays the truth: every
// cursor move is a compare-and-set on the stored cursor, and an entry is
// dropped whenever the store disagrees (another process moved the cursor
// or deleted the subscription) and on every maintenance pass, so a
// subscription deleted elsewhere is noticed within a minute.
type subCache struct {
	mu sync.Mutex
	m  map[int64]*cachedSub
}

type cachedSub struct {
	sub store.Subscription
	// The durable subscriber state was last acknowledged at acked, at
	// ackedAt (zero: not by this process).
	acked   int64
	ackedAt time.Time
}

func (c *subCache) get(id int64) (store.Subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	if e == nil {
		return store.Subscription{}, false
	}
	return e.sub, true
}

// put remembers sub; cursors only move forward, so an older copy never
// replaces a newer one.
func (c *subCache) put(sub store.Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int64]*cachedSub{}
	}
	e := c.m[sub.ID]
	if e == nil {
		c.m[sub.ID] = &cachedSub{sub: sub}
		return
	}
	if sub.Cursor >= e.sub.Cursor {
		e.sub.Cursor = sub.Cursor
	}
	if sub.LastPoll != nil && (e.sub.LastPoll == nil || sub.LastPoll.After(*e.sub.LastPoll)) {
		e.sub.LastPoll = sub.LastPoll
	}
}

// moved records a cursor move (or a poll, with the same cursor).
func (c *subCache) moved(id, cursor int64, poll time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[id]; e != nil {
		e.sub.Cursor = max(e.sub.Cursor, cursor)
		e.sub.LastPoll = &poll
	}
}

// needsAck says whether the durable state must be acknowledged at
// cursor now: not if this process did it at the same cursor recently.
func (c *subCache) needsAck(id, cursor int64, now time.Time, every time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	return e == nil || e.ackedAt.IsZero() || e.acked != cursor || now.Sub(e.ackedAt) >= every
}

func (c *subCache) acked(id, cursor int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[id]; e != nil {
		e.acked, e.ackedAt = cursor, now
	}
}

func (c *subCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *subCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
