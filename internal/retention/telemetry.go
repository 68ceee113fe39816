// Package retention deletes expired telemetry in the background, the way
// the reference's TTL index on telemetryevent.ts does in MongoDB
// (TELEMETRY_TTL_SECONDS, default 14 days), but on every backend: in
// small batches with a pause between them, so that the embedded store's
// single writer is never held for long.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Defaults of TelemetryOptions.
const (
	DefaultTelemetryTTL   = 14 * 24 * time.Hour
	DefaultTelemetryBatch = 1000
	DefaultTelemetryPause = 50 * time.Millisecond
	// DefaultTelemetryEvery is the longest period of the job; shorter
	// TTLs run it every TTL/10 (at least every second).
	DefaultTelemetryEvery = time.Hour
	// DefaultTelemetryRetry is the wait after a failed run.
	DefaultTelemetryRetry = 5 * time.Minute
)

// TelemetryOptions configure RunTelemetry. Zero values take the defaults.
type TelemetryOptions struct {
	// TTL: events whose ts is older than this are deleted.
	TTL time.Duration
	// Batch is how many events one write deletes; Pause the wait between
	// two batches (negative: none).
	Batch int
	Pause time.Duration
	// Every is the period of the job (default min(TTL/10, 1h), at least
	// 1s); Retry the wait after a failure. The first run is at start-up.
	Every, Retry time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

func (o *TelemetryOptions) defaults() {
	if o.TTL <= 0 {
		o.TTL = DefaultTelemetryTTL
	}
	if o.Batch <= 0 {
		o.Batch = DefaultTelemetryBatch
	}
	if o.Pause == 0 {
		o.Pause = DefaultTelemetryPause
	}
	if o.Every <= 0 {
		o.Every = max(min(o.TTL/10, DefaultTelemetryEvery), time.Second)
	}
	if o.Retry <= 0 {
		o.Retry = min(DefaultTelemetryRetry, o.Every)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// PurgeTelemetry deletes every event whose ts is before `before`, batch
// events per write with pause between writes, and returns how many it
// deleted. It stops early, with what it did and ctx's error, when ctx
// ends.
func PurgeTelemetry(ctx context.Context, st store.Telemetry, before time.Time, batch int, pause time.Duration) (int64, error) {
	if batch <= 0 {
		batch = DefaultTelemetryBatch
	}
	n, err := DeleteInBatches(ctx, batch, pause, func(ctx context.Context, limit int) (int64, error) {
		return st.DeleteTelemetryBefore(ctx, before, limit)
	}, nil)
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("purge telemetry: %w", err)
	}
	return n, err
}

// RunTelemetry purges expired telemetry at once and then every Every
// until ctx ends. Several replicas may run it: deletions are idempotent.
func RunTelemetry(ctx context.Context, st store.Telemetry, o TelemetryOptions) {
	o.defaults()
	o.Log.Info("telemetry retention scheduled", "ttl", o.TTL, "every", o.Every)
	Loop(ctx, 0, func(ctx context.Context) time.Duration {
		before := o.Now().Add(-o.TTL).UTC()
		n, err := PurgeTelemetry(ctx, st, before, o.Batch, o.Pause)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			o.Log.Warn("telemetry retention failed", "deleted", n, "err", err, "retry_in", o.Retry)
			return o.Retry
		case n > 0:
			o.Log.Info("telemetry retention", "deleted", n, "ts_before", before)
		}
		return o.Every
	})
}
