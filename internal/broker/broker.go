// Package broker wakes goroutines waiting for news of a channel or a
// list: the in-process half of publish/subscribe. It knows nothing of
// the application: a Notification names a channel, a sequence number and
// an owner (or a list), and the Broker closes the wake-up channels of the
// waiters it concerns (every promiscuous waiter, and the waiters of the
// notification's owner, or all waiters when it has none). A waiter takes
// its wake-up channel before it looks for news, so a notification that
// lands between its look and its wait still wakes it. Idle waiters hold
// one Go channel each; there are no per-waiter goroutines or timers.
//
// internal/pubsub builds listening and popping on it (the store is the
// log; the Broker only wakes), and internal/redisbus relays
// notifications between server processes.
package broker

import (
	"context"
	"sync"
	"time"
)

// Notification announces a committed write: the event with sequence id
// Seq appended to the history on Channel (with its Owner, "" for none),
// or, when List is set, an item pushed on that list.
type Notification struct {
	Channel string `json:"channel,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Owner   string `json:"owner,omitempty"`
	List    string `json:"list,omitempty"`
}

// Notifier delivers notifications to every waiter that may care, in this
// process and (for distributed implementations) in the others. Notify
// must not block for long and never fails the write that caused it: a
// lost notification only delays delivery (pub/sub then finds the event
// by polling a shared store or at the waiter's keep-alive re-check).
type Notifier interface {
	Notify(ctx context.Context, ns ...Notification)
}

// Broker is the in-process Notifier: it wakes waiters, nothing else.
type Broker struct {
	mu       sync.Mutex
	epoch    uint64
	channels map[string]*channelWaiters
	lists    map[string]*listWaiters
	now      func() time.Time
}

type channelWaiters struct {
	epoch   uint64
	reached int64                    // highest sequence notified since epoch began
	version uint64                   // notifications received since epoch began
	all     chan struct{}            // promiscuous waiters; nil if none
	users   map[string]chan struct{} // non-promiscuous waiters by user
	used    time.Time
}

type listWaiters struct {
	ch   chan struct{}
	used time.Time
}

var _ Notifier = (*Broker)(nil)

// New returns an empty broker.
func New() *Broker {
	return &Broker{channels: map[string]*channelWaiters{}, lists: map[string]*listWaiters{}, now: time.Now}
}

func (b *Broker) channel(name string) *channelWaiters {
	c := b.channels[name]
	if c == nil {
		b.epoch++
		c = &channelWaiters{epoch: b.epoch}
		b.channels[name] = c
	}
	c.used = b.now()
	return c
}

// Wait returns a channel closed by the next notification on channel that
// a listener of user (all of them when promisc) may see. Take it before
// reading the store.
func (b *Broker) Wait(channel, user string, promisc bool) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channel(channel)
	if promisc {
		if c.all == nil {
			c.all = make(chan struct{})
		}
		return c.all
	}
	if c.users == nil {
		c.users = map[string]chan struct{}{}
	}
	w := c.users[user]
	if w == nil {
		w = make(chan struct{})
		c.users[user] = w
	}
	return w
}

// Reached returns the highest sequence id notified on channel since the
// broker began tracking it, and an epoch that changes whenever tracking
// restarts from zero (after Sweep dropped the channel). The event with
// sequence id seq is committed; with several writers, events with smaller
// ids may still be on their way (a store may hold back what follows a
// gap), so readers must not assume they hold everything up to seq once
// they have read the store.
func (b *Broker) Reached(channel string) (epoch uint64, seq int64) {
	epoch, seq, _ = b.State(channel)
	return epoch, seq
}

// State is Reached plus a version that changes with every notification
// on the channel, even one that does not raise the sequence (an event
// below the highest one becoming visible).
func (b *Broker) State(channel string) (epoch uint64, seq int64, version uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channel(channel)
	return c.epoch, c.reached, c.version
}

// Peek returns the highest sequence notified on channel without
// touching the channel's last use; ok is false when the channel is not
// tracked.
func (b *Broker) Peek(channel string) (seq int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channels[channel]
	if c == nil {
		return 0, false
	}
	return c.reached, true
}

// Waited returns the channels that have a waiting listener now.
func (b *Broker) Waited() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for name, c := range b.channels {
		if c.all != nil || len(c.users) > 0 {
			out = append(out, name)
		}
	}
	return out
}

// WaitList returns a channel closed by the next push on the list.
func (b *Broker) WaitList(name string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lists[name]
	if l == nil {
		l = &listWaiters{ch: make(chan struct{})}
		b.lists[name] = l
	}
	l.used = b.now()
	return l.ch
}

// Notify wakes the waiters the notifications concern.
func (b *Broker) Notify(_ context.Context, ns ...Notification) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range ns {
		if n.List != "" {
			if l := b.lists[n.List]; l != nil {
				close(l.ch)
				delete(b.lists, n.List)
			}
			continue
		}
		c := b.channels[n.Channel]
		if c == nil {
			continue // nobody has waited on it: nothing to wake
		}
		if n.Seq > c.reached {
			c.reached = n.Seq
		}
		c.version++
		if c.all != nil {
			close(c.all)
			c.all = nil
		}
		if n.Owner == "" {
			for u, w := range c.users {
				close(w)
				delete(c.users, u)
			}
		} else if w := c.users[n.Owner]; w != nil {
			close(w)
			delete(c.users, n.Owner)
		}
	}
}

// Sweep forgets channels and lists nobody has waited on or read for
// idle. Waiters must wait for less than idle and take a new wake-up
// channel after each wait.
func (b *Broker) Sweep(idle time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cut := b.now().Add(-idle)
	for name, c := range b.channels {
		if c.used.Before(cut) {
			delete(b.channels, name)
		}
	}
	for name, l := range b.lists {
		if l.used.Before(cut) {
			delete(b.lists, name)
		}
	}
}

// Stats returns how many channels and lists are tracked.
func (b *Broker) Stats() (channels, lists int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.channels), len(b.lists)
}

// Waiting reports whether a waiter of the given kind holds a wake-up
// channel on channel.
func (b *Broker) Waiting(channel, user string, promisc bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.channels[channel]
	if c == nil {
		return false
	}
	if promisc {
		return c.all != nil
	}
	return c.users[user] != nil
}
