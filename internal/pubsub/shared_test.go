package pubsub

// Tests of a store shared by several processes (MongoDB with replicas):
// events become visible out of order, and other processes' writes come
// without a notification.

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// sharedStore plays a store shared with other processes: EventsAfter
// holds back every event from hideFrom on (as MongoDB does above a
// sequence id still being written), and ChannelHeads answers like
// MongoDB's (it makes the Service poll).
type sharedStore struct {
	store.Store
	hideFrom  atomic.Int64 // 0: nothing hidden
	headCalls atomic.Int64
	mu        sync.Mutex
	asked     [][]string
}

func (s *sharedStore) visible(seq int64) bool {
	h := s.hideFrom.Load()
	return h == 0 || seq < h
}

func (s *sharedStore) EventsAfter(ctx context.Context, channel string, after int64, limit int) ([]*model.Event, error) {
	evs, err := s.Store.EventsAfter(ctx, channel, after, limit)
	out := evs[:0]
	for _, ev := range evs {
		if !s.visible(ev.SequenceID) {
			break
		}
		out = append(out, ev)
	}
	return out, err
}

func (s *sharedStore) ChannelHeads(ctx context.Context, channels []string) (map[string]int64, error) {
	s.headCalls.Add(1)
	s.mu.Lock()
	s.asked = append(s.asked, append([]string(nil), channels...))
	s.mu.Unlock()
	out := map[string]int64{}
	for _, ch := range channels {
		evs, err := s.EventsAfter(ctx, ch, 0, 1<<20)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			out[ch] = evs[len(evs)-1].SequenceID
		}
	}
	return out, nil
}

var _ HeadReader = (*sharedStore)(nil)

type sharedFixture struct {
	raw    *sqlite.Store // this process's backend: its writes are announced
	other  *sqlite.Store // the same database opened again: another process, whose writes this one hears nothing of
	shared *sharedStore
	b      *Broker
	svc    *Service
}

func newSharedFixture(t *testing.T, opts Options) *sharedFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kernelci.db")
	raw, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	other, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	f := &sharedFixture{raw: raw, other: other, shared: &sharedStore{Store: raw}, b: NewBroker()}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.Heads = f.shared
	f.svc = New(f.shared, f.b, opts)
	return f
}

// run starts the background job (and so the poller) for the test.
func (f *sharedFixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

type listenResult struct {
	msg []byte
	err error
	at  time.Time
}

func (f *sharedFixture) listenAsync(id int64, user string) <-chan listenResult {
	res := make(chan listenResult, 1)
	go func() {
		msg, err := f.svc.Listen(context.Background(), id, user)
		res <- listenResult{msg, err, time.Now()}
	}()
	return res
}

// listenOverGap subscribes to channel c and starts a listen that waits;
// then writer 1 reserves sequence 1 and does not finish (the event is
// stored through f.other but hidden here, without a notification), and
// writer 2 stores sequence 2 here and notifies.
func (f *sharedFixture) listenOverGap(t *testing.T) (subID int64, res <-chan listenResult, first, second *model.Event) {
	t.Helper()
	ctx := context.Background()
	sub, err := f.svc.Subscribe(ctx, "c", "u", true, "")
	if err != nil {
		t.Fatal(err)
	}
	res = f.listenAsync(sub.ID, "u")
	testutil.WaitFor(t, 10*time.Second, "the listener to wait", func() bool { return f.b.Waiting("c", "", true) })
	first = &model.Event{Channel: "c", Data: "first"}
	if err := f.other.AppendEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	f.shared.hideFrom.Store(first.SequenceID)
	second = &model.Event{Channel: "c", Data: "second"}
	if err := f.shared.AppendEvents(ctx, second); err != nil {
		t.Fatal(err)
	}
	return sub.ID, res, first, second
}

// expectEvent waits for a listen answer that is an event (not a
// keep-alive) with sequence seq, within limit.
func expectEvent(t *testing.T, res <-chan listenResult, seq int64, limit time.Duration) {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("listen: %v", r.err)
		}
		got := decodeMessage(t, r.msg)
		if got.beep() {
			t.Fatalf("listen answered a keep-alive; want event %d", seq)
		}
		if got.seq() != seq {
			t.Fatalf("listen answered event %d; want %d", got.seq(), seq)
		}
	case <-time.After(limit):
		t.Fatalf("no event %d within %v", seq, limit)
	}
}

// An event that was notified while an earlier one was still invisible
// (being written by another writer) must not make the tail skip the
// earlier one: once it becomes visible and is notified, both are
// delivered, in order.
func TestTailDoesNotSkipEventsBehindAGap(t *testing.T) {
	f := newSharedFixture(t, Options{KeepAlive: 20 * time.Second, PollEvery: -1})
	ctx := context.Background()
	subID, res, first, second := f.listenOverGap(t)
	// The listener woke, found nothing visible and waits again.
	testutil.WaitFor(t, 10*time.Second, "the listener to wait again", func() bool { return f.b.Waiting("c", "", true) })
	select {
	case r := <-res:
		t.Fatalf("listen answered %s while the first event was invisible", r.msg)
	default:
	}
	// Writer 1's event lands and is notified.
	f.shared.hideFrom.Store(0)
	f.b.Notify(ctx, Notification{Channel: "c", Seq: first.SequenceID})
	expectEvent(t, res, first.SequenceID, 5*time.Second)
	expectEvent(t, f.listenAsync(subID, "u"), second.SequenceID, 5*time.Second)
}

// Events written by another process (no notification here) reach the
// listeners through the poller, within a few poll periods, with one
// read per channel and poll however many listeners wait.
func TestPollerFindsOtherProcessesEvents(t *testing.T) {
	f := newSharedFixture(t, Options{KeepAlive: 20 * time.Second, PollEvery: 20 * time.Millisecond})
	f.run(t)
	ctx := context.Background()
	const listeners = 20
	var ids []int64
	for range listeners {
		sub, err := f.svc.Subscribe(ctx, "c", "u", false, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	var results []<-chan listenResult
	for _, id := range ids {
		results = append(results, f.listenAsync(id, "u"))
	}
	testutil.WaitFor(t, 10*time.Second, "the listeners to wait", func() bool { l, _ := f.svc.Waiters(); return l == listeners })
	ev := &model.Event{Channel: "c", Data: "from another replica"}
	if err := f.other.AppendEvents(ctx, ev); err != nil { // another process: not announced here
		t.Fatal(err)
	}
	for _, res := range results {
		expectEvent(t, res, ev.SequenceID, 5*time.Second)
	}
	f.shared.mu.Lock()
	defer f.shared.mu.Unlock()
	for _, chans := range f.shared.asked {
		if len(chans) != 1 || chans[0] != "c" {
			t.Fatalf("ChannelHeads asked for %v; want one read for channel c", chans)
		}
	}
}

// The poller also catches an event that became visible without any
// notification after the tail read past its notified successor's
// position (its writer died: the store passed over the gap).
func TestPollerCatchesEventsVisibleLater(t *testing.T) {
	f := newSharedFixture(t, Options{KeepAlive: 20 * time.Second, PollEvery: 20 * time.Millisecond})
	f.run(t)
	subID, res, first, second := f.listenOverGap(t)
	// Let several polls see the gap, then open it without notifying.
	before := f.shared.headCalls.Load()
	testutil.WaitFor(t, 10*time.Second, "a few polls", func() bool { return f.shared.headCalls.Load() > before+3 })
	f.shared.hideFrom.Store(0)
	expectEvent(t, res, first.SequenceID, 5*time.Second)
	expectEvent(t, f.listenAsync(subID, "u"), second.SequenceID, 5*time.Second)
}

// A pop on a shared store looks at the list again every poll period,
// so an item another process pushed arrives without a notification.
func TestPopPollsSharedStore(t *testing.T) {
	f := newSharedFixture(t, Options{KeepAlive: 20 * time.Second, PollEvery: 20 * time.Millisecond})
	res := make(chan []byte, 1)
	go func() {
		v, err := f.svc.Pop(context.Background(), "l")
		if err != nil {
			t.Error(err)
		}
		res <- v
	}()
	testutil.WaitFor(t, 10*time.Second, "the pop to wait", func() bool { _, p := f.svc.Waiters(); return p == 1 })
	if err := f.raw.PushList(context.Background(), "l", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-res:
		if string(v) != `{"x":1}` {
			t.Fatalf("popped %s", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pop did not see the item pushed by another process")
	}
}

// The poll period follows the relay: fast while it is down, slow while
// it is up; a store that is not shared is never polled.
func TestPollPeriod(t *testing.T) {
	var up atomic.Bool
	f := newSharedFixture(t, Options{PollEvery: time.Second, RelayedPollEvery: 7 * time.Second, RelayUp: up.Load})
	if got := f.svc.pollEvery(); got != time.Second {
		t.Fatalf("relay down: %v", got)
	}
	up.Store(true)
	if got := f.svc.pollEvery(); got != 7*time.Second {
		t.Fatalf("relay up: %v", got)
	}
	plain := newFixture(t, Options{})
	if plain.svc.pollEvery() != 0 || plain.svc.Poll(context.Background()) != nil {
		t.Fatal("a store that is not shared is polled")
	}
	if f.svc.heads == nil || f.svc.lists != nil {
		t.Fatal("the service does not poll the HeadReader it was given, or has BlockingLists it was not given")
	}
}

// Without a poller, an event found by a listen's keep-alive re-check of
// the store (nothing announced it) is announced to the channel, so that
// the events after it reach every listener at once, not one per
// keep-alive period.
func TestKeepAliveFindingCatchesUpTheChannel(t *testing.T) {
	const keepAlive = 2 * time.Second
	f := newSharedFixture(t, Options{KeepAlive: keepAlive, PollEvery: -1})
	ctx := context.Background()
	sub, err := f.svc.Subscribe(ctx, "c", "u", true, "")
	if err != nil {
		t.Fatal(err)
	}
	// Another process stores the first event (no notification here) and
	// it stays invisible; the events after it are written and announced
	// here, before anyone listens, so no wake-up is pending.
	first := &model.Event{Channel: "c", Data: "first"}
	if err := f.other.AppendEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	f.shared.hideFrom.Store(first.SequenceID)
	var rest []int64
	for i := range 5 {
		ev := &model.Event{Channel: "c", Data: i}
		if err := f.shared.AppendEvents(ctx, ev); err != nil {
			t.Fatal(err)
		}
		rest = append(rest, ev.SequenceID)
	}
	asleep := make(chan struct{}, 1)
	f.svc.asleep = func() {
		select {
		case asleep <- struct{}{}:
		default:
		}
	}
	res := f.listenAsync(sub.ID, "u")
	select {
	case <-asleep: // read the store, found nothing, waits for its keep-alive
	case r := <-res:
		t.Fatalf("listen answered %s while the first event was invisible", r.msg)
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not start to wait")
	}
	_, _, before := f.b.State("c")
	f.shared.hideFrom.Store(0) // the gap closes without a notification
	expectEvent(t, res, first.SequenceID, 10*keepAlive)
	if _, _, after := f.b.State("c"); after == before {
		t.Fatal("the event found by the keep-alive re-check was not announced to the channel")
	}
	for _, seq := range rest {
		expectEvent(t, f.listenAsync(sub.ID, "u"), seq, 10*keepAlive)
	}
}
