package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// BenchmarkWriteNode is one POST /node: a node and its event in one
// transaction, committed (durably: see dsn).
//
//	go test ./internal/store/sqlite/ -run '^$' -bench WriteNode -benchtime 2000x
func BenchmarkWriteNode(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "kernelci.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := model.T(time.Now())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := &model.Node{ID: objectid.New(), Kind: "test", Name: "baseline", Path: []string{"checkout", "baseline"},
			State: model.StateRunning, Created: now, Updated: now, Timeout: now,
			Data: map[string]any{"arch": "x86_64", "platform": "qemu"}}
		ev := &model.Event{Channel: "node", Data: map[string]any{"op": "created", "id": n.ID.String()}}
		if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{ev}}); err != nil {
			b.Fatal(err)
		}
	}
}
