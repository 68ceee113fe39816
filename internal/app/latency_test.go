package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// replica is one server of TestWriteReachesListener.
type replica struct {
	a    *App
	base string
}

func startReplica(t *testing.T, env map[string]string) *replica {
	t.Helper()
	r := start(t, testConfig(t, env), nil, io.Discard)
	return &replica{a: r.app, base: r.base + "/latest"}
}

// writePath is one way an event is born; write makes it happen through
// the writer and returns the node id the event names ("" for a publish).
type writePath struct {
	name  string
	prep  func(t *testing.T, w *replica, tok string) string // a node to work on, made before listening
	write func(t *testing.T, w *replica, tok, id string)
	op    string // the event's data.op
}

func mustCall(t *testing.T, method, u, tok, body string) []byte {
	t.Helper()
	code, b := testutil.Call(t, method, u, tok, "application/json", strings.NewReader(body))
	if code != 200 {
		t.Fatalf("%s %s: %d %s", method, u, code, b)
	}
	return b
}

func newNode(t *testing.T, w *replica, tok string) string {
	b := mustCall(t, "POST", w.base+"/node", tok, `{"name":"checkout","kind":"checkout","path":["checkout"]}`)
	var n struct{ ID string }
	json.Unmarshal(b, &n)
	return n.ID
}

var writePaths = []writePath{
	{name: "POST /node", op: "created", write: func(t *testing.T, w *replica, tok, _ string) { newNode(t, w, tok) }},
	{name: "PUT /node", op: "updated", prep: newNode, write: func(t *testing.T, w *replica, tok, id string) {
		mustCall(t, "PUT", w.base+"/node/"+id, tok, `{"name":"checkout","kind":"checkout","path":["checkout"],"state":"available"}`)
	}},
	{name: "PATCH /node", op: "updated", prep: newNode, write: func(t *testing.T, w *replica, tok, id string) {
		mustCall(t, "PATCH", w.base+"/node/"+id, tok, `{"state":"closing"}`)
	}},
	{name: "PUT /nodes (hierarchy)", op: "updated", prep: newNode, write: func(t *testing.T, w *replica, tok, id string) {
		mustCall(t, "PUT", w.base+"/nodes/"+id, tok, `{"node":{"name":"checkout","kind":"checkout","path":["checkout"]},`+
			`"child_nodes":[{"node":{"name":"kbuild","kind":"kbuild","path":["checkout","kbuild"]},"child_nodes":[]}]}`)
	}},
	{name: "lifecycle timeout", op: "updated", prep: newNode, write: func(t *testing.T, w *replica, _, id string) {
		// The deadline passes (a write without an event); the lifecycle
		// of the writer times the node out at its next step.
		oid, _ := objectid.Parse(id)
		n, err := w.a.Store.GetNode(context.Background(), oid)
		if err != nil {
			t.Fatal(err)
		}
		n.Timeout = model.T(time.Now().Add(-time.Minute))
		if err := w.a.Store.WriteNodes(context.Background(), store.NodeWrite{Replace: []*model.Node{n}}); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "POST /publish", op: "published", write: func(t *testing.T, w *replica, tok, _ string) {
		mustCall(t, "POST", w.base+"/publish/node", tok, `{"data":{"op":"published"}}`)
	}},
}

// received is what a listen answered.
type received struct {
	op, id  string
	seq     int64
	beep    bool
	arrived time.Time
	late    time.Duration // from the event's time to its arrival
}

func listenOnce(t *testing.T, r *replica, tok string, sub int64) received {
	t.Helper()
	b := mustCall(t, "GET", fmt.Sprintf("%s/listen/%d", r.base, sub), tok, "")
	arrived := time.Now()
	var env struct{ Data string }
	var ce struct {
		Time string `json:"time"`
		Data any    `json:"data"`
		Seq  int64  `json:"_sequence_id"`
	}
	if err := json.Unmarshal(b, &env); err != nil || json.Unmarshal([]byte(env.Data), &ce) != nil {
		t.Fatalf("listen answer %s", b)
	}
	out := received{arrived: arrived, seq: ce.Seq}
	d, ok := ce.Data.(map[string]any)
	if !ok {
		out.beep = ce.Data == "BEEP"
		return out
	}
	out.op, _ = d["op"].(string)
	out.id, _ = d["id"].(string)
	if ts, err := time.Parse(time.RFC3339Nano, ce.Time); err == nil {
		out.late = arrived.Sub(ts)
	}
	return out
}

// TestWriteReachesListener: with the default 45 s keep-alive, every way
// an event is born wakes a listener waiting on its channel at once: on
// the replica that wrote it, and on another replica (through Redis, or
// the store poll without it), on SQLite and on MongoDB (the embedded
// FerretDB, whose counter is not atomic across replicas); and a push
// wakes a pop waiting on its list (pushReachesPop). A missed wake-up
// would hold the listen or pop for the whole keep-alive. The latencies
// are logged (go test -v); docs/pubsub.md has the numbers.
func TestWriteReachesListener(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers on SQLite, FerretDB and Redis")
	}
	t.Cleanup(auth.SetTestParams())
	srv := mongotest.StartT(t)
	redisAddr := redistest.Addr(t)
	const rounds = 5
	for _, tc := range []struct {
		name         string
		mongo, redis bool
		replicas     int
	}{
		{name: "sqlite", replicas: 1},
		{name: "mongo", mongo: true, replicas: 1},
		{name: "mongo+redis", mongo: true, redis: true, replicas: 1},
		{name: "mongo two replicas (store poll)", mongo: true, replicas: 2},
		{name: "mongo+redis two replicas (relay)", mongo: true, redis: true, replicas: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SECRET_KEY": "k", "KCI_INITIAL_PASSWORD": "pw", "KEEP_ALIVE_PERIOD": "45",
				"KCI_LIFECYCLE_INTERVAL": "100ms"}
			if tc.mongo {
				env["MONGO_SERVICE"] = srv.URI() + mongotest.NewDatabase()
			}
			if tc.redis {
				env["REDIS_HOST"] = redisAddr
				env["REDIS_DB_NUMBER"] = "5"
			}
			var rs []*replica
			for range tc.replicas {
				e := maps(env)
				e["KCI_DATA_DIR"] = t.TempDir()
				rs = append(rs, startReplica(t, e))
			}
			writer, listener := rs[0], rs[len(rs)-1]
			tok := login(t, writer.base[:len(writer.base)-len("/latest")], "admin", "pw")
			// When each event was committed (by the writer, or by the
			// lifecycle of either replica).
			var mu sync.Mutex
			committed := map[int64]time.Time{}
			for _, r := range rs {
				r.a.Store.OnCommit(func(_ context.Context, evs []*model.Event) {
					now := time.Now()
					mu.Lock()
					defer mu.Unlock()
					for _, ev := range evs {
						committed[ev.SequenceID] = now
					}
				})
			}
			var lates, wakes []time.Duration
			for _, p := range writePaths {
				for range rounds {
					id := ""
					if p.prep != nil {
						id = p.prep(t, writer, tok)
					}
					var sub struct{ ID int64 }
					json.Unmarshal(mustCall(t, "POST", listener.base+"/subscribe/node", tok, ""), &sub)
					res := make(chan received, 1)
					go func() { res <- listenOnce(t, listener, tok, sub.ID) }()
					testutil.WaitFor(t, 20*time.Second, "the listener to wait", func() bool { l, _ := listener.a.PubSub.Waiters(); return l == 1 })
					p.write(t, writer, tok, id)
					got := <-res
					// The lifecycle may move an earlier node meanwhile
					// (closing -> done): pass over its events.
					for range 10 {
						if got.beep || (got.op == p.op && (id == "" || got.id == id)) {
							break
						}
						got = listenOnce(t, listener, tok, sub.ID)
					}
					if got.beep || got.op != p.op || (id != "" && got.id != id) {
						t.Fatalf("%s: listen answered %+v, want the %s event of node %q", p.name, got, p.op, id)
					}
					mu.Lock()
					at, ok := committed[got.seq]
					mu.Unlock()
					if !ok {
						t.Fatalf("%s: no commit seen for event %d", p.name, got.seq)
					}
					// Woken, not answered by the keep-alive re-check 45 s
					// after the listen began (the bound leaves room for a
					// loaded machine, not for a missed wake-up).
					wake := got.arrived.Sub(at)
					if wake >= 20*time.Second {
						t.Fatalf("%s: the event came %v after its commit, with the keep-alive, not at once", p.name, wake)
					}
					lates = append(lates, got.late)
					wakes = append(wakes, wake)
					mustCall(t, "POST", fmt.Sprintf("%s/unsubscribe/%d", listener.base, sub.ID), tok, "")
				}
			}
			slices.Sort(lates)
			slices.Sort(wakes)
			t.Logf("%s: %d events; from the commit to the listener's answer: p50 %v, p99 %v; from the event's time (before its write): p50 %v, p99 %v",
				tc.name, len(lates), wakes[len(wakes)/2], wakes[len(wakes)*99/100], lates[len(lates)/2], lates[len(lates)*99/100])
			pops := pushReachesPop(t, writer, listener, tok, rounds)
			t.Logf("%s: %d pushes; from the push's answer to the pop's: p50 %v, max %v", tc.name, len(pops), pops[len(pops)/2], pops[len(pops)-1])
		})
	}
}

// pushReachesPop: POST /push on the writer wakes a GET /pop waiting on
// the listener at once (the list's notification; across replicas, Redis
// BLPOP or the store poll), not when the pop's keep-alive runs out. It
// returns, sorted, the times from each push's answer to the pop's.
func pushReachesPop(t *testing.T, writer, listener *replica, tok string, rounds int) []time.Duration {
	t.Helper()
	type popped struct {
		code int
		body []byte
		at   time.Time
	}
	var waits []time.Duration
	for i := range rounds {
		list := fmt.Sprintf("latency-%d", i)
		res := make(chan popped, 1)
		go func() {
			code, b := testutil.Call(t, "GET", listener.base+"/pop/"+list, tok, "", nil)
			res <- popped{code, b, time.Now()}
		}()
		testutil.WaitFor(t, 20*time.Second, "the pop to wait", func() bool { _, p := listener.a.PubSub.Waiters(); return p == 1 })
		mustCall(t, "POST", writer.base+"/push/"+list, tok, fmt.Sprintf(`{"data":{"round":%d}}`, i))
		pushed := time.Now()
		got := <-res
		var ce struct{ Data struct{ Round *int } }
		if got.code != 200 || json.Unmarshal(got.body, &ce) != nil || ce.Data.Round == nil || *ce.Data.Round != i {
			t.Fatalf("POST /push round %d: the pop answered %d %s", i, got.code, got.body)
		}
		// As for listens: woken, not found by the last look of a pop
		// that waited out its 45 s keep-alive.
		wait := got.at.Sub(pushed)
		if wait >= 20*time.Second {
			t.Fatalf("POST /push: the pop answered %v after the push, at its keep-alive, not at once", wait)
		}
		waits = append(waits, wait)
	}
	slices.Sort(waits)
	return waits
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
