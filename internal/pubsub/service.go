package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Errors of the Service, for the HTTP layer to map.
var (
	// ErrNoSubscription: unknown, unsubscribed or reaped subscription.
	ErrNoSubscription = errors.New("subscription not found")
	// ErrNotOwner: the subscription belongs to another user.
	ErrNotOwner = errors.New("subscription owned by another user")
	// ErrSubscriberTaken: the subscriber_id belongs to another user.
	ErrSubscriberTaken = errors.New("subscriber id owned by another user")
	// ErrDraining: the server is shutting down (blocking pop only).
	ErrDraining = errors.New("server shutting down")
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	KeepAlive time.Duration // KEEP_ALIVE_PERIOD; default 45 s
	Source    string        // CLOUD_EVENTS_SOURCE; default DefaultSource
	ReapAfter time.Duration // subscriptions not polled for this long are deleted; default 15 min
	StateTTL  time.Duration // durable subscriber states unused this long are deleted; default 30 days
	// EventTTL is the event history retention (EVENT_HISTORY_TTL_SECONDS);
	// 0 keeps events forever.
	EventTTL time.Duration
	// MaintainEvery is the period of the background job (reaping,
	// retention); default 1 min.
	MaintainEvery time.Duration
	// RetentionBatch is how many events one delete removes; default 500.
	RetentionBatch int
	// Notifier receives the notifications of the events the store
	// commits and of the items pushed: a relay that also tells the
	// other replicas (internal/redisbus); default the Broker.
	Notifier Notifier
	// Heads, when the store is shared by several processes (MongoDB),
	// reads the newest event of each channel: the Service polls it for
	// the events the other processes write (poll.go). nil: not shared.
	Heads HeadReader
	// Lists, when set, is where pops wait for an item themselves (Redis
	// BLPOP) instead of on the Broker.
	Lists BlockingLists
	// PollEvery is how often, when the store is shared by several
	// processes (Heads is set), the store is polled for
	// events written by the others, once per channel with waiting
	// listeners; it also bounds how long a pop waits before looking at a
	// list in such a store again. Default DefaultPollEvery; negative
	// turns polling off.
	PollEvery time.Duration
	// RelayedPollEvery replaces PollEvery while RelayUp says that a relay
	// carries the other processes' notifications; default
	// DefaultRelayedPollEvery.
	RelayedPollEvery time.Duration
	// RelayUp reports whether a cross-process relay (Redis) is up; nil
	// means there is none.
	RelayUp func() bool
	Log     *slog.Logger
	Now     func() time.Time // default time.Now
}

// Service is pub/sub over a store: subscriptions, long-poll listening,
// publishing, lists and key-value pairs. It keeps no state of its own
// that matters: any Service over the same store (and Notifier) serves any
// subscription.
type Service struct {
	st        store.Store
	b         *Broker
	notifier  Notifier
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	drain     chan struct{}
	drainOnce sync.Once

	subs      subCache
	listening atomic.Int64 // listens in progress
	popping   atomic.Int64 // pops in progress

	mu    sync.Mutex
	tails map[string]*tail

	heads HeadReader    // the store is shared: poll it (poll.go); nil otherwise
	lists BlockingLists // the store's lists block themselves (Redis); nil otherwise

	asleep func() // tests: called when a listen found nothing and starts to wait
}

// Waiters returns how many listens and pops are in progress.
func (s *Service) Waiters() (listens, pops int64) { return s.listening.Load(), s.popping.Load() }

// New returns a Service over st, waking its listeners with b. It adds
// the Service's announcement to the store's OnCommit functions: every
// event the store commits, whoever writes it (a handler, the lifecycle,
// a publish), is handed to opts.Notifier (default b) before the write
// returns, and wakes the listeners of its channel at once.
func New(st store.Store, b *Broker, opts Options) *Service {
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 45 * time.Second
	}
	if opts.Source == "" {
		opts.Source = DefaultSource
	}
	if opts.ReapAfter <= 0 {
		opts.ReapAfter = 15 * time.Minute
	}
	if opts.StateTTL <= 0 {
		opts.StateTTL = 30 * 24 * time.Hour
	}
	if opts.MaintainEvery <= 0 {
		opts.MaintainEvery = time.Minute
	}
	if opts.RetentionBatch <= 0 {
		opts.RetentionBatch = 500
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollEvery == 0 {
		opts.PollEvery = DefaultPollEvery
	}
	if opts.RelayedPollEvery <= 0 {
		opts.RelayedPollEvery = DefaultRelayedPollEvery
	}
	if opts.Notifier == nil {
		opts.Notifier = b
	}
	s := &Service{st: st, b: b, notifier: opts.Notifier, opts: opts, log: opts.Log, now: opts.Now,
		drain: make(chan struct{}), tails: map[string]*tail{}, lists: opts.Lists}
	if opts.PollEvery > 0 {
		s.heads = opts.Heads
	}
	st.OnCommit(s.announce)
	return s
}

// announce hands a notification per committed event to the notifier
// (store.Events.OnCommit).
func (s *Service) announce(ctx context.Context, evs []*model.Event) {
	ns := make([]Notification, len(evs))
	for i, ev := range evs {
		ns[i] = Notification{Channel: ev.Channel, Seq: ev.SequenceID, Owner: ownerOf(ev)}
	}
	s.notifier.Notify(ctx, ns...)
}

// KeepAlive returns the keep-alive period.
func (s *Service) KeepAlive() time.Duration { return s.opts.KeepAlive }

// nowUTC is the current time at the store's precision.
func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Drain ends every wait at once (listens answer a keep-alive, pops
// ErrDraining) and makes later ones return without waiting: call it when
// the server starts shutting down so that open long-polls do not hold
// the shutdown.
func (s *Service) Drain() { s.drainOnce.Do(func() { close(s.drain) }) }

func (s *Service) draining() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

// Subscribe creates a subscription of user to channel, positioned at the
// end of the event history. With a subscriberID it is durable: the
// first subscription with that id creates the subscriber's state at the
// end of the history; the next ones (same user; another user gets
// ErrSubscriberTaken) start after the last event the subscriber
// acknowledged, so that every event still in the history since then is
// delivered. Re-subscribing a subscriber_id to another channel moves it
// there, starting at the end of the history.
func (s *Service) Subscribe(ctx context.Context, channel, user string, promisc bool, subscriberID string) (*store.Subscription, error) {
	now := s.nowUTC()
	cursor, err := s.st.LastSequence(ctx)
	if err != nil {
		return nil, err
	}
	if subscriberID != "" {
		if cursor, err = s.subscriberCursor(ctx, channel, user, promisc, subscriberID, cursor, now); err != nil {
			return nil, err
		}
	}
	sub := &store.Subscription{Channel: channel, User: user, Promiscuous: promisc, SubscriberID: subscriberID,
		Cursor: cursor, Created: now}
	if err := s.st.CreateSubscription(ctx, sub); err != nil {
		return nil, err
	}
	s.subs.put(*sub)
	return sub, nil
}

// subscriberCursor returns where a durable subscriber resumes, creating
// or updating its state.
func (s *Service) subscriberCursor(ctx context.Context, channel, user string, promisc bool, id string, end int64, now time.Time) (int64, error) {
	for {
		st, err := s.st.GetSubscriberState(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			st = &store.SubscriberState{SubscriberID: id, Channel: channel, User: user, Promiscuous: promisc,
				LastEventID: end, Created: now, LastPoll: &now}
			err = s.st.CreateSubscriberState(ctx, st)
			if errors.Is(err, store.ErrConflict) {
				continue // created concurrently: use that one
			}
			if err != nil {
				return 0, err
			}
			s.log.Info("new durable subscriber", "subscriber_id", id, "channel", channel, "user", user, "from", end)
			return end, nil
		}
		if err != nil {
			return 0, err
		}
		if st.User != user {
			return 0, ErrSubscriberTaken
		}
		if st.Channel != channel {
			s.log.Info("durable subscriber moved to another channel", "subscriber_id", id, "from_channel", st.Channel, "channel", channel)
			st.Channel, st.LastEventID = channel, end
		}
		st.Promiscuous, st.LastPoll = promisc, &now
		if err := s.st.UpdateSubscriberState(ctx, st); errors.Is(err, store.ErrNotFound) {
			continue // reaped meanwhile
		} else if err != nil {
			return 0, err
		}
		s.log.Info("durable subscriber resumed", "subscriber_id", id, "channel", channel, "after", st.LastEventID)
		return st.LastEventID, nil
	}
}

// subscription returns the subscription if user owns it, from the cache
// or the store.
func (s *Service) subscription(ctx context.Context, id int64, user string) (*store.Subscription, error) {
	sub, ok := s.subs.get(id)
	if !ok {
		stored, err := s.st.GetSubscription(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoSubscription
		}
		if err != nil {
			return nil, err
		}
		s.subs.put(*stored)
		sub = *stored
	}
	if sub.User != user {
		return nil, ErrNotOwner
	}
	return &sub, nil
}

// Unsubscribe deletes user's subscription id. A durable subscriber's
// state is kept.
func (s *Service) Unsubscribe(ctx context.Context, id int64, user string) error {
	if _, err := s.subscription(ctx, id, user); err != nil {
		return err
	}
	s.subs.drop(id)
	if err := s.st.DeleteSubscription(ctx, id); errors.Is(err, store.ErrNotFound) {
		return ErrNoSubscription
	} else if err != nil {
		return err
	}
	return nil
}

// touchEvery is how stale last_poll may get before a listen refreshes it
// on arrival (deliveries and keep-alives always refresh it).
func (s *Service) touchEvery() time.Duration { return min(time.Minute, s.opts.ReapAfter/4) }

// Listen waits for the next event after the subscription's cursor that
// user may see and returns the GET /listen answer: the event, or a
// keep-alive after the keep-alive period (at once when draining). The
// cursor moves to the event only if ctx is still live when it is handed
// out; if ctx ends first Listen returns ctx.Err() and changes nothing.
// For a durable subscription, the call first acknowledges the event the
// previous call delivered.
func (s *Service) Listen(ctx context.Context, id int64, user string) ([]byte, error) {
	s.listening.Add(1)
	defer s.listening.Add(-1)
	deadline := time.Now().Add(s.opts.KeepAlive)
	acked := false
	for {
		msg, retry, err := s.listen(ctx, id, user, deadline, !acked)
		if !retry {
			return msg, err
		}
		acked = true
	}
}

// listen is one attempt of Listen; retry says another listen on the same
// subscription moved the cursor first, and it must start over.
func (s *Service) listen(ctx context.Context, id int64, user string, deadline time.Time, ack bool) ([]byte, bool, error) {
	sub, err := s.subscription(ctx, id, user)
	if err != nil {
		return nil, false, err
	}
	now := s.nowUTC()
	if ack && sub.SubscriberID != "" {
		if err := s.ack(ctx, sub, now); err != nil {
			return nil, false, err
		}
	}
	if sub.LastPoll == nil || now.Sub(*sub.LastPoll) >= s.touchEvery() {
		if err := s.st.TouchSubscription(ctx, sub.ID, now); errors.Is(err, store.ErrNotFound) {
			s.subs.drop(sub.ID)
			return nil, false, ErrNoSubscription
		} else if err != nil {
			return nil, false, err
		}
		s.subs.moved(sub.ID, sub.Cursor, now)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	scan := sub.Cursor
	for {
		wake := s.b.Wait(sub.Channel, sub.User, sub.Promiscuous)
		e, next, err := s.next(ctx, sub, scan, false)
		if err != nil {
			return nil, false, err
		}
		scan = next
		if e != nil {
			return s.deliver(ctx, sub, scan, e)
		}
		if s.draining() {
			break
		}
		if s.asleep != nil {
			s.asleep()
		}
		select {
		case <-wake:
			continue
		case <-timer.C:
		case <-s.drain:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		break
	}
	// A last look at the store itself, bypassing the tail: a wake-up
	// lost on the way (another replica's relay down) delays an event by
	// at most one keep-alive period.
	e, next, err := s.next(ctx, sub, scan, true)
	if err != nil {
		return nil, false, err
	}
	scan = next
	if e != nil {
		// Nothing announced this event: announce it, so that the
		// channel's tail and its other listeners catch up at once rather
		// than one event per keep-alive each.
		s.b.Notify(ctx, Notification{Channel: sub.Channel, Seq: e.seq})
		return s.deliver(ctx, sub, scan, e)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if scan != sub.Cursor {
		// Only events the subscriber may not see were passed over: move
		// the cursor past them so the next listen does not read them
		// again.
		poll := s.nowUTC()
		err := s.st.AdvanceSubscription(ctx, sub.ID, sub.Cursor, scan, poll)
		switch {
		case err == nil:
			s.subs.moved(sub.ID, scan, poll)
		case errors.Is(err, store.ErrNotFound):
			s.subs.drop(sub.ID)
			return nil, false, ErrNoSubscription
		case errors.Is(err, store.ErrConflict):
			s.subs.drop(sub.ID) // moved elsewhere: read it again next time
		default:
			return nil, false, err
		}
	}
	return keepAlive(sub.Channel, s.opts.Source, s.now()), false, nil
}

// ack acknowledges a durable subscription's last delivered event.
func (s *Service) ack(ctx context.Context, sub *store.Subscription, now time.Time) error {
	if !s.subs.needsAck(sub.ID, sub.Cursor, now, s.touchEvery()) {
		return nil
	}
	err := s.ackState(ctx, sub, now)
	if err == nil {
		s.subs.acked(sub.ID, sub.Cursor, now)
	}
	return err
}

func (s *Service) ackState(ctx context.Context, sub *store.Subscription, now time.Time) error {
	err := s.st.AckSubscriberState(ctx, sub.SubscriberID, sub.Cursor, now)
	if errors.Is(err, store.ErrNotFound) {
		// The state was dropped while the subscription lived on: start
		// it again from here.
		err = s.st.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: sub.SubscriberID, Channel: sub.Channel,
			User: sub.User, Promiscuous: sub.Promiscuous, LastEventID: sub.Cursor, Created: now, LastPoll: &now})
		if errors.Is(err, store.ErrConflict) {
			err = s.st.AckSubscriberState(ctx, sub.SubscriberID, sub.Cursor, now)
		}
	}
	return err
}

// next returns the first event after scan that sub may see (nil if none
// yet) and the position read up to.
func (s *Service) next(ctx context.Context, sub *store.Subscription, scan int64, direct bool) (*entry, int64, error) {
	page := catchUpFirstPage
	for {
		es, more, err := s.read(ctx, sub.Channel, scan, page, direct)
		if err != nil {
			return nil, scan, err
		}
		for i := range es {
			e := &es[i]
			scan = e.seq
			if visible(e.owner, sub.User, sub.Promiscuous) {
				return e, scan, nil
			}
		}
		if !more {
			return nil, scan, nil
		}
		page = min(page*4, tailPage*4)
	}
}

// deliver moves the cursor to the event and returns its answer, unless
// the client is gone.
func (s *Service) deliver(ctx context.Context, sub *store.Subscription, to int64, e *entry) ([]byte, bool, error) {
	msg := e.msg
	if msg == nil {
		var err error
		if msg, err = s.render(e.ev); err != nil {
			return nil, false, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	poll := s.nowUTC()
	err := s.st.AdvanceSubscription(ctx, sub.ID, sub.Cursor, to, poll)
	switch {
	case err == nil:
		s.subs.moved(sub.ID, to, poll)
		return msg, false, nil
	case errors.Is(err, store.ErrConflict):
		// Another listen moved the cursor first: start over from the
		// stored subscription.
		s.subs.drop(sub.ID)
		return nil, true, nil
	case errors.Is(err, store.ErrNotFound):
		s.subs.drop(sub.ID)
		return nil, false, ErrNoSubscription
	}
	return nil, false, err
}

// Publish appends an event on channel, owned by owner, to the history;
// attrs are its CloudEvent attributes (type, source, extensions).
func (s *Service) Publish(ctx context.Context, channel, owner string, data any, attrs map[string]any) (*model.Event, error) {
	ev := &model.Event{Channel: channel, Data: data}
	if owner != "" {
		ev.Owner = &owner
	}
	if len(attrs) > 0 {
		ev.Attributes = attrs
	}
	if err := s.st.AppendEvents(ctx, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// Push appends a CloudEvent with data and attrs to the tail of a list.
func (s *Service) Push(ctx context.Context, list string, data any, attrs map[string]any) error {
	ce, err := cloudEvent(randomUUID(), s.opts.Source, DefaultType, s.now(), data, "", attrs, 0)
	if err != nil {
		return fmt.Errorf("pubsub: encode pushed event: %w", err)
	}
	if err := s.st.PushList(ctx, list, ce); err != nil {
		return err
	}
	// Pushed: wake the list's poppers even if the request is going away.
	s.notifier.Notify(context.WithoutCancel(ctx), Notification{List: list})
	return nil
}

// ErrPopTimeout is returned by Pop when no item came within the
// keep-alive period.
var ErrPopTimeout = errors.New("pubsub: nothing to pop within the keep-alive period")

// Pop removes and returns the CloudEvent at the head of a list, waiting
// as long as ctx lives, and at most the keep-alive period, for one to be
// pushed (ErrPopTimeout past it: the wait ends between two attempts,
// never in the middle of a store pop, so no item is lost to it). It
// returns ErrDraining when the server shuts down.
func (s *Service) Pop(ctx context.Context, list string) ([]byte, error) {
	s.popping.Add(1)
	defer s.popping.Add(-1)
	giveUp := time.NewTimer(s.opts.KeepAlive)
	defer giveUp.Stop()
	if s.lists != nil {
		return s.popBlocking(ctx, list, giveUp.C)
	}
	// Wake-ups are the normal path; the periodic re-check covers a lost
	// one (or, in a store shared with other processes, a push made by
	// one of them) and keeps the broker's entry fresh.
	every := s.opts.KeepAlive
	if s.heads != nil {
		every = min(every, s.opts.PollEvery)
	}
	var recheck *time.Timer
	defer func() {
		if recheck != nil {
			recheck.Stop()
		}
	}()
	for {
		wake := s.b.WaitList(list)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := s.st.PopList(ctx, list)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if s.draining() {
			return nil, ErrDraining
		}
		if recheck == nil {
			recheck = time.NewTimer(every)
		} else {
			recheck.Reset(every)
		}
		select {
		case <-wake:
		case <-recheck.C:
		case <-s.drain:
		case <-giveUp.C:
			// One last look, then give up.
			v, err := s.st.PopList(ctx, list)
			if err == nil {
				return v, nil
			}
			if errors.Is(err, store.ErrNotFound) {
				return nil, ErrPopTimeout
			}
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// blockingPopWait is how long one blocking pop of the store waits: it
// bounds how late a pop notices the shutdown.
const blockingPopWait = time.Second

// popBlocking pops from a store whose lists wait themselves (Redis
// BLPOP), until ctx ends or the server drains. While the store is
// unreachable it retries with a growing pause, so that a waiting client
// gets its item once the store is back.
func (s *Service) popBlocking(ctx context.Context, list string, giveUp <-chan time.Time) ([]byte, error) {
	pause := 100 * time.Millisecond
	failing := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case <-giveUp:
			return nil, ErrPopTimeout
		default:
		}
		if s.draining() {
			return nil, ErrDraining
		}
		v, err := s.lists.PopListWait(ctx, list, blockingPopWait)
		switch {
		case err == nil:
			if failing {
				s.log.Info("pub/sub: pop works again", "list", list)
			}
			return v, nil
		case errors.Is(err, store.ErrNotFound):
			pause = 100 * time.Millisecond
			continue
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		if !failing {
			s.log.Warn("pub/sub: pop failed; retrying until it works", "list", list, "err", err)
			failing = true
		}
		select {
		case <-time.After(pause):
		case <-s.drain:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// Subscriptions lists every subscription, for GET /stats/subscriptions.
func (s *Service) Subscriptions(ctx context.Context) ([]*store.Subscription, error) {
	return s.st.ListSubscriptions(ctx)
}

// GetKV returns the value of namespace/key, ok false if there is none.
func (s *Service) GetKV(ctx context.Context, namespace, key string) (string, bool, error) {
	v, err := s.st.GetKV(ctx, namespace, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// SetKV sets namespace/key; an empty value deletes it, as the reference
// does.
func (s *Service) SetKV(ctx context.Context, namespace, key, value string) error {
	if value == "" {
		return s.st.DeleteKV(ctx, namespace, key)
	}
	return s.st.SetKV(ctx, namespace, key, value)
}

// DeleteKV deletes namespace/key.
func (s *Service) DeleteKV(ctx context.Context, namespace, key string) error {
	return s.st.DeleteKV(ctx, namespace, key)
}

// Run runs the background job (reaping, retention, sweeping) every
// MaintainEvery, and the poller of a shared store (poll.go), until ctx
// ends.
func (s *Service) Run(ctx context.Context) {
	if s.heads != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			s.runPoller(ctx)
		}()
	}
	t := time.NewTicker(s.opts.MaintainEvery)
	defer t.Stop()
	for {
		if err := s.Maintain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("pub/sub maintenance failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Maintain does one pass of the background job: it deletes subscriptions
// not polled for ReapAfter, durable subscriber states unused for
// StateTTL and events older than EventTTL (in small batches, so that
// requests are never held behind one long delete), and forgets idle
// in-memory wake-up and cache entries.
func (s *Service) Maintain(ctx context.Context) error {
	now := s.nowUTC()
	var errs []error
	if n, err := s.st.ReapSubscriptions(ctx, now.Add(-s.opts.ReapAfter)); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		s.log.Info("reaped idle subscriptions", "count", n)
	}
	if n, err := s.st.ReapSubscriberStates(ctx, now.Add(-s.opts.StateTTL)); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		s.log.Info("dropped unused durable subscriber states", "count", n)
	}
	if s.opts.EventTTL > 0 {
		if err := s.trimHistory(ctx, now.Add(-s.opts.EventTTL)); err != nil {
			errs = append(errs, err)
		}
	}
	// Subscriptions deleted here or by another process are forgotten.
	s.subs.clear()
	idle := max(10*time.Minute, 4*s.opts.KeepAlive)
	s.b.Sweep(idle)
	s.sweepTails(idle)
	return errors.Join(errs...)
}

// trimHistory deletes events older than cut, a batch at a time, pausing
// between batches to leave the store's writer to requests.
func (s *Service) trimHistory(ctx context.Context, cut time.Time) error {
	var total int64
	defer func() {
		if total > 0 {
			s.log.Info("deleted expired events", "count", total, "before", model.FormatTime(cut))
		}
	}()
	for {
		n, err := s.st.DeleteEventsBefore(ctx, cut, s.opts.RetentionBatch)
		total += n
		if err != nil || n < int64(s.opts.RetentionBatch) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
