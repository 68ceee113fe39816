package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Ping checks that the primary answers (store.Pinger): without one the
// server cannot write.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx, readpref.Primary())
}
