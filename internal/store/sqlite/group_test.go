package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func groupTestNode() *model.Node {
	now := model.T(time.Now())
	return &model.Node{ID: objectid.New(), Kind: "test", Name: "baseline", Path: []string{"checkout", "baseline"},
		State: model.StateRunning, Created: now, Updated: now, Timeout: now}
}

// waitQueued waits until n writes wait for the committer.
func waitQueued(t *testing.T, st *Store, n int) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("%d writes queued", n), func() bool {
		st.gc.mu.Lock()
		defer st.gc.mu.Unlock()
		return len(st.gc.queue) >= n
	})
}

// Writes that arrive while a commit is in progress share the next
// transaction; each is acknowledged only once it is committed (visible to
// the readers), and a failing write is undone alone.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	base := st.gc.commits.Load()

	// A first write holds the committer until the others are queued.
	started, release := make(chan struct{}), make(chan struct{})
	first := groupTestNode()
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- st.inTx(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			row, err := nodeRow(first)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, insertNodeSQL, row...)
			return err
		})
	}()
	<-started

	const writers = 20
	nodes := make([]*model.Node, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		nodes[i] = groupTestNode()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := &model.Event{Channel: "node", Data: map[string]any{"op": "created", "id": nodes[i].ID.String()}}
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{nodes[i]}, Events: []*model.Event{ev}}); err != nil {
				errs[i] = err
				return
			}
			// Acknowledged means committed: a reader sees it.
			if _, err := st.GetNode(ctx, nodes[i].ID); err != nil {
				errs[i] = err
			}
		}()
	}
	// One write of the group fails after writing a row, one is a
	// duplicate insert (a constraint error inside the group).
	failed := groupTestNode()
	errBoom := errors.New("boom")
	failDone := make(chan error, 1)
	dupDone := make(chan error, 1)
	waitQueued(t, st, writers)
	go func() {
		failDone <- st.inTx(ctx, func(tx *sql.Tx) error {
			row, err := nodeRow(failed)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, insertNodeSQL, row...); err != nil {
				return err
			}
			return errBoom
		})
	}()
	waitQueued(t, st, writers+1)
	go func() {
		dupDone <- st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{first}})
	}()
	waitQueued(t, st, writers+2)
	close(release)

	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if err := <-failDone; !errors.Is(err, errBoom) {
		t.Fatalf("failing write: %v, want its own error", err)
	}
	if err := <-dupDone; !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate insert: %v, want a conflict", err)
	}
	if _, err := st.GetNode(ctx, failed.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed write's node: %v, want it rolled back", err)
	}
	n, err := st.CountNodes(ctx, query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != writers+1 {
		t.Fatalf("%d nodes stored, want %d", n, writers+1)
	}
	evs, err := st.FindEvents(ctx, query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers {
		t.Fatalf("%d events stored, want %d", len(evs), writers)
	}
	// The first write's transaction, then one for the 22 queued writes.
	if got := st.gc.commits.Load() - base; got != 2 {
		t.Fatalf("%d commits for %d writes, want 2", got, writers+3)
	}
}

// A write whose context ended before its turn is not run.
func TestGroupCommitSkipsCancelled(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	started, release := make(chan struct{}), make(chan struct{})
	go st.inTx(ctx, func(*sql.Tx) error { close(started); <-release; return nil })
	<-started
	cctx, cancel := context.WithCancel(ctx)
	ran := false
	done := make(chan error, 1)
	go func() { done <- st.inTx(cctx, func(*sql.Tx) error { ran = true; return nil }) }()
	other := make(chan error, 1)
	n := groupTestNode()
	waitQueued(t, st, 1)
	go func() { other <- st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}}) }()
	waitQueued(t, st, 2)
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("a cancelled write ran")
	}
	if _, err := st.GetNode(ctx, n.ID); err != nil {
		t.Fatalf("the other write of the group: %v", err)
	}
}

// Cursor moves, through their batch and its prepared statements, answer
// each move: moved, conflict, unknown subscription.
func TestAdvanceSubscriptionAnswers(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	now := time.Now().UTC()
	sub := &store.Subscription{Channel: "c", User: "u", Cursor: 5, Created: now}
	if err := st.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.AdvanceSubscription(ctx, sub.ID, 5, 7, now); err != nil {
		t.Fatal(err)
	}
	if err := st.AdvanceSubscription(ctx, sub.ID, 5, 9, now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale move: %v, want ErrConflict", err)
	}
	if err := st.AdvanceSubscription(ctx, sub.ID+100, 0, 1, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown subscription: %v, want ErrNotFound", err)
	}
	got, err := st.GetSubscription(ctx, sub.ID)
	if err != nil || got.Cursor != 7 {
		t.Fatalf("cursor %v (%v), want 7", got, err)
	}
}
