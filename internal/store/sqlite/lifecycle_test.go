package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestLifecycleQueriesUseIndexes checks that no lifecycle or purge query
// scans the node table: every access goes through an index.
func TestLifecycleQueriesUseIndexes(t *testing.T) {
	st := openTest(t)
	now := model.FormatTime(time.Now())
	where, args := purgeableWhere(time.Now())
	queries := []struct {
		name, q string
		args    []any
		want    string // an index the plan must name
	}{
		{"lapsed timeout", `SELECT doc FROM node INDEXED BY node_state_timeout WHERE state = ? AND timeout < ? ORDER BY timeout LIMIT ?`,
			[]any{"running", now, 10}, "node_state_timeout"},
		{"lapsed holdoff", `SELECT doc FROM node INDEXED BY node_state_holdoff WHERE state = ? AND holdoff < ? ORDER BY holdoff LIMIT ?`,
			[]any{"available", now, 10}, "node_state_holdoff"},
		{"nodes in state", `SELECT doc FROM node WHERE state = ? AND id > ? ORDER BY id LIMIT ?`,
			[]any{"closing", objectid.Nil.String(), 10}, ""},
		{"pending descendant", hasPendingDescendantSQL, []any{objectid.New().String()}, "node_parent"},
		{"purge select", `SELECT rid FROM node INDEXED BY node_created WHERE ` + where + ` ORDER BY created LIMIT ?`,
			append(append([]any{}, args...), 10), "node_created"},
		{"purge count", `SELECT kind, count(*) FROM node INDEXED BY node_created WHERE ` + where + ` GROUP BY kind`, args, "node_created"},
	}
	for _, q := range queries {
		lines := explainPlan(t, st.r, q.q, q.args)
		all := strings.Join(lines, "\n")
		for _, l := range lines {
			// "SCAN node" without an index is a full table scan; the
			// CTE's own queue ("SCAN sub") is fine.
			if strings.HasPrefix(l, "SCAN node") || strings.HasPrefix(l, "SCAN n ") || l == "SCAN n" {
				if !strings.Contains(l, "INDEX") {
					t.Errorf("%s: full scan in plan:\n%s", q.name, all)
				}
			}
		}
		if q.want != "" && !strings.Contains(all, q.want) {
			t.Errorf("%s: plan does not use %s:\n%s", q.name, q.want, all)
		}
	}
	// The version used by the store must be the one checked above.
	if _, err := st.LapsedNodes(context.Background(), "running", store.DeadlineTimeout, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LapsedNodes(context.Background(), "running", "created", time.Now(), 1); err == nil {
		t.Fatal("LapsedNodes accepted an unknown deadline")
	}
}

// TestPendingDescendantStopsEarly checks that the descendant walk ends at
// the first pending node instead of visiting the whole subtree: with a
// pending child at the top of a large done subtree, the check must be far
// cheaper than the full walk of the same subtree.
// pendingTree builds a closing root with 200 done children of 100 done
// children each, plus one pending child of the root.
func pendingTree(tb testing.TB, st *Store) (root, pending *model.Node) {
	tb.Helper()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(name string, parent *objectid.ID, state string) *model.Node {
		return &model.Node{ID: objectid.New(), Kind: "job", Name: name, Path: []string{name}, Parent: parent,
			State: state, Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{},
			Created: model.T(base), Updated: model.T(base), Timeout: model.T(base.Add(time.Hour))}
	}
	root = mk("root", nil, model.StateClosing)
	w := store.NodeWrite{Insert: []*model.Node{root}}
	pending = mk("pending", &root.ID, model.StateRunning)
	w.Insert = append(w.Insert, pending)
	for i := range 200 {
		k := mk(fmt.Sprintf("k%d", i), &root.ID, model.StateDone)
		w.Insert = append(w.Insert, k)
		for j := range 100 {
			w.Insert = append(w.Insert, mk(fmt.Sprintf("j%d-%d", i, j), &k.ID, model.StateDone))
		}
	}
	if err := st.WriteNodes(context.Background(), w); err != nil {
		tb.Fatal(err)
	}
	return root, pending
}

func TestPendingDescendantLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large tree")
	}
	st := openTest(t)
	ctx := context.Background()
	root, pending := pendingTree(t, st)
	if ok, _ := st.HasPendingDescendant(ctx, root.ID); !ok {
		t.Fatal("pending child not found")
	}
	pending.State = model.StateDone
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{pending}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.HasPendingDescendant(ctx, root.ID); ok {
		t.Fatal("pending descendant found in an all-done tree")
	}
}

// BenchmarkHasPendingDescendant compares a check that stops at the first
// pending node with a full walk of 20,200 done descendants.
func BenchmarkHasPendingDescendant(b *testing.B) {
	st := openTest(b)
	ctx := context.Background()
	root, pending := pendingTree(b, st)
	b.Run("stops-early", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := st.HasPendingDescendant(ctx, root.ID); !ok {
				b.Fatal("pending child not found")
			}
		}
	})
	pending.State = model.StateDone
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{pending}}); err != nil {
		b.Fatal(err)
	}
	b.Run("full-walk", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := st.HasPendingDescendant(ctx, root.ID); ok {
				b.Fatal("pending descendant found")
			}
		}
	})
}
