package store

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// Commits is what a backend embeds to keep the Events.OnCommit functions
// and the Events.IDRetries counts: it calls Announce once a write that
// appended events has committed, and counts each id retry.
type Commits struct {
	mu  sync.Mutex
	fns atomic.Pointer[[]CommitFunc]

	seqRetries, subRetries atomic.Int64
}

// OnCommit adds fn (see Events.OnCommit).
func (c *Commits) OnCommit(fn CommitFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var fns []CommitFunc
	if p := c.fns.Load(); p != nil {
		fns = append(fns, *p...)
	}
	fns = append(fns, fn)
	c.fns.Store(&fns)
}

// Announce calls the OnCommit functions with evs, which a write has just
// committed; nothing when evs is empty.
func (c *Commits) Announce(ctx context.Context, evs []*model.Event) {
	if len(evs) == 0 {
		return
	}
	p := c.fns.Load()
	if p == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // committed: announce even if the request is going away
	for _, fn := range *p {
		fn(ctx, evs)
	}
}

// SequenceRetried counts a sequence_id found taken and allocated again.
func (c *Commits) SequenceRetried() { c.seqRetries.Add(1) }

// SubscriptionRetried counts a subscription id found taken and allocated
// again.
func (c *Commits) SubscriptionRetried() { c.subRetries.Add(1) }

// IDRetries returns the counts (see Events.IDRetries).
func (c *Commits) IDRetries() IDRetries {
	return IDRetries{Sequence: c.seqRetries.Load(), Subscription: c.subRetries.Load()}
}
