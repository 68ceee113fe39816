package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// fill stores one event per hour of age in ages.
func fill(t *testing.T, st store.Telemetry, now time.Time, ages ...int) {
	t.Helper()
	var evs []*model.TelemetryEvent
	for _, h := range ages {
		evs = append(evs, &model.TelemetryEvent{Kind: "job_result", Runtime: "r", Ts: model.T(now.Add(-time.Duration(h) * time.Hour))})
	}
	if err := st.InsertTelemetry(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, st store.Telemetry) int64 {
	t.Helper()
	n, err := st.CountTelemetry(context.Background(), query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countingStore counts DeleteTelemetryBefore calls.
type countingStore struct {
	store.Telemetry
	calls atomic.Int64
}

func (c *countingStore) DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	c.calls.Add(1)
	return c.Telemetry.DeleteTelemetryBefore(ctx, t, limit)
}

func TestPurgeTelemetryBatches(t *testing.T) {
	st := &countingStore{Telemetry: sqlitetest.Open(t)}
	now := time.Now().UTC()
	fill(t, st, now, 1, 30, 31, 32, 33, 34, 2, 35)
	n, err := PurgeTelemetry(context.Background(), st, now.Add(-24*time.Hour), 2, time.Millisecond)
	if err != nil || n != 6 {
		t.Fatalf("PurgeTelemetry = %d, %v; want 6", n, err)
	}
	// 6 old events in batches of 2: three full batches and an empty one.
	if c := st.calls.Load(); c != 4 {
		t.Fatalf("%d deletes, want 4", c)
	}
	if c := count(t, st); c != 2 {
		t.Fatalf("%d events left, want 2", c)
	}
}

func TestPurgeTelemetryStopsWithContext(t *testing.T) {
	st := sqlitetest.Open(t)
	now := time.Now().UTC()
	fill(t, st, now, 30, 31, 32, 33)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := PurgeTelemetry(ctx, st, now, 1, time.Hour)
	if !errors.Is(err, context.Canceled) || n > 1 {
		t.Fatalf("PurgeTelemetry on a cancelled context = %d, %v", n, err)
	}
}

func TestRunTelemetry(t *testing.T) {
	st := sqlitetest.Open(t)
	now := time.Now().UTC()
	fill(t, st, now, 1, 2, 20, 30, 40)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunTelemetry(ctx, st, TelemetryOptions{
			TTL: 24 * time.Hour, Every: 10 * time.Millisecond, Batch: 1, Pause: -1,
			Now: func() time.Time { return time.Unix(0, clock.Load()) },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	waitFor := func(want int64) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d events left", want), func() bool { return count(t, st) == want })
	}
	waitFor(3) // the first run, at start-up, deletes what is older than a day
	clock.Store(now.Add(23 * time.Hour).UnixNano())
	waitFor(1) // 23 hours on, the 2 h and 20 h old events are over a day old
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunTelemetry did not stop with its context")
	}
}

func TestTelemetryDefaults(t *testing.T) {
	var o TelemetryOptions
	o.defaults()
	if o.TTL != 14*24*time.Hour || o.Every != time.Hour || o.Batch != DefaultTelemetryBatch || o.Pause != DefaultTelemetryPause {
		t.Fatalf("defaults %+v", o)
	}
	o = TelemetryOptions{TTL: 20 * time.Second}
	o.defaults()
	if o.Every != 2*time.Second || o.Retry != 2*time.Second {
		t.Fatalf("short TTL: every %v retry %v", o.Every, o.Retry)
	}
	o = TelemetryOptions{TTL: time.Second}
	o.defaults()
	if o.Every != time.Second {
		t.Fatalf("tiny TTL: every %v", o.Every)
	}
}
