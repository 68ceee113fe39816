package sqlite

import "context"

// Ping checks that the database answers a query on both the writer and
// the reader pool (store.Pinger). The writer is the single connection
// every write waits for: a ping that cannot get it within ctx's deadline
// means writes are stuck.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	return s.w.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}
