package app

import (
	"context"
	"sync"

	"github.com/kernelci/kernelci-api-go/internal/retention"
)

// startTelemetryRetention starts the deletion of telemetry events older
// than TELEMETRY_TTL_SECONDS (internal/retention); the returned function
// waits for it to end once ctx has.
func (a *App) startTelemetryRetention(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	tl := a.Store
	wg.Go(func() {
		retention.RunTelemetry(ctx, tl, retention.TelemetryOptions{TTL: a.Config.TelemetryTTL, Log: a.Log})
	})
	return wg.Wait
}
