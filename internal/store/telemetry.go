package store

import (
	"context"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

// TelemetryGroupFields are the fields GroupTelemetry can group by: the
// string fields of a telemetry event except error_msg (free text).
var TelemetryGroupFields = []string{
	"kind", "runtime", "device_type", "device_id", "job_name", "test_name",
	"job_id", "node_id", "tree", "branch", "arch", "result", "error_type",
}

// TelemetryGroup is one group of GroupTelemetry: the events that have the
// same values of the grouping fields.
type TelemetryGroup struct {
	// Key holds the group's value of each grouping field, in the order
	// they were given; nil stands for null.
	Key []*string
	// Total counts the events; Pass, Fail, Incomplete and Skip those with
	// that result; InfraError those with is_infra_error true.
	Total, Pass, Fail, Incomplete, Skip, InfraError int64
	// LastSeen is the greatest ts of the group.
	LastSeen time.Time
	// LatestErrorType and LatestErrorMsg are the error_type and error_msg
	// of the event with the greatest ts (null or not); among events with
	// that same ts, which one is unspecified.
	LatestErrorType, LatestErrorMsg *string
}

// Telemetry stores telemetry events (kernelci-core's TelemetryEvent), a
// high-volume append-only collection kept apart from the event history.
//
// Filters use the wire names of the event fields; ts is a datetime (a
// BSON date in MongoDB), is_infra_error a boolean, retry an integer, id
// the event's ObjectId, extra a free-form document. Backends index at
// least ts, (kind, ts), (runtime, device_type, ts), (job_name, ts) and
// (result, is_infra_error, ts), as the reference does.
type Telemetry interface {
	// InsertTelemetry stores every event or none. Events get an ID when
	// theirs is zero; a duplicate ID fails the whole insert with
	// ErrConflict.
	InsertTelemetry(ctx context.Context, evs []*model.TelemetryEvent) error
	// FindTelemetry returns matching events in insertion order.
	FindTelemetry(ctx context.Context, f query.Filter, p Page) ([]*model.TelemetryEvent, error)
	// CountTelemetry counts matching events.
	CountTelemetry(ctx context.Context, f query.Filter) (int64, error)
	// GroupTelemetry groups the matching events by the values of the
	// fields in by (each one of TelemetryGroupFields, at least one, no
	// repeats) and counts each group; the groups come in no particular
	// order. The answer holds one entry per distinct key, so callers
	// bound its size with the filter (a time window) or the choice of
	// fields.
	//
	// It needs no $cond inside $group (which FerretDB lacks): a MongoDB
	// backend may $match, $sort by ts descending, then $group by the
	// fields plus result and is_infra_error with $sum: 1, $first of ts,
	// error_type and error_msg, and fold those sub-groups into
	// TelemetryGroups in Go (at most ten sub-groups per group).
	GroupTelemetry(ctx context.Context, f query.Filter, by []string) ([]TelemetryGroup, error)
	// DeleteTelemetryBefore deletes up to limit of the events whose ts is
	// before t (oldest first where the backend can tell), returning how
	// many it deleted; limit <= 0 means no limit. Retention calls it in a
	// loop so that no single delete holds the store for long.
	DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}
