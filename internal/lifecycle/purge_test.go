package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// countingStore records the size of each purge batch.
type countingStore struct {
	*sqlite.Store
	mu      sync.Mutex
	batches []int64
	last    chan struct{} // closed after a short batch, when set
}

func (s *countingStore) PurgeNodes(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := s.Store.PurgeNodes(ctx, before, limit)
	s.mu.Lock()
	s.batches = append(s.batches, n)
	if n < int64(limit) && s.last != nil {
		close(s.last)
		s.last = nil
	}
	s.mu.Unlock()
	return n, err
}

// purgeFixture stores, created `age` before now: 10 old jobs, kbuilds and
// tests, 2 old checkouts (kept), and 3 recent nodes.
func purgeFixture(t *testing.T, st store.Store, now time.Time, age time.Duration) {
	t.Helper()
	var nodes []*model.Node
	created := func(d time.Duration) func(*model.Node) {
		return func(n *model.Node) { n.Created = model.T(now.Add(-age - d)) }
	}
	kinds := []string{"job", "kbuild", "test"}
	for i := range 10 {
		nodes = append(nodes, mk(fmt.Sprintf("old-%d", i), kinds[i%3], model.StateDone, time.Hour, created(time.Duration(i+1)*time.Hour)))
	}
	nodes = append(nodes,
		mk("old-checkout", "checkout", model.StateDone, time.Hour, created(400*24*time.Hour)),
		mk("old-checkout-2", "checkout", model.StateDone, time.Hour, created(time.Minute)),
		mk("recent-job", "job", model.StateDone, time.Hour, created(-time.Hour)),
		mk("recent-kbuild", "kbuild", model.StateRunning, time.Hour, created(-24*time.Hour)),
		mk("recent-checkout", "checkout", model.StateRunning, time.Hour, created(-time.Minute)),
	)
	if err := st.WriteNodes(context.Background(), store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
}

func nodeNames(t *testing.T, st store.Store) []string {
	t.Helper()
	all, err := st.FindNodes(context.Background(), query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range all {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

var kept = []string{"old-checkout", "old-checkout-2", "recent-checkout", "recent-job", "recent-kbuild"}

// TestPurge deletes the old nodes in batches and keeps the checkouts;
// CountPurgeable (the dry run) counts them first without deleting.
func TestPurge(t *testing.T) {
	st := &countingStore{Store: openStore(t, "")}
	now := t0
	age := 180 * 24 * time.Hour
	purgeFixture(t, st, now, age)
	before := PurgeBefore(now, age)

	counts, err := st.CountPurgeable(context.Background(), before)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"job": 4, "kbuild": 3, "test": 3}; !maps.Equal(counts, want) {
		t.Fatalf("dry run counts %v, want %v", counts, want)
	}
	if got := nodeNames(t, st); len(got) != 15 {
		t.Fatalf("the dry run deleted nodes: %v", got)
	}

	var perBatch []int64
	n, err := Purge(context.Background(), st, before, 3, -1, func(n int64) { perBatch = append(perBatch, n) })
	if err != nil || n != 10 {
		t.Fatalf("Purge = %d, %v; want 10", n, err)
	}
	if !slices.Equal(st.batches, []int64{3, 3, 3, 1}) || !slices.Equal(perBatch, []int64{3, 3, 3, 1}) {
		t.Fatalf("batches %v (reported %v), want [3 3 3 1]", st.batches, perBatch)
	}
	if got := nodeNames(t, st); !slices.Equal(got, kept) {
		t.Fatalf("left %v, want %v", got, kept)
	}
	// A second run finds nothing.
	if n, err := Purge(context.Background(), st, before, 3, 0, nil); n != 0 || err != nil {
		t.Fatalf("second Purge = %d, %v", n, err)
	}
}

// TestPurgeStopsWithContext: a cancelled purge stops between batches.
func TestPurgeStopsWithContext(t *testing.T) {
	st := &countingStore{Store: openStore(t, "")}
	purgeFixture(t, st, t0, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Purge(ctx, st, t0, 2, time.Hour, func(int64) { cancel() })
	if err == nil || n != 2 {
		t.Fatalf("cancelled Purge = %d, %v; want 2 and an error", n, err)
	}
}

// TestRunPurge: the scheduled job purges with its clock and age, and
// ends with its context.
func TestRunPurge(t *testing.T) {
	last := make(chan struct{})
	st := &countingStore{Store: openStore(t, ""), last: last}
	age := 30 * 24 * time.Hour
	purgeFixture(t, st, t0, age)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		RunPurge(ctx, st, PurgeOptions{Age: age, Batch: 4, Pause: -1, Delay: -1, Now: func() time.Time { return t0 }, Log: quiet()})
		close(done)
	}()
	select {
	case <-last:
	case <-time.After(10 * time.Second):
		t.Fatal("RunPurge did not run")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunPurge did not stop with its context")
	}
	if got := nodeNames(t, st); !slices.Equal(got, kept) {
		t.Fatalf("left %v, want %v", got, kept)
	}
	if !slices.Equal(st.batches, []int64{4, 4, 2}) {
		t.Fatalf("batches %v", st.batches)
	}
}
