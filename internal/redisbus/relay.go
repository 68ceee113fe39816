package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kernelci/kernelci-api-go/internal/broker"
)

// ChannelPrefix starts the name of the Redis channel of the wake-ups; the
// rest is the relay's scope (see NewRelay). The reference never
// subscribes to it, and its listeners never see our messages.
const ChannelPrefix = "kernelci-api-go:wake:"

// Relay is the broker.Notifier of a replica: it wakes this process's
// waiters at once (the local Broker) and PUBLISHes the notifications to
// the other replicas, whose relays feed them into their own Broker.
//
// Publishing is asynchronous and never blocks the write that caused it:
// notifications are queued, batched and coalesced (per channel and
// owner, the highest sequence) by one goroutine. When the queue is full
// or Redis is unreachable they are dropped: the other replicas' pollers
// (pubsub.Service, poll.go) find the events in the store a moment
// later. While the subscription to Redis is down, Up is false and this
// replica's poller polls at its fast rate; the relay reconnects by
// itself with a growing pause and logs each loss and recovery.
type Relay struct {
	b       *broker.Broker
	rdb     *redis.Client
	channel string
	origin  string
	log     *slog.Logger

	queue   chan []broker.Notification
	up      atomic.Bool
	dropped atomic.Int64

	// OnUp, when set before Start, is called (in its own goroutine)
	// each time the subscription is (re)established, to look at the
	// store for what was missed meanwhile.
	OnUp func()

	// authChanged is called when another replica reports a write that
	// may end or narrow a credential, and when the subscription is
	// (re)established (reports may have been lost meanwhile): see
	// OnAuthChange and PublishAuthChange.
	authChanged atomic.Pointer[func()]
	authFailing atomic.Bool

	// Health checks of the subscription: after this long without a
	// message the relay pings; without an answer for as long again it
	// reconnects.
	idle time.Duration

	psMu    sync.Mutex
	ps      *redis.PubSub
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// wire is one PUBLISHed message: wake-ups, or (Auth) the report of a
// write that may end or narrow a credential. Older relays ignore a
// message without wake-ups.
type wire struct {
	Origin string                `json:"o"`
	N      []broker.Notification `json:"n"`
	Auth   bool                  `json:"a,omitempty"`
}

// authPublishWait bounds how long PublishAuthChange holds up the write
// that called it when Redis is slow to answer.
const authPublishWait = 250 * time.Millisecond

// relayQueue is how many Notify calls may wait for the publisher.
const relayQueue = 4096

// relayBatch bounds the notifications of one message.
const relayBatch = 512

// NewRelay returns a relay feeding broker, on the Redis channel
// ChannelPrefix+scope. Every replica serving the same data must use the
// same scope, and deployments sharing a Redis server different ones: it
// names the database (see app.wirePubSub: REDIS_DB_NUMBER and the
// MongoDB database name). Call Start, then Close.
func (b *Bus) NewRelay(br *broker.Broker, scope string) *Relay {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Relay{
		b: br, rdb: b.kv, channel: ChannelPrefix + scope, origin: hex.EncodeToString(id[:]),
		log: b.log, queue: make(chan []broker.Notification, relayQueue), idle: 5 * time.Second,
	}
}

var _ broker.Notifier = (*Relay)(nil)

// Channel is the Redis channel of the relay.
func (r *Relay) Channel() string { return r.channel }

// Up reports whether the relay is subscribed: wake-ups from the other
// replicas arrive.
func (r *Relay) Up() bool { return r.up.Load() }

// Dropped is how many notifications could not be queued for publishing.
func (r *Relay) Dropped() int64 { return r.dropped.Load() }

// Notify wakes this process's waiters and queues the notifications for
// the other replicas.
func (r *Relay) Notify(ctx context.Context, ns ...broker.Notification) {
	if len(ns) == 0 {
		return
	}
	r.b.Notify(ctx, ns...)
	select {
	case r.queue <- append([]broker.Notification(nil), ns...):
	default:
		if r.dropped.Add(int64(len(ns))) == int64(len(ns)) {
			r.log.Warn("redis relay: publish queue full, dropping wake-ups (the other replicas poll the store)")
		}
	}
}

// OnAuthChange sets the function called when another replica reports a
// write that may end or narrow a credential (api.Server's
// InvalidateAuthCache), and each time the subscription is
// (re)established. It may be called before or after Start.
func (r *Relay) OnAuthChange(f func()) { r.authChanged.Store(&f) }

func (r *Relay) authChange() {
	if f := r.authChanged.Load(); f != nil {
		(*f)()
	}
}

// PublishAuthChange tells the other replicas that a credential may have
// ended or narrowed (api.Options.OnAuthChange): their relays call the
// function given to OnAuthChange. It PUBLISHes at once, not through the
// wake-ups' queue, so that the others usually know before the write is
// answered, and waits at most authPublishWait. When the message cannot
// be sent the other replicas see the change when their cache entries
// expire (api.Options.AuthCacheTTL, under a second).
func (r *Relay) PublishAuthChange(ctx context.Context) {
	payload, _ := json.Marshal(wire{Origin: r.origin, Auth: true})
	done := make(chan error, 1)
	go func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		done <- r.rdb.Publish(pctx, r.channel, payload).Err()
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(authPublishWait):
		err = context.DeadlineExceeded
	}
	switch {
	case err != nil && !r.authFailing.Swap(true):
		r.log.Warn("redis relay: cannot tell the other replicas of a credential change; they see it when their authentication cache entries expire",
			"addr", r.rdb.Options().Addr, "err", err)
	case err == nil && r.authFailing.Swap(false):
		r.log.Info("redis relay: credential changes reach the other replicas again", "addr", r.rdb.Options().Addr)
	}
}

// Start runs the publisher and the subscriber until Close.
func (r *Relay) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.started = true
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.publish(ctx) }()
	go func() { defer r.wg.Done(); r.subscribe(ctx) }()
}

// Close stops the relay.
func (r *Relay) Close() error {
	if !r.started {
		return nil
	}
	r.cancel()
	r.psMu.Lock()
	if r.ps != nil {
		_ = r.ps.Close() // ends a pending receive
	}
	r.psMu.Unlock()
	r.wg.Wait()
	r.up.Store(false)
	return nil
}

// coalesce keeps, per channel and owner, the highest sequence, and each
// list once, in order of first appearance.
func coalesce(ns []broker.Notification) []broker.Notification {
	type key struct{ channel, owner, list string }
	at := make(map[key]int, len(ns))
	out := ns[:0:0]
	for _, n := range ns {
		k := key{n.Channel, n.Owner, n.List}
		if i, ok := at[k]; ok {
			out[i].Seq = max(out[i].Seq, n.Seq)
			continue
		}
		at[k] = len(out)
		out = append(out, n)
	}
	return out
}

// publish sends the queued notifications, a batch per message.
func (r *Relay) publish(ctx context.Context) {
	failing := false
	for {
		var batch []broker.Notification
		select {
		case <-ctx.Done():
			return
		case batch = <-r.queue:
		}
	more:
		for len(batch) < relayBatch {
			select {
			case ns := <-r.queue:
				batch = append(batch, ns...)
			default:
				break more
			}
		}
		payload, err := json.Marshal(wire{Origin: r.origin, N: coalesce(batch)})
		if err != nil {
			continue
		}
		err = r.rdb.Publish(ctx, r.channel, payload).Err()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			r.log.Warn("redis relay: cannot publish wake-ups; the other replicas will find the events by polling the store",
				"addr", r.rdb.Options().Addr, "err", err)
			failing = true
		case err == nil && failing:
			r.log.Info("redis relay: publishing wake-ups again", "addr", r.rdb.Options().Addr)
			failing = false
		}
	}
}

// subscribe receives the other replicas' notifications and feeds them to
// the broker, reconnecting with a growing pause when the connection is
// lost.
func (r *Relay) subscribe(ctx context.Context) {
	pause := 100 * time.Millisecond
	connectedOnce := false
	lost := func(err error) {
		if r.up.Swap(false) {
			r.log.Warn("redis relay: lost the subscription; polling the store until it is back",
				"addr", r.rdb.Options().Addr, "err", err)
		}
	}
	for ctx.Err() == nil {
		ps := r.rdb.Subscribe(ctx, r.channel)
		r.psMu.Lock()
		if ctx.Err() != nil {
			r.psMu.Unlock()
			_ = ps.Close()
			return
		}
		r.ps = ps
		r.psMu.Unlock()
		pinged := false
		for {
			msg, err := ps.ReceiveTimeout(ctx, r.idle)
			if ctx.Err() != nil {
				_ = ps.Close()
				return
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && !pinged && r.up.Load() {
					// Quiet for a while: make sure the connection lives.
					pinged = true
					if err := ps.Ping(ctx); err == nil {
						continue
					}
				}
				lost(err)
				break
			}
			pinged = false
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == r.channel {
					pause = 100 * time.Millisecond
					r.up.Store(true)
					if connectedOnce {
						r.log.Info("redis relay: subscription restored", "addr", r.rdb.Options().Addr)
					} else {
						r.log.Info("redis relay: subscribed", "addr", r.rdb.Options().Addr, "channel", r.channel)
						connectedOnce = true
					}
					if r.OnUp != nil {
						go r.OnUp()
					}
					r.authChange()
				}
			case *redis.Message:
				r.receive(ctx, m.Payload)
			}
		}
		// Start over on a new connection after a pause.
		_ = ps.Close()
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// receive feeds one message from another replica to the broker.
func (r *Relay) receive(ctx context.Context, payload string) {
	var w wire
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		r.log.Debug("redis relay: ignored a message that is not ours", "err", err)
		return
	}
	if w.Origin == r.origin {
		return // our own: the broker and the cache already had it
	}
	if w.Auth {
		r.authChange()
	}
	if len(w.N) > 0 {
		r.b.Notify(ctx, w.N...)
	}
}
