package mongo

// store.Telemetry on the reference's "telemetry" collection: kernelci-core
// TelemetryEvent documents {_id, ts, kind, runtime, device_type, ...,
// retry, extra}, ts a BSON date, with the reference's indexes (TTL on ts
// from TELEMETRY_TTL_SECONDS where the server has TTL indexes).

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

const colTelemetry = "telemetry"

func (e encoder) telemetryDoc(ev *model.TelemetryEvent) (bson.D, error) {
	extra, err := e.object(ev.Extra)
	if err != nil {
		return nil, fmt.Errorf("telemetry extra.%w", err)
	}
	if ev.Extra == nil {
		extra = bson.D{}
	}
	return bson.D{
		{Key: "_id", Value: oid(ev.ID)},
		{Key: "ts", Value: dateOf(ev.Ts.Time)},
		{Key: "kind", Value: ev.Kind},
		{Key: "runtime", Value: ev.Runtime},
		{Key: "device_type", Value: strPtr(ev.DeviceType)},
		{Key: "device_id", Value: strPtr(ev.DeviceID)},
		{Key: "job_name", Value: strPtr(ev.JobName)},
		{Key: "test_name", Value: strPtr(ev.TestName)},
		{Key: "job_id", Value: strPtr(ev.JobID)},
		{Key: "node_id", Value: strPtr(ev.NodeID)},
		{Key: "tree", Value: strPtr(ev.Tree)},
		{Key: "branch", Value: strPtr(ev.Branch)},
		{Key: "arch", Value: strPtr(ev.Arch)},
		{Key: "result", Value: strPtr(ev.Result)},
		{Key: "is_infra_error", Value: ev.IsInfraError},
		{Key: "error_type", Value: strPtr(ev.ErrorType)},
		{Key: "error_msg", Value: strPtr(ev.ErrorMsg)},
		{Key: "retry", Value: intValue(ev.Retry)},
		{Key: "extra", Value: extra},
	}, nil
}

func decodeTelemetry(raw bson.Raw) (*model.TelemetryEvent, error) {
	ev := &model.TelemetryEvent{Extra: map[string]any{}}
	err := decodeFields(raw, "telemetry", &ev.ID, func(k string, rv bson.RawValue) (err error) {
		switch k {
		case "_id":
			ev.ID, err = rawID(k, rv)
		case "ts":
			ev.Ts, err = rawDate(k, rv)
		case "kind":
			ev.Kind, err = rawString(k, rv)
		case "runtime":
			ev.Runtime, err = rawString(k, rv)
		case "is_infra_error":
			ev.IsInfraError, err = rawBool(k, rv)
		case "retry":
			ev.Retry, err = rawInt(k, rv)
		case "extra":
			var m map[string]any
			if m, err = rawObject(k, rv); err == nil && m != nil {
				ev.Extra = m
			}
		default:
			if slices.Contains(model.TelemetryStringFields, k) {
				var v *string
				if v, err = rawOptString(k, rv); err == nil {
					setTelemetryString(ev, k, v)
				}
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

func setTelemetryString(ev *model.TelemetryEvent, field string, v *string) {
	switch field {
	case "device_type":
		ev.DeviceType = v
	case "device_id":
		ev.DeviceID = v
	case "job_name":
		ev.JobName = v
	case "test_name":
		ev.TestName = v
	case "job_id":
		ev.JobID = v
	case "node_id":
		ev.NodeID = v
	case "tree":
		ev.Tree = v
	case "branch":
		ev.Branch = v
	case "arch":
		ev.Arch = v
	case "result":
		ev.Result = v
	case "error_type":
		ev.ErrorType = v
	case "error_msg":
		ev.ErrorMsg = v
	}
}

// InsertTelemetry stores every event or none.
func (s *Store) InsertTelemetry(ctx context.Context, evs []*model.TelemetryEvent) error {
	if len(evs) == 0 {
		return nil
	}
	enc := encoder{noDecimal: s.noDecimal}
	docs := make([]any, len(evs))
	for i, ev := range evs {
		if ev.ID.IsZero() {
			ev.ID = objectid.New()
		}
		d, err := enc.telemetryDoc(ev)
		if err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
		docs[i] = d
	}
	insert := func(ctx context.Context) (int, error) {
		cctx, cancel := s.opCtx(ctx)
		defer cancel()
		_, err := s.db.Collection(colTelemetry).InsertMany(cctx, docs)
		return firstFailedIndex(err), mapErr("insert telemetry", err)
	}
	if s.useTx {
		return s.inTx(ctx, func(ctx context.Context) error {
			_, err := insert(ctx)
			return err
		})
	}
	n, err := insert(ctx)
	if err == nil {
		return nil
	}
	// Undo the events stored before the failure (those are ours: an id
	// taken by another event fails where it stands).
	undo := evs
	if n >= 0 {
		undo = evs[:n]
	}
	if len(undo) > 0 {
		ids := make(bson.A, len(undo))
		for i, ev := range undo {
			ids[i] = oid(ev.ID)
		}
		if _, derr := s.deleteMany(context.WithoutCancel(ctx), colTelemetry, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); derr != nil {
			s.log.Error("mongo: could not undo a failed telemetry insert", "err", derr)
		}
	}
	return err
}

// FindTelemetry returns matching events in id (insertion) order.
func (s *Store) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) ([]*model.TelemetryEvent, error) {
	out := []*model.TelemetryEvent{}
	err := s.find(ctx, s.db.Collection(colTelemetry), f, p, bson.D{{Key: "_id", Value: 1}}, appendTo(&out, decodeTelemetry))
	return out, err
}

// CountTelemetry counts matching events.
func (s *Store) CountTelemetry(ctx context.Context, f query.Filter) (int64, error) {
	return s.count(ctx, s.db.Collection(colTelemetry), f)
}

// GroupTelemetry groups matching events by the fields in by. The server
// groups by those fields plus result and is_infra_error (no $cond inside
// $group, which FerretDB lacks), after a sort on ts descending so that
// $first picks the latest event; the sub-groups are folded here.
func (s *Store) GroupTelemetry(ctx context.Context, f query.Filter, by []string) ([]store.TelemetryGroup, error) {
	if len(by) == 0 {
		return nil, fmt.Errorf("mongo: group telemetry: no grouping field")
	}
	for i, field := range by {
		if !slices.Contains(store.TelemetryGroupFields, field) {
			return nil, fmt.Errorf("mongo: group telemetry: cannot group by %q", field)
		}
		if slices.Contains(by[:i], field) {
			return nil, fmt.Errorf("mongo: group telemetry: %q given twice", field)
		}
	}
	match, err := compile(f)
	if err != nil {
		return nil, err
	}
	id := append(groupKeys(by), bson.E{Key: "result", Value: "$result"}, bson.E{Key: "infra", Value: "$is_infra_error"})
	group := bson.D{{Key: "_id", Value: id}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}
	if !s.ferret {
		group = append(group,
			bson.E{Key: "ts", Value: bson.D{{Key: "$first", Value: "$ts"}}},
			bson.E{Key: "et", Value: bson.D{{Key: "$first", Value: "$error_type"}}},
			bson.E{Key: "em", Value: bson.D{{Key: "$first", Value: "$error_msg"}}})
	}
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: match}},
		{{Key: "$sort", Value: bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}}},
		{{Key: "$group", Value: group}},
	}
	groups := map[string]*store.TelemetryGroup{}
	var order []string
	err = s.aggregate(ctx, s.db.Collection(colTelemetry), pipeline, func(raw bson.Raw) error {
		idDoc, ok := raw.Lookup("_id").DocumentOK()
		if !ok {
			return fmt.Errorf("group telemetry: no _id document")
		}
		key := make([]*string, len(by))
		mapKey := ""
		for i := range by {
			v := idDoc.Lookup(fmt.Sprintf("k%d", i))
			if str, ok := v.StringValueOK(); ok {
				key[i] = &str
				mapKey += "s" + fmt.Sprint(len(str)) + ":" + str
			} else {
				mapKey += "n"
			}
		}
		g := groups[mapKey]
		if g == nil {
			g = &store.TelemetryGroup{Key: key}
			groups[mapKey] = g
			order = append(order, mapKey)
		}
		n, err := rawInt("n", raw.Lookup("n"))
		if err != nil {
			return err
		}
		g.Total += n
		if r, ok := idDoc.Lookup("result").StringValueOK(); ok {
			switch r {
			case model.ResultPass:
				g.Pass += n
			case model.ResultFail:
				g.Fail += n
			case model.ResultIncomplete:
				g.Incomplete += n
			case model.ResultSkip:
				g.Skip += n
			}
		}
		if b, ok := idDoc.Lookup("infra").BooleanOK(); ok && b {
			g.InfraError += n
		}
		if s.ferret {
			return nil // latest event: below
		}
		ts, err := rawTime("ts", raw.Lookup("ts"))
		if err != nil {
			return err
		}
		if g.LastSeen.IsZero() || ts.After(g.LastSeen) {
			g.LastSeen = ts
			g.LatestErrorType, _ = rawOptString("error_type", raw.Lookup("et"))
			g.LatestErrorMsg, _ = rawOptString("error_msg", raw.Lookup("em"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.TelemetryGroup, 0, len(order))
	for _, k := range order {
		g := groups[k]
		if s.ferret {
			// FerretDB 1.x has no $first ("$group accumulator "$first" is
			// not implemented yet"): one query per group for its latest
			// event, through the same filter plus the group's key.
			if err := s.latestTelemetry(ctx, match, by, g); err != nil {
				return nil, err
			}
		}
		out = append(out, *g)
	}
	return out, nil
}

func (s *Store) latestTelemetry(ctx context.Context, match bson.D, by []string, g *store.TelemetryGroup) error {
	conds := bson.A{match}
	for i, field := range by {
		var v any
		if g.Key[i] != nil {
			v = *g.Key[i]
		}
		conds = append(conds, bson.D{{Key: field, Value: bson.D{{Key: "$eq", Value: v}}}})
	}
	return s.findRaw(ctx, s.db.Collection(colTelemetry), bson.D{{Key: "$and", Value: conds}},
		bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}, 0, 1, func(raw bson.Raw) error {
			ts, err := rawTime("ts", raw.Lookup("ts"))
			if err != nil {
				return err
			}
			g.LastSeen = ts
			g.LatestErrorType, _ = rawOptString("error_type", raw.Lookup("error_type"))
			g.LatestErrorMsg, _ = rawOptString("error_msg", raw.Lookup("error_msg"))
			return nil
		})
}

// DeleteTelemetryBefore deletes up to limit of the oldest events before t.
func (s *Store) DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	filter := bson.D{{Key: "ts", Value: bson.D{{Key: "$lt", Value: dateOf(t)}}}}
	if limit <= 0 {
		return s.deleteMany(ctx, colTelemetry, filter)
	}
	return s.deleteFirst(ctx, colTelemetry, filter, bson.D{{Key: "ts", Value: 1}}, int64(limit))
}
