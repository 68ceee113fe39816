package mongo

// The visibility rule of store.EventLog: once EventsAfter has returned an
// event with sequence S, no event with a smaller sequence may become
// visible later.
//
// Writers reserve sequence ids before they store their events, so with
// several writers (goroutines or replicas) an event can be stored while
// one with a smaller id is still on its way. EventsAfter therefore only
// returns events up to a horizon: the highest sequence id below which
// every id is either stored or known never to be. The horizon moves up
// through the sequence_id index from where it was; at a gap it stops,
// unless
//
//   - the missing ids are recorded as abandoned: a write that fails after
//     reserving its ids records them in the "seqgap" collection (ours) as
//     it undoes itself; or
//   - the first event after the gap is older than Options.GapGrace: the
//     writer of the missing ids died without recording them (a crash),
//     and no write runs that long.
//
// A process starts its horizon at the newest event older than GapGrace.
// Duplicate sequence ids (the reference's Redis counter restarting) are
// passed over.

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

const colSeqGap = "seqgap"

// horizonBatch is how many event ids one step of the horizon reads.
const horizonBatch = 500

// abandon records the sequence ids of events that a failed write
// reserved and will not store.
func (s *Store) abandon(ctx context.Context, evs []*model.Event) {
	if len(evs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxTime)
	defer cancel()
	now := dateOf(time.Now())
	docs := make([]any, 0, len(evs))
	for _, ev := range evs {
		if ev.SequenceID > 0 {
			docs = append(docs, bson.D{{Key: "_id", Value: ev.SequenceID}, {Key: "at", Value: now}})
		}
	}
	if len(docs) == 0 {
		return
	}
	_, err := s.db.Collection(colSeqGap).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !isOnlyDuplicates(err) {
		s.log.Warn("mongo: could not record abandoned sequence ids; listeners wait GapGrace for them",
			"first", evs[0].SequenceID, "n", len(evs), "err", err)
	}
}

func isOnlyDuplicates(err error) bool {
	se, ok := err.(interface{ ErrorCodes() []int })
	if !ok {
		return false
	}
	for _, c := range se.ErrorCodes() {
		if c != 11000 {
			return false
		}
	}
	return true
}

// horizon returns the highest sequence id up to which the event history
// is complete (see the top of this file), advancing it first.
func (s *Store) horizon(ctx context.Context) (int64, error) {
	asked := time.Now()
	s.hz.mu.Lock()
	defer s.hz.mu.Unlock()
	if s.hz.at.After(asked) {
		// Another caller's refresh started reading after this one asked:
		// its answer is as fresh as this caller needs (listeners polling
		// together share one refresh).
		return s.hz.w, nil
	}
	s.hz.at = time.Now()
	grace := s.opts.GapGrace
	if !s.hz.ok {
		w, err := s.newestOlderThan(ctx, time.Now().Add(-grace))
		if err != nil {
			return 0, err
		}
		s.hz.w, s.hz.ok = w, true
	}
	usedGaps := false
	for {
		type ev struct {
			seq int64
			ts  time.Time
		}
		var batch []ev
		err := s.findRaw(ctx, s.events, bson.D{{Key: "sequence_id", Value: bson.D{{Key: "$gt", Value: s.hz.w}}}},
			bson.D{{Key: "sequence_id", Value: 1}}, 0, horizonBatch, func(raw bson.Raw) error {
				seq, err := rawInt("sequence_id", raw.Lookup("sequence_id"))
				if err != nil {
					return err
				}
				ts, _ := rawTime("timestamp", raw.Lookup("timestamp"))
				batch = append(batch, ev{seq, ts})
				return nil
			})
		if err != nil {
			return 0, err
		}
		for _, e := range batch {
			if e.seq <= s.hz.w+1 {
				s.hz.w = max(s.hz.w, e.seq)
				continue
			}
			missing := e.seq - s.hz.w - 1
			known, err := s.countGaps(ctx, s.hz.w+1, e.seq-1)
			if err != nil {
				return 0, err
			}
			switch {
			case known >= missing:
				usedGaps = true
			case !e.ts.IsZero() && time.Since(e.ts) > grace:
				s.log.Warn("mongo: sequence ids never stored (a writer died?); passing over them",
					"from", s.hz.w+1, "to", e.seq-1)
			default:
				return s.hz.w, s.dropGaps(ctx, usedGaps)
			}
			s.hz.w = e.seq
		}
		if len(batch) < horizonBatch {
			return s.hz.w, s.dropGaps(ctx, usedGaps)
		}
	}
}

// newestOlderThan is the highest sequence id of an event stored before t.
func (s *Store) newestOlderThan(ctx context.Context, t time.Time) (int64, error) {
	var w int64
	err := s.findRaw(ctx, s.events, bson.D{
		{Key: "sequence_id", Value: bson.D{{Key: "$type", Value: "number"}}},
		{Key: "timestamp", Value: bson.D{{Key: "$lt", Value: dateOf(t)}}},
	}, bson.D{{Key: "sequence_id", Value: -1}}, 0, 1, func(raw bson.Raw) error {
		var err error
		w, err = rawInt("sequence_id", raw.Lookup("sequence_id"))
		return err
	})
	return w, err
}

func (s *Store) countGaps(ctx context.Context, from, to int64) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, err := s.db.Collection(colSeqGap).CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}}})
	return n, mapErr("count abandoned sequence ids", err)
}

// dropGaps forgets the abandoned ids below the horizon once it has passed
// them (every process passes them the same way).
func (s *Store) dropGaps(ctx context.Context, used bool) error {
	if !used {
		return nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	// Keep a margin: another process's horizon may still be below.
	cut := time.Now().Add(-2 * s.opts.GapGrace)
	_, err := s.db.Collection(colSeqGap).DeleteMany(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$lte", Value: s.hz.w}}},
		{Key: "at", Value: bson.D{{Key: "$lt", Value: dateOf(cut)}}},
	})
	return mapErr("drop abandoned sequence ids", err)
}

// ChannelHeads returns, for each channel, the highest sequence id that
// EventsAfter can return now: the newest event of the channel at or
// below the visibility horizon (none: no entry). It is what the pub/sub
// poller of every replica reads, once per period for the channels that
// have waiting listeners, to notice events written by other replicas
// (pubsub.HeadReader): one horizon step and one read of the
// (channel, sequence_id) index per channel.
func (s *Store) ChannelHeads(ctx context.Context, channels []string) (map[string]int64, error) {
	out := make(map[string]int64, len(channels))
	if len(channels) == 0 {
		return out, nil
	}
	h, err := s.horizon(ctx)
	if err != nil {
		return nil, err
	}
	for _, ch := range channels {
		err := s.findRaw(ctx, s.events, bson.D{
			{Key: "channel", Value: bson.D{{Key: "$eq", Value: ch}}},
			{Key: "sequence_id", Value: bson.D{{Key: "$lte", Value: h}}},
		}, bson.D{{Key: "sequence_id", Value: -1}}, 0, 1, func(raw bson.Raw) error {
			seq, err := rawInt("sequence_id", raw.Lookup("sequence_id"))
			if err == nil {
				out[ch] = seq
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
