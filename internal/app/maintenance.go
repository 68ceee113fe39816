package app

import (
	"context"
	"sync"
	"time"
)

// optimizer is a store that keeps its query planner up to date
// (sqlite.Store.Optimize: statistics scaled to the node table's size).
type optimizer interface {
	Optimize(ctx context.Context) error
}

// OptimizeEvery is the period of the store's planner refresh.
const OptimizeEvery = time.Hour

// startMaintenance refreshes the store's planner statistics every
// OptimizeEvery while ctx lives (the store does it once at open), so
// that plans follow a table that grows from thousands of nodes to
// millions without a restart. The returned function waits for it to end
// once ctx has.
func (a *App) startMaintenance(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	opt, ok := a.backend.(optimizer) // SQLite
	if !ok {
		return wg.Wait
	}
	wg.Go(func() {
		t := time.NewTicker(OptimizeEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			if err := opt.Optimize(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("store: refreshing the planner statistics failed; retrying in an hour", "err", err)
				continue
			}
			a.Log.Debug("store: planner statistics refreshed", "took", time.Since(start))
		}
	})
	return wg.Wait
}
