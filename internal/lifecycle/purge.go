package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/retention"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Defaults of PurgeOptions, after the reference's node_purge_task (which
// deletes 10000 at a time with a 1 s pause, in MongoDB; the embedded
// store has a single writer, so its batches are smaller and its pauses
// shorter, keeping each write to a few milliseconds).
const (
	DefaultPurgeAge   = 180 * 24 * time.Hour
	DefaultPurgeBatch = 1000
	DefaultPurgePause = 100 * time.Millisecond
	DefaultPurgeEvery = 24 * time.Hour
	DefaultPurgeDelay = 10 * time.Minute
	// DefaultPurgeRetry is the wait after a failed purge.
	DefaultPurgeRetry = time.Hour
)

// PurgeOptions configure the retention job. Zero values take the
// defaults.
type PurgeOptions struct {
	// Age: nodes created longer ago than this are deleted, except the
	// kinds in store.PurgeExcludedKinds (NODE_PURGE_AGE_DAYS).
	Age time.Duration
	// Batch is how many nodes one write deletes.
	Batch int
	// Pause is the wait between two batches, which lets the requests
	// queued behind a batch run.
	Pause time.Duration
	// Every is the period of the job, Delay the wait before its first
	// run after start-up, Retry the wait after a failure.
	Every, Delay, Retry time.Duration
	Now                 func() time.Time
	Log                 *slog.Logger
	// OnPurge, when set, is called with the count of each batch deleted
	// (for metrics).
	OnPurge func(n int64)
}

func (o *PurgeOptions) defaults() {
	if o.Age <= 0 {
		o.Age = DefaultPurgeAge
	}
	if o.Batch <= 0 {
		o.Batch = DefaultPurgeBatch
	}
	noneOrDefault(&o.Pause, DefaultPurgePause)
	if o.Every <= 0 {
		o.Every = DefaultPurgeEvery
	}
	noneOrDefault(&o.Delay, DefaultPurgeDelay)
	if o.Retry <= 0 {
		o.Retry = DefaultPurgeRetry
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// noneOrDefault reads a negative wait as none and zero as the default.
func noneOrDefault(d *time.Duration, def time.Duration) {
	if *d < 0 {
		*d = 0
	} else if *d == 0 {
		*d = def
	}
}

// PurgeBefore is the creation time before which nodes are purged.
func PurgeBefore(now time.Time, age time.Duration) time.Time { return now.Add(-age).UTC() }

// Purge deletes every purgeable node created before `before`, batch
// nodes per write with pause between writes, and returns how many it
// deleted. It stops early, with what it did and ctx's error, when ctx
// ends. A negative pause means none.
func Purge(ctx context.Context, st store.Lifecycle, before time.Time, batch int, pause time.Duration, onBatch func(int64)) (int64, error) {
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	n, err := retention.DeleteInBatches(ctx, batch, pause, func(ctx context.Context, limit int) (int64, error) {
		return st.PurgeNodes(ctx, before, limit)
	}, onBatch)
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("purge nodes: %w", err)
	}
	return n, err
}

// RunPurge purges old nodes after Delay and then every Every until ctx
// ends. Several replicas may run it: deletions are idempotent.
func RunPurge(ctx context.Context, st store.Lifecycle, o PurgeOptions) {
	o.defaults()
	o.Log.Info("node purge scheduled", "age_days", o.Age.Hours()/24, "every", o.Every, "first_in", o.Delay)
	retention.Loop(ctx, o.Delay, func(ctx context.Context) time.Duration {
		before := PurgeBefore(o.Now(), o.Age)
		start := time.Now()
		n, err := Purge(ctx, st, before, o.Batch, o.Pause, o.OnPurge)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			o.Log.Warn("node purge failed", "deleted", n, "err", err, "retry_in", o.Retry)
			return o.Retry
		default:
			o.Log.Info("node purge finished", "deleted", n, "created_before", before, "took", time.Since(start).Round(time.Millisecond))
		}
		return o.Every
	})
}
