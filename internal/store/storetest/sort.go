package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runSort is the contract of store.Page.Order and After (keyset paging).
func runSort(t *testing.T, newStore Factory) {
	t.Run("Nodes", func(t *testing.T) { testSortNodes(t, newStore(t)) })
	t.Run("Events", func(t *testing.T) { testSortEvents(t, newStore(t)) })
	t.Run("CursorWhileInserting", func(t *testing.T) { testCursorWhileInserting(t, newStore(t)) })
}

// sortFixture has ties on every sort field (names and times repeat,
// results are often null) and is inserted in random order, so neither
// insertion order nor id order alone gives any expected order.
func sortFixture(rng *rand.Rand, n int, prefix string) []*model.Node {
	names := []string{"a", "b", "B", "baseline", "é", "kunit"}
	kinds := []string{"checkout", "kbuild", "test", "job"}
	states := []string{"running", "available", "closing", "done"}
	results := []*string{nil, model.Str("pass"), model.Str("fail"), model.Str("skip"), nil}
	step := time.Millisecond // every backend keeps milliseconds
	out := make([]*model.Node, n)
	for i := range out {
		out[i] = node(prefix+names[rng.IntN(len(names))], kinds[rng.IntN(len(kinds))], func(nd *model.Node) {
			nd.State = states[rng.IntN(len(states))]
			nd.Result = results[rng.IntN(len(results))]
			nd.Created = model.T(base.Add(time.Duration(rng.IntN(n/3)) * step))
			nd.Updated = model.T(base.Add(time.Duration(rng.IntN(n/3))*time.Second + time.Duration(rng.IntN(3))*step))
		})
	}
	return out
}

func ids(ns []*model.Node) []objectid.ID {
	out := make([]objectid.ID, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

// sorted returns ns in order o.
func sorted(ns []*model.Node, o query.Order) []*model.Node {
	out := slices.Clone(ns)
	slices.SortStableFunc(out, func(a, b *model.Node) int {
		return o.Compare(o.Values(store.NodeKey(a)), o.Values(store.NodeKey(b)))
	})
	return out
}

// pageAll reads every match of f in order o with cursor pages of size
// limit, checking each page's size.
func pageAll(t *testing.T, st store.Store, f query.Filter, o query.Order, limit int) []*model.Node {
	t.Helper()
	ctx := context.Background()
	var all []*model.Node
	var after []any
	for range 10000 {
		page, err := st.FindNodes(ctx, f, store.Page{Limit: limit, Order: o, After: after})
		if err != nil {
			t.Fatalf("FindNodes(sort=%s, after=%v): %v", o, after, err)
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		after = o.Values(store.NodeKey(page[len(page)-1]))
	}
	t.Fatal("paging does not end")
	return nil
}

func mustSort(t *testing.T, s string, schema query.SortSchema) query.Order {
	t.Helper()
	o, err := query.ParseSort("sort", s, schema)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func testSortNodes(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 2))
	all := sortFixture(rng, 45, "")
	mustWrite(t, st, store.NodeWrite{Insert: all})
	byKind := query.Where("kind", "test")
	var tests []*model.Node
	for _, n := range all {
		if n.Kind == "test" {
			tests = append(tests, n)
		}
	}
	// Pages of one record (a cursor after every record) for a few
	// orders only: the FerretDB run is slow.
	single := []string{"-created", "result", "-result,kind"}
	for _, s := range []string{"created", "-created", "updated", "-updated", "name", "-name", "kind",
		"state", "result", "-result", "id", "-id", "kind,-created", "-state,name,created", "result,-updated", "-result,kind"} {
		t.Run(s, func(t *testing.T) {
			o := mustSort(t, s, query.NodeSort)
			want := ids(sorted(all, o))
			got, err := st.FindNodes(ctx, query.Filter{}, store.Page{Order: o})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), want) {
				t.Fatalf("order\n got %v\nwant %v", ids(got), want)
			}
			limits := []int{7}
			if slices.Contains(single, s) {
				limits = append(limits, 1)
			}
			for _, limit := range limits {
				if got := ids(pageAll(t, st, query.Filter{}, o, limit)); !slices.Equal(got, want) {
					t.Fatalf("cursor pages of %d\n got %v\nwant %v", limit, got, want)
				}
			}
			page, err := st.FindNodes(ctx, query.Filter{}, store.Page{Order: o, Limit: 5, Offset: 10})
			if err != nil || !slices.Equal(ids(page), want[10:15]) {
				t.Fatalf("offset 10 limit 5 = %v, %v; want %v", ids(page), err, want[10:15])
			}
			// Offset counts from the cursor.
			after := o.Values(store.NodeKey(got[19]))
			page, err = st.FindNodes(ctx, query.Filter{}, store.Page{Order: o, Limit: 5, Offset: 3, After: after})
			if err != nil || !slices.Equal(ids(page), want[23:28]) {
				t.Fatalf("after #19, offset 3 = %v, %v; want %v", ids(page), err, want[23:28])
			}
			// The cursor of the last record: nothing after it.
			after = o.Values(store.NodeKey(got[len(got)-1]))
			if page, err := st.FindNodes(ctx, query.Filter{}, store.Page{Order: o, Limit: 5, After: after}); err != nil || len(page) != 0 {
				t.Fatalf("after the last = %v, %v", ids(page), err)
			}
			// With a filter.
			wantTests := ids(sorted(tests, o))
			if got := ids(pageAll(t, st, byKind, o, 4)); !slices.Equal(got, wantTests) {
				t.Fatalf("kind=test, cursor pages\n got %v\nwant %v", got, wantTests)
			}
		})
	}
}

func testSortEvents(t *testing.T, st store.Store) {
	defer st.Close()
	ctx := context.Background()
	var evs []*model.Event
	for i := range 23 {
		ch := "node"
		if i%3 == 0 {
			ch = "other"
		}
		evs = append(evs, &model.Event{Channel: ch, Data: map[string]any{"i": int64(i)}})
	}
	for _, ev := range evs {
		if err := st.AppendEvents(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(evs []*model.Event) []int64 {
		out := make([]int64, len(evs))
		for i, ev := range evs {
			out[i] = ev.SequenceID
		}
		return out
	}
	for _, tc := range []struct {
		sort string
		f    query.Filter
	}{{"sequence_id", query.Filter{}}, {"-sequence_id", query.Filter{}}, {"-sequence_id", query.Where("channel", "node")}} {
		o := mustSort(t, tc.sort, query.EventSort)
		var want []*model.Event
		for _, ev := range evs {
			if len(tc.f.Conds) == 0 || ev.Channel == "node" {
				want = append(want, ev)
			}
		}
		if o[0].Desc {
			slices.Reverse(want)
		}
		got, err := st.FindEvents(ctx, tc.f, store.Page{Order: o})
		if err != nil || !slices.Equal(seqs(got), seqs(want)) {
			t.Fatalf("sort=%s: %v, %v; want %v", tc.sort, seqs(got), err, seqs(want))
		}
		var paged []*model.Event
		var after []any
		for {
			page, err := st.FindEvents(ctx, tc.f, store.Page{Order: o, Limit: 4, After: after})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if len(page) < 4 {
				break
			}
			after = o.Values(store.EventKey(page[len(page)-1]))
		}
		if !slices.Equal(seqs(paged), seqs(want)) {
			t.Fatalf("sort=%s, cursor pages: %v; want %v", tc.sort, seqs(paged), seqs(want))
		}
	}
}

// testCursorWhileInserting pages through the nodes while another writer
// keeps adding nodes whose keys fall anywhere in the order: every node
// that was there before paging started is returned exactly once, and
// no node twice.
func testCursorWhileInserting(t *testing.T, st store.Store) {
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rng := rand.New(rand.NewPCG(15, 3))
	before := sortFixture(rng, 50, "")
	mustWrite(t, st, store.NodeWrite{Insert: before})
	for _, s := range []string{"created", "-created", "kind,-created", "-result,state"} {
		o := mustSort(t, s, query.NodeSort)
		// The writer adds 3 nodes, then waits for the reader to take the
		// next page, so that writes and pages interleave.
		written := make(chan struct{})
		stop := make(chan struct{})
		errs := make(chan error, 1)
		wrng := rand.New(rand.NewPCG(uint64(len(s)), 4))
		go func() {
			defer close(written)
			for i := 0; ; i++ {
				batch := sortFixture(wrng, 3, fmt.Sprintf("new%d-", i))
				if err := st.WriteNodes(ctx, store.NodeWrite{Insert: batch}); err != nil {
					errs <- err
					return
				}
				select {
				case written <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
		seen := map[objectid.ID]int{}
		var after []any
		for {
			if _, ok := <-written; !ok {
				t.Fatalf("writer: %v", <-errs)
			}
			page, err := st.FindNodes(ctx, query.Filter{}, store.Page{Limit: 8, Order: o, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page {
				seen[n.ID]++
			}
			if len(page) < 8 {
				break
			}
			after = o.Values(store.NodeKey(page[len(page)-1]))
		}
		close(stop)
		for range written { // the writer's last send or close
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("sort=%s: node %s returned %d times", s, id, k)
			}
		}
		for _, n := range before {
			if seen[n.ID] != 1 {
				t.Errorf("sort=%s: node %s (there before paging) returned %d times", s, n.ID, seen[n.ID])
			}
		}
	}
}
