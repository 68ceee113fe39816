package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// BenchmarkAdvanceFanOut: 1000 subscriptions each move their cursor
// once per event, all at once (what 1000 listeners woken by one publish
// do). It reports CPU time per move, commits per event and the time one
// event's moves take: how well the moves share commits.
func BenchmarkAdvanceFanOut(b *testing.B) {
	for _, subs := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscriptions=%d", subs), func(b *testing.B) {
			ctx := context.Background()
			st := openTest(b)
			now := time.Now().UTC()
			ids := make([]int64, subs)
			for i := range ids {
				sub := &store.Subscription{Channel: "bench", User: "u", Created: now}
				if err := st.CreateSubscription(ctx, sub); err != nil {
					b.Fatal(err)
				}
				ids[i] = sub.ID
			}
			commits0, cpu0 := st.gc.commits.Load(), testutil.ProcessCPU()
			b.ResetTimer()
			for i := range b.N {
				var wg sync.WaitGroup
				for _, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := st.AdvanceSubscription(ctx, id, int64(i), int64(i+1), now); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
			}
			b.StopTimer()
			cpu, commits := testutil.ProcessCPU()-cpu0, st.gc.commits.Load()-commits0
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*subs), "cpu-µs/move")
			b.ReportMetric(float64(commits)/float64(b.N), "commits/event")
		})
	}
}
