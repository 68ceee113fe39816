package retention

import (
	"context"
	"time"
)

// DeleteInBatches calls del with limit batch until a call deletes fewer
// than batch, waiting pause between calls (none when negative) so that
// the requests queued behind each write run, and returns how many were
// deleted in all. onBatch, when set, gets each call's count. It stops
// early, with what it did and ctx's error, when ctx ends; a failed call
// stops it with that call's error.
func DeleteInBatches(ctx context.Context, batch int, pause time.Duration,
	del func(ctx context.Context, limit int) (int64, error), onBatch func(int64)) (int64, error) {
	var total int64
	for {
		n, err := del(ctx, batch)
		total += n
		if n > 0 && onBatch != nil {
			onBatch(n)
		}
		if err != nil {
			return total, err
		}
		if n < int64(batch) {
			return total, nil
		}
		if err := Sleep(ctx, pause); err != nil {
			return total, err
		}
	}
}

// Loop runs job after first and then after whatever wait each run
// returns (its period, or a retry delay after a failure), until ctx ends.
func Loop(ctx context.Context, first time.Duration, job func(ctx context.Context) (next time.Duration)) {
	wait := first
	for {
		if Sleep(ctx, wait) != nil {
			return
		}
		wait = job(ctx)
		if ctx.Err() != nil {
			return
		}
	}
}

// Sleep waits d or until ctx ends (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
