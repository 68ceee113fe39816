package store

import "context"

// Pinger is a backend that can tell cheaply whether it is reachable, for
// the readiness probe (GET /readyz). It is optional: find it with PingOf.
type Pinger interface {
	// Ping answers nil when the backend serves requests; it must be cheap
	// (no collection scan) and honour ctx's deadline.
	Ping(ctx context.Context) error
}

// As returns the first of st and the stores it decorates (followed
// through Unwrap methods, as TelemetryOf does) that implements T: the
// way to find an optional interface of a backend through decorators such
// as pubsub.NotifyingStore and the metrics decorator.
func As[T any](st any) (T, bool) {
	for range 8 {
		if t, ok := st.(T); ok {
			return t, true
		}
		switch u := st.(type) {
		case interface{ Unwrap() PubSubStore }:
			st = u.Unwrap()
		case interface{ Unwrap() Store }:
			st = u.Unwrap()
		default:
			var zero T
			return zero, false
		}
	}
	var zero T
	return zero, false
}

// Ping checks that st is reachable: with its Pinger when it has one
// (looking through decorators), else with a cheap read (LastSequence).
func Ping(ctx context.Context, st Store) error {
	if p, ok := As[Pinger](st); ok {
		return p.Ping(ctx)
	}
	_, err := st.LastSequence(ctx)
	return err
}
