package mongo

// Event history and the durable sequence counter.
//
// Sequence ids come from one document of the "counter" collection,
// {_id: "eventhistory.sequence_id", value: N}, advanced with an atomic
// findAndModify {$inc: {value: n}} (upsert) that reserves n ids at once.
// The reference kept this counter in Redis, where it restarts from zero
// when Redis loses its data; this one is as durable as the events. At
// Open the counter is raised ($max) to the highest sequence_id already in
// eventhistory, so a database the reference wrote continues above it.
//
// Ids are reserved before the events are written, so a failed write
// leaves a gap, and two concurrent writers may commit their events out of
// sequence order: readers that follow the history must allow for both.
//
// sequence_id has a unique index. On a server whose findAndModify is not
// atomic (FerretDB 1.x; some managed MongoDB-compatible services), two
// replicas can be handed the same ids: the second insert then fails on
// the index, and the write raises the counter above every stored id and
// stores its events again under fresh ids (insertNewEvents, withEvents),
// up to idAttempts times, counting each retry (store.Events.IDRetries,
// kernelci_store_id_retries_total). A shared id therefore costs a retry,
// never a lost or doubled delivery. Every write that appends events
// announces them once committed (store.Commits.Announce).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// seqCounterID is the _id of the event sequence counter document.
const seqCounterID = "eventhistory.sequence_id"

// maxStoredSequence is the highest sequence_id in eventhistory (0 if none).
func (s *Store) maxStoredSequence(ctx context.Context) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := s.events.FindOne(ctx, bson.D{{Key: "sequence_id", Value: bson.D{{Key: "$type", Value: "number"}}}},
		options.FindOne().SetSort(bson.D{{Key: "sequence_id", Value: -1}}).SetProjection(bson.D{{Key: "sequence_id", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErr("max sequence_id", err)
	}
	return rawInt("sequence_id", raw.Lookup("sequence_id"))
}

// initSequence makes sure the counter exists and is not below the
// highest stored sequence_id nor any durable subscriber's last_event_id
// (a database the reference wrote, where 'migrate up' has not run yet:
// its counter was in Redis, ahead of what eventhistory may still hold).
func (s *Store) initSequence(ctx context.Context) error {
	top, subTop, err := s.sequenceTops(ctx)
	if err != nil {
		return err
	}
	top = max(top, subTop)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err = s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: seqCounterID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "value", Value: top}}}}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // two replicas upserting at once: the other one won
		_, err = s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: seqCounterID}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "value", Value: top}}}})
	}
	if err != nil {
		return mapErr("init sequence counter", err)
	}
	return nil
}

// reserveSequence reserves n consecutive sequence ids and returns the
// first.
func (s *Store) reserveSequence(ctx context.Context, n int) (int64, error) {
	if !s.seqReady.Load() {
		if err := s.initSequence(ctx); err != nil {
			return 0, err
		}
		s.seqReady.Store(true)
	}
	last, err := s.increment(ctx, seqCounterID, n)
	if err != nil {
		return 0, err
	}
	return last - int64(n) + 1, nil
}

// increment adds n to a counter document (creating it at 0) and returns
// the new value.
func (s *Store) increment(ctx context.Context, counter string, n int) (int64, error) {
	if s.ferret {
		s.seqMu.Lock()
		defer s.seqMu.Unlock()
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var raw bson.Raw
	var err error
	for range 2 { // an upsert racing another one gets a duplicate key once
		raw, err = s.counters.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: counter}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(n)}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Raw()
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return 0, mapErr("increment counter "+counter, err)
	}
	v, err := rawInt("value", raw.Lookup("value"))
	if err != nil {
		return 0, fmt.Errorf("mongo: counter %s: %w", counter, err)
	}
	return v, nil
}

// checkEvents assigns ids and timestamps and makes sure the events can be
// encoded, so that a bad payload fails a write before it starts.
func (s *Store) checkEvents(evs []*model.Event) error {
	enc := encoder{noDecimal: s.noDecimal}
	for _, ev := range evs {
		if ev.ID.IsZero() {
			ev.ID = objectid.New()
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = model.T(model.Now())
		}
		if _, err := enc.eventDoc(ev); err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
	}
	return nil
}

// prepareEvents checks the events, reserves their sequence ids and
// encodes the documents. The reserved ids are in-flight until the write
// ends (see visibility.go).
func (s *Store) prepareEvents(ctx context.Context, evs []*model.Event) ([]any, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if err := s.checkEvents(evs); err != nil {
		return nil, err
	}
	first, err := s.reserveSequence(ctx, len(evs))
	if err != nil {
		return nil, err
	}
	enc := encoder{noDecimal: s.noDecimal}
	docs := make([]any, len(evs))
	for i, ev := range evs {
		ev.SequenceID = first + int64(i)
		d, _ := enc.eventDoc(ev)
		docs[i] = d
	}
	return docs, nil
}

// idAttempts bounds the sets of sequence ids one write takes when the
// ids it was handed are already stored.
const idAttempts = 32

// sequenceTaken counts a sequence id found taken and raises the counter
// above every stored id, so that the next reservation is fresh. It
// first waits a moment of random length, so that writers that collided
// do not collide again at once.
func (s *Store) sequenceTaken(ctx context.Context) {
	s.SequenceRetried()
	time.Sleep(time.Duration(rand.Int64N(int64(5 * time.Millisecond))))
	s.log.Warn("mongo: a sequence_id the counter handed out was already stored (the server's findAndModify is not atomic?); retrying with a fresh one")
	if err := s.initSequence(ctx); err != nil {
		s.log.Warn("mongo: could not raise the sequence counter", "err", err)
	}
}

// insertNewEvents reserves sequence ids for evs and inserts them in
// order, outside a transaction. When an insert meets an id already
// stored, the events not yet stored get fresh ids and are inserted
// again. On failure it returns how many of evs are stored (-1: unknown).
func (s *Store) insertNewEvents(ctx context.Context, evs []*model.Event) (int, error) {
	done := 0
	for attempt := 1; ; attempt++ {
		docs, err := s.prepareEvents(ctx, evs[done:])
		if err != nil {
			return done, err
		}
		n, err := s.insertEvents(ctx, docs)
		switch {
		case err == nil:
			return len(evs), nil
		case n < 0:
			return -1, err
		case !errors.Is(err, store.ErrConflict) || attempt == idAttempts:
			return done + n, err
		}
		done += n
		s.sequenceTaken(ctx)
	}
}

// withEvents runs fn and stores evs (reserving their sequence ids) in one
// transaction; when an event's id is already stored the transaction is
// run again with fresh ids. On failure the ids are recorded as abandoned.
func (s *Store) withEvents(ctx context.Context, evs []*model.Event, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		docs, err := s.prepareEvents(ctx, evs)
		if err != nil {
			return err
		}
		taken := false
		err = s.inTx(ctx, func(ctx context.Context) error {
			if fn != nil {
				if err := fn(ctx); err != nil {
					return err
				}
			}
			_, err := s.insertEvents(ctx, docs)
			taken = errors.Is(err, store.ErrConflict)
			return err
		})
		if err == nil {
			return nil
		}
		if taken && attempt < idAttempts {
			s.sequenceTaken(ctx)
			continue
		}
		s.abandon(ctx, evs)
		return err
	}
}

// AppendEvents stores events, assigning their sequence ids: all of them
// or none.
func (s *Store) AppendEvents(ctx context.Context, evs ...*model.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := s.appendEvents(ctx, evs); err != nil {
		return err
	}
	s.Announce(ctx, evs)
	return nil
}

func (s *Store) appendEvents(ctx context.Context, evs []*model.Event) error {
	if err := s.checkEvents(evs); err != nil {
		return err
	}
	if s.useTx {
		return s.withEvents(ctx, evs, nil)
	}
	if n, err := s.insertNewEvents(ctx, evs); err != nil {
		s.compensate(ctx, "append events", nil, nil, insertedEvents(evs, n))
		s.abandon(ctx, evs)
		return err
	}
	return nil
}

// insertEvents inserts docs in order. On failure it also returns how many
// were inserted, or -1 when that is unknown.
func (s *Store) insertEvents(ctx context.Context, docs []any) (int, error) {
	if len(docs) == 0 {
		return 0, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.events.InsertMany(ctx, docs)
	return firstFailedIndex(err), mapErr("insert events", err)
}

// FindEvents returns matching events in ascending sequence order.
func (s *Store) FindEvents(ctx context.Context, f query.Filter, p store.Page) ([]*model.Event, error) {
	out := []*model.Event{}
	err := s.findPage(ctx, s.events, f, p, query.EventSort, bson.D{{Key: "sequence_id", Value: 1}, {Key: "_id", Value: 1}}, appendTo(&out, decodeEvent))
	return out, err
}

// LastSequence is the highest sequence id assigned so far (0 if none).
func (s *Store) LastSequence(ctx context.Context) (int64, error) {
	cctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := s.counters.FindOne(cctx, bson.D{{Key: "_id", Value: seqCounterID}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return s.maxStoredSequence(ctx)
	}
	if err != nil {
		return 0, mapErr("read sequence counter", err)
	}
	return rawInt("value", raw.Lookup("value"))
}

// find runs a filtered, sorted, paged query (in p.Order if set, else in
// the order of sort) and calls each for every
// document.
func (s *Store) find(ctx context.Context, col *mongo.Collection, f query.Filter, p store.Page, sort bson.D, each func(bson.Raw) error) error {
	return s.findPage(ctx, col, f, p, query.SortSchema{}, sort, each)
}

// findPage is find for a collection whose pages may have an Order and a
// cursor of sort schema ss.
func (s *Store) findPage(ctx context.Context, col *mongo.Collection, f query.Filter, p store.Page, ss query.SortSchema, sort bson.D, each func(bson.Raw) error) error {
	filter, sort, err := pageQuery(f, p, ss, sort)
	if err != nil {
		return err
	}
	return s.findRaw(ctx, col, filter, sort, int64(p.Offset), int64(p.Limit), each)
}

// findOne reads the document of col that filter matches, decoded;
// store.ErrNotFound when there is none. what names the read in errors.
func findOne[T any](ctx context.Context, s *Store, col *mongo.Collection, what string, filter bson.D, decode func(bson.Raw) (*T, error)) (*T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := col.FindOne(ctx, filter).Raw()
	if err != nil {
		return nil, mapErr(what, err)
	}
	v, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("mongo: %w", err)
	}
	return v, nil
}

// findRaw runs a find command and calls each for every document. It is
// sent as a command (not Collection.Find) so that it carries maxTimeMS:
// the driver leaves it out of cursor-returning helpers, since it bounds
// the cursor's whole life, which is what is wanted here (the cursor is
// drained within the same deadline). The document passed to each is only
// valid during the call.
func (s *Store) findRaw(ctx context.Context, col *mongo.Collection, filter, sort bson.D, skip, limit int64, each func(bson.Raw) error) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cmd := bson.D{{Key: "find", Value: col.Name()}, {Key: "filter", Value: filter}}
	if len(sort) > 0 {
		cmd = append(cmd, bson.E{Key: "sort", Value: sort})
	}
	if skip > 0 {
		cmd = append(cmd, bson.E{Key: "skip", Value: skip})
	}
	if limit > 0 {
		cmd = append(cmd, bson.E{Key: "limit", Value: limit})
	}
	return s.runCursor(ctx, cmd, "find "+col.Name(), each)
}

// runCursor runs a command that answers a cursor and calls each for every
// document of it; what names the command in errors.
func (s *Store) runCursor(ctx context.Context, cmd bson.D, what string, each func(bson.Raw) error) error {
	cur, err := s.db.RunCommandCursor(ctx, cmd)
	if err != nil {
		return mapErr(what, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := each(cur.Current); err != nil {
			return fmt.Errorf("mongo: %w", err)
		}
	}
	return mapErr(what, cur.Err())
}

// count counts the documents matching f.
func (s *Store) count(ctx context.Context, col *mongo.Collection, f query.Filter) (int64, error) {
	filter, err := compile(f)
	if err != nil {
		return 0, err
	}
	// As the driver's CountDocuments, but through aggregate, which
	// every aggregation shares (maxTimeMS, its test hook).
	var n int64
	err = s.aggregate(ctx, col, mongo.Pipeline{
		{{Key: "$match", Value: filter}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: int32(1)}, {Key: "n", Value: bson.D{{Key: "$sum", Value: int32(1)}}}}}},
	}, func(raw bson.Raw) error {
		var err error
		n, err = rawInt("n", raw.Lookup("n"))
		return err
	})
	return n, err
}

// aggregate runs an aggregation pipeline and calls each for every result,
// as a command so that it carries maxTimeMS (see findRaw).
//
// The server ends an aggregation that runs past its maxTimeMS with
// MaxTimeMSExpired, which the driver wraps as context.DeadlineExceeded
// and mapErr as a store.UnavailableError: a request under the query
// budget answers 504 naming the budget, any other 503.
func (s *Store) aggregate(ctx context.Context, col *mongo.Collection, pipeline mongo.Pipeline, each func(bson.Raw) error) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cmd := bson.D{{Key: "aggregate", Value: col.Name()}, {Key: "pipeline", Value: pipeline}, {Key: "cursor", Value: bson.D{}}}
	if ms := s.opts.aggregateMaxTimeMS; ms > 0 {
		// Test hook: the server's limit alone, with no client
		// deadline to end the call first.
		cmd = append(cmd, bson.E{Key: "maxTimeMS", Value: ms})
		ctx = context.WithoutCancel(ctx)
	}
	return s.runCursor(ctx, cmd, "aggregate "+col.Name(), each)
}
