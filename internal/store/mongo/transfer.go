package mongo

// store.Transfer: reading every document of a collection in batches
// (keyset pagination: one bounded find per batch, resuming after the last
// key), writing events and subscriptions with their ids, raising the
// sequence counter and emptying the collections.

import (
	"context"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// transferBatch is how many documents one find of an Each method reads.
const transferBatch = 1000

// transferCollections maps store.TransferCollections to collections.
var transferCollections = map[string]string{
	store.CollNode:            colNode,
	store.CollUser:            colUser,
	store.CollGroup:           colGroup,
	store.CollEvent:           colEvent,
	store.CollTelemetry:       colTelemetry,
	store.CollSubscriberState: colSubState,
	store.CollSubscription:    colSubscription,
	store.CollKV:              colKV,
	store.CollList:            colList,
	store.CollAPIToken:        colAPIToken,
}

// Counts returns the estimated number of documents of each collection.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, c := range store.TransferCollections {
		cctx, cancel := s.opCtx(ctx)
		n, err := s.db.Collection(transferCollections[c]).EstimatedDocumentCount(cctx)
		cancel()
		if err != nil {
			return nil, mapErr("count "+c, err)
		}
		out[c] = n
	}
	return out, nil
}

// eachByID walks col in _id order (ObjectIds, or strings for kv).
func (s *Store) eachByID(ctx context.Context, col string, filter bson.D, fn func(bson.Raw) error) error {
	var after any
	for {
		f := append(bson.D{}, filter...)
		if after != nil {
			f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		n := 0
		err := s.findRaw(ctx, s.db.Collection(col), f, bson.D{{Key: "_id", Value: 1}}, 0, transferBatch, func(raw bson.Raw) error {
			n++
			rv := raw.Lookup("_id")
			switch rv.Type {
			case bson.TypeObjectID:
				after = rv.ObjectID()
			case bson.TypeString:
				after = rv.StringValue()
			default:
				return fmt.Errorf("%s: _id of BSON type %s", col, rv.Type)
			}
			return fn(raw)
		})
		if err != nil {
			return err
		}
		if n < transferBatch {
			return nil
		}
	}
}

// EachGroup calls fn for every group in id order.
func (s *Store) EachGroup(ctx context.Context, fn func(*model.Group) error) error {
	return s.eachByID(ctx, colGroup, nil, each(decodeGroup, fn))
}

// EachUser calls fn for every user in id order.
func (s *Store) EachUser(ctx context.Context, fn func(*model.User) error) error {
	return s.eachByID(ctx, colUser, nil, each(decodeUser, fn))
}

// EachNode calls fn for every node in id order.
func (s *Store) EachNode(ctx context.Context, fn func(*model.Node) error) error {
	return s.eachByID(ctx, colNode, nil, each(decodeNode, fn))
}

// EachTelemetry calls fn for every telemetry event in id order.
func (s *Store) EachTelemetry(ctx context.Context, fn func(*model.TelemetryEvent) error) error {
	return s.eachByID(ctx, colTelemetry, nil, each(decodeTelemetry, fn))
}

// EachEvent calls fn for every event: those with a numeric sequence_id in
// sequence order through the sequence_id index, then those without one
// (written by the reference before it numbered events) in id order.
//
// Several events may share a sequence_id (the reference's Redis counter
// restarting): the walk resumes at the last sequence_id seen ($gte) and
// passes over the events of that id it has already given.
func (s *Store) EachEvent(ctx context.Context, fn func(*model.Event) error) error {
	from := int64(math.MinInt64)
	var seen map[bson.ObjectID]bool // events of sequence_id `from` already given
	limit := int64(transferBatch)
	for {
		n, last := int64(0), from
		var lastIDs map[bson.ObjectID]bool
		err := s.findRaw(ctx, s.events, bson.D{{Key: "sequence_id", Value: bson.D{{Key: "$gte", Value: from}}}},
			bson.D{{Key: "sequence_id", Value: 1}}, 0, limit, func(raw bson.Raw) error {
				n++
				seq, err := rawInt("sequence_id", raw.Lookup("sequence_id"))
				if err != nil {
					return err
				}
				id, _ := raw.Lookup("_id").ObjectIDOK()
				if seq != last {
					last, lastIDs = seq, map[bson.ObjectID]bool{}
				}
				if lastIDs == nil {
					lastIDs = map[bson.ObjectID]bool{}
				}
				lastIDs[id] = true
				if seq == from && seen[id] {
					return nil
				}
				ev, err := decodeEvent(raw)
				if err != nil {
					return err
				}
				return fn(ev)
			})
		if err != nil {
			return err
		}
		if n < limit {
			break
		}
		if last == from {
			// A whole batch of one sequence_id: read more at once.
			for id := range lastIDs {
				if seen == nil {
					seen = map[bson.ObjectID]bool{}
				}
				seen[id] = true
			}
			limit *= 2
			continue
		}
		from, seen, limit = last, lastIDs, transferBatch
	}
	return s.eachByID(ctx, colEvent, bson.D{{Key: "sequence_id", Value: nil}}, func(raw bson.Raw) error {
		ev, err := decodeEvent(raw)
		if err != nil {
			return err
		}
		ev.SequenceID = 0
		return fn(ev)
	})
}

// decodeSubscriberState reads a subscriber_state document.
func decodeSubscriberState(raw bson.Raw) (*store.SubscriberState, error) {
	var st store.SubscriberState
	for _, step := range []func() error{
		func() (e error) { st.SubscriberID, e = rawString("subscriber_id", raw.Lookup("subscriber_id")); return },
		func() (e error) { st.Channel, e = rawString("channel", raw.Lookup("channel")); return },
		func() (e error) { st.User, e = rawString("user", raw.Lookup("user")); return },
		func() (e error) { st.Promiscuous, e = rawBool("promiscuous", raw.Lookup("promiscuous")); return },
		func() (e error) { st.LastEventID, e = rawInt("last_event_id", raw.Lookup("last_event_id")); return },
		func() (e error) {
			if v := raw.Lookup("created_at"); v.Type != 0 && !isNull(v) {
				st.Created, e = rawTime("created_at", v)
			}
			return
		},
		func() (e error) { st.LastPoll, e = rawOptTime("last_poll", raw.Lookup("last_poll")); return },
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("decode subscriber state %s: %w", st.SubscriberID, err)
		}
	}
	return &st, nil
}

// EachSubscriberState calls fn for every subscriber state, in
// subscriber_id order (unique index).
func (s *Store) EachSubscriberState(ctx context.Context, fn func(*store.SubscriberState) error) error {
	after := ""
	first := true
	for {
		f := bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$gt", Value: after}}}}
		if first {
			f = bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$gte", Value: ""}}}}
			first = false
		}
		n := 0
		err := s.findRaw(ctx, s.db.Collection(colSubState), f, bson.D{{Key: "subscriber_id", Value: 1}}, 0, transferBatch, func(raw bson.Raw) error {
			n++
			st, err := decodeSubscriberState(raw)
			if err != nil {
				return err
			}
			after = st.SubscriberID
			return fn(st)
		})
		if err != nil {
			return err
		}
		if n < transferBatch {
			return nil
		}
	}
}

// EachKV calls fn for every pair. The documents are keyed
// "namespace:key" (as the reference keys them in Redis); the namespace is
// taken to end at the first colon.
func (s *Store) EachKV(ctx context.Context, fn func(namespace, key, value string) error) error {
	return s.eachByID(ctx, colKV, nil, func(raw bson.Raw) error {
		id, err := rawString("_id", raw.Lookup("_id"))
		if err != nil {
			return err
		}
		v, err := rawString("value", raw.Lookup("value"))
		if err != nil {
			return err
		}
		ns, key, _ := strings.Cut(id, ":")
		return fn(ns, key, v)
	})
}

// EachListItem calls fn for every list item, list by list (in name
// order), head first, through the (list, seq) index.
func (s *Store) EachListItem(ctx context.Context, fn func(list string, value []byte) error) error {
	name := ""
	for first := true; ; first = false {
		// The next list name, through the (list, seq) index.
		op := "$gt"
		if first {
			op = "$gte"
		}
		next, found := "", false
		err := s.findRaw(ctx, s.db.Collection(colList), bson.D{{Key: "list", Value: bson.D{{Key: op, Value: name}}}},
			bson.D{{Key: "list", Value: 1}, {Key: "seq", Value: 1}}, 0, 1, func(raw bson.Raw) error {
				var err error
				next, err = rawString("list", raw.Lookup("list"))
				found = true
				return err
			})
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		name = next
		after := int64(math.MinInt64)
		for {
			n := 0
			err := s.findRaw(ctx, s.db.Collection(colList),
				bson.D{{Key: "list", Value: name}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: after}}}},
				bson.D{{Key: "seq", Value: 1}}, 0, transferBatch, func(raw bson.Raw) error {
					n++
					var err error
					if after, err = rawInt("seq", raw.Lookup("seq")); err != nil {
						return err
					}
					rv := raw.Lookup("value")
					if _, b, ok := rv.BinaryOK(); ok {
						return fn(name, append([]byte(nil), b...))
					}
					if str, ok := rv.StringValueOK(); ok {
						return fn(name, []byte(str))
					}
					return fieldErr("value", rv, "binary")
				})
			if err != nil {
				return err
			}
			if n < transferBatch {
				break
			}
		}
	}
}

// raiseCounter makes a counter document at least v.
func (s *Store) raiseCounter(ctx context.Context, counter string, v int64) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	up := bson.D{{Key: "$max", Value: bson.D{{Key: "value", Value: v}}}}
	_, err := s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: counter}}, up, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // a concurrent upsert won
		_, err = s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: counter}}, up)
	}
	return mapErr("raise counter "+counter, err)
}

// RaiseSequence raises the event sequence counter to at least seq.
func (s *Store) RaiseSequence(ctx context.Context, seq int64) error {
	return s.raiseCounter(ctx, seqCounterID, seq)
}

// ImportEvents stores events with their ids and sequence ids, then raises
// the counter above them. Without transactions, a failed insert deletes
// the events it stored.
func (s *Store) ImportEvents(ctx context.Context, evs []*model.Event) error {
	if len(evs) == 0 {
		return nil
	}
	enc := encoder{noDecimal: s.noDecimal}
	docs := make([]any, len(evs))
	seqs := make(bson.A, len(evs))
	top := int64(0)
	for i, ev := range evs {
		if ev.SequenceID <= 0 || ev.ID.IsZero() || ev.Timestamp.IsZero() {
			return fmt.Errorf("mongo: import event %s (sequence %d): %w: id, timestamp and a positive sequence_id are required",
				ev.ID, ev.SequenceID, store.ErrInvalid)
		}
		d, err := enc.eventDoc(ev)
		if err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
		docs[i], seqs[i] = d, ev.SequenceID
		top = max(top, ev.SequenceID)
	}
	// sequence_id has no unique index (the reference's data may repeat
	// one): check that none of these is taken.
	cctx, cancel := s.opCtx(ctx)
	taken, err := s.events.CountDocuments(cctx, bson.D{{Key: "sequence_id", Value: bson.D{{Key: "$in", Value: seqs}}}})
	cancel()
	if err != nil {
		return mapErr("import events", err)
	}
	if taken > 0 {
		return fmt.Errorf("mongo: import events: %d sequence ids already stored: %w", taken, store.ErrConflict)
	}
	if s.useTx {
		err = s.inTx(ctx, func(ctx context.Context) error {
			_, err := s.insertEvents(ctx, docs)
			return err
		})
	} else {
		var n int
		if n, err = s.insertEvents(ctx, docs); err != nil {
			s.compensate(ctx, "import events", nil, nil, insertedEvents(evs, n))
		}
	}
	if err != nil {
		return err
	}
	return s.RaiseSequence(ctx, top)
}

// ImportSubscription stores a subscription with its id and raises the
// subscription id counter to it.
func (s *Store) ImportSubscription(ctx context.Context, sub *store.Subscription) error {
	if sub.ID <= 0 {
		return fmt.Errorf("mongo: import subscription: %w: a positive id is required", store.ErrInvalid)
	}
	cctx, cancel := s.opCtx(ctx)
	_, err := s.db.Collection(colSubscription).InsertOne(cctx, subscriptionDoc(sub.ID, sub))
	cancel()
	if err != nil {
		return fmt.Errorf("subscription %d: %w", sub.ID, mapErr("import subscription", err))
	}
	return s.raiseCounter(ctx, subscriptionCounter, sub.ID)
}

// Clear deletes every document of the transferred collections (indexes,
// counters and migration records stay).
func (s *Store) Clear(ctx context.Context) error {
	for _, c := range store.TransferCollections {
		if _, err := s.deleteMany(ctx, transferCollections[c], bson.D{}); err != nil {
			return err
		}
	}
	return nil
}
