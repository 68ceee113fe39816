package sqlite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// BenchmarkEventPolls runs the event-history queries of the clients on
// a week of history (KCI_BENCH_EVENTS events, default 300,000; production
// keeps about 5 million): a pull lab's poll (kind, state, from, limit
// 1000, as tools/example_pull_lab.py of kernelci-pipeline sends it) and
// a node's events (node_id).
//
//	KCI_BENCH_EVENTS=2000000 go test ./internal/store/sqlite/ -run '^$' -bench EventPolls -benchtime 50x
func BenchmarkEventPolls(b *testing.B) {
	ctx := context.Background()
	n := 300000
	if v, err := strconv.Atoi(os.Getenv("KCI_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	st := openTest(b)
	start := time.Now().Add(-7 * 24 * time.Hour).UTC()
	step := 7 * 24 * time.Hour / time.Duration(n)
	kinds := []string{"test", "test", "test", "test", "test", "test", "job", "job", "kbuild", "checkout"}
	states := []string{"running", "available", "done"}
	const batch = 5000
	for i := 0; i < n; i += batch {
		evs := make([]*model.Event, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			owner := "admin"
			evs = append(evs, &model.Event{Channel: "node", Owner: &owner,
				Timestamp: model.T(start.Add(time.Duration(j) * step)),
				Data: map[string]any{"op": "updated", "id": fmt.Sprintf("%024x", j/3), "kind": kinds[j%len(kinds)],
					"state": states[j%3], "name": "baseline", "data": map[string]any{"arch": "x86_64"}}})
		}
		if err := st.AppendEvents(ctx, evs...); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		f    query.Filter
	}{
		{"pull_lab_last_hour", query.Filter{Conds: []query.Cond{{Field: "data.kind", Op: query.Eq, Value: "job"},
			{Field: "data.state", Op: query.Eq, Value: "done"},
			{Field: "timestamp", Op: query.Gt, Value: time.Now().Add(-time.Hour).UTC()}}}},
		{"pull_lab_last_day", query.Filter{Conds: []query.Cond{{Field: "data.kind", Op: query.Eq, Value: "job"},
			{Field: "data.state", Op: query.Eq, Value: "done"},
			{Field: "timestamp", Op: query.Gt, Value: time.Now().Add(-24 * time.Hour).UTC()}}}},
		{"kind_last_hour", query.Filter{Conds: []query.Cond{{Field: "data.kind", Op: query.Eq, Value: "checkout"},
			{Field: "timestamp", Op: query.Gt, Value: time.Now().Add(-time.Hour).UTC()}}}},
		{"node_events", query.Filter{Conds: []query.Cond{{Field: "data.id", Op: query.Eq, Value: fmt.Sprintf("%024x", n/6)}}}},
		{"kind_no_from", query.Filter{Conds: []query.Cond{{Field: "data.kind", Op: query.Eq, Value: "checkout"}}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				evs, err := st.FindEvents(ctx, tc.f, store.Page{Limit: 1000})
				if err != nil || len(evs) == 0 {
					b.Fatalf("%d events, %v", len(evs), err)
				}
			}
		})
	}
}
