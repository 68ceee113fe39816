// Package storetest is the contract test suite every store backend runs:
// one body of tests, called from each backend's own _test.go with a
// constructor for a fresh, empty store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Factory returns a new empty store; the suite closes it.
type Factory func(t *testing.T) store.Store

// Options adapt the suite to what a backend can store. The zero value is
// the full, exact contract (the embedded store passes it).
type Options struct {
	// TimePrecision is the resolution of stored datetimes (MongoDB keeps
	// milliseconds); 0 means exact (microseconds, the wire precision).
	// Fixtures then use datetimes at that resolution, and a round trip of
	// finer ones must truncate them to it, never round.
	TimePrecision time.Duration
	// NoBigIntegers says that the backend's test server cannot store
	// integers beyond 64 bits (FerretDB 1.x has no Decimal128): the round
	// trip then checks that such a number is either kept exactly or
	// refused with an error, never rounded.
	NoBigIntegers bool
	// NoNestedArrays says that the backend's test server cannot store an
	// array directly inside an array (FerretDB 1.x): the fixtures leave
	// them out.
	NoNestedArrays bool
	// WriteRawNode, when set, stores doc as the JSON document of node id
	// as it is (bypassing the model), as an older version or another
	// program may have written it; the GetNodeJSON contract is then also
	// checked over such documents.
	WriteRawNode func(st store.Store, id objectid.ID, doc []byte) error
	// Deviations are the semantics cases (by name) where the backend's
	// test server answers otherwise than MongoDB, with what it answers.
	Deviations map[string]Deviation
}

// Run runs the whole contract against stores made by newStore; o (at
// most one) adapts it to the backend.
func Run(t *testing.T, newStore Factory, o ...Options) {
	var opts Options
	if len(o) > 0 {
		opts = o[0]
	}
	if opts.TimePrecision > time.Millisecond {
		t.Fatalf("TimePrecision %v: the fixtures' datetimes have milliseconds", opts.TimePrecision)
	}
	t.Run("NodeRoundTrip", func(t *testing.T) { testNodeRoundTrip(t, newStore(t), opts) })
	t.Run("NodeJSON", func(t *testing.T) { testNodeJSON(t, newStore(t), opts) }) // nodejson.go
	t.Run("WriteAtomic", func(t *testing.T) { testWriteAtomic(t, newStore(t)) })
	t.Run("Semantics", func(t *testing.T) { testSemantics(t, newStore(t), opts) }) // semantics.go
	t.Run("Paging", func(t *testing.T) { testPaging(t, newStore(t)) })
	t.Run("Sort", func(t *testing.T) { runSort(t, newStore) }) // sort.go
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore(t)) })
	t.Run("ConcurrentSequence", func(t *testing.T) { testConcurrentSequence(t, newStore(t)) })
	t.Run("OnCommit", func(t *testing.T) { testOnCommit(t, newStore(t)) })
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore(t)) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, newStore(t)) })
	t.Run("PubSub", func(t *testing.T) { runPubSub(t, newStore) })             // pubsub.go
	t.Run("Telemetry", func(t *testing.T) { runTelemetry(t, newStore, opts) }) // telemetry.go
	t.Run("Lifecycle", func(t *testing.T) { runLifecycle(t, newStore) })       // lifecycle.go
	t.Run("Transfer", func(t *testing.T) { runTransfer(t, newStore) })         // transfer.go
	t.Run("NodeStats", func(t *testing.T) { runNodeStats(t, newStore) })       // nodestats.go
	t.Run("APITokens", func(t *testing.T) { runAPITokens(t, newStore) })       // apitokens.go
}

// exactBase is a datetime at the wire precision (microseconds), for the
// round trips; base, the fixtures' reference time, has milliseconds, which
// every backend keeps exactly (MongoDB has no finer).
var (
	exactBase = time.Date(2024, 2, 1, 9, 58, 28, 479138000, time.UTC)
	base      = exactBase.Truncate(time.Millisecond)
)

// node builds a valid node for tests.
func node(name, kind string, mod ...func(*model.Node)) *model.Node {
	n := &model.Node{
		ID: objectid.New(), Kind: kind, Name: name, Path: []string{"checkout", name},
		State: model.StateRunning, Artifacts: map[string]string{}, Data: map[string]any{},
		Debug: map[string]any{}, PlatformFilter: []string{}, UserGroups: []string{},
		Created: model.T(base), Updated: model.T(base), Timeout: model.T(base.Add(6 * time.Hour)),
		Owner: model.Str("admin"),
	}
	for _, m := range mod {
		m(n)
	}
	return n
}

func mustWrite(t *testing.T, st store.Store, w store.NodeWrite) {
	t.Helper()
	if err := st.WriteNodes(context.Background(), w); err != nil {
		t.Fatalf("WriteNodes: %v", err)
	}
}

// goEach runs fn(0) to fn(n-1) in goroutines; the channel it returns
// carries the errors they return and is closed once all have returned.
func goEach(n int, fn func(i int) error) <-chan error {
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	return errs
}

// waitEach waits for the goroutines of goEach, failing t on an error.
func waitEach(t *testing.T, errs <-chan error) {
	t.Helper()
	for err := range errs {
		t.Fatal(err)
	}
}

func jsonEqual(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("mismatch\n got: %s\nwant: %s", g, w)
	}
}

func testNodeRoundTrip(t *testing.T, st store.Store, opts Options) {
	defer st.Close()
	ctx := context.Background()
	parent := objectid.New()
	n := node("baseline-x86", "job", func(n *model.Node) {
		n.Parent = &parent
		n.Group = model.Str("baseline")
		n.Result = model.Str("pass")
		n.Holdoff = &model.Time{Time: base.Add(time.Minute)}
		n.Data = map[string]any{"kernel_revision": map[string]any{"tree": "mainline", "version": map[string]any{"version": json.Number("6")}},
			"big": json.Number("12345678901234567890")}
		if opts.NoBigIntegers {
			delete(n.Data, "big")
		}
		n.Artifacts = map[string]string{"log": "https://example.org/log.txt"}
		n.Jobfilter = []string{"a", "b"}
		n.RetryCounter = 3
	})
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{n}})
	got, err := st.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, n)
	if _, err := st.GetNode(ctx, objectid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetNode(unknown) = %v, want ErrNotFound", err)
	}
	// Replace keeps the id and changes the rest.
	n2 := *n
	n2.State = model.StateDone
	n2.Name = "renamed"
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{&n2}})
	got, _ = st.GetNode(ctx, n.ID)
	if got.State != model.StateDone || got.Name != "renamed" {
		t.Fatalf("replace not applied: %+v", got)
	}
	if c, _ := st.CountNodes(ctx, query.Filter{}); c != 1 {
		t.Fatalf("count = %d, want 1", c)
	}

	// Datetimes finer than the store's precision are truncated to it.
	fine := node("fine-times", "checkout", func(n *model.Node) {
		n.Created = model.T(exactBase)
		n.Holdoff = &model.Time{Time: exactBase.Add(time.Microsecond)}
	})
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{fine}})
	got, err = st.GetNode(ctx, fine.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := exactBase
	if p := opts.TimePrecision; p > 0 {
		want = exactBase.Truncate(p)
	}
	if !got.Created.Equal(want) || got.Holdoff == nil || !got.Holdoff.Equal(exactBase.Add(time.Microsecond).Truncate(max(opts.TimePrecision, time.Microsecond))) {
		t.Fatalf("created %v holdoff %v, want %v (precision %v)", got.Created, got.Holdoff, want, opts.TimePrecision)
	}

	// An integer beyond 64 bits is kept exactly or refused, never rounded.
	big := node("big-int", "checkout", func(n *model.Node) {
		n.Data = map[string]any{"big": json.Number("12345678901234567890")}
	})
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{big}}); err != nil {
		if !opts.NoBigIntegers {
			t.Fatalf("WriteNodes(big integer): %v", err)
		}
		if _, gerr := st.GetNode(ctx, big.ID); !errors.Is(gerr, store.ErrNotFound) {
			t.Fatalf("refused node was stored: %v", gerr)
		}
	} else {
		got, err := st.GetNode(ctx, big.ID)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, got.Data, big.Data)
	}
}

func testWriteAtomic(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	a := node("a", "checkout")
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{a}})
	before, _ := st.LastSequence(ctx)
	// A replacement of a missing node fails the whole write: the insert
	// and the event must not be stored.
	b := node("b", "checkout")
	ghost := node("ghost", "checkout")
	err := st.WriteNodes(ctx, store.NodeWrite{
		Insert:  []*model.Node{b},
		Replace: []*model.Node{ghost},
		Events:  []*model.Event{{Channel: "node", Data: map[string]any{"op": "updated"}}},
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WriteNodes = %v, want ErrNotFound", err)
	}
	if _, err := st.GetNode(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("insert of a failed write was kept")
	}
	after, _ := st.LastSequence(ctx)
	evs, _ := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if len(evs) != 0 || after < before {
		t.Fatalf("event of a failed write was kept: %d events", len(evs))
	}
	// Duplicate id insert is a conflict.
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{a}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate insert = %v, want ErrConflict", err)
	}
}

func c(field string, op query.Op, v any) query.Cond {
	return query.Cond{Field: field, Op: op, Value: v}
}

func f(cs ...query.Cond) query.Filter { return query.Filter{Conds: cs} }

func names(ns []*model.Node) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

func testPaging(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	var all []*model.Node
	for i := range 25 {
		all = append(all, node(fmt.Sprintf("n%02d", i), "test"))
	}
	mustWrite(t, st, store.NodeWrite{Insert: all})
	var seen []string
	for off := 0; ; off += 10 {
		page, err := st.FindNodes(ctx, query.Filter{}, store.Page{Limit: 10, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, names(page)...)
		if len(page) < 10 {
			break
		}
	}
	if !slices.Equal(seen, names(all)) {
		t.Fatalf("paging order %v, want %v", seen, names(all))
	}
}

func testEvents(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	if s, err := st.LastSequence(ctx); err != nil || s != 0 {
		t.Fatalf("LastSequence on empty = %d, %v", s, err)
	}
	n := node("checkout", "checkout")
	ev := &model.Event{Channel: "node", Owner: model.Str("admin"), Data: model.NodeEventData("created", n, false, nil)}
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}})
	if ev.SequenceID <= 0 || ev.ID.IsZero() || ev.Timestamp.IsZero() {
		t.Fatalf("event not assigned: %+v", ev)
	}
	other := &model.Event{Channel: "abc", Data: map[string]any{"x": "y"}}
	if err := st.AppendEvents(ctx, other); err != nil {
		t.Fatal(err)
	}
	if other.SequenceID <= ev.SequenceID {
		t.Fatalf("sequence not increasing: %d then %d", ev.SequenceID, other.SequenceID)
	}
	got, err := st.FindEvents(ctx, f(c("data.kind", query.Eq, "checkout")), store.Page{})
	if err != nil || len(got) != 1 || got[0].ID != ev.ID || got[0].SequenceID != ev.SequenceID {
		t.Fatalf("FindEvents(kind) = %v, %v", got, err)
	}
	jsonEqual(t, got[0].Data, ev.Data)
	got, _ = st.FindEvents(ctx, f(c("channel", query.Eq, "abc")), store.Page{})
	if len(got) != 1 || got[0].ID != other.ID {
		t.Fatalf("FindEvents(channel) = %v", got)
	}
	got, _ = st.FindEvents(ctx, f(c("sequence_id", query.Gt, ev.SequenceID)), store.Page{})
	if len(got) != 1 || got[0].ID != other.ID {
		t.Fatalf("FindEvents(sequence_id gt) = %v", got)
	}
	got, _ = st.FindEvents(ctx, f(c("data.id", query.Eq, n.ID.String())), store.Page{})
	if len(got) != 1 {
		t.Fatalf("FindEvents(data.id) = %v", got)
	}
	if s, _ := st.LastSequence(ctx); s != other.SequenceID {
		t.Fatalf("LastSequence = %d, want %d", s, other.SequenceID)
	}
}

func testConcurrentSequence(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	const writers, each = 8, 25
	waitEach(t, goEach(writers, func(w int) error {
		for i := range each {
			n := node(fmt.Sprintf("w%d-%d", w, i), "test")
			ev := &model.Event{Channel: "node", Data: model.NodeEventData("created", n, false, nil)}
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}}); err != nil {
				return err
			}
		}
		return nil
	}))
	evs, err := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers*each {
		t.Fatalf("%d events, want %d", len(evs), writers*each)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].SequenceID <= evs[i-1].SequenceID {
			t.Fatalf("events out of order at %d: %d after %d", i, evs[i].SequenceID, evs[i-1].SequenceID)
		}
	}
}

func testUsers(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	u := &model.User{Username: "alice", Email: "alice@example.org", HashedPassword: "$argon2id$x",
		IsActive: true, IsVerified: true, Groups: []model.Group{{ID: objectid.New(), Name: "kernelci"}}}
	if err := st.InsertUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ID.IsZero() {
		t.Fatal("InsertUser did not assign an id")
	}
	for _, get := range []func() (*model.User, error){
		func() (*model.User, error) { return st.GetUser(ctx, u.ID) },
		func() (*model.User, error) { return st.GetUserByUsername(ctx, "alice") },
		func() (*model.User, error) { return st.GetUserByEmail(ctx, "alice@example.org") },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, got, u)
		if got.HashedPassword != u.HashedPassword {
			t.Fatalf("hash not kept: %q", got.HashedPassword)
		}
	}
	dup := &model.User{Username: "alice", Email: "other@example.org", HashedPassword: "x"}
	if err := st.InsertUser(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username = %v, want ErrConflict", err)
	}
	dup = &model.User{Username: "other", Email: "alice@example.org", HashedPassword: "x"}
	if err := st.InsertUser(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email = %v, want ErrConflict", err)
	}
	admin := &model.User{Username: "root", Email: "root@example.org", HashedPassword: "x", IsSuperuser: true, IsActive: true}
	if err := st.InsertUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountUsers(ctx, query.Where("is_superuser", true)); n != 1 {
		t.Fatalf("superusers = %d, want 1", n)
	}
	got, _ := st.FindUsers(ctx, query.Where("groups.name", "kernelci"), store.Page{})
	if len(got) != 1 || got[0].Username != "alice" {
		t.Fatalf("FindUsers(groups.name) = %v", got)
	}
	u.Email = "alice@new.example.org"
	u.HashedPassword = "new"
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if g, _ := st.GetUserByEmail(ctx, "alice@new.example.org"); g == nil || g.HashedPassword != "new" {
		t.Fatalf("update not applied")
	}
	// The token generation is kept, though never on the wire.
	u.EndSessions()
	u.EndSessions()
	u.PastUsernames = []string{"alice0", "Alice1"}
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	g1, _ := st.GetUser(ctx, u.ID)
	g2, _ := st.FindUsers(ctx, query.Where("username", "alice"), store.Page{})
	if g1 == nil || g1.TokenGeneration != 2 || len(g2) != 1 || g2[0].TokenGeneration != 2 {
		t.Fatalf("token generation not kept: %+v %+v", g1, g2)
	}
	if !reflect.DeepEqual(g1.PastUsernames, u.PastUsernames) || !reflect.DeepEqual(g2[0].PastUsernames, u.PastUsernames) {
		t.Fatalf("past usernames not kept: %v %v", g1.PastUsernames, g2[0].PastUsernames)
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user still there: %v", err)
	}
	if err := st.DeleteUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
}

func testGroups(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	g := &model.Group{Name: "runtime:lava:node-editor"}
	if err := st.InsertGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertGroup(ctx, &model.Group{Name: g.Name}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate group = %v, want ErrConflict", err)
	}
	got, err := st.GetGroupByName(ctx, g.Name)
	if err != nil || got.ID != g.ID {
		t.Fatalf("GetGroupByName = %v, %v", got, err)
	}
	if got, err = st.GetGroup(ctx, g.ID); err != nil || got.Name != g.Name {
		t.Fatalf("GetGroup = %v, %v", got, err)
	}
	if n, _ := st.CountGroups(ctx, query.Filter{}); n != 1 {
		t.Fatalf("CountGroups = %d", n)
	}
	if err := st.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetGroupByName(ctx, g.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted group still there")
	}
}

// testOnCommit: every write that appends events announces exactly those
// events, once, with their sequence ids, before it returns; a failed
// write and an import announce nothing.
func testOnCommit(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	var mu sync.Mutex
	var got, second []int64
	st.OnCommit(func(_ context.Context, evs []*model.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			got = append(got, ev.SequenceID)
		}
	})
	st.OnCommit(func(_ context.Context, evs []*model.Event) {
		mu.Lock()
		defer mu.Unlock()
		second = append(second, int64(len(evs)))
	})
	announced := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	expect := func(what string, evs ...*model.Event) {
		t.Helper()
		want := seqs(evs)
		if g := announced(); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Fatalf("%s: announced %v, want %v", what, g, want)
		}
	}
	n := node("checkout", "checkout")
	created := &model.Event{Channel: "node", Data: model.NodeEventData("created", n, false, nil)}
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{created}})
	expect("WriteNodes insert", created)

	old := *n
	n.State = model.StateAvailable
	n.Updated = model.T(base.Add(time.Minute))
	updated := &model.Event{Channel: "node", Data: model.NodeEventData("updated", n, false, &old)}
	if err := st.ReplaceNodeIf(ctx, n, old.State, old.Updated.Time, updated); err != nil {
		t.Fatal(err)
	}
	expect("ReplaceNodeIf", updated)
	if err := st.ReplaceNodeIf(ctx, n, old.State, old.Updated.Time, &model.Event{Channel: "node", Data: "lost"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale ReplaceNodeIf = %v, want ErrConflict", err)
	}
	expect("a failed ReplaceNodeIf")

	a, b := &model.Event{Channel: "x", Data: "a"}, &model.Event{Channel: "y", Data: "b"}
	if err := st.AppendEvents(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	expect("AppendEvents", a, b)

	replaced := &model.Event{Channel: "node", Data: "replaced"}
	mustWrite(t, st, store.NodeWrite{Replace: []*model.Node{n}, Events: []*model.Event{replaced}})
	expect("WriteNodes replace", replaced)
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{node("gone", "test")},
		Events: []*model.Event{{Channel: "node", Data: "lost"}}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replacing an unknown node = %v", err)
	}
	expect("a failed WriteNodes")
	mustWrite(t, st, store.NodeWrite{Insert: []*model.Node{node("quiet", "test")}})
	expect("a write without events")

	last, _ := st.LastSequence(ctx)
	if err := st.ImportEvents(ctx, []*model.Event{{ID: objectid.New(), Timestamp: model.T(base), Channel: "node",
		Data: "imported", SequenceID: last + 10}}); err != nil {
		t.Fatal(err)
	}
	expect("ImportEvents")

	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(second) != "[1 1 2 1]" {
		t.Fatalf("the second OnCommit function saw batches %v, want [1 1 2 1]", second)
	}
	if r := st.IDRetries(); r != (store.IDRetries{}) {
		t.Fatalf("IDRetries = %+v without any collision", r)
	}
}
