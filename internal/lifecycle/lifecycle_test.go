package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is an injected clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(d time.Duration) { c.mu.Lock(); c.now = t0.Add(d); c.mu.Unlock() }

func tm(d time.Duration) model.Time   { return model.T(t0.Add(d)) }
func tp(d time.Duration) *model.Time  { t := tm(d); return &t }
func ptr(id objectid.ID) *objectid.ID { return &id }

// mk builds a node created at t0 (its parent, if any, given by the tree).
func mk(name, kind, state string, timeout time.Duration, mod ...func(*model.Node)) *model.Node {
	n := &model.Node{
		ID: objectid.New(), Kind: kind, Name: name, Path: []string{name}, State: state,
		Artifacts: map[string]string{}, Data: map[string]any{"arch": "x86_64"}, Debug: map[string]any{},
		PlatformFilter: []string{}, UserGroups: []string{},
		Created: tm(0), Updated: tm(0), Timeout: tm(timeout),
		Owner: model.Str("pipeline"), ProcessedByKCIDBBridge: true,
	}
	for _, m := range mod {
		m(n)
	}
	return n
}

func under(p *model.Node) func(*model.Node) {
	return func(n *model.Node) {
		n.Parent = ptr(p.ID)
		n.Path = append(slices.Clone(p.Path), n.Name)
	}
}

func holdoff(d time.Duration) func(*model.Node) { return func(n *model.Node) { n.Holdoff = tp(d) } }

func result(r string) func(*model.Node) { return func(n *model.Node) { n.Result = model.Str(r) } }

// seen is one transition as the event history shows it.
type seen struct {
	name, from, to string
	result         string // "" for null
}

func (s seen) String() string { return fmt.Sprintf("%s %s->%s (%s)", s.name, s.from, s.to, s.result) }

// harness drives a Runner over a store with an injected clock and reads
// back the events each step appended.
type harness struct {
	t        *testing.T
	st       *sqlite.Store
	clk      *clock
	r        *Runner
	lastSeq  int64
	notified []*model.Event
	trans    []Transition
}

func newHarness(t *testing.T, nodes ...*model.Node) *harness {
	h := &harness{t: t, st: openStore(t, ""), clk: &clock{now: t0}}
	if err := h.st.WriteNodes(context.Background(), store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
	// The store announces every transition's event as it commits it.
	h.st.OnCommit(func(_ context.Context, evs []*model.Event) { h.notified = append(h.notified, evs...) })
	h.r = New(h.st, Options{
		Now: h.clk.Now, Log: quiet(), Batch: 2, // small batches: exercise the re-query and paging
		OnTransition: func(tr Transition) { h.trans = append(h.trans, tr) },
	})
	return h
}

// step runs one step at t0+d and returns the transitions it published.
func (h *harness) step(d time.Duration) ([]seen, Stats) {
	h.t.Helper()
	h.clk.set(d)
	notifiedBefore := len(h.notified)
	stats, err := h.r.Step(context.Background())
	if err != nil {
		h.t.Fatalf("Step at +%v: %v", d, err)
	}
	evs, err := h.st.FindEvents(context.Background(), query.Filter{Conds: []query.Cond{{Field: "sequence_id", Op: query.Gt, Value: h.lastSeq}}}, store.Page{})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(h.notified)-notifiedBefore != len(evs) {
		h.t.Fatalf("step at +%v: %d events stored, %d notified", d, len(evs), len(h.notified)-notifiedBefore)
	}
	var out []seen
	for i, ev := range evs {
		h.lastSeq = ev.SequenceID
		if ev.SequenceID != h.notified[notifiedBefore+i].SequenceID {
			h.t.Fatalf("notified event %d has sequence %d, stored %d", i, h.notified[notifiedBefore+i].SequenceID, ev.SequenceID)
		}
		out = append(out, h.checkEvent(ev, t0.Add(d)))
	}
	if stats.Transitions() != len(out) {
		h.t.Fatalf("step at +%v: stats %+v for %d events", d, stats, len(out))
	}
	return out, stats
}

// checkEvent checks the event against the stored node and returns the
// transition it records.
func (h *harness) checkEvent(ev *model.Event, at time.Time) seen {
	h.t.Helper()
	d, ok := ev.Data.(map[string]any)
	if !ok {
		h.t.Fatalf("event data %T", ev.Data)
	}
	if ev.Channel != "node" || d["op"] != "updated" || d["is_hierarchy"] != false {
		h.t.Fatalf("not a node update event: channel %q data %v", ev.Channel, d)
	}
	id, err := objectid.Parse(d["id"].(string))
	if err != nil {
		h.t.Fatal(err)
	}
	n, err := h.st.GetNode(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if ev.Owner == nil || *ev.Owner != "pipeline" || d["owner"] != "pipeline" {
		h.t.Fatalf("event owner %v / %v", ev.Owner, d["owner"])
	}
	if d["name"] != n.Name || d["kind"] != n.Kind {
		h.t.Fatalf("event names %v/%v, node %s/%s", d["name"], d["kind"], n.Name, n.Kind)
	}
	for _, k := range []string{"previous_state", "previous_result", "state", "result", "data", "path", "group"} {
		if _, ok := d[k]; !ok {
			h.t.Fatalf("event of %s lacks %q: %v", n.Name, k, d)
		}
	}
	if !n.Updated.Equal(at) {
		h.t.Fatalf("%s: updated %v, want the step time %v", n.Name, n.Updated, at)
	}
	if n.ProcessedByKCIDBBridge {
		h.t.Fatalf("%s: processed_by_kcidb_bridge not reset", n.Name)
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}
	return seen{name: n.Name, from: str(d["previous_state"]), to: str(d["state"]), result: str(d["result"])}
}

func (h *harness) node(n *model.Node) *model.Node {
	h.t.Helper()
	got, err := h.st.GetNode(context.Background(), n.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

func expect(t *testing.T, at string, got []seen, want ...seen) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("at %s:\n got %v\nwant %v", at, got, want)
	}
}

// TestTree drives a checkout -> kbuild -> job tree (and a few side
// cases) through every lifecycle rule with short timeouts and holdoffs.
func TestTree(t *testing.T) {
	const (
		running, available, closing, done = model.StateRunning, model.StateAvailable, model.StateClosing, model.StateDone
	)
	// The main tree: a checkout available with a 10 min holdoff, a kbuild
	// available with a 5 min holdoff, two jobs running, one of which ends
	// by its 30 min timeout and one with a result that times out at 20.
	co := mk("checkout", "checkout", available, 6*time.Hour, holdoff(10*time.Minute))
	kb := mk("kbuild-gcc-x86", "kbuild", available, 3*time.Hour, under(co), holdoff(5*time.Minute))
	job := mk("baseline-x86", "job", running, 30*time.Minute, under(kb))
	jobPass := mk("tast-x86", "job", running, 20*time.Minute, under(kb), result("pass"))
	// A second checkout whose only kbuild is done: holdoff -> done.
	co2 := mk("checkout-2", "checkout", available, 6*time.Hour, holdoff(3*time.Minute))
	kb2 := mk("kbuild-2", "kbuild", done, time.Hour, under(co2), result("pass"))
	// A closing checkout whose timeout passes with a job still running,
	// and an available kbuild without holdoff that times out.
	co3 := mk("checkout-3", "checkout", closing, 40*time.Minute, func(n *model.Node) { n.Data = nil })
	job3 := mk("job-3", "job", running, 5*time.Hour, under(co3))
	kb4 := mk("kbuild-4", "kbuild", available, 45*time.Minute, under(co3))
	// Done nodes are never touched, whatever their deadlines.
	old := mk("old-done", "job", done, time.Minute, holdoff(time.Minute), result("fail"))

	h := newHarness(t, co, kb, job, jobPass, co2, kb2, co3, job3, kb4, old)

	got, st := h.step(time.Minute)
	expect(t, "+1m", got)
	if st != (Stats{}) {
		t.Fatalf("stats at +1m: %+v", st)
	}

	// +6m: kbuild's holdoff has passed with jobs running -> closing;
	// checkout-2's has passed with nothing pending -> done.
	got, st = h.step(6 * time.Minute)
	expect(t, "+6m", got,
		seen{"checkout-2", available, done, ""},
		seen{"kbuild-gcc-x86", available, closing, ""},
	)
	if st.Closing != 1 || st.HeldOff != 1 {
		t.Fatalf("stats at +6m: %+v", st)
	}

	// +11m: the checkout's holdoff has passed; its kbuild is closing and
	// the jobs run: closing. Nothing else moves.
	got, _ = h.step(11 * time.Minute)
	expect(t, "+11m", got, seen{"checkout", available, closing, ""})
	got, _ = h.step(12 * time.Minute)
	expect(t, "+12m", got)

	// +21m: the job with a result times out; it keeps its result and gets
	// no error. The other job still runs, so nothing closes.
	got, st = h.step(21 * time.Minute)
	expect(t, "+21m", got, seen{"tast-x86", running, done, "pass"})
	if n := h.node(jobPass); n.Data["error_code"] != nil || n.Data["error_msg"] != nil || n.Data["arch"] != "x86_64" {
		t.Fatalf("a timed-out node with a result got %v", n.Data)
	}
	if st.TimedOut != 1 {
		t.Fatalf("stats at +21m: %+v", st)
	}

	// +31m: the last job times out: result incomplete with the timeout
	// error; then the kbuild and the checkout close, bottom-up, in the
	// same step.
	got, st = h.step(31 * time.Minute)
	expect(t, "+31m", got,
		seen{"baseline-x86", running, done, "incomplete"},
		seen{"kbuild-gcc-x86", closing, done, ""},
		seen{"checkout", closing, done, ""},
	)
	if st.TimedOut != 1 || st.Closed != 2 {
		t.Fatalf("stats at +31m: %+v", st)
	}
	n := h.node(job)
	if n.Result == nil || *n.Result != "incomplete" || n.Data["error_code"] != "node_timeout" ||
		n.Data["error_msg"] != "Node timed-out" || n.Data["arch"] != "x86_64" {
		t.Fatalf("timed-out job: result %v data %v", n.Result, n.Data)
	}

	// +41m: checkout-3 times out while closing (its job still runs): done,
	// incomplete, with data created for the error.
	got, _ = h.step(41 * time.Minute)
	expect(t, "+41m", got, seen{"checkout-3", closing, done, "incomplete"})
	if n := h.node(co3); n.Data["error_code"] != "node_timeout" {
		t.Fatalf("checkout-3 data %v", n.Data)
	}

	// +46m: an available node times out.
	got, _ = h.step(46 * time.Minute)
	expect(t, "+46m", got, seen{"kbuild-4", available, done, "incomplete"})

	// Later: only job-3 is left, until its timeout.
	got, _ = h.step(4 * time.Hour)
	expect(t, "+4h", got)
	got, _ = h.step(5*time.Hour + time.Second)
	expect(t, "+5h", got, seen{"job-3", running, done, "incomplete"})
	got, _ = h.step(100 * time.Hour)
	expect(t, "+100h", got)

	// Every node is done, the done one untouched.
	all, _ := h.st.FindNodes(context.Background(), query.Filter{}, store.Page{})
	for _, n := range all {
		if n.State != done {
			t.Errorf("%s is %s", n.Name, n.State)
		}
	}
	if n := h.node(old); !n.Updated.Equal(t0) || !n.ProcessedByKCIDBBridge {
		t.Errorf("a done node was rewritten: %+v", n)
	}
	// The transition hook saw what the events say.
	if len(h.trans) != len(h.notified) {
		t.Fatalf("%d transitions reported for %d events", len(h.trans), len(h.notified))
	}
	rules := map[string]Rule{}
	for _, tr := range h.trans {
		rules[tr.Previous.State+">"+tr.Node.State+" "+tr.Node.Name] = tr.Rule
	}
	for k, want := range map[string]Rule{
		"available>done checkout-2": RuleHoldoff, "available>closing kbuild-gcc-x86": RuleHoldoff,
		"running>done baseline-x86": RuleTimeout, "closing>done checkout": RuleClosing,
		"closing>done checkout-3": RuleTimeout, "available>done kbuild-4": RuleTimeout,
	} {
		if rules[k] != want {
			t.Errorf("rule of %s = %q, want %q", k, rules[k], want)
		}
	}
}

// TestClosingWaitsForClients: a closing node closes when a client (not
// the lifecycle) finishes the last pending descendant, at the next step.
func TestClosingWaitsForClients(t *testing.T) {
	co := mk("checkout", "checkout", model.StateAvailable, 6*time.Hour, holdoff(time.Minute))
	kb := mk("kbuild", "kbuild", model.StateRunning, 6*time.Hour, under(co))
	job := mk("job", "job", model.StateRunning, 6*time.Hour, under(kb))
	h := newHarness(t, co, kb, job)
	got, _ := h.step(2 * time.Minute)
	expect(t, "+2m", got, seen{"checkout", "available", "closing", ""})
	// The kbuild finishes; the job below it still runs.
	k := h.node(kb)
	k.State, k.Result, k.Updated = model.StateDone, model.Str("pass"), tm(3*time.Minute)
	if err := h.st.WriteNodes(context.Background(), store.NodeWrite{Replace: []*model.Node{k}}); err != nil {
		t.Fatal(err)
	}
	got, _ = h.step(4 * time.Minute)
	expect(t, "+4m", got)
	j := h.node(job)
	j.State, j.Result, j.Updated = model.StateDone, model.Str("fail"), tm(5*time.Minute)
	if err := h.st.WriteNodes(context.Background(), store.NodeWrite{Replace: []*model.Node{j}}); err != nil {
		t.Fatal(err)
	}
	got, _ = h.step(6 * time.Minute)
	expect(t, "+6m", got, seen{"checkout", "closing", "done", ""})
}

// TestManyLapsed: more lapsed nodes than one batch, and more closing
// nodes than one page, are all handled in one step.
func TestManyLapsed(t *testing.T) {
	var nodes []*model.Node
	for i := range 7 {
		nodes = append(nodes, mk(fmt.Sprintf("late-%d", i), "job", model.StateRunning, time.Duration(i+1)*time.Minute))
	}
	for i := range 5 {
		c := mk(fmt.Sprintf("closing-%d", i), "checkout", model.StateClosing, time.Hour)
		nodes = append(nodes, c)
		if i%2 == 0 {
			nodes = append(nodes, mk(fmt.Sprintf("pending-%d", i), "kbuild", model.StateRunning, time.Hour, under(c)))
		}
	}
	h := newHarness(t, nodes...)
	got, st := h.step(30 * time.Minute)
	if st.TimedOut != 7 || st.Closed != 2 || len(got) != 9 {
		t.Fatalf("stats %+v, events %v", st, got)
	}
	// closing-0, -2, -4 wait for their kbuilds.
	var left []string
	closing, _ := h.st.FindNodes(context.Background(), query.Where("state", "closing"), store.Page{})
	for _, n := range closing {
		left = append(left, n.Name)
	}
	if !slices.Equal(left, []string{"closing-0", "closing-2", "closing-4"}) {
		t.Fatalf("still closing: %v", left)
	}
}

// TestConflictIsHarmless: a client update between the runner's read and
// its write wins; the runner's transition is dropped without an event.
func TestConflictIsHarmless(t *testing.T) {
	job := mk("job", "job", model.StateRunning, time.Minute)
	h := newHarness(t, job)
	// A store whose ReplaceNodeIf first lets a client update the node.
	racy := &racyStore{Store: h.st, before: func() {
		n := h.node(job)
		n.State, n.Result, n.Updated = model.StateDone, model.Str("pass"), tm(90*time.Second)
		if err := h.st.WriteNodes(context.Background(), store.NodeWrite{Replace: []*model.Node{n}}); err != nil {
			t.Error(err)
		}
	}}
	r := New(racy, Options{Now: func() time.Time { return t0.Add(2 * time.Minute) }, Log: quiet()})
	st, err := r.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Conflicts != 1 || st.Transitions() != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := h.node(job); *n.Result != "pass" || n.Data["error_code"] != nil {
		t.Fatalf("client update overwritten: %+v", n)
	}
	if evs, _ := h.st.FindEvents(context.Background(), query.Filter{}, store.Page{}); len(evs) != 0 {
		t.Fatalf("%d events for a lost transition", len(evs))
	}
}

type racyStore struct {
	*sqlite.Store
	before func()
}

func (s *racyStore) ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) error {
	s.before()
	return s.Store.ReplaceNodeIf(ctx, n, ifState, ifUpdated, evs...)
}

// TestTwoRunnersRace runs two lifecycle runners, each over its own
// connection to the same database (as two replicas would), stepping at
// the same instants at the same time: every transition must happen, and
// happen once.
func TestTwoRunnersRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := openStore(t, path), openStore(t, path)
	var nodes []*model.Node
	initial := map[objectid.ID]string{}
	for i := range 12 {
		co := mk(fmt.Sprintf("co%d", i), "checkout", model.StateAvailable, 3*time.Hour, holdoff(time.Duration(i%3+1)*time.Minute))
		kb := mk(fmt.Sprintf("kb%d", i), "kbuild", model.StateAvailable, 2*time.Hour, under(co), holdoff(time.Duration(i%4+1)*time.Minute))
		nodes = append(nodes, co, kb)
		for j := range 3 {
			nodes = append(nodes, mk(fmt.Sprintf("job%d-%d", i, j), "job", model.StateRunning, time.Duration(10+i+j*7)*time.Minute, under(kb)))
		}
	}
	for _, n := range nodes {
		initial[n.ID] = n.State
	}
	if err := a.WriteNodes(context.Background(), store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	var mu sync.Mutex
	var stats []Stats
	runners := []*Runner{
		New(a, Options{Now: clk.Now, Log: quiet(), Batch: 3}),
		New(b, Options{Now: clk.Now, Log: quiet(), Batch: 3}),
	}
	for m := 0; m <= 240; m++ {
		clk.set(time.Duration(m) * time.Minute)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, r := range runners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, err := r.Step(context.Background())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				stats = append(stats, st)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
	}
	var total Stats
	for _, s := range stats {
		total.TimedOut += s.TimedOut
		total.Closing += s.Closing
		total.HeldOff += s.HeldOff
		total.Closed += s.Closed
		total.Conflicts += s.Conflicts
	}
	evs, err := a.FindEvents(context.Background(), query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != total.Transitions() {
		t.Fatalf("%d events for %d transitions reported", len(evs), total.Transitions())
	}
	// Per node, the events chain from its initial state to done with no
	// repeat: a double transition would show the same previous_state twice.
	chains := map[string][]string{}
	for _, ev := range evs {
		d := ev.Data.(map[string]any)
		chains[d["id"].(string)] = append(chains[d["id"].(string)], d["previous_state"].(string)+">"+d["state"].(string))
	}
	for _, n := range nodes {
		chain := chains[n.ID.String()]
		if len(chain) == 0 {
			t.Errorf("%s: no transition", n.Name)
			continue
		}
		state := initial[n.ID]
		for _, step := range chain {
			from, to, _ := strings.Cut(step, ">")
			if from != state {
				t.Errorf("%s: transitions %v do not chain from %s", n.Name, chain, initial[n.ID])
				break
			}
			state = to
		}
		if state != model.StateDone {
			t.Errorf("%s ends %s after %v", n.Name, state, chain)
		}
	}
	t.Logf("%d transitions, %d lost races", total.Transitions(), total.Conflicts)
}

// TestRunStopsWithContext: Run steps at once and returns when its
// context ends.
func TestRunStopsWithContext(t *testing.T) {
	job := mk("job", "job", model.StateRunning, time.Minute)
	h := newHarness(t, job)
	h.clk.set(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	r := New(h.st, Options{Now: h.clk.Now, Log: quiet(), Interval: time.Hour,
		OnTransition: func(Transition) { cancel() }})
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not step at once and stop with its context")
	}
	if h.node(job).State != model.StateDone {
		t.Fatal("first step not run")
	}
}
