package pubsub

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

const (
	// tailPage is how many events a read of the store asks for when it
	// extends a channel's tail.
	tailPage = 256
	// tailMax bounds the events a tail keeps; beyond it the oldest half
	// is dropped.
	tailMax = 2048
	// catchUpFirstPage is the first page of a read behind the tail
	// (durable replay, slow listeners); each further page is 4 times
	// larger, up to tailPage*4.
	catchUpFirstPage = 16
)

// entry is one event as listeners receive it.
type entry struct {
	seq   int64
	owner string
	ev    *model.Event
	msg   []byte // rendered listen answer; nil until rendered
}

// tail caches the newest events of one channel, rendered, so that a
// publish seen by a thousand listeners costs one read of the store, not
// a thousand. It holds every event of the channel with from < seq <= to,
// to being the last event read (the visibility rule of store.EventLog
// says no event below it can appear later).
//
// The tail reads the store again when the broker has been notified of an
// event after to since the tail's last read (reached > to and the
// broker's version moved on). A notified event may not be readable yet
// (with several writers, the store holds back events that follow one
// still being written); the tail then stays behind the notified sequence
// without reading again until the next notification, the one of the
// event that was missing, or the poller's (poll.go).
type tail struct {
	mu    sync.Mutex
	valid bool
	epoch uint64
	from  int64
	to    int64
	// partial says the store may hold events after to that the broker
	// has not announced: the last read of the store filled its page.
	partial bool
	// seen is the broker's version of the channel before the last read.
	seen uint64
	evs  []entry
	used time.Time
}

// stale says the store may hold events after the tail.
func (t *tail) stale(reached int64, version uint64) bool {
	return t.partial || (reached > t.to && version != t.seen)
}

// after returns up to limit entries with seq > after and whether more
// are cached.
func (t *tail) after(after int64, limit int) ([]entry, bool) {
	i := sort.Search(len(t.evs), func(i int) bool { return t.evs[i].seq > after })
	j := min(i+limit, len(t.evs))
	return t.evs[i:j:j], j < len(t.evs)
}

// extend appends a fetched page. full says the page was full (the store
// may have more); version is the broker's, read before the fetch.
func (t *tail) extend(es []entry, full bool, version uint64) {
	t.evs = append(t.evs, es...)
	if len(es) > 0 {
		t.to = max(t.to, es[len(es)-1].seq)
	}
	t.partial = full
	t.seen = version
	if len(t.evs) > tailMax {
		drop := len(t.evs) - tailMax/2
		t.from = t.evs[drop-1].seq
		// Copy: slices already handed out keep the old array intact.
		t.evs = append([]entry(nil), t.evs[drop:]...)
	}
}

func (s *Service) tailFor(channel string) *tail {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tails[channel]
	if t == nil {
		t = &tail{}
		s.tails[channel] = t
	}
	return t
}

// fetch reads up to limit events of channel after `after` from the
// store. render says whether to render them now (tail pages, seen by many
// listeners) or when delivered (catch-up pages).
func (s *Service) fetch(ctx context.Context, channel string, after int64, limit int, render bool) ([]entry, bool, error) {
	evs, err := s.st.EventsAfter(ctx, channel, after, limit)
	if err != nil {
		return nil, false, err
	}
	es := make([]entry, len(evs))
	for i, ev := range evs {
		es[i] = entry{seq: ev.SequenceID, owner: ownerOf(ev), ev: ev}
		if render {
			if es[i].msg, err = s.render(ev); err != nil {
				return nil, false, err
			}
			es[i].ev = nil // the rendered answer is all a tail keeps
		}
	}
	return es, len(evs) == limit, nil
}

// render builds the listen answer of a stored event.
func (s *Service) render(ev *model.Event) ([]byte, error) {
	ce, err := eventCloudEvent(ev, s.opts.Source)
	if err != nil {
		return nil, err
	}
	return message(ev.Channel, ce)
}

// read returns events of channel after `after` in sequence order, and
// whether there are more to read. It serves from the channel's tail when
// it can, extends the tail from the store when the broker says the
// channel has gone past it, and reads the store directly (uncached) for
// positions older than the tail or when direct is set.
func (s *Service) read(ctx context.Context, channel string, after int64, page int, direct bool) ([]entry, bool, error) {
	if direct {
		return s.fetch(ctx, channel, after, page, false)
	}
	t := s.tailFor(channel)
	t.mu.Lock()
	t.used = s.now()
	epoch, reached, version := s.b.State(channel)
	if !t.valid || t.epoch != epoch {
		t.valid, t.epoch, t.from, t.to, t.partial, t.seen, t.evs = false, epoch, 0, 0, false, 0, nil
	}
	if t.valid && after < t.from {
		t.mu.Unlock()
		return s.fetch(ctx, channel, after, page, false)
	}
	if !t.valid {
		es, full, err := s.fetch(ctx, channel, after, tailPage, true)
		if err != nil {
			t.mu.Unlock()
			return nil, false, err
		}
		t.valid, t.from, t.to = true, after, after
		t.extend(es, full, version)
	} else if t.stale(reached, version) {
		from := t.to
		if after-t.to > tailMax {
			// The reader is far past the tail (started by a reader far
			// behind, or left behind by a burst): restart the tail at the
			// reader rather than walk the gap; readers in the gap read
			// the store directly.
			t.from, t.to, t.evs, from = after, after, nil, after
		}
		es, full, err := s.fetch(ctx, channel, from, tailPage, true)
		if err != nil {
			t.mu.Unlock()
			return nil, false, err
		}
		t.extend(es, full, version)
	}
	if after < t.from {
		// The extension trimmed the tail past this reader.
		t.mu.Unlock()
		return s.fetch(ctx, channel, after, page, false)
	}
	out, more := t.after(after, tailPage)
	more = more || t.stale(reached, version)
	t.mu.Unlock()
	return out, more, nil
}

// sweepTails forgets the tails of channels nobody read for idle.
func (s *Service) sweepTails(idle time.Duration) {
	cut := s.now().Add(-idle)
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, t := range s.tails {
		t.mu.Lock()
		old := t.used.Before(cut)
		t.mu.Unlock()
		if old {
			delete(s.tails, name)
		}
	}
}
