package pubsub

import (
	"context"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// streamPage is how many events one read of Follow asks the store for.
const streamPage = 256

// Follow is the reading side of GET /stream: it returns, in sequence
// order, up to limit events of channel after the sequence id `after`
// that a reader user (every reader when promisc) may see, waiting up to
// wait for the first one. next is the position read up to, past events
// the reader may not see: the caller passes it as `after` of its next
// call. No events and no error mean that wait passed; ErrDraining that
// the server is shutting down (the caller ends the stream, the client
// resumes on another replica).
//
// Each call reads the event log itself (the log is the truth), through
// the (channel, sequence_id) index, and waits on the Broker between
// reads, as Listen does: a wake-up lost on the way (another replica's
// relay down) costs latency, bounded by the poller of a shared store and
// by wait, never an event.
func (s *Service) Follow(ctx context.Context, channel, user string, promisc bool, after int64, limit int, wait time.Duration) (evs []*model.Event, next int64, err error) {
	if limit <= 0 || limit > streamPage {
		limit = streamPage
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	next = after
	for {
		wake := s.b.Wait(channel, user, promisc)
		read, err := s.st.EventsAfter(ctx, channel, next, limit)
		if err != nil {
			return nil, after, err
		}
		for _, ev := range read {
			next = ev.SequenceID
			if visible(ownerOf(ev), user, promisc) {
				evs = append(evs, ev)
			}
		}
		if len(evs) > 0 {
			return evs, next, nil
		}
		if len(read) == limit {
			continue // a page of events the reader may not see: read on
		}
		if s.draining() {
			return nil, next, ErrDraining
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-wake:
			continue
		case <-timer.C:
			return nil, next, nil
		case <-s.drain:
			return nil, next, ErrDraining
		case <-ctx.Done():
			return nil, next, ctx.Err()
		}
	}
}

// LastSequence is the highest sequence id in the event log: where a
// stream that names no position starts.
func (s *Service) LastSequence(ctx context.Context) (int64, error) { return s.st.LastSequence(ctx) }
