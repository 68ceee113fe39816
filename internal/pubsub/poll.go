package pubsub

import (
	"context"
	"time"
)

// HeadReader reads a store that several server processes share
// (MongoDB; pubsub.Options.Heads): another process's writes are
// announced by its own store, not this one, so this process's listeners
// learn about them from a relay (Redis) or, failing that, by polling the
// store with ChannelHeads.
type HeadReader interface {
	// ChannelHeads returns, for each of the channels, the highest
	// sequence id of an event that EventsAfter can return now (0, or no
	// entry, when there is none).
	ChannelHeads(ctx context.Context, channels []string) (map[string]int64, error)
}

// BlockingLists are lists that wait for an item themselves (Redis BLPOP;
// pubsub.Options.Lists), so that a pop is woken by a push from any
// process or program without a notification.
type BlockingLists interface {
	// PopListWait removes and returns the head of the list, waiting up to
	// wait for one: store.ErrNotFound when none came. When ctx ends
	// after an item was taken, the item is put back at the head.
	PopListWait(ctx context.Context, name string, wait time.Duration) ([]byte, error)
}

// Defaults of the poller.
const (
	// DefaultPollEvery is the poll period when no relay is up.
	DefaultPollEvery = time.Second
	// DefaultRelayedPollEvery is the poll period while a relay is up: it
	// only bounds the delay of a relayed message that was lost.
	DefaultRelayedPollEvery = 5 * time.Second
)

// Polling reports whether the service polls its store for other
// processes' events (the store is shared: Options.Heads is set).
func (s *Service) Polling() bool { return s.heads != nil }

// BlockingPops reports whether pops wait in the store itself (Redis
// BLPOP).
func (s *Service) BlockingPops() bool { return s.lists != nil }

// pollEvery is the current poll period (0: no polling).
func (s *Service) pollEvery() time.Duration {
	if s.heads == nil {
		return 0
	}
	if s.opts.RelayUp != nil && s.opts.RelayUp() {
		return s.opts.RelayedPollEvery
	}
	return s.opts.PollEvery
}

// runPoller polls the store for every channel that has waiters until ctx
// ends.
func (s *Service) runPoller(ctx context.Context) {
	t := time.NewTimer(s.pollEvery())
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			s.log.Warn("pub/sub: polling the store failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("pub/sub: polling the store works again")
			failing = false
		}
		t.Reset(s.pollEvery())
	}
}

// Poll does one pass of the poller: for every channel that has waiting
// listeners, it reads the newest visible sequence id and, when the
// broker has not been told of it or the channel's tail has not read up
// to it, notifies the broker, which wakes the channel's listeners. One
// read per channel, whatever the number of listeners. A no-op when the
// store is not shared (no Options.Heads).
func (s *Service) Poll(ctx context.Context) error {
	if s.heads == nil {
		return nil
	}
	chans := s.b.Waited()
	if len(chans) == 0 {
		return nil
	}
	heads, err := s.heads.ChannelHeads(ctx, chans)
	if err != nil {
		return err
	}
	var ns []Notification
	for _, ch := range chans {
		head := heads[ch]
		if head <= 0 {
			continue
		}
		reached, ok := s.b.Peek(ch)
		if !ok {
			continue
		}
		behind := head > reached
		if !behind {
			s.mu.Lock()
			t := s.tails[ch]
			s.mu.Unlock()
			if t != nil {
				t.mu.Lock()
				behind = t.valid && head > t.to
				t.mu.Unlock()
			}
		}
		if behind {
			ns = append(ns, Notification{Channel: ch, Seq: head})
		}
	}
	if len(ns) > 0 {
		s.b.Notify(ctx, ns...)
	}
	return nil
}
