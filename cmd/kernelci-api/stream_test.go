package main

// GET /stream across a crash: real `kernelci-api serve` processes, a
// stream open on one of them while nodes are being created, the process
// killed with SIGKILL in the middle, more nodes created while the stream
// is down, the process started again, and the stream resumed with
// Last-Event-ID, as a browser's EventSource does. The events received
// before the kill and after the resume are every event of the history
// after the stream's start, each exactly once, in sequence order. Run on
// the embedded SQLite store (one process, restarted over its data dir)
// and on MongoDB + Redis (two replicas: B goes on creating nodes while
// A is down; the stream resumes on the restarted A, and on B).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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

// sse is one open GET /stream, read by a goroutine until it ends.
type sse struct {
	resp   *http.Response
	cancel context.CancelFunc

	mu     sync.Mutex
	start  int64   // the position of the stream's first comment
	lastID string  // the id of the last complete message (what a client resends)
	evs    []event // the events, in the order received
	ended  bool
	errMsg string // an "event: error" message, if any
}

// openSSE opens GET /stream on r with the Last-Event-ID header (when not
// empty) and waits for its first comment.
func openSSE(t *testing.T, r *replica, lastID string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/stream", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /stream on %s: %v", r.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET /stream on %s: %d", r.name, resp.StatusCode)
	}
	s := &sse{resp: resp, cancel: cancel, start: -1}
	t.Cleanup(s.close)
	go s.read()
	testutil.WaitFor(t, 30*time.Second, "the stream's first comment", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.start >= 0 || s.ended
	})
	if s.start < 0 {
		t.Fatalf("the stream on %s ended before its first comment", r.name)
	}
	return s
}

// read parses the stream; only complete messages (ended by a blank
// line) count, as in EventSource.
func (s *sse) read() {
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}()
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, data, kind string
	var hasID bool
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			s.mu.Lock()
			if hasID {
				s.lastID = id
			}
			switch {
			case kind == "error":
				s.errMsg = data
			case data != "":
				var ev struct {
					SequenceID int64          `json:"sequence_id"`
					Data       map[string]any `json:"data"`
				}
				if err := json.Unmarshal([]byte(data), &ev); err != nil || strconv.FormatInt(ev.SequenceID, 10) != id {
					s.errMsg = fmt.Sprintf("message id %q data %q: %v", id, data, err)
				}
				s.evs = append(s.evs, event{Seq: ev.SequenceID, Data: ev.Data})
			}
			s.mu.Unlock()
			id, data, kind, hasID = "", "", "", false
		case strings.HasPrefix(line, ": stream of channel node after "):
			n, _ := strconv.ParseInt(strings.TrimPrefix(line, ": stream of channel node after "), 10, 64)
			s.mu.Lock()
			s.start = n
			s.mu.Unlock()
		case strings.HasPrefix(line, "id: "):
			id, hasID = line[4:], true
		case strings.HasPrefix(line, "data: "):
			data += line[6:]
		case strings.HasPrefix(line, "event: "):
			kind = line[7:]
		}
	}
}

func (s *sse) close() {
	s.cancel()
	s.resp.Body.Close()
}

// received returns the events so far, the last id and whether the stream
// ended.
func (s *sse) received() ([]event, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs), s.lastID, s.ended
}

// nodeMaker creates nodes through replicas until stopped or until its
// replica dies, and remembers which creations were acknowledged.
type nodeMaker struct {
	c     *cluster
	stop  atomic.Bool
	wg    sync.WaitGroup
	mu    sync.Mutex
	acked map[string]bool // names of the nodes answered 200
	n     atomic.Int64
	errs  []error
}

func (m *nodeMaker) run(r *replica, prefix string, tolerateDeath bool) {
	m.wg.Go(func() {
		for i := 0; !m.stop.Load(); i++ {
			name := fmt.Sprintf("%s-%d", prefix, i)
			err := m.c.createNode(r, name)
			if err != nil {
				if !tolerateDeath {
					m.mu.Lock()
					m.errs = append(m.errs, err)
					m.mu.Unlock()
				}
				return // the replica is gone (killed): its maker stops
			}
			m.mu.Lock()
			m.acked[name] = true
			m.mu.Unlock()
			m.n.Add(1)
		}
	})
}

func (m *nodeMaker) finish(t *testing.T) {
	t.Helper()
	m.stop.Store(true)
	m.wg.Wait()
	for _, err := range m.errs {
		t.Errorf("creating a node: %v", err)
	}
}

// nodeHistory is the node channel's history after start, read through r.
func (c *cluster) nodeHistory(t *testing.T, r *replica, start int64) []event {
	t.Helper()
	var out []event
	for _, ev := range c.history(r, "node") {
		if ev.Seq > start {
			out = append(out, ev)
		}
	}
	return out
}

func seqs(evs []event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// checkStream compares what a client received (before and after the
// resume) with the history: each event once, in order, nothing missing,
// and every acknowledged node's creation among them.
func checkStream(t *testing.T, label string, got, truth []event, acked map[string]bool) {
	t.Helper()
	if g, w := seqs(got), seqs(truth); !slices.Equal(g, w) {
		t.Errorf("%s: received %d events, want the %d of the history exactly once, in order\n got %v\nwant %v", label, len(g), len(w), g, w)
	}
	names := map[string]bool{}
	for _, ev := range got {
		name, _ := ev.Data["name"].(string)
		names[name] = true
	}
	var missing []string
	for name := range acked {
		if !names[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%s: %d acknowledged creations not received, e.g. %v", label, len(missing), missing[:min(5, len(missing))])
	}
}

func TestStreamResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and kills it")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	base := append(os.Environ(), "SECRET_KEY=stream-kill-test", "KCI_INITIAL_PASSWORD="+password,
		"KCI_LOG_FORMAT=text", "KCI_LOG_LEVEL=warn", "KCI_STREAM_HEARTBEAT_SECONDS=1")

	t.Run("sqlite", func(t *testing.T) {
		c := &cluster{t: t, bin: bin, dir: t.TempDir(), hc: &http.Client{Timeout: 60 * time.Second}, env: base}
		a := c.start("A")
		c.login(a)
		s1 := openSSE(t, a, "")
		m := &nodeMaker{c: c, acked: map[string]bool{}}
		m.run(a, "before-0", true)
		m.run(a, "before-1", true)
		testutil.WaitFor(t, 60*time.Second, "20 events on the stream", func() bool {
			evs, _, _ := s1.received()
			return len(evs) >= 20
		})
		a.kill()
		m.finish(t)
		testutil.WaitFor(t, 10*time.Second, "the stream to end with the process", func() bool { _, _, ended := s1.received(); return ended })
		before, lastID, _ := s1.received()
		t.Logf("%d events received before SIGKILL, %d creations acknowledged", len(before), m.n.Load())

		// The same data dir, a new process: nodes created before the
		// client comes back must reach it too.
		if err := os.Symlink(filepath.Join(c.dir, "A-data"), filepath.Join(c.dir, "A2-data")); err != nil {
			t.Fatal(err)
		}
		a2 := c.start("A2")
		m2 := &nodeMaker{c: c, acked: m.acked}
		for i := range 5 {
			name := fmt.Sprintf("while-down-%d", i)
			if err := c.createNode(a2, name); err != nil {
				t.Fatal(err)
			}
			m2.acked[name] = true
		}
		s2 := openSSE(t, a2, lastID)
		m2.run(a2, "after", false)
		testutil.WaitFor(t, 60*time.Second, "20 creations after the resume", func() bool { return m2.n.Load() >= 20 })
		m2.finish(t)
		if err := c.createNode(a2, "marker"); err != nil {
			t.Fatal(err)
		}
		truth := c.nodeHistory(t, a2, s1.start)
		testutil.WaitFor(t, 30*time.Second, "the marker on the resumed stream", func() bool {
			evs, _, _ := s2.received()
			return len(evs) > 0 && evs[len(evs)-1].Data["name"] == "marker"
		})
		after, _, _ := s2.received()
		checkStream(t, "SQLite, resumed after a restart", append(before, after...), truth, m2.acked)
		if s1.errMsg != "" || s2.errMsg != "" {
			t.Errorf("stream errors: %q %q", s1.errMsg, s2.errMsg)
		}
	})

	t.Run("mongodb", func(t *testing.T) {
		redisAddr := redistest.Addr(t)
		c := &cluster{t: t, bin: bin, dir: t.TempDir(), hc: &http.Client{Timeout: 60 * time.Second}}
		c.env = append(slices.Clone(base), "MONGO_SERVICE="+replicaDatabase(t), "REDIS_HOST="+redisAddr,
			"REDIS_DB_NUMBER="+strconv.Itoa(listsDB),
			// A process killed mid-write leaves a sequence id that is
			// never stored: streams pass over it after this long.
			"KCI_SEQUENCE_GAP_GRACE_SECONDS=3")
		a, b := c.startPair()
		s1 := openSSE(t, a, "")
		sB := openSSE(t, b, strconv.FormatInt(s1.start, 10)) // a second client, on B all along
		m := &nodeMaker{c: c, acked: map[string]bool{}}
		m.run(a, "a-0", true)
		m.run(a, "a-1", true)
		m.run(b, "b-0", false)
		m.run(b, "b-1", false)
		testutil.WaitFor(t, 60*time.Second, "20 events on the stream", func() bool {
			evs, _, _ := s1.received()
			return len(evs) >= 20
		})
		a.kill()
		testutil.WaitFor(t, 10*time.Second, "the stream to end with the process", func() bool { _, _, ended := s1.received(); return ended })
		before, lastID, _ := s1.received()
		killedAt := m.n.Load()
		// B goes on creating nodes while A is down.
		testutil.WaitFor(t, 60*time.Second, "20 creations through B while A is down", func() bool { return m.n.Load() >= killedAt+20 })
		a2 := c.start("A2")
		s2 := openSSE(t, a2, lastID)
		// ... and resumed on B, the other replica, from the same id.
		s3 := openSSE(t, b, lastID)
		m.run(a2, "a2-0", false)
		testutil.WaitFor(t, 60*time.Second, "20 creations after the restart", func() bool { return m.n.Load() >= killedAt+40 })
		m.finish(t)
		if err := c.createNode(b, "marker"); err != nil {
			t.Fatal(err)
		}
		truth := c.nodeHistory(t, b, s1.start)
		for _, s := range []*sse{s2, s3, sB} {
			testutil.WaitFor(t, 60*time.Second, "the marker on every stream", func() bool {
				evs, _, _ := s.received()
				return len(evs) > 0 && evs[len(evs)-1].Data["name"] == "marker"
			})
		}
		t.Logf("%d events received before SIGKILL; %d in the history, %d creations acknowledged", len(before), len(truth), m.n.Load())
		after, _, _ := s2.received()
		checkStream(t, "MongoDB, resumed on the restarted replica", append(slices.Clone(before), after...), truth, m.acked)
		onB, _, _ := s3.received()
		checkStream(t, "MongoDB, resumed on the other replica", append(slices.Clone(before), onB...), truth, m.acked)
		all, _, _ := sB.received()
		checkStream(t, "MongoDB, a stream on the surviving replica", all, truth, m.acked)
		for _, s := range []*sse{s1, s2, s3, sB} {
			if s.errMsg != "" {
				t.Errorf("stream error: %s", s.errMsg)
			}
		}
	})
}
