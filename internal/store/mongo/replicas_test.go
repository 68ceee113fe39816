package mongo

// Several API replicas on one database: the pub/sub service over this
// store, with stores that do not share a process (each its own locks and
// horizon). On the embedded FerretDB they connect through
// mongotest.SerialProxy, which gives each command the atomicity MongoDB
// gives single-document writes (see its comment); with
// KCI_TEST_MONGO_URI they connect to that server directly.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func TestChannelHeads(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.Transactions = TxOff
	st := openTest(t, o)
	a1 := &model.Event{Channel: "a", Data: 1}
	b1 := &model.Event{Channel: "b", Data: 2}
	if err := st.AppendEvents(ctx, a1, b1); err != nil {
		t.Fatal(err)
	}
	inflight := &model.Event{Channel: "b", Data: 3}
	docs, err := st.prepareEvents(ctx, []*model.Event{inflight})
	if err != nil {
		t.Fatal(err)
	}
	a2 := &model.Event{Channel: "a", Data: 4}
	if err := st.AppendEvents(ctx, a2); err != nil {
		t.Fatal(err)
	}
	heads, err := st.ChannelHeads(ctx, []string{"a", "b", "none"})
	if err != nil {
		t.Fatal(err)
	}
	// a2 is above the id still being written: not visible yet.
	if heads["a"] != a1.SequenceID || heads["b"] != b1.SequenceID || len(heads) != 2 {
		t.Fatalf("heads with a write in flight = %v; want a:%d b:%d", heads, a1.SequenceID, b1.SequenceID)
	}
	if _, err := st.insertEvents(ctx, docs); err != nil {
		t.Fatal(err)
	}
	heads, err = st.ChannelHeads(ctx, []string{"a", "b"})
	if err != nil || heads["a"] != a2.SequenceID || heads["b"] != inflight.SequenceID {
		t.Fatalf("heads = %v, %v; want a:%d b:%d", heads, err, a2.SequenceID, inflight.SequenceID)
	}
}

func quietService(st *Store, b *pubsub.Broker, every time.Duration) *pubsub.Service {
	return pubsub.New(st, b, pubsub.Options{
		KeepAlive: 20 * time.Second, PollEvery: every, Log: quietLog(), Heads: st,
	})
}

type listened struct {
	seq  int64
	data any
	beep bool
}

func decodeListen(t *testing.T, msg []byte) listened {
	t.Helper()
	var env struct{ Data string }
	var ce struct {
		Data any   `json:"data"`
		Seq  int64 `json:"_sequence_id"`
	}
	if err := json.Unmarshal(msg, &env); err != nil {
		t.Fatalf("listen answer %s: %v", msg, err)
	}
	if err := json.Unmarshal([]byte(env.Data), &ce); err != nil {
		t.Fatalf("CloudEvent %s: %v", env.Data, err)
	}
	return listened{seq: ce.Seq, data: ce.Data, beep: ce.Data == "BEEP"}
}

// A listener woken by an event while an earlier one is still being
// written gets both, in order, once the earlier one lands (MongoDB's
// horizon holds the later one back; the service must not skip the
// earlier one).
func TestServiceAcrossWriterGap(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.Transactions = TxOff
	st := openTest(t, o)
	b := pubsub.NewBroker()
	svc := quietService(st, b, -1)
	ns := st
	sub, err := svc.Subscribe(ctx, "c", "u", true, "")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		msg []byte
		err error
	}
	res := make(chan result, 1)
	listen := func() {
		go func() {
			msg, err := svc.Listen(ctx, sub.ID, "u")
			res <- result{msg, err}
		}()
	}
	listen()
	testutil.WaitFor(t, 20*time.Second, "the listener to wait", func() bool { l, _ := svc.Waiters(); return l == 1 })
	inflight := &model.Event{Channel: "c", Data: "first"}
	docs, err := st.prepareEvents(ctx, []*model.Event{inflight})
	if err != nil {
		t.Fatal(err)
	}
	later := &model.Event{Channel: "c", Data: "second"}
	if err := ns.AppendEvents(ctx, later); err != nil { // notified
		t.Fatal(err)
	}
	if _, err := st.insertEvents(ctx, docs); err != nil {
		t.Fatal(err)
	}
	b.Notify(ctx, pubsub.Notification{Channel: "c", Seq: inflight.SequenceID})
	for _, want := range []int64{inflight.SequenceID, later.SequenceID} {
		select {
		case r := <-res:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := decodeListen(t, r.msg); got.beep || got.seq != want {
				t.Fatalf("listen = %+v; want event %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered", want)
		}
		listen()
	}
}

// replicaOptions opens each "replica" on the test's database: through a
// SerialProxy on FerretDB, directly on a real MongoDB.
func replicaOptions(t *testing.T) func() Options {
	base := testOptions(t)
	base.GapGrace = 5 * time.Second
	if !mongotest.External() {
		p, err := mongotest.NewSerialProxy(base.URI)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		base.URI = p.URI()
	}
	return func() Options { return base }
}

// Two replicas (two stores, two services, no relay: the pollers carry
// the wake-ups): sequence ids from the shared counter are never handed
// out twice; subscribe on one, publish on the other, listen on either;
// concurrent listens on one subscription through both replicas deliver
// every event exactly once, in order.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	opts := replicaOptions(t)
	stA, stB := openTest(t, opts()), openTest(t, opts())
	svcA := quietService(stA, pubsub.NewBroker(), 200*time.Millisecond)
	svcB := quietService(stB, pubsub.NewBroker(), 200*time.Millisecond)
	for _, svc := range []*pubsub.Service{svcA, svcB} {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	// Subscribe on A, publish through B, listen on A then on B.
	sub, err := svcA.Subscribe(ctx, "walk", "u", false, "")
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan []byte, 1)
	go func() {
		msg, err := svcA.Listen(ctx, sub.ID, "u")
		if err != nil {
			t.Error(err)
		}
		res <- msg
	}()
	testutil.WaitFor(t, 20*time.Second, "the listener on A", func() bool { l, _ := svcA.Waiters(); return l == 1 })
	ev, err := svcB.Publish(ctx, "walk", "u", "hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-res:
		if got := decodeListen(t, msg); got.seq != ev.SequenceID {
			t.Fatalf("listen on A = %+v; want the event published through B", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event published through B did not reach the listener on A")
	}
	ev2, _ := svcA.Publish(ctx, "walk", "u", "again", nil)
	msg, err := svcB.Listen(ctx, sub.ID, "u")
	if err != nil || decodeListen(t, msg).seq != ev2.SequenceID {
		t.Fatalf("listen on B = %s, %v", msg, err)
	}

	// A stream: publishers on both replicas, one durable subscription
	// listened to through both at once.
	shared, err := svcB.Subscribe(ctx, "stream", "u", true, "both")
	if err != nil {
		t.Fatal(err)
	}
	const perPublisher = 40
	var mu sync.Mutex
	published := map[int64]bool{}
	var pubs sync.WaitGroup
	for p := range 4 {
		svc := []*pubsub.Service{svcA, svcB}[p%2]
		pubs.Go(func() {
			for i := range perPublisher {
				ev, err := svc.Publish(ctx, "stream", "u", map[string]any{"p": p, "i": i}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				published[ev.SequenceID] = true
				mu.Unlock()
			}
		})
	}
	lctx, stop := context.WithCancel(ctx)
	var got [2][]int64
	var total sync.WaitGroup
	var count sync.Mutex
	delivered := 0
	for l := range 2 {
		svc := []*pubsub.Service{svcA, svcB}[l%2]
		total.Go(func() {
			for {
				msg, err := svc.Listen(lctx, shared.ID, "u")
				if err != nil {
					if lctx.Err() == nil {
						t.Errorf("listen through replica %d: %v", l, err)
					}
					return
				}
				r := decodeListen(t, msg)
				if r.beep {
					continue
				}
				got[l] = append(got[l], r.seq)
				count.Lock()
				delivered++
				count.Unlock()
			}
		})
	}
	pubs.Wait()
	if len(published) != 4*perPublisher {
		t.Fatalf("%d distinct sequence ids for %d events: the counter handed one out twice", len(published), 4*perPublisher)
	}
	start := time.Now()
	for {
		count.Lock()
		n := delivered
		count.Unlock()
		if n >= 4*perPublisher {
			break
		}
		if time.Since(start) > 60*time.Second {
			cur, _ := stA.GetSubscription(ctx, shared.ID)
			hA, _ := stA.ChannelHeads(ctx, []string{"stream"})
			hB, _ := stB.ChannelHeads(ctx, []string{"stream"})
			last, _ := stA.LastSequence(ctx)
			t.Fatalf("only %d of %d events delivered; cursor %d heads %v %v last %d\n%v\n%v", n, 4*perPublisher, cur.Cursor, hA, hB, last, got[0], got[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("delivered in %v", time.Since(start))
	stop()
	total.Wait()
	var all []int64
	for l, seqs := range got {
		if !slices.IsSorted(seqs) {
			t.Errorf("listener %d got events out of order: %v", l, seqs)
		}
		all = append(all, seqs...)
	}
	slices.Sort(all)
	want := make([]int64, 0, len(published))
	for s := range published {
		want = append(want, s)
	}
	slices.Sort(want)
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("the listeners of one subscription got %d events (%v)\nwant each of the %d published exactly once", len(all), all, len(want))
	}
}
