package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// fixture is a Service over a fresh SQLite store.
type fixture struct {
	t   *testing.T
	svc *Service
	b   *Broker
	st  *sqlite.Store
	raw *sqlite.Store
	now atomic.Pointer[time.Time] // the service clock; nil = real time
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	raw := sqlitetest.Open(t)
	f := &fixture{t: t, raw: raw, b: NewBroker()}
	f.st = raw
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 5 * time.Second
	}
	opts.Now = func() time.Time {
		if p := f.now.Load(); p != nil {
			return *p
		}
		return time.Now()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	f.svc = New(f.st, f.b, opts)
	return f
}

func (f *fixture) setNow(t time.Time) { f.now.Store(&t) }

func (f *fixture) subscribe(channel, user string, promisc bool, subscriberID string) int64 {
	f.t.Helper()
	sub, err := f.svc.Subscribe(context.Background(), channel, user, promisc, subscriberID)
	if err != nil {
		f.t.Fatal(err)
	}
	return sub.ID
}

func (f *fixture) publish(channel, owner string, data any) *model.Event {
	f.t.Helper()
	ev, err := f.svc.Publish(context.Background(), channel, owner, data, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// received is a decoded listen answer.
type received struct {
	Channel string
	CE      map[string]any
}

func (r received) beep() bool { return r.CE["data"] == KeepAliveData }

func (r received) seq() int64 {
	n, _ := r.CE["_sequence_id"].(json.Number)
	v, _ := n.Int64()
	return v
}

func decodeMessage(t testing.TB, msg []byte) received {
	t.Helper()
	var env struct {
		Type    string  `json:"type"`
		Pattern *string `json:"pattern"`
		Channel string  `json:"channel"`
		Data    string  `json:"data"`
	}
	if err := json.Unmarshal(msg, &env); err != nil {
		t.Fatalf("listen answer %s: %v", msg, err)
	}
	if env.Type != "message" || env.Pattern != nil {
		t.Fatalf("listen answer %s: want type message, pattern null", msg)
	}
	var ce map[string]any
	d := json.NewDecoder(bytesReader(env.Data))
	d.UseNumber()
	if err := d.Decode(&ce); err != nil {
		t.Fatalf("CloudEvent %q: %v", env.Data, err)
	}
	return received{env.Channel, ce}
}

func (f *fixture) listen(id int64, user string) received {
	f.t.Helper()
	msg, err := f.svc.Listen(context.Background(), id, user)
	if err != nil {
		f.t.Fatalf("Listen(%d): %v", id, err)
	}
	return decodeMessage(f.t, msg)
}

// ready listens for an event that is already in the store: a
// keep-alive would mean the listener missed it.
func (f *fixture) ready(id int64, user string) received {
	f.t.Helper()
	r := f.listen(id, user)
	if r.beep() {
		f.t.Fatalf("listen(%d) answered a keep-alive while an event was waiting", id)
	}
	return r
}

// listenEvent listens until a non-keep-alive event comes.
func (f *fixture) listenEvent(id int64, user string) received {
	f.t.Helper()
	for {
		if r := f.listen(id, user); !r.beep() {
			return r
		}
	}
}

func (f *fixture) cursor(id int64) int64 {
	f.t.Helper()
	sub, err := f.raw.GetSubscription(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return sub.Cursor
}

func TestCloudEventShape(t *testing.T) {
	f := newFixture(t, Options{Source: "https://example.org/"})
	a := f.subscribe("abc", "bob", false, "")
	b := f.subscribe("abc", "carol", true, "")
	ev, err := f.svc.Publish(context.Background(), "abc", "bob", map[string]any{"k": "v"},
		map[string]any{"type": "my.type", "zz": 1, "aa": "x"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.listen(a, "bob")
	if r.Channel != "abc" {
		t.Fatalf("channel %q", r.Channel)
	}
	ce := r.CE
	if ce["specversion"] != "1.0" || ce["source"] != "https://example.org/" || ce["type"] != "my.type" ||
		ce["owner"] != "bob" || ce["aa"] != "x" || ce["zz"] != json.Number("1") || r.seq() != ev.SequenceID {
		t.Fatalf("CloudEvent %v", ce)
	}
	if d, _ := ce["data"].(map[string]any); d["k"] != "v" {
		t.Fatalf("data %v", ce["data"])
	}
	tm, err := time.Parse(time.RFC3339Nano, ce["time"].(string))
	if err != nil || !tm.Equal(ev.Timestamp.Time) || ce["time"].(string)[26:] != "+00:00" {
		t.Fatalf("time %v (%v), want %v with +00:00", ce["time"], err, ev.Timestamp.Time)
	}
	// The id is a UUID, the same for every delivery of the event.
	id, _ := ce["id"].(string)
	if len(id) != 36 || id[14] != '5' {
		t.Fatalf("id %q is not a version 5 UUID", id)
	}
	if r2 := f.listen(b, "carol"); r2.CE["id"] != id {
		t.Fatalf("second delivery id %v, want %v", r2.CE["id"], id)
	}
	// Defaults.
	f.publish("abc", "bob", "text")
	r = f.listen(a, "bob")
	if r.CE["type"] != DefaultType || r.CE["source"] != "https://example.org/" || r.CE["data"] != "text" {
		t.Fatalf("defaults: %v", r.CE)
	}
}

func TestOwnerAndPromiscuousFiltering(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 300 * time.Millisecond})
	alice := f.subscribe("node", "alice", false, "")
	promisc := f.subscribe("node", "alice", true, "")
	bob := f.subscribe("node", "bob", false, "")
	e1 := f.publish("node", "bob", map[string]any{"n": 1})
	e2 := f.publish("node", "", map[string]any{"n": 2}) // no owner: everyone
	e3 := f.publish("node", "alice", map[string]any{"n": 3})
	e4 := f.publish("node", "bob", map[string]any{"n": 4})

	for _, tc := range []struct {
		name string
		id   int64
		user string
		want []int64
	}{
		{"alice", alice, "alice", []int64{e2.SequenceID, e3.SequenceID}},
		{"promiscuous", promisc, "alice", []int64{e1.SequenceID, e2.SequenceID, e3.SequenceID, e4.SequenceID}},
		{"bob", bob, "bob", []int64{e1.SequenceID, e2.SequenceID, e4.SequenceID}},
	} {
		var got []int64
		for range tc.want {
			got = append(got, f.ready(tc.id, tc.user).seq())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s received %v, want %v", tc.name, got, tc.want)
		}
		// Nothing more: a keep-alive.
		if r := f.listen(tc.id, tc.user); !r.beep() {
			t.Errorf("%s received an extra %v", tc.name, r.CE)
		}
	}
	// The keep-alive moved alice's cursor past bob's last event, which she
	// may not see.
	if c := f.cursor(alice); c != e4.SequenceID {
		t.Errorf("alice's cursor %d, want %d", c, e4.SequenceID)
	}
}

func TestNodeEventsReachNodeSubscribers(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	id := f.subscribe("node", "admin", false, "")
	n := &model.Node{ID: objectid.New(), Kind: "checkout", Name: "checkout", Path: []string{"checkout"},
		State: model.StateRunning, Owner: model.Str("admin"), Data: map[string]any{}}
	if err := f.st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n},
		Events: []*model.Event{{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("created", n, false, nil)}}}); err != nil {
		t.Fatal(err)
	}
	done := *n
	done.State = model.StateDone
	if err := f.st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{&done},
		Events: []*model.Event{{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("updated", &done, false, n)}}}); err != nil {
		t.Fatal(err)
	}
	r := f.listen(id, "admin")
	d := r.CE["data"].(map[string]any)
	if d["op"] != "created" || d["state"] != "running" || d["id"] != n.ID.String() || r.CE["owner"] != "admin" {
		t.Fatalf("created event %v", r.CE)
	}
	d = f.listen(id, "admin").CE["data"].(map[string]any)
	if d["op"] != "updated" || d["state"] != "done" || d["previous_state"] != "running" {
		t.Fatalf("updated event %v", d)
	}
}

// TestConcurrentPublishersAndListeners publishes thousands of events from
// several goroutines while listeners of every kind follow them: each
// listener must receive exactly the events it may see, in sequence
// order.
func TestConcurrentPublishersAndListeners(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 2 * time.Second})
	ctx := context.Background()
	const publishers, each = 5, 600 // 3000 events
	owners := []string{"alice", "bob", "", "alice", "carol"}
	type listener struct {
		id      int64
		user    string
		promisc bool
		got     []int64
	}
	var ls []*listener
	for _, u := range []struct {
		user    string
		promisc bool
	}{{"alice", false}, {"alice", false}, {"bob", false}, {"carol", false}, {"dave", false}, {"x", true}, {"y", true}} {
		ls = append(ls, &listener{id: f.subscribe("node", u.user, u.promisc, ""), user: u.user, promisc: u.promisc})
	}
	visibleCount := func(l *listener) int {
		n := 0
		for _, o := range owners {
			if visible(o, l.user, l.promisc) {
				n += each
			}
		}
		return n
	}
	var published atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, len(ls)+publishers)
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := visibleCount(l)
			for len(l.got) < want {
				after := published.Load()
				msg, err := f.svc.Listen(ctx, l.id, l.user)
				if err != nil {
					errs <- err
					return
				}
				r := decodeMessage(t, msg)
				if r.beep() {
					if after {
						// Everything was in the store before this listen
						// began, and it found nothing: events were lost.
						all, _ := f.raw.EventsAfter(ctx, "node", 0, 0)
						var missing []int64
						for _, ev := range all {
							if visible(ownerOf(ev), l.user, l.promisc) && !slices.Contains(l.got, ev.SequenceID) {
								missing = append(missing, ev.SequenceID)
							}
						}
						errs <- fmt.Errorf("listener %s got %d of %d events; cursor %d, last got %d, missing %v", l.user, len(l.got), want, f.cursor(l.id), l.got[len(l.got)-1], missing[:min(20, len(missing))])
						return
					}
					continue
				}
				l.got = append(l.got, r.seq())
			}
		}()
	}
	var pwg sync.WaitGroup
	for p := range publishers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range each {
				if _, err := f.svc.Publish(ctx, "node", owners[p], map[string]any{"p": p, "i": i}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	pwg.Wait()
	published.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := f.raw.FindEvents(ctx, query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != publishers*each {
		t.Fatalf("%d events stored", len(all))
	}
	for _, l := range ls {
		var want []int64
		for _, ev := range all {
			if visible(ownerOf(ev), l.user, l.promisc) {
				want = append(want, ev.SequenceID)
			}
		}
		if !slices.Equal(l.got, want) {
			t.Errorf("listener %s (promisc %v): %d events, want %d, in order", l.user, l.promisc, len(l.got), len(want))
		}
	}
}

func TestConcurrentListensOnOneSubscription(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.subscribe("abc", "bob", false, "")
	const n = 50
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.listenEvent(id, "bob")
			mu.Lock()
			got = append(got, r.seq())
			mu.Unlock()
		}()
	}
	var want []int64
	for i := range n {
		want = append(want, f.publish("abc", "bob", map[string]any{"i": i}).SequenceID)
	}
	wg.Wait()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("concurrent listens on one subscription got %v, want each event once: %v", got, want)
	}
}

func TestDurableResumeWithImplicitAck(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 200 * time.Millisecond})
	ctx := context.Background()
	id := f.subscribe("node", "sched", false, "sched-1")
	var evs []*model.Event
	for i := range 5 {
		evs = append(evs, f.publish("node", "", map[string]any{"i": i}))
	}
	if r := f.listen(id, "sched"); r.seq() != evs[0].SequenceID {
		t.Fatalf("first listen got %d", r.seq())
	}
	if r := f.listen(id, "sched"); r.seq() != evs[1].SequenceID { // acks evs[0]
		t.Fatalf("second listen got %d", r.seq())
	}
	st, _ := f.raw.GetSubscriberState(ctx, "sched-1")
	if st.LastEventID != evs[0].SequenceID {
		t.Fatalf("acked %d, want %d (the event before the last delivered)", st.LastEventID, evs[0].SequenceID)
	}
	// The client goes away without acknowledging evs[1]; more events
	// come, far more than the reference's catch-up cap of 1000.
	for i := range 1500 {
		evs = append(evs, f.publish("node", "", map[string]any{"j": i}))
	}
	// Another user cannot take the subscriber id.
	if _, err := f.svc.Subscribe(ctx, "node", "mallory", false, "sched-1"); !errors.Is(err, ErrSubscriberTaken) {
		t.Fatalf("subscribe by another user = %v, want ErrSubscriberTaken", err)
	}
	id2 := f.subscribe("node", "sched", false, "sched-1")
	if id2 == id {
		t.Fatal("subscription id reused")
	}
	for i, want := range evs[1:] {
		if r := f.ready(id2, "sched"); r.seq() != want.SequenceID {
			t.Fatalf("replay %d: got %d, want %d", i, r.seq(), want.SequenceID)
		}
	}
	if r := f.listen(id2, "sched"); !r.beep() {
		t.Fatalf("after replay: %v", r.CE)
	}
	st, _ = f.raw.GetSubscriberState(ctx, "sched-1")
	if last := evs[len(evs)-1].SequenceID; st.LastEventID != last {
		t.Fatalf("acked %d, want %d", st.LastEventID, last)
	}
	// A new subscriber id starts at the end of the history.
	fresh := f.subscribe("node", "sched", false, "sched-2")
	if r := f.listen(fresh, "sched"); !r.beep() {
		t.Fatalf("a new durable subscriber received old event %d", r.seq())
	}
}

func TestKeepAliveTiming(t *testing.T) {
	const period = 300 * time.Millisecond
	f := newFixture(t, Options{KeepAlive: period, Source: "https://example.org/"})
	id := f.subscribe("abc", "bob", false, "")
	start := time.Now()
	msg, err := f.svc.Listen(context.Background(), id, "bob")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	r := decodeMessage(t, msg)
	if !r.beep() || r.Channel != "abc" || r.CE["specversion"] != "1.0" || r.CE["type"] != DefaultType ||
		r.CE["source"] != "https://example.org/" {
		t.Fatalf("keep-alive %s", msg)
	}
	if _, ok := r.CE["owner"]; ok {
		t.Fatalf("keep-alive with an owner: %s", msg)
	}
	if took < period || took > period+5*time.Second {
		t.Fatalf("keep-alive after %v, want about %v", took, period)
	}
	// An event published during a wait ends it at once (not at the
	// keep-alive re-check: the period is a minute here).
	f = newFixture(t, Options{KeepAlive: time.Minute})
	id = f.subscribe("abc", "bob", false, "")
	done := make(chan received, 1)
	go func() { done <- f.listen(id, "bob") }()
	testutil.WaitFor(t, 10*time.Second, "the listener to wait", func() bool { return f.b.Waiting("abc", "bob", false) })
	start = time.Now()
	ev := f.publish("abc", "bob", map[string]any{"x": 1})
	r = <-done
	if r.seq() != ev.SequenceID || time.Since(start) > 20*time.Second {
		t.Fatalf("got %v after %v", r.CE, time.Since(start))
	}
}

func TestClientGoneLeavesCursor(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 10 * time.Second})
	id := f.subscribe("abc", "bob", false, "")
	before := f.cursor(id)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.svc.Listen(ctx, id, "bob")
		errc <- err
	}()
	testutil.WaitFor(t, 10*time.Second, "the listener to wait", func() bool { return f.b.Waiting("abc", "bob", false) })
	start := time.Now()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("cancelled listen returned %v after %v", err, time.Since(start))
	}
	if c := f.cursor(id); c != before {
		t.Fatalf("cursor moved from %d to %d", before, c)
	}
	// An event ready for a client that is already gone is not consumed.
	ev := f.publish("abc", "bob", map[string]any{"x": 1})
	if _, err := f.svc.Listen(ctx, id, "bob"); !errors.Is(err, context.Canceled) {
		t.Fatalf("listen with a dead context = %v", err)
	}
	if c := f.cursor(id); c != before {
		t.Fatalf("cursor moved from %d to %d for a gone client", before, c)
	}
	if r := f.listen(id, "bob"); r.seq() != ev.SequenceID {
		t.Fatalf("the next listen got %v, want event %d", r.CE, ev.SequenceID)
	}
}

func TestSubscriptionErrors(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	id := f.subscribe("abc", "bob", false, "")
	if _, err := f.svc.Listen(ctx, id, "alice"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("listen by another user = %v", err)
	}
	if err := f.svc.Unsubscribe(ctx, id, "alice"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("unsubscribe by another user = %v", err)
	}
	if _, err := f.svc.Listen(ctx, id+100, "bob"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("listen unknown = %v", err)
	}
	if err := f.svc.Unsubscribe(ctx, id, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Listen(ctx, id, "bob"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("listen after unsubscribe = %v", err)
	}
	if err := f.svc.Unsubscribe(ctx, id, "bob"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("second unsubscribe = %v", err)
	}
}

func TestReaping(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 100 * time.Millisecond, ReapAfter: 15 * time.Minute})
	ctx := context.Background()
	t0 := time.Now().UTC()
	f.setNow(t0)
	plain := f.subscribe("node", "bob", false, "")
	durable := f.subscribe("node", "sched", false, "sched-1")
	polled := f.subscribe("node", "carol", false, "")
	ev := f.publish("node", "", map[string]any{"x": 1})
	if r := f.listen(durable, "sched"); r.seq() != ev.SequenceID {
		t.Fatal("durable subscription did not get the event")
	}
	f.setNow(t0.Add(10 * time.Minute))
	f.listen(polled, "carol") // polled at +10 min
	f.setNow(t0.Add(16 * time.Minute))
	if err := f.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Listen(ctx, plain, "bob"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("listen on a reaped subscription = %v, want ErrNoSubscription", err)
	}
	if _, err := f.svc.Listen(ctx, durable, "sched"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("listen on a reaped durable subscription = %v", err)
	}
	if r := f.listen(polled, "carol"); !r.beep() {
		t.Fatal("the polled subscription lost its place")
	}
	// Nothing is lost for the durable subscriber: the event it never
	// acknowledged comes again, then what was published meanwhile.
	ev2 := f.publish("node", "", map[string]any{"x": 2})
	again := f.subscribe("node", "sched", false, "sched-1")
	if r := f.listen(again, "sched"); r.seq() != ev.SequenceID {
		t.Fatalf("resumed durable subscriber got %d, want %d", r.seq(), ev.SequenceID)
	}
	if r := f.listen(again, "sched"); r.seq() != ev2.SequenceID {
		t.Fatalf("resumed durable subscriber got %d, want %d", r.seq(), ev2.SequenceID)
	}
	// Subscriber states unused for 30 days are dropped.
	f.setNow(t0.Add(31 * 24 * time.Hour))
	if err := f.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.raw.GetSubscriberState(ctx, "sched-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("subscriber state kept after 31 days: %v", err)
	}
}

func TestRetention(t *testing.T) {
	f := newFixture(t, Options{EventTTL: time.Hour, RetentionBatch: 3})
	ctx := context.Background()
	now := time.Now().UTC()
	f.setNow(now)
	var evs []*model.Event
	for i := range 10 {
		ts := now.Add(-2 * time.Hour)
		if i >= 7 {
			ts = now.Add(-30 * time.Minute)
		}
		evs = append(evs, &model.Event{Channel: "node", Timestamp: model.T(ts), Data: map[string]any{"i": i}})
	}
	if err := f.st.AppendEvents(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	left, _ := f.raw.EventsAfter(ctx, "node", 0, 0)
	if len(left) != 3 || left[0].SequenceID != evs[7].SequenceID {
		t.Fatalf("%d events left, want the 3 recent ones", len(left))
	}
}

func TestDrainEndsWaits(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: time.Minute})
	id := f.subscribe("abc", "bob", false, "")
	listened := make(chan []byte, 1)
	go func() {
		msg, _ := f.svc.Listen(context.Background(), id, "bob")
		listened <- msg
	}()
	popped := make(chan error, 1)
	go func() {
		_, err := f.svc.Pop(context.Background(), "q")
		popped <- err
	}()
	testutil.WaitFor(t, 10*time.Second, "the waits to start", func() bool {
		_, lists := f.b.Stats()
		return f.b.Waiting("abc", "bob", false) && lists == 1
	})
	start := time.Now()
	f.svc.Drain()
	if r := decodeMessage(t, <-listened); !r.beep() {
		t.Fatalf("drained listen answered %v", r.CE)
	}
	if err := <-popped; !errors.Is(err, ErrDraining) {
		t.Fatalf("drained pop = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("drain took %v", d)
	}
	// Later listens answer without waiting.
	if r := f.listen(id, "bob"); !r.beep() {
		t.Fatal("listen after drain")
	}
}

func TestPushPop(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	for i := range 3 {
		if err := f.svc.Push(ctx, "q", map[string]any{"i": i}, map[string]any{"type": "t", "x": "y"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		v, err := f.svc.Pop(ctx, "q")
		if err != nil {
			t.Fatal(err)
		}
		var ce map[string]any
		json.Unmarshal(v, &ce)
		if d, _ := ce["data"].(map[string]any); d["i"] != float64(i) || ce["type"] != "t" || ce["x"] != "y" ||
			ce["specversion"] != "1.0" || ce["source"] != DefaultSource {
			t.Fatalf("pop %d = %s", i, v)
		}
	}
	// A blocked pop is woken by a push.
	got := make(chan []byte, 1)
	go func() {
		v, err := f.svc.Pop(ctx, "q")
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	testutil.WaitFor(t, 10*time.Second, "the pop to wait", func() bool { _, l := f.b.Stats(); return l == 1 })
	if err := f.svc.Push(ctx, "q", "late", nil); err != nil {
		t.Fatal(err)
	}
	if v := <-got; !json.Valid(v) || !containsJSON(v, `"data":"late"`) {
		t.Fatalf("woken pop got %s", v)
	}
	// A pop whose client goes away ends at once and takes nothing.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := f.svc.Pop(cctx, "q"); errc <- err }()
	testutil.WaitFor(t, 10*time.Second, "the pop to wait", func() bool { _, l := f.b.Stats(); return l == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pop = %v", err)
	}
}

func TestKV(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	if _, ok, _ := f.svc.GetKV(ctx, "ns", "k"); ok {
		t.Fatal("missing key found")
	}
	f.svc.SetKV(ctx, "ns", "k", "v")
	if v, ok, _ := f.svc.GetKV(ctx, "ns", "k"); !ok || v != "v" {
		t.Fatalf("get = %q %v", v, ok)
	}
	f.svc.SetKV(ctx, "ns", "k", "") // empty deletes
	if _, ok, _ := f.svc.GetKV(ctx, "ns", "k"); ok {
		t.Fatal("empty value did not delete")
	}
}

// TestRestartKeepsSubscription closes the store and opens a new service
// on the same file: the subscription keeps its cursor and delivers what
// was published while the server was down.
func TestRestartKeepsSubscription(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kernelci.db")
	open := func() (*Service, *sqlite.Store) {
		raw, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		b := NewBroker()
		return New(raw, b, Options{KeepAlive: 200 * time.Millisecond}), raw
	}
	ctx := context.Background()
	svc, raw := open()
	sub, err := svc.Subscribe(ctx, "abc", "bob", false, "")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := svc.Publish(ctx, "abc", "bob", "one", nil)
	msg, _ := svc.Listen(ctx, sub.ID, "bob")
	if decodeMessage(t, msg).seq() != first.SequenceID {
		t.Fatal("first event not delivered")
	}
	raw.Close()

	// "Meanwhile": written by another process on the same data.
	raw2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var later []int64
	for i := range 3 {
		ev := &model.Event{Channel: "abc", Owner: model.Str("bob"), Data: map[string]any{"i": i}}
		raw2.AppendEvents(ctx, ev)
		later = append(later, ev.SequenceID)
	}
	raw2.Close()

	svc, raw = open()
	defer raw.Close()
	for _, want := range later {
		msg, err := svc.Listen(ctx, sub.ID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeMessage(t, msg).seq(); got != want {
			t.Fatalf("after restart got %d, want %d", got, want)
		}
	}
	// New ids keep increasing.
	sub2, _ := svc.Subscribe(ctx, "abc", "bob", false, "")
	if sub2.ID <= sub.ID {
		t.Fatalf("id %d after %d", sub2.ID, sub.ID)
	}
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

func containsJSON(b []byte, sub string) bool { return strings.Contains(string(b), sub) }

// TestReadersBehindTrimmedTail has listeners read a backlog longer than
// the channel's tail keeps (the tail drops its oldest half when full),
// first one that extends the tail past its own position, then one left
// behind by it: both get every event, in order.
func TestReadersBehindTrimmedTail(t *testing.T) {
	f := newFixture(t, Options{KeepAlive: 100 * time.Millisecond})
	first := f.subscribe("node", "u", false, "")
	second := f.subscribe("node", "u", true, "")
	var mine, all []int64
	const total = tailMax + tailMax/2
	for i := range total {
		owner := ""
		if i%3 == 0 {
			owner = "other" // invisible to first
		}
		ev := f.publish("node", owner, map[string]any{"i": i})
		all = append(all, ev.SequenceID)
		if owner == "" {
			mine = append(mine, ev.SequenceID)
		}
	}
	for _, tc := range []struct {
		name string
		id   int64
		want []int64
	}{{"first", first, mine}, {"second", second, all}} {
		for i, w := range tc.want {
			if got := f.ready(tc.id, "u").seq(); got != w {
				t.Fatalf("%s reader, event %d: got %d, want %d", tc.name, i, got, w)
			}
		}
		if r := f.listen(tc.id, "u"); !r.beep() {
			t.Fatalf("%s reader got an extra event %d", tc.name, r.seq())
		}
	}
}

// countingStore counts the reads of the event history.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) EventsAfter(ctx context.Context, channel string, after int64, limit int) ([]*model.Event, error) {
	c.reads.Add(1)
	return c.Store.EventsAfter(ctx, channel, after, limit)
}

// TestLiveListenerDoesNotWalkBacklog: a durable subscriber replaying an
// old backlog must not make listeners at the end of the history read
// through that backlog.
func TestLiveListenerDoesNotWalkBacklog(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	durable := f.subscribe("node", "u", false, "replay")
	var evs []*model.Event
	for i := range 4 * tailMax {
		evs = append(evs, &model.Event{Channel: "node", Data: map[string]any{"i": i}})
	}
	if err := f.st.AppendEvents(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: f.st}
	svc := New(cs, f.b, Options{KeepAlive: time.Minute})
	// The replaying subscriber is the first reader: the tail starts at
	// its (old) position.
	msg, err := svc.Listen(ctx, durable, "u")
	if err != nil || decodeMessage(t, msg).seq() != evs[0].SequenceID {
		t.Fatalf("replay: %s %v", msg, err)
	}
	live, err := svc.Subscribe(ctx, "node", "u", false, "")
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := svc.Publish(ctx, "node", "u", "new", nil)
	before := cs.reads.Load()
	msg, err = svc.Listen(ctx, live.ID, "u")
	if err != nil || decodeMessage(t, msg).seq() != ev.SequenceID {
		t.Fatalf("live: %s %v", msg, err)
	}
	if n := cs.reads.Load() - before; n > 2 {
		t.Fatalf("the live listener made %d reads of the history to get one new event", n)
	}
	// The replay goes on, complete and in order.
	for i, want := range evs[1:20] {
		msg, err := svc.Listen(ctx, durable, "u")
		if err != nil || decodeMessage(t, msg).seq() != want.SequenceID {
			t.Fatalf("replay %d: %s %v", i, msg, err)
		}
	}
}

// A cursor move is committed without an fsync (docs/pubsub.md, "Delivery
// guarantees"): a power loss may undo the last ones. What that costs is
// a redelivery, never a loss: with the cursor put back where it was
// before the last deliveries (what a lost commit leaves), a restarted
// server delivers those events again, then the rest, in order.
func TestLostCursorMoveRedelivers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kernelci.db")
	open := func() (*Service, *sqlite.Store) {
		raw, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return New(raw, NewBroker(), Options{KeepAlive: 200 * time.Millisecond}), raw
	}
	ctx := context.Background()
	svc, raw := open()
	sub, err := svc.Subscribe(ctx, "abc", "bob", false, "")
	if err != nil {
		t.Fatal(err)
	}
	start := sub.Cursor
	var seqs []int64
	for i := range 4 {
		ev, err := svc.Publish(ctx, "abc", "bob", map[string]any{"i": i}, nil)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ev.SequenceID)
	}
	for _, want := range seqs[:2] {
		msg, err := svc.Listen(ctx, sub.ID, "bob")
		if err != nil || decodeMessage(t, msg).seq() != want {
			t.Fatalf("before the loss: %s, %v; want event %d", msg, err, want)
		}
	}
	// The two moves are lost: the stored cursor is back at the start.
	if err := raw.AdvanceSubscription(ctx, sub.ID, seqs[1], start, time.Now()); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	svc, raw = open()
	defer raw.Close()
	for _, want := range seqs { // the two delivered again, then the rest
		msg, err := svc.Listen(ctx, sub.ID, "bob")
		if err != nil || decodeMessage(t, msg).seq() != want {
			t.Fatalf("after the loss: %s, %v; want event %d", msg, err, want)
		}
	}
	if msg, err := svc.Listen(ctx, sub.ID, "bob"); err != nil || !decodeMessage(t, msg).beep() {
		t.Fatalf("after every event: %s, %v; want a keep-alive", msg, err)
	}
}
