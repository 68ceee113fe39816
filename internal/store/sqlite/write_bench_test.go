package sqlite

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// writeCreated writes a small node with its event, as one POST /node.
func writeCreated(ctx context.Context, st *Store, now model.Time) error {
	n := &model.Node{ID: objectid.New(), Kind: "test", Name: "baseline", Path: []string{"checkout", "baseline"},
		State: model.StateRunning, Created: now, Updated: now, Timeout: now,
		Data: map[string]any{"arch": "x86_64", "platform": "qemu"}}
	ev := &model.Event{Channel: "node", Data: map[string]any{"op": "created", "id": n.ID.String()}}
	return st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}})
}

// BenchmarkWriteNode is one POST /node: a node and its event in one
// transaction, committed (durably: see dsn).
//
//	go test ./internal/store/sqlite/ -run '^$' -bench WriteNode -benchtime 2000x
func BenchmarkWriteNode(b *testing.B) {
	ctx := context.Background()
	st := openTest(b)
	now := model.T(time.Now())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := writeCreated(ctx, st, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteNodeConcurrent is BenchmarkWriteNode from 16 goroutines
// at once (16 clients writing): group commit (group.go) lets them share
// commits.
//
//	go test ./internal/store/sqlite/ -run '^$' -bench WriteNodeConcurrent -benchtime 4000x
func BenchmarkWriteNodeConcurrent(b *testing.B) {
	ctx := context.Background()
	st := openTest(b)
	now := model.T(time.Now())
	base := st.gc.commits.Load()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := writeCreated(ctx, st, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(st.gc.commits.Load()-base), "writes/commit")
}

// BenchmarkGetNode is the store's part of GET /node/{id}: the read and
// the decoding of the document.
//
//	go test ./internal/store/sqlite/ -run '^$' -bench GetNode -benchtime 20000x
func BenchmarkGetNode(b *testing.B) {
	ctx := context.Background()
	st := openTest(b)
	now := model.T(time.Now())
	var ids []objectid.ID
	var nodes []*model.Node
	for range 1000 {
		n := &model.Node{ID: objectid.New(), Kind: "test", Name: "baseline", Path: []string{"checkout", "baseline"},
			State: model.StateRunning, Created: now, Updated: now, Timeout: now,
			Data: map[string]any{"arch": "x86_64", "platform": "qemu", "kernel_revision": map[string]any{"tree": "mainline", "commit": "2d5404caa8c7bb5c4e0435f94b28834ae5456623"}}}
		nodes = append(nodes, n)
		ids = append(ids, n.ID)
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.GetNode(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// pipelineNode is a test node as kernelci-bench -http writes it (about
// 1 kB of JSON stored).
func pipelineNode(now model.Time) *model.Node {
	grp := "baseline-x86"
	return &model.Node{ID: objectid.NewAt(now.Time), Kind: "test", Name: "baseline.login",
		Path:  []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86", "baseline.login"},
		Group: &grp, State: model.StateRunning, Created: now, Updated: now, Timeout: now,
		Data: map[string]any{
			"kernel_revision": map[string]any{
				"tree": "mainline", "branch": "master", "commit": "2d5404caa8c7bb5c4e0435f94b28834ae5456623",
				"url": "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git", "describe": "v6.12-rc3-123-g2d5404caa8c7",
			},
			"arch": "x86_64", "defconfig": "x86_64_defconfig", "compiler": "gcc-12", "platform": "qemu-x86",
			"runtime": "lava-collabora", "job_id": "12345678", "error_code": nil,
		},
		Owner: model.Str("admin")}
}

// BenchmarkWritePairs is the store's part of kernelci-bench -http's
// write figure: 16 goroutines each creating a node (with its event) and
// updating it to done (ReplaceNodeIf, with its event), as POST /node
// and PUT /node/{id} do. An op is one pair (two node writes);
// cpu-µs/write is the process's CPU time (user + system) per node
// write, which stays meaningful on a loaded machine, and
// writes/commit how many writes shared a commit.
//
//	go test ./internal/store/sqlite/ -run '^$' -bench WritePairs -benchtime 2000x
func BenchmarkWritePairs(b *testing.B) {
	ctx := context.Background()
	st := openTest(b)
	base := st.gc.commits.Load()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	cpu0 := testutil.ProcessCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := model.T(time.Now())
			n := pipelineNode(now)
			ev := &model.Event{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("created", n, false, nil)}
			if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}}); err != nil {
				b.Error(err)
				return
			}
			u := *n
			u.State, u.Result, u.Updated = model.StateDone, model.Str(model.ResultPass), model.T(time.Now())
			ev = &model.Event{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("updated", &u, false, n)}
			if err := st.ReplaceNodeIf(ctx, &u, n.State, n.Updated.Time, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/1e3/float64(2*b.N), "cpu-µs/write")
	b.ReportMetric(float64(2*b.N)/float64(st.gc.commits.Load()-base), "writes/commit")
}

// BenchmarkIndexCost is what the indexes of the node and event tables
// cost a write: a fresh store with a set of them dropped inserts b.N
// pipeline nodes with their events, 50 to a transaction, then updates
// each to done with its event. cpu-µs/node is the process CPU per node
// (insert + update + two events); a set's cost is its figure below
// "all" (the schema as it is). Per-index figures are below the noise of
// a shared machine, hence sets: the indexes on document paths (each
// parses the JSON), the other node indexes, the event indexes. For the
// plans of docs/performance.md; not a test.
//
//	go test ./internal/store/sqlite/ -run '^$' -bench IndexCost -benchtime 5000x
func BenchmarkIndexCost(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "kernelci.db"))
	if err != nil {
		b.Fatal(err)
	}
	sets := map[string][]string{}
	rows, err := st.r.QueryContext(ctx, `SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('node', 'eventhistory') ORDER BY name`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name, tbl, q string
		rows.Scan(&name, &tbl, &q)
		set := "event_indexes"
		if tbl == "node" {
			set = "node_indexes_on_columns"
			// Generated columns over doc: kr_*, d_*; partial indexes on
			// doc (what follows the index's name).
			cols := q[strings.Index(q, "("):]
			if strings.Contains(cols, "kr_") || strings.Contains(cols, "d_") || strings.Contains(cols, "json_") {
				set = "node_indexes_on_doc_paths"
			}
		}
		sets[set] = append(sets[set], name)
		sets["every_index"] = append(sets["every_index"], name)
	}
	rows.Close()
	st.Close()
	for _, name := range []string{"all", "node_indexes_on_doc_paths", "node_indexes_on_columns", "event_indexes", "every_index"} {
		drop := sets[name]
		b.Run("drop_"+name, func(b *testing.B) {
			st := openTest(b)
			for _, ix := range drop {
				if _, err := st.w.ExecContext(ctx, "DROP INDEX "+ix); err != nil {
					b.Fatal(err)
				}
			}
			now := model.T(time.Now())
			nodes := make([]*model.Node, b.N)
			for i := range nodes {
				nodes[i] = pipelineNode(now)
			}
			cpu0 := testutil.ProcessCPU()
			b.ResetTimer()
			for i := 0; i < len(nodes); i += 50 {
				part := nodes[i:min(i+50, len(nodes))]
				var w, u store.NodeWrite
				for _, n := range part {
					w.Insert = append(w.Insert, n)
					w.Events = append(w.Events, &model.Event{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("created", n, false, nil)})
					d := *n
					d.State, d.Result, d.Updated = model.StateDone, model.Str(model.ResultPass), model.T(time.Now())
					u.Replace = append(u.Replace, &d)
					u.Events = append(u.Events, &model.Event{Channel: "node", Owner: n.Owner, Data: model.NodeEventData("updated", &d, false, n)})
				}
				if err := st.WriteNodes(ctx, w); err != nil {
					b.Fatal(err)
				}
				if err := st.WriteNodes(ctx, u); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/1e3/float64(b.N), "cpu-µs/node")
			b.ReportMetric(float64(len(drop)), "indexes-dropped")
		})
	}
}
