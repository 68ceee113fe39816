package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// BenchmarkInsertNodesIndexed is the CPU cost of one node insert into
// every index of the node table, without the commit's fsync: nodes with
// the fields kernelci-pipeline writes (kernel_revision, arch, defconfig,
// compiler, platform, runtime, error_code), 49 tests for each job and
// kbuild, inserted 1,000 to a transaction as a hierarchy or the
// generator writes them. Each index costs a B-tree insert here, so this
// is the figure to compare when adding one (docs/performance.md).
//
//	go test ./internal/store/sqlite/ -run '^$' -bench InsertNodesIndexed -benchtime 20000x
func BenchmarkInsertNodesIndexed(b *testing.B) {
	ctx := context.Background()
	st := openTest(b)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	node := func(i int) *model.Node {
		kind := "test"
		switch {
		case i%50 == 0:
			kind = "kbuild"
		case i%50 == 1:
			kind = "job"
		}
		created := model.T(now.Add(time.Duration(i) * time.Second))
		data := map[string]any{
			"kernel_revision": map[string]any{"tree": []string{"mainline", "next", "stable-rc"}[i%3], "branch": "master",
				"commit": fmt.Sprintf("%040x", i/5000), "describe": "v6.19-rc1-42-gabcdef", "url": "https://git.kernel.org/x.git"},
			"arch": []string{"x86_64", "arm64", "arm"}[i%3], "defconfig": "defconfig", "config_full": "defconfig+kselftest",
			"compiler": "gcc-14", "platform": "qemu-x86", "runtime": "lava-collabora", "job_id": fmt.Sprint(10000000 + i),
			"error_code": nil, "error_msg": nil,
		}
		return &model.Node{ID: objectid.New(), Kind: kind, Name: fmt.Sprintf("%s-%d", kind, i%400), Path: []string{"checkout", kind},
			State: model.StateDone, Result: model.Str("pass"), Created: created, Updated: created, Timeout: created, Data: data}
	}
	const batch = 1000
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		nodes := make([]*model.Node, 0, batch)
		for j := i; j < min(i+batch, b.N); j++ {
			nodes = append(nodes, node(j))
		}
		if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes}); err != nil {
			b.Fatal(err)
		}
	}
}
