package redisbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testDB is the Redis database of the lists in these tests (not the
// default, to show that REDIS_DB_NUMBER is followed).
const testDB = 5

func openBus(t *testing.T, addr string, db int) *Bus {
	t.Helper()
	b, err := Open(Options{Host: addr, DB: db, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestClientOptions(t *testing.T) {
	for _, tc := range []struct {
		host, addr, user, pass string
	}{
		{"redis", "redis:6379", "", ""},
		{"127.0.0.1:6380", "127.0.0.1:6380", "", ""},
		{":s3cret@redis", "redis:6379", "", "s3cret"},
		{"u:p@redis:7000", "redis:7000", "u", "p"},
		{"redis://r.example:6390/4", "r.example:6390", "", ""},
	} {
		o, err := ClientOptions(tc.host, 3)
		if err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if o.Addr != tc.addr || o.Username != tc.user || o.Password != tc.pass || o.DB != 3 {
			t.Errorf("%s: addr %q user %q password %q db %d", tc.host, o.Addr, o.Username, o.Password, o.DB)
		}
	}
	if _, err := ClientOptions("redis://u:hidden@h:bad", 0); err == nil || strings.Contains(err.Error(), "hidden") {
		t.Errorf("bad URL: %v (must fail without showing the password)", err)
	}
}

func TestPythonJSON(t *testing.T) {
	src := `{"a":"é😀` + "\u007f\\n\\t\\\"\\\\/<>&\u2028\\u0001" + `","b":[1,2.5,true,null,-0,1e5],"c":{},"d":[],"e":{"x":{"y":[{}]}}}`
	// What Python's json.dumps writes for the same object (numbers keep
	// their spelling here; Python would write -0 as 0 and 1e5 as
	// 100000.0, having parsed them first).
	want := `{"a": "\u00e9\ud83d\ude00\u007f\n\t\"\\/<>&\u2028\u0001", "b": [1, 2.5, true, null, -0, 1e5], "c": {}, "d": [], "e": {"x": {"y": [{}]}}}`
	got, err := pythonJSON([]byte(src))
	if err != nil || string(got) != want {
		t.Fatalf("pythonJSON:\n got %s (%v)\nwant %s", got, err, want)
	}
	// json.dumps(..., ensure_ascii=False, separators=(",", ":")), as
	// FastAPI answers.
	wantCompact := `{"a":"é😀` + "\u007f" + `\n\t\"\\/<>&` + "\u2028" + `\u0001","b":[1,2.5,true,null,-0,1e5],"c":{},"d":[],"e":{"x":{"y":[{}]}}}`
	back, err := compactJSON(got)
	if err != nil || string(back) != wantCompact {
		t.Fatalf("compactJSON:\n got %s (%v)\nwant %s", back, err, wantCompact)
	}
	for _, bad := range []string{``, `{`, `{"a":1}x`, `{"a":}`, `nul`} {
		if _, err := pythonJSON([]byte(bad)); err == nil {
			t.Errorf("pythonJSON(%q) accepted", bad)
		}
	}
}

// Key-value pairs are Redis strings "namespace:key" in database 0, so
// that the reference reads ours and we read its.
func TestKVLayout(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	st := openBus(t, addr, testDB).Wrap(sqlitetest.Open(t))
	raw := redistest.Client(t, addr, 0)
	ns := redistest.Unique("kvtest")
	t.Cleanup(func() { raw.Del(context.Background(), ns+":k", ns+":ref") })

	if _, err := st.GetKV(ctx, ns, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetKV of a missing key: %v", err)
	}
	if err := st.SetKV(ctx, ns, "k", "välue"); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, ns+":k").Result(); err != nil || v != "välue" {
		t.Fatalf("Redis db 0 %s:k = %q, %v", ns, v, err)
	}
	if err := raw.Set(ctx, ns+":ref", "written by the reference", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := st.GetKV(ctx, ns, "ref"); err != nil || v != "written by the reference" {
		t.Fatalf("GetKV of the reference's key = %q, %v", v, err)
	}
	if err := st.DeleteKV(ctx, ns, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _ := raw.Exists(ctx, ns+":k").Result(); n != 0 {
		t.Fatal("DeleteKV left the key")
	}
	if err := st.DeleteKV(ctx, ns, "k"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

// ceRE is the layout of a pushed CloudEvent, as the reference's
// to_cloudevent_json writes it.
var ceRE = regexp.MustCompile(`^\{"specversion": "1\.0", "id": "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", ` +
	`"source": "https://api\.kernelci\.org/", "type": "api\.kernelci\.org", "time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", ` +
	`"data": \{"k": "v\\u00e9", "n": \[1, 2\]\}\}$`)

// Lists are RPUSHed CloudEvent JSON in database REDIS_DB_NUMBER, in the
// layout of the reference; items it pushed pop here, in order.
func TestListLayout(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	bus := openBus(t, addr, testDB)
	st := bus.Wrap(sqlitetest.Open(t))
	b := pubsub.NewBroker()
	svc := pubsub.New(st, b, pubsub.Options{Log: quietLog(), Lists: st})
	raw := redistest.Client(t, addr, testDB)
	list := redistest.Unique("listtest")
	t.Cleanup(func() { raw.Del(context.Background(), list) })

	if err := svc.Push(ctx, list, map[string]any{"k": "vé", "n": []any{1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	items, err := raw.LRange(ctx, list, 0, -1).Result()
	if err != nil || len(items) != 1 {
		t.Fatalf("LRANGE %s in db %d = %q, %v", list, testDB, items, err)
	}
	if !ceRE.MatchString(items[0]) {
		t.Fatalf("pushed item %s\ndoes not have the reference's layout", items[0])
	}
	if n, _ := redistest.Client(t, addr, 0).Exists(ctx, list).Result(); n != 0 {
		t.Fatal("the list is in database 0")
	}
	// An item pushed by the reference, then ours: both pop, in order, as
	// compact JSON.
	ref := `{"specversion": "1.0", "id": "a5f1c1a4-4d6f-4a7e-9a44-0d9c2b3c4d5e", "source": "https://api.kernelci.org/", "type": "api.kernelci.org", "time": "2026-01-02T03:04:05.678901+00:00", "data": {"x": "\u00e9"}}`
	if err := raw.LPush(ctx, list, ref).Err(); err != nil {
		t.Fatal(err)
	}
	v, err := svc.Pop(ctx, list)
	if err != nil || string(v) != `{"specversion":"1.0","id":"a5f1c1a4-4d6f-4a7e-9a44-0d9c2b3c4d5e","source":"https://api.kernelci.org/","type":"api.kernelci.org","time":"2026-01-02T03:04:05.678901+00:00","data":{"x":"é"}}` {
		t.Fatalf("pop of the reference's item = %s, %v", v, err)
	}
	v, err = svc.Pop(ctx, list)
	var ce map[string]any
	if err != nil || json.Unmarshal(v, &ce) != nil || fmt.Sprint(ce["data"]) != "map[k:vé n:[1 2]]" {
		t.Fatalf("pop of our item = %s, %v", v, err)
	}
	if _, err := st.PopList(ctx, list); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PopList of an empty list: %v", err)
	}
	// Items that are not JSON, or JSON null, are consumed and skipped,
	// as the reference's pop does.
	raw.RPush(ctx, list, "not json", "null", `{"ok": true}`)
	if v, err := st.PopList(ctx, list); err != nil || string(v) != `{"ok":true}` {
		t.Fatalf("PopList past bad items = %s, %v", v, err)
	}
}

// Items pushed through two replicas (and by a program using Redis
// directly) go to exactly one of several concurrent poppers on either
// replica, each once, in push order per pusher.
func TestListsAcrossReplicas(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	list := redistest.Unique("listrep")
	raw := redistest.Client(t, addr, testDB)
	t.Cleanup(func() { raw.Del(context.Background(), list) })
	var svcs []*pubsub.Service
	for range 2 {
		st := openBus(t, addr, testDB).Wrap(sqlitetest.Open(t))
		b := pubsub.NewBroker()
		svcs = append(svcs, pubsub.New(st, b, pubsub.Options{Log: quietLog(), Lists: st}))
	}
	const perPusher = 150
	var mu sync.Mutex
	got := map[string][]int{}
	var wg sync.WaitGroup
	popped := make(chan struct{}, 3*perPusher)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	for i := range 6 {
		svc := svcs[i%2]
		wg.Go(func() {
			for {
				v, err := svc.Pop(pctx, list)
				if err != nil {
					return
				}
				var ce struct {
					Data struct {
						P string
						I int
					}
				}
				if err := json.Unmarshal(v, &ce); err != nil {
					t.Errorf("popped %s: %v", v, err)
					return
				}
				mu.Lock()
				got[ce.Data.P] = append(got[ce.Data.P], ce.Data.I)
				mu.Unlock()
				popped <- struct{}{}
			}
		})
	}
	var pushers sync.WaitGroup
	for p, svc := range svcs {
		pushers.Go(func() {
			for i := range perPusher {
				if err := svc.Push(ctx, list, map[string]any{"p": fmt.Sprint("replica", p), "i": i}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pushers.Go(func() {
		for i := range perPusher {
			raw.RPush(ctx, list, fmt.Sprintf(`{"specversion": "1.0", "data": {"p": "direct", "i": %d}}`, i))
		}
	})
	pushers.Wait()
	for range 3 * perPusher {
		select {
		case <-popped:
		case <-time.After(30 * time.Second):
			t.Fatal("pops stopped before every item was popped")
		}
	}
	stop()
	wg.Wait()
	// Each pusher's items were pushed in order; concurrent poppers may
	// record them slightly out of order, but each must come exactly once.
	for _, p := range []string{"replica0", "replica1", "direct"} {
		seen := map[int]int{}
		for _, i := range got[p] {
			seen[i]++
		}
		for i := range perPusher {
			if seen[i] != 1 {
				t.Fatalf("%s item %d popped %d times", p, i, seen[i])
			}
		}
	}
	if n, _ := raw.LLen(ctx, list).Result(); n != 0 {
		t.Fatalf("%d items left", n)
	}
}

// A blocking pop is woken by a push from anywhere; an item that arrives
// for a client that has gone away goes back to the head of the list.
func TestBlockingPop(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	st := openBus(t, addr, testDB).Wrap(sqlitetest.Open(t))
	raw := redistest.Client(t, addr, testDB)
	list := redistest.Unique("blpop")
	t.Cleanup(func() { raw.Del(context.Background(), list) })

	blocked := func() int64 {
		info, _ := raw.ClientList(ctx).Result()
		return int64(strings.Count(info, "cmd=blpop"))
	}
	start := blocked()
	res := make(chan error, 1)
	var got []byte
	go func() {
		var err error
		got, err = st.PopListWait(ctx, list, 20*time.Second)
		res <- err
	}()
	testutil.WaitFor(t, 15*time.Second, "the pop to block in BLPOP", func() bool { return blocked() > start })
	raw.RPush(ctx, list, `{"a": 1}`)
	if err := <-res; err != nil || string(got) != `{"a":1}` {
		t.Fatalf("woken pop = %s, %v", got, err)
	}

	// The client goes away while BLPOP waits; the item that comes next is
	// put back.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := st.PopListWait(cctx, list, 20*time.Second)
		res <- err
	}()
	testutil.WaitFor(t, 15*time.Second, "the second pop to block", func() bool { return blocked() > start })
	cancel()
	raw.RPush(ctx, list, `{"b": 2}`)
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("pop of a gone client = %v", err)
	}
	if items, _ := raw.LRange(ctx, list, 0, -1).Result(); len(items) != 1 || items[0] != `{"b": 2}` {
		t.Fatalf("the item was not put back: %q", items)
	}
	// Nothing pushed: ErrNotFound after the wait.
	raw.Del(ctx, list)
	if _, err := st.PopListWait(ctx, list, time.Second); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty wait = %v", err)
	}
}

// Draining ends a waiting pop promptly with ErrDraining.
func TestPopDrain(t *testing.T) {
	addr := redistest.Addr(t)
	st := openBus(t, addr, testDB).Wrap(sqlitetest.Open(t))
	b := pubsub.NewBroker()
	svc := pubsub.New(st, b, pubsub.Options{Log: quietLog(), Lists: st})
	res := make(chan error, 1)
	go func() {
		_, err := svc.Pop(context.Background(), redistest.Unique("drain"))
		res <- err
	}()
	testutil.WaitFor(t, 15*time.Second, "the pop to wait", func() bool { _, pops := svc.Waiters(); return pops == 1 })
	svc.Drain()
	select {
	case err := <-res:
		if !errors.Is(err, pubsub.ErrDraining) {
			t.Fatalf("pop at drain = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pop did not end at drain")
	}
}

func newRelay(t *testing.T, bus *Bus, scope string, onUp func()) (*Relay, *pubsub.Broker) {
	t.Helper()
	b := pubsub.NewBroker()
	r := bus.NewRelay(b, scope)
	r.OnUp = onUp
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r, b
}

// A notification on one replica wakes the waiters of the same channel on
// the others (same scope only), and the local ones at once.
func TestRelay(t *testing.T) {
	addr := redistest.Addr(t)
	scope := redistest.Unique("scope")
	ra, ba := newRelay(t, openBus(t, addr, testDB), scope, nil)
	rb, bb := newRelay(t, openBus(t, addr, testDB), scope, nil)
	rc, bc := newRelay(t, openBus(t, addr, testDB), redistest.Unique("other"), nil)
	testutil.WaitFor(t, 15*time.Second, "the relays to subscribe", func() bool { return ra.Up() && rb.Up() && rc.Up() })

	local := ba.Wait("node", "u", false)
	remote := bb.Wait("node", "u", false)
	remoteOther := bb.Wait("node", "v", false) // another user's: not concerned
	promisc := bb.Wait("node", "", true)
	elsewhere := bc.Wait("node", "u", false)
	ra.Notify(context.Background(), pubsub.Notification{Channel: "node", Seq: 41, Owner: "u"},
		pubsub.Notification{Channel: "node", Seq: 42, Owner: "u"})
	select {
	case <-local:
	default:
		t.Fatal("the local waiter was not woken at once")
	}
	for name, ch := range map[string]<-chan struct{}{"remote": remote, "promiscuous": promisc} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s waiter on the other replica was not woken", name)
		}
	}
	if _, s := bb.Reached("node"); s != 42 {
		t.Fatalf("the other replica's broker reached %d, want 42", s)
	}
	// A list push wakes the other replica's poppers too.
	pop := bb.WaitList("l")
	ra.Notify(context.Background(), pubsub.Notification{List: "l"})
	select {
	case <-pop:
	case <-time.After(10 * time.Second):
		t.Fatal("list waiter not woken")
	}
	// The other scope and the other user heard nothing. (The list
	// message came after the node one: Redis keeps a publisher's order.)
	select {
	case <-elsewhere:
		t.Fatal("a relay of another scope was woken")
	case <-remoteOther:
		t.Fatal("another user's waiter was woken")
	default:
	}
	if _, s := bc.Reached("node"); s != 0 {
		t.Fatalf("the other scope's broker reached %d", s)
	}
	if ra.Dropped() != 0 {
		t.Fatalf("%d notifications dropped", ra.Dropped())
	}
}

// A credential change reported by one replica (PublishAuthChange) makes
// the other replicas of the same scope call their OnAuthChange function
// (emptying their authentication cache), not the reporting one; each
// relay also calls it when it subscribes. The wake-ups go on as before.
func TestRelayAuthChange(t *testing.T) {
	addr := redistest.Addr(t)
	scope := redistest.Unique("auth")
	var calls [3]atomic.Int64
	relays := make([]*Relay, 3)
	brokers := make([]*pubsub.Broker, 3)
	for i := range relays {
		sc := scope
		if i == 2 {
			sc = redistest.Unique("other")
		}
		b := pubsub.NewBroker()
		r := openBus(t, addr, testDB).NewRelay(b, sc)
		r.OnAuthChange(func() { calls[i].Add(1) })
		r.Start()
		t.Cleanup(func() { r.Close() })
		relays[i], brokers[i] = r, b
	}
	a, b, c := relays[0], relays[1], relays[2]
	testutil.WaitFor(t, 15*time.Second, "the relays to subscribe (and empty their caches)", func() bool {
		return calls[0].Load() == 1 && calls[1].Load() == 1 && calls[2].Load() == 1
	})
	a.PublishAuthChange(context.Background())
	testutil.WaitFor(t, 15*time.Second, "the other replica to be told", func() bool { return calls[1].Load() == 2 })
	// Later messages on each channel arrive after it (Redis keeps a
	// publisher's order): a wake-up from B reaches A, one from C's
	// scope reaches C, and neither A nor C was told of the change.
	wa, wc := brokers[0].Wait("node", "", true), brokers[2].Wait("node", "", true)
	b.Notify(context.Background(), pubsub.Notification{Channel: "node", Seq: 7})
	other := openBus(t, addr, testDB).NewRelay(pubsub.NewBroker(), c.Channel()[len(ChannelPrefix):])
	other.Notify(context.Background(), pubsub.Notification{Channel: "node", Seq: 8})
	other.Start()
	t.Cleanup(func() { other.Close() })
	for name, w := range map[string]<-chan struct{}{"A": wa, "C": wc} {
		select {
		case <-w:
		case <-time.After(10 * time.Second):
			t.Fatalf("wake-up did not reach %s", name)
		}
	}
	if n := calls[0].Load(); n != 1 {
		t.Errorf("the reporting relay was told of its own change (%d calls)", n)
	}
	if n := calls[2].Load(); n != 1 {
		t.Errorf("a relay of another scope was told (%d calls)", n)
	}
}

func TestCoalesce(t *testing.T) {
	in := []pubsub.Notification{
		{Channel: "a", Seq: 1, Owner: "u"}, {Channel: "b", Seq: 2}, {Channel: "a", Seq: 5, Owner: "u"},
		{List: "l"}, {Channel: "a", Seq: 3, Owner: "v"}, {List: "l"}, {Channel: "a", Seq: 4, Owner: "u"},
	}
	got := coalesce(in)
	want := []pubsub.Notification{{Channel: "a", Seq: 5, Owner: "u"}, {Channel: "b", Seq: 2}, {List: "l"}, {Channel: "a", Seq: 3, Owner: "v"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("coalesce = %v, want %v", got, want)
	}
}

// When Redis goes away the relay says so (the poller speeds up), keeps
// the local wake-ups working, and reconnects by itself when Redis is
// back; kv calls fail meanwhile and work again after.
func TestRelayReconnects(t *testing.T) {
	port := redistest.FreePort(t)
	srv := redistest.Start(t, port)
	scope := redistest.Unique("outage")
	busA, busB := openBus(t, srv.Addr, testDB), openBus(t, srv.Addr, testDB)
	ups := make(chan struct{}, 10)
	ra, ba := newRelay(t, busA, scope, nil)
	rb, bb := newRelay(t, busB, scope, func() { ups <- struct{}{} })
	var authCalls atomic.Int64
	rb.OnAuthChange(func() { authCalls.Add(1) })
	testutil.WaitFor(t, 15*time.Second, "the relays to subscribe", func() bool { return ra.Up() && rb.Up() })
	<-ups // the first subscription
	calls := authCalls.Load()

	srv.Stop()
	testutil.WaitFor(t, 15*time.Second, "the relays to notice the outage", func() bool { return !ra.Up() && !rb.Up() })
	// Local wake-ups do not depend on Redis.
	w := ba.Wait("c", "", true)
	ra.Notify(context.Background(), pubsub.Notification{Channel: "c", Seq: 1})
	select {
	case <-w:
	default:
		t.Fatal("local waiter not woken during the outage")
	}
	st := busA.Wrap(sqlitetest.Open(t))
	if err := st.SetKV(context.Background(), "ns", "k", "v"); err == nil {
		t.Fatal("SetKV worked with Redis down")
	}

	redistest.Start(t, port)
	testutil.WaitFor(t, 15*time.Second, "the relays to reconnect", func() bool { return ra.Up() && rb.Up() })
	select {
	case <-ups:
	case <-time.After(10 * time.Second):
		t.Fatal("OnUp not called after the reconnection")
	}
	// Credential changes may have been missed meanwhile: the cache is
	// emptied.
	testutil.WaitFor(t, 15*time.Second, "OnAuthChange after the reconnection", func() bool { return authCalls.Load() > calls })
	remote := bb.Wait("c", "", true)
	ra.Notify(context.Background(), pubsub.Notification{Channel: "c", Seq: 2})
	select {
	case <-remote:
	case <-time.After(10 * time.Second):
		t.Fatal("wake-ups do not cross replicas after the reconnection")
	}
	if err := st.SetKV(context.Background(), "ns", "k", "v"); err != nil {
		t.Fatalf("SetKV after Redis came back: %v", err)
	}
}
