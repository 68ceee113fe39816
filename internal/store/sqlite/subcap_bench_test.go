package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
	"path/filepath"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// BenchmarkSubscriptionCap compares the two ways of answering the
// POST /subscribe cap for one user among `users` users holding `per`
// subscriptions each: listing every subscription and counting the
// user's (before), and CountSubscriptions (after).
//
//	go test ./internal/store/sqlite/ -run '^$' -bench SubscriptionCap -benchtime 200x
//
// (about two minutes, nearly all of it the listings of 100,000.)
// rows/op is the rows the check reads: every subscription before, the
// user's index entries after.
func BenchmarkSubscriptionCap(b *testing.B) {
	for _, c := range []struct{ users, per int }{{1, 1000}, {100, 1000}} {
		st, err := Open(context.Background(), filepath.Join(b.TempDir(), "subs.db"))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		created := model.FormatTime(time.Now())
		err = st.inTx(ctx, func(tx *sql.Tx) error {
			ins, err := tx.PrepareContext(ctx, `INSERT INTO subscription (channel, username, promiscuous, cursor, created)
				VALUES ('node', ?, 0, 0, ?)`)
			if err != nil {
				return err
			}
			defer ins.Close()
			for u := range c.users {
				for range c.per {
					if _, err := ins.ExecContext(ctx, fmt.Sprintf("user%d", u), created); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Optimize(ctx); err != nil {
			b.Fatal(err)
		}
		total := c.users * c.per
		user := fmt.Sprintf("user%d", c.users/2)
		b.Run(fmt.Sprintf("list/total=%d", total), func(b *testing.B) {
			cpu := testutil.ProcessCPU()
			for b.Loop() {
				subs, err := st.ListSubscriptions(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for _, s := range subs {
					if s.User == user {
						n++
					}
				}
				if n != c.per {
					b.Fatalf("counted %d, want %d", n, c.per)
				}
			}
			b.ReportMetric(float64(testutil.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(total), "rows/op")
		})
		b.Run(fmt.Sprintf("count/total=%d", total), func(b *testing.B) {
			cpu := testutil.ProcessCPU()
			for b.Loop() {
				n, err := st.CountSubscriptions(ctx, user)
				if err != nil {
					b.Fatal(err)
				}
				if n != int64(c.per) {
					b.Fatalf("counted %d, want %d", n, c.per)
				}
			}
			b.ReportMetric(float64(testutil.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(c.per), "rows/op")
		})
		st.Close()
	}
}
