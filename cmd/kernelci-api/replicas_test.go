package main

// The multi-replica test of the production backend: two replicas of the
// API server ("kernelci-api serve", real processes built from this
// module) share one MongoDB and one Redis:
//
//  1. subscribe on A, publish through B, listen on B; a listen waiting on
//     B is woken by a publish through A over Redis, well before the
//     keep-alive and the store poll; an API token revoked, a session
//     logged out, a password changed, a group removed, an account
//     deactivated through A are refused by B within a second;
//  2. publishers on both replicas at once; listeners subscribed on one
//     replica listening on the other, one alternating between them, and
//     one durable subscription listened to through both at once; A is
//     killed (SIGKILL) while its publishers are mid-stream: every
//     listener receives every stored event exactly once per
//     subscription, in sequence order, and nothing else;
//  3. A restarts: subscriptions and their cursors go on through it;
//  4. lists and key-value pairs cross replicas through Redis, laid out
//     as the reference lays them out.
//
// TestReplicasWithoutRedis (replicas_auth_test.go) runs the revocations
// of phase 1 again on two replicas sharing MongoDB without Redis.
//
// MongoDB is the embedded FerretDB, reached through
// mongotest.SerialProxy: FerretDB 1.x applies findAndModify and updates
// as a find then a write, so two processes could both take the same
// counter value or pass the same compare-and-set; the proxy runs one
// command at a time, which is the per-document atomicity MongoDB gives
// and the store relies on (see the proxy's comment for what that does
// and does not change). With KCI_TEST_MONGO_URI the replicas use that
// server directly. Redis is KCI_TEST_REDIS_ADDR (default
// 127.0.0.1:6379; .ci/run starts one); the test skips only when no
// Redis server answers.
//
// What the test leaves out, on purpose: a listen that A answered (moving
// the subscription's cursor) whose answer died with A. That event is lost
// to that subscription, like any answer lost on the network (the window
// documented in docs/pubsub.md; durable subscribers get it again by
// subscribing anew). So listeners stop sending listens to A, and the
// test waits for their listens in flight there to be answered, before it
// kills A; A's publishers are killed mid-request.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

const (
	password     = "s3cret-test"
	keepAlive    = 5 * time.Second
	listsDB      = 2 // REDIS_DB_NUMBER of the replicas
	perPublisher = 40
)

// buildServer builds cmd/kernelci-api into dir.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "kernelci-api")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/kernelci/kernelci-api-go/cmd/kernelci-api")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// replica is one server process.
type replica struct {
	name string
	base string // http://127.0.0.1:PORT/latest
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

type cluster struct {
	t     *testing.T
	bin   string
	env   []string
	dir   string
	hc    *http.Client
	token string
}

func (c *cluster) start(name string) *replica {
	t := c.t
	t.Helper()
	port := redistest.FreePort(t)
	dataDir := filepath.Join(c.dir, name+"-data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(c.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "serve")
	cmd.Dir = dataDir // no stray .env
	cmd.Env = append(slices.Clone(c.env), "KCI_LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port), "KCI_DATA_DIR="+dataDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, base: fmt.Sprintf("http://127.0.0.1:%d/latest", port), cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(r.done) }()
	t.Cleanup(func() { r.kill() })
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLog(r)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.hc.Get(r.base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-r.done:
			c.dumpLog(r)
			t.Fatalf("replica %s exited at start-up", name)
		default:
		}
		if time.Now().After(deadline) {
			c.dumpLog(r)
			t.Fatalf("replica %s does not answer", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startPair starts replica A, alone first (it creates the admin), then
// B, and logs in through A.
func (c *cluster) startPair() (a, b *replica) {
	a = c.start("A")
	b = c.start("B")
	c.login(a)
	return a, b
}

func (r *replica) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

func (c *cluster) dumpLog(r *replica) {
	b, _ := os.ReadFile(r.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var keep []string // without the request lines
	for _, l := range lines {
		if !strings.Contains(l, "msg=request") {
			keep = append(keep, l)
		}
	}
	lines = keep
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	c.t.Logf("last lines of replica %s's log:\n%s", r.name, strings.Join(lines, "\n"))
}

// call sends a request with the cluster's token and decodes a JSON
// answer into out (when not nil); it fails on a status other than 200.
func (c *cluster) call(r *replica, method, path string, body any, out any) error {
	return c.callStatus(r, c.token, method, path, body, http.StatusOK, out)
}

// createNode creates a checkout node called name through r.
func (c *cluster) createNode(r *replica, name string) error {
	return c.call(r, "POST", "/node", map[string]any{"kind": "checkout", "name": name, "path": []string{name}}, nil)
}

func (c *cluster) login(r *replica) {
	c.token = loginAdmin(c.t, c.hc, r.base, password)
}

func (c *cluster) subscribe(r *replica, channel string, promisc bool, subscriberID string) int64 {
	c.t.Helper()
	q := url.Values{}
	if promisc {
		q.Set("promisc", "true")
	}
	if subscriberID != "" {
		q.Set("subscriber_id", subscriberID)
	}
	var sub struct{ ID int64 }
	if err := c.call(r, "POST", "/subscribe/"+channel+"?"+q.Encode(), nil, &sub); err != nil {
		c.t.Fatal(err)
	}
	return sub.ID
}

func (c *cluster) publish(r *replica, channel string, data any) error {
	return c.call(r, "POST", "/publish/"+channel, map[string]any{"data": data}, nil)
}

// event is a delivered (or stored) event.
type event struct {
	Seq  int64
	Data map[string]any
	beep bool
}

func (e event) key() string { b, _ := json.Marshal(e.Data); return string(b) }

// listen does one GET /listen.
func (c *cluster) listen(r *replica, id int64) (event, error) {
	var msg struct {
		Type string
		Data string
	}
	if err := c.call(r, "GET", "/listen/"+strconv.FormatInt(id, 10), nil, &msg); err != nil {
		return event{}, err
	}
	var ce struct {
		Data json.RawMessage `json:"data"`
		Seq  int64           `json:"_sequence_id"`
	}
	if err := json.Unmarshal([]byte(msg.Data), &ce); err != nil {
		return event{}, fmt.Errorf("listen answer %q: %w", msg.Data, err)
	}
	if string(ce.Data) == `"BEEP"` {
		return event{beep: true}, nil
	}
	ev := event{Seq: ce.Seq}
	if err := json.Unmarshal(ce.Data, &ev.Data); err != nil {
		return event{}, fmt.Errorf("event data %s: %w", ce.Data, err)
	}
	return ev, nil
}

// history is the channel's event history, read through r.
func (c *cluster) history(r *replica, channel string) []event {
	c.t.Helper()
	var evs []struct {
		SequenceID int64          `json:"sequence_id"`
		Data       map[string]any `json:"data"`
	}
	if err := c.call(r, "GET", "/events?channel="+channel+"&limit=10000", nil, &evs); err != nil {
		c.t.Fatal(err)
	}
	out := make([]event, len(evs))
	for i, e := range evs {
		out[i] = event{Seq: e.SequenceID, Data: e.Data}
	}
	slices.SortFunc(out, func(a, b event) int { return int(a.Seq - b.Seq) })
	return out
}

func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs two replicas")
	}
	redisAddr := redistest.Addr(t)
	dir := t.TempDir()

	c := &cluster{t: t, bin: buildServer(t, dir), dir: dir, hc: &http.Client{Timeout: 60 * time.Second}}
	c.env = append(os.Environ(),
		"SECRET_KEY=multi-replica-test",
		"MONGO_SERVICE="+replicaDatabase(t),
		"REDIS_HOST="+redisAddr,
		"REDIS_DB_NUMBER="+strconv.Itoa(listsDB),
		"KEEP_ALIVE_PERIOD="+strconv.Itoa(int(keepAlive/time.Second)),
		// A replica killed mid-write leaves a sequence id that will never
		// be stored: listeners pass over it after this long.
		"KCI_SEQUENCE_GAP_GRACE_SECONDS=3",
		"KCI_INITIAL_PASSWORD="+password,
		"KCI_LOG_FORMAT=text", "KCI_LOG_LEVEL=info",
		// Authentication cache entries that outlive the test: only the
		// invalidation sent over Redis can make B refuse a credential
		// ended through A within a second ("revocations"). Without
		// Redis, the entries' expiry does (TestReplicasWithoutRedis).
		"KCI_AUTH_CACHE_SECONDS=3600",
	)
	// A first, alone: it creates the admin; then B.
	a, b := c.startPair()

	t.Run("walk-through", func(t *testing.T) {
		id := c.subscribe(a, "walk", false, "")
		if err := c.publish(b, "walk", map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		ev, err := c.listen(b, id)
		if err != nil || ev.beep || ev.Data["n"] != 1.0 {
			t.Fatalf("listen on B = %+v, %v", ev, err)
		}
		// A listen waiting on B, a publish through A: the Redis relay
		// wakes B at once, where the keep-alive re-check (5 s) or the
		// store poll (5 s while Redis is up) would take seconds.
		id = c.subscribe(a, "walk2", false, "")
		res := make(chan error, 1)
		var got event
		var at time.Time
		go func() {
			var err error
			got, err = c.listen(b, id)
			at = time.Now()
			res <- err
		}()
		testutil.WaitFor(t, 60*time.Second, "the listen to reach B", func() bool { return c.polled(b, id) })
		sent := time.Now()
		if err := c.publish(a, "walk2", map[string]any{"n": 2}); err != nil {
			t.Fatal(err)
		}
		if err := <-res; err != nil || got.beep || got.Data["n"] != 2.0 {
			t.Fatalf("woken listen on B = %+v, %v", got, err)
		}
		lat := at.Sub(sent)
		t.Logf("publish through A to delivery on B: %v", lat)
		if lat > 2500*time.Millisecond {
			t.Fatalf("delivery took %v: the wake-up did not come over Redis", lat)
		}
	})

	// Credentials ended through A are refused by B within a second
	// (replicas_auth_test.go).
	t.Run("revocations", func(t *testing.T) { c.revocations(t, a, b) })

	var plain int64
	t.Run("stream-and-kill", func(t *testing.T) { plain = c.streamAndKill(t, a, b) })

	t.Run("restart", func(t *testing.T) {
		a2 := c.start("A2")
		id := c.subscribe(b, "after", true, "")
		if err := c.publish(b, "after", map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.publish(a2, "after", map[string]any{"n": 2}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*replica{a2, b} {
			ev, err := c.listen(r, id)
			if err != nil || ev.beep {
				t.Fatalf("listen on %s = %+v, %v", r.name, ev, err)
			}
		}
		// The stream's subscription goes on through the new process.
		if err := c.publish(b, "stream", map[string]any{"after": "restart"}); err != nil {
			t.Fatal(err)
		}
		if ev, err := c.listen(a2, plain); err != nil || ev.Data["after"] != "restart" {
			t.Fatalf("listen through A2 on the stream subscription = %+v, %v", ev, err)
		}
		// Both replicas see the same history.
		if ha, hb := c.history(a2, "stream"), c.history(b, "stream"); fmt.Sprint(ha) != fmt.Sprint(hb) {
			t.Fatal("the replicas disagree on the history")
		}
		t.Run("lists-and-kv", func(t *testing.T) { c.listsAndKV(t, a2, b, redisAddr) })
	})
}

// callStatus sends a request with token (none when empty) and wants the
// given status.
func (c *cluster) callStatus(r *replica, token, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, want, out)
}

// do sends req and wants the given status; it decodes a JSON answer
// into out when not nil.
func (c *cluster) do(req *http.Request, want int, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, data, want)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// polled says whether subscription id has been listened to (the listen
// reached the server: last_poll is set).
func (c *cluster) polled(r *replica, id int64) bool {
	var stats []struct {
		ID       int64
		LastPoll *string `json:"last_poll"`
	}
	if err := c.call(r, "GET", "/stats/subscriptions", nil, &stats); err != nil {
		return false
	}
	for _, s := range stats {
		if s.ID == id {
			return s.LastPoll != nil
		}
	}
	return false
}

// stream is what one listener received.
type stream struct {
	name string
	mu   sync.Mutex
	evs  []event
	err  error
}

func (s *stream) add(ev event) {
	s.mu.Lock()
	s.evs = append(s.evs, ev)
	s.mu.Unlock()
}

// streamAndKill runs phase 2 and returns the plain subscription.
func (c *cluster) streamAndKill(t *testing.T, a, b *replica) int64 {
	const channel = "stream"
	// Who may talk to A: listeners ask before each listen there.
	var aMu sync.Mutex
	avoidA, inflightA := false, 0
	useA := func() bool {
		aMu.Lock()
		defer aMu.Unlock()
		if avoidA {
			return false
		}
		inflightA++
		return true
	}
	doneA := func() {
		aMu.Lock()
		inflightA--
		aMu.Unlock()
	}

	plain := c.subscribe(a, channel, false, "")        // subscribed on A, listened to on B
	alternating := c.subscribe(b, channel, true, "")   // listened to on A and B in turn
	durable := c.subscribe(a, channel, true, "stream") // listened to through A and B at once

	marker := map[string]any{"marker": true}
	isMarker := func(ev event) bool { return ev.Data["marker"] == true }
	// listener listens until the marker; pick chooses the replica of
	// each listen (nil: stop).
	listener := func(s *stream, id int64, pick func(i int) *replica) {
		for i := 0; ; i++ {
			r := pick(i)
			if r == nil {
				return
			}
			ev, err := c.listen(r, id)
			if r == a {
				doneA()
			}
			if err != nil {
				s.mu.Lock()
				s.err = fmt.Errorf("listen %d on %s: %w", i, r.name, err)
				s.mu.Unlock()
				return
			}
			if ev.beep {
				continue
			}
			s.add(ev)
			if isMarker(ev) {
				return
			}
		}
	}
	sPlain := &stream{name: "plain (subscribed on A, listening on B)"}
	sAlt := &stream{name: "alternating A/B"}
	sDurA := &stream{name: "durable, through A"}
	sDurB := &stream{name: "durable, through B"}
	var markerSeen atomic.Bool
	var listeners sync.WaitGroup
	listeners.Go(func() { listener(sPlain, plain, func(int) *replica { return b }) })
	listeners.Go(func() {
		listener(sAlt, alternating, func(i int) *replica {
			if i%2 == 0 && useA() {
				return a
			}
			return b
		})
	})
	listeners.Go(func() {
		listener(sDurA, durable, func(int) *replica {
			if markerSeen.Load() || !useA() {
				return nil // A is going away: this listener stops
			}
			return a
		})
	})
	listeners.Go(func() {
		listener(sDurB, durable, func(int) *replica {
			if markerSeen.Load() {
				return nil
			}
			return b
		})
	})

	// Publishers: two through A, publishing until A dies, and two
	// through B, perPublisher events each.
	type published struct {
		mu     sync.Mutex
		acked  map[string]bool // answered 200
		failed map[string]bool // no answer: stored or not
	}
	pub := published{acked: map[string]bool{}, failed: map[string]bool{}}
	var ackedCount atomic.Int64
	killAt := int64(perPublisher) // about half way through B's publishers
	var publishers sync.WaitGroup
	for p := range 4 {
		r := []*replica{a, b}[p/2]
		publishers.Go(func() {
			for i := 0; r == a || i < perPublisher; i++ {
				data := map[string]any{"p": float64(p), "i": float64(i)}
				k := event{Data: data}.key()
				if err := c.publish(r, channel, data); err != nil {
					pub.mu.Lock()
					pub.failed[k] = true
					pub.mu.Unlock()
					if r == a {
						return // A is gone
					}
					t.Errorf("publish through %s: %v", r.name, err)
					return
				}
				pub.mu.Lock()
				pub.acked[k] = true
				pub.mu.Unlock()
				ackedCount.Add(1)
			}
		})
	}

	// Mid-stream: move the listeners off A, then kill it.
	testutil.WaitFor(t, 60*time.Second, "the stream to be under way", func() bool { return ackedCount.Load() >= killAt })
	aMu.Lock()
	avoidA = true
	aMu.Unlock()
	testutil.WaitFor(t, 60*time.Second, "the listens in flight on A to end", func() bool {
		aMu.Lock()
		defer aMu.Unlock()
		return inflightA == 0
	})
	a.kill()
	t.Logf("killed A after %d acknowledged publishes", ackedCount.Load())
	publishers.Wait()
	if err := c.publish(b, channel, marker); err != nil {
		t.Fatal(err)
	}
	// Every listener ends at the marker (the durable pair: one of them).
	testutil.WaitFor(t, 60*time.Second, "the durable subscription to deliver the marker", func() bool {
		for _, s := range []*stream{sDurA, sDurB} {
			s.mu.Lock()
			n := len(s.evs)
			last := n > 0 && isMarker(s.evs[n-1])
			s.mu.Unlock()
			if last {
				return true
			}
		}
		return false
	})
	markerSeen.Store(true)
	listenersDone := make(chan struct{})
	go func() { listeners.Wait(); close(listenersDone) }()
	select {
	case <-listenersDone:
	case <-time.After(2 * keepAlive): // the other durable listener ends at its keep-alive
		t.Fatal("listeners did not end")
	}

	truth := c.history(b, channel)
	if len(truth) == 0 || !isMarker(truth[len(truth)-1]) {
		t.Fatalf("the history does not end with the marker: %d events", len(truth))
	}
	stored := map[string]bool{}
	for _, ev := range truth {
		k := ev.key()
		if stored[k] {
			t.Fatalf("event %s stored twice", k)
		}
		stored[k] = true
	}
	for k := range pub.acked {
		if !stored[k] {
			t.Errorf("acknowledged publish %s is not in the history", k)
		}
	}
	for _, ev := range truth {
		if k := ev.key(); !pub.acked[k] && !pub.failed[k] && !isMarker(ev) {
			t.Errorf("event %s in the history was never published", k)
		}
	}
	// Each publisher's events are stored in its order.
	lastI := map[float64]float64{}
	for _, ev := range truth {
		if isMarker(ev) {
			continue
		}
		p, i := ev.Data["p"].(float64), ev.Data["i"].(float64)
		if prev, ok := lastI[p]; ok && i <= prev {
			t.Errorf("publisher %v: event %v stored after %v", p, i, prev)
		}
		lastI[p] = i
	}
	if len(pub.failed) != 2 {
		t.Errorf("%d publishes failed; want one per publisher of A, cut by the kill", len(pub.failed))
	}
	t.Logf("%d events stored: %d acknowledged, %d publishes cut by the kill (%d of them stored)",
		len(truth), len(pub.acked), len(pub.failed), len(truth)-1-len(pub.acked))

	want := fmt.Sprint(truth)
	for _, s := range []*stream{sPlain, sAlt} {
		if s.err != nil {
			t.Errorf("%s: %v", s.name, s.err)
		}
		if got := fmt.Sprint(s.evs); got != want {
			t.Errorf("%s received %d events, want the %d of the history exactly once, in order\n got %s\nwant %s",
				s.name, len(s.evs), len(truth), got, want)
		}
	}
	// The durable subscription, listened to through both replicas at
	// once: each listener in order, together each event once.
	var both []event
	for _, s := range []*stream{sDurA, sDurB} {
		if s.err != nil && !errors.Is(s.err, context.Canceled) {
			t.Errorf("%s: %v", s.name, s.err)
		}
		if !slices.IsSortedFunc(s.evs, func(x, y event) int { return int(x.Seq - y.Seq) }) {
			t.Errorf("%s received events out of order", s.name)
		}
		both = append(both, s.evs...)
	}
	slices.SortFunc(both, func(x, y event) int { return int(x.Seq - y.Seq) })
	// The durable subscriber was created after the first publishes may
	// have been stored; it sees what came after its subscription, which
	// here is everything (it subscribed before any publisher started).
	if got := fmt.Sprint(both); got != want {
		t.Errorf("the durable subscription delivered %d events through A (%d) and B (%d), want the %d of the history exactly once\n got %s\nwant %s",
			len(both), len(sDurA.evs), len(sDurB.evs), len(truth), got, want)
	}
	return plain
}

func (c *cluster) listsAndKV(t *testing.T, a, b *replica, redisAddr string) {
	list := redistest.Unique("replica-list")
	raw := redistest.Client(t, redisAddr, listsDB)
	kv := redistest.Client(t, redisAddr, 0)
	ctx := context.Background()
	t.Cleanup(func() { raw.Del(context.Background(), list) })
	// A pop waiting on A gets what is pushed through B.
	res := make(chan map[string]any, 1)
	go func() {
		var item map[string]any
		if err := c.call(a, "GET", "/pop/"+list, nil, &item); err != nil {
			t.Error(err)
		}
		res <- item
	}()
	testutil.WaitFor(t, 60*time.Second, "the pop to wait in BLPOP", func() bool {
		info, _ := raw.ClientList(ctx).Result()
		return strings.Contains(info, "cmd=blpop")
	})
	if err := c.call(b, "POST", "/push/"+list, map[string]any{"data": map[string]any{"job": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case item := <-res:
		if fmt.Sprint(item["data"]) != "map[job:1]" || item["specversion"] != "1.0" {
			t.Fatalf("popped %v", item)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pop on A did not get the item pushed through B")
	}
	// The item in Redis is the reference's JSON, in REDIS_DB_NUMBER.
	if err := c.call(b, "POST", "/push/"+list, map[string]any{"data": "x"}, nil); err != nil {
		t.Fatal(err)
	}
	items, err := raw.LRange(ctx, list, 0, -1).Result()
	if err != nil || len(items) != 1 || !strings.HasPrefix(items[0], `{"specversion": "1.0", "id": "`) ||
		!strings.HasSuffix(items[0], `, "data": "x"}`) {
		t.Fatalf("list %s in Redis database %d = %q, %v", list, listsDB, items, err)
	}
	var item map[string]any
	if err := c.call(a, "GET", "/pop/"+list, nil, &item); err != nil || item["data"] != "x" {
		t.Fatalf("pop = %v, %v", item, err)
	}
	// Key-value pairs: set through A, read through B and in Redis db 0.
	ns := redistest.Unique("replica-ns")
	t.Cleanup(func() { kv.Del(context.Background(), ns+":k") })
	if err := c.call(a, "POST", "/kv/"+ns+"/k", "v1", nil); err != nil {
		t.Fatal(err)
	}
	var v *string
	if err := c.call(b, "GET", "/kv/"+ns+"/k", nil, &v); err != nil || v == nil || *v != "v1" {
		t.Fatalf("kv through B = %v, %v", v, err)
	}
	if got, err := kv.Get(ctx, ns+":k").Result(); err != nil || got != "v1" {
		t.Fatalf("Redis db 0 %s:k = %q, %v", ns, got, err)
	}
}
