package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// startRetention deletes expired events periodically, for servers where
// the TTL index on eventhistory.timestamp is not in force (FerretDB has no
// TTL indexes). Every replica may run it: the deletions are idempotent.
func (s *Store) startRetention() {
	every := s.opts.RetentionInterval
	if every <= 0 {
		every = min(s.opts.EventTTL/4, 10*time.Minute)
	}
	every = max(every, 100*time.Millisecond)
	s.log.Info("mongo: expired events are deleted by this server", "ttl", s.opts.EventTTL, "every", every)
	ctx, cancel := s.untilClose()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if _, err := s.PurgeEvents(ctx, time.Now().Add(-s.opts.EventTTL)); err != nil && ctx.Err() == nil {
				s.log.Warn("mongo: deleting expired events failed", "err", err)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// untilClose returns a context cancelled when the store closes (or by
// cancel), for its background work.
func (s *Store) untilClose() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// PurgeEvents deletes the events older than before and returns how many
// it deleted.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.events.DeleteMany(ctx, bson.D{{Key: "timestamp", Value: bson.D{{Key: "$lt", Value: dateOf(before)}}}})
	if err != nil {
		return 0, mapErr("purge events", err)
	}
	return res.DeletedCount, nil
}
