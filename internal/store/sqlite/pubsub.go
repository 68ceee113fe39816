package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// EventsAfter reads a channel's events after a sequence id through the
// eventhistory_channel (channel, sequence_id) index.
func (s *Store) EventsAfter(ctx context.Context, channel string, after int64, limit int) ([]*model.Event, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT sequence_id, doc FROM eventhistory INDEXED BY eventhistory_channel
		WHERE channel = ? AND sequence_id > ? ORDER BY sequence_id LIMIT ?`, channel, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after: %w", err)
	}
	defer rows.Close()
	out := []*model.Event{}
	for rows.Next() {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: scan event: %w", err)
		}
		ev := new(model.Event)
		if err := decodeDoc(doc, ev); err != nil {
			return nil, fmt.Errorf("sqlite: decode event: %w", err)
		}
		ev.SequenceID = seq
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events after: %w", err)
	}
	return out, nil
}

// DeleteEventsBefore deletes a batch of the oldest events (timestamp
// index); sqlite_sequence keeps the sequence high-water mark.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	if limit <= 0 {
		limit = -1
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM eventhistory WHERE sequence_id IN (
			SELECT sequence_id FROM eventhistory INDEXED BY eventhistory_timestamp
			WHERE timestamp < ? ORDER BY timestamp LIMIT ?)`, model.FormatTime(t), limit)
		if err != nil {
			return fmt.Errorf("sqlite: delete events: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return model.FormatTime(*t)
}

func parseStoredTime(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02T15:04:05.000000", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func parseStoredTimePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseStoredTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func expectOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSubscription stores a subscription with a fresh id.
func (s *Store) CreateSubscription(ctx context.Context, sub *store.Subscription) error {
	var subscriber any
	if sub.SubscriberID != "" {
		subscriber = sub.SubscriberID
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO subscription (channel, username, promiscuous, subscriber_id, cursor, created, last_poll)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, sub.Channel, sub.User, boolInt(sub.Promiscuous), subscriber, sub.Cursor,
		model.FormatTime(sub.Created), fmtTimePtr(sub.LastPoll))
	if err != nil {
		return fmt.Errorf("sqlite: create subscription: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: create subscription: %w", err)
	}
	sub.ID = id
	return nil
}

const subscriptionCols = `id, channel, username, promiscuous, subscriber_id, cursor, created, last_poll`

func scanSubscription(sc interface{ Scan(...any) error }) (*store.Subscription, error) {
	var sub store.Subscription
	var subscriber, lastPoll sql.NullString
	var created string
	if err := sc.Scan(&sub.ID, &sub.Channel, &sub.User, &sub.Promiscuous, &subscriber, &sub.Cursor, &created, &lastPoll); err != nil {
		return nil, err
	}
	sub.SubscriberID = subscriber.String
	var err error
	if sub.Created, err = parseStoredTime(created); err != nil {
		return nil, err
	}
	if sub.LastPoll, err = parseStoredTimePtr(lastPoll); err != nil {
		return nil, err
	}
	return &sub, nil
}

// GetSubscription returns the subscription or store.ErrNotFound.
func (s *Store) GetSubscription(ctx context.Context, id int64) (*store.Subscription, error) {
	sub, err := scanSubscription(s.r.QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM subscription WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get subscription: %w", err)
	}
	return sub, nil
}

// advanceReq is one AdvanceSubscription waiting for its batch.
type advanceReq struct {
	id, from, to int64
	poll         string
	err          chan error
}

// advancer groups concurrent AdvanceSubscription calls into one
// transaction: when a publish wakes a thousand listeners, their thousand
// cursor moves cost one commit of the single writer, not a thousand.
type advancer struct {
	mu      sync.Mutex
	pending []*advanceReq
	busy    bool // a flusher goroutine is running
}

// AdvanceSubscription moves the cursor if it is still at from. Calls
// made while a batch is being written are written together in the next
// one; each gets its own answer.
func (s *Store) AdvanceSubscription(ctx context.Context, id, from, to int64, poll time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &advanceReq{id: id, from: from, to: to, poll: model.FormatTime(poll), err: make(chan error, 1)}
	s.adv.mu.Lock()
	s.adv.pending = append(s.adv.pending, req)
	start := !s.adv.busy
	s.adv.busy = true
	s.adv.mu.Unlock()
	if start {
		go s.flushAdvances()
	}
	// Wait for the answer even if ctx ends: the move may be committed.
	return <-req.err
}

func (s *Store) flushAdvances() {
	for {
		s.adv.mu.Lock()
		batch := s.adv.pending
		s.adv.pending = nil
		if len(batch) == 0 {
			s.adv.busy = false
			s.adv.mu.Unlock()
			return
		}
		s.adv.mu.Unlock()
		s.applyAdvances(batch)
	}
}

func (s *Store) applyAdvances(batch []*advanceReq) {
	ctx := context.Background()
	results := make([]error, len(batch))
	// The moves commit with synchronous=FULL like every write: waiting
	// for the flush is what lets the moves of a thousand listeners share
	// a few commits (BenchmarkAdvanceFanOut; docs/performance.md,
	// "Listener fan-out").
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		upd, exists := tx.StmtContext(ctx, s.ws.advance), tx.StmtContext(ctx, s.ws.subExists)
		for i, r := range batch {
			res, err := upd.ExecContext(ctx, r.to, r.poll, r.id, r.from)
			if err != nil {
				return fmt.Errorf("sqlite: advance subscription: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				continue
			}
			var one int
			err = exists.QueryRowContext(ctx, r.id).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				results[i] = store.ErrNotFound
			case err != nil:
				return fmt.Errorf("sqlite: advance subscription: %w", err)
			default:
				results[i] = store.ErrConflict
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil {
			r.err <- err
		} else {
			r.err <- results[i]
		}
	}
}

// TouchSubscription records a poll.
func (s *Store) TouchSubscription(ctx context.Context, id int64, poll time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE subscription SET last_poll = ? WHERE id = ?`, model.FormatTime(poll), id)
	return expectOne(res, err, "touch subscription")
}

// DeleteSubscription deletes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM subscription WHERE id = ?`, id)
	return expectOne(res, err, "delete subscription")
}

// ListSubscriptions returns all subscriptions by id.
func (s *Store) ListSubscriptions(ctx context.Context) ([]*store.Subscription, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+subscriptionCols+` FROM subscription ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list subscriptions: %w", err)
	}
	defer rows.Close()
	out := []*store.Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan subscription: %w", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list subscriptions: %w", err)
	}
	return out, nil
}

// countSubscriptionsSQL counts a user's subscriptions from the
// subscription_username index (migration 8) alone.
const countSubscriptionsSQL = `SELECT count(*) FROM subscription INDEXED BY subscription_username WHERE username = ?`

// CountSubscriptions counts user's subscriptions.
func (s *Store) CountSubscriptions(ctx context.Context, user string) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, countSubscriptionsSQL, user).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count subscriptions: %w", err)
	}
	return n, nil
}

// ReapSubscriptions deletes subscriptions idle since before t.
func (s *Store) ReapSubscriptions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM subscription WHERE COALESCE(last_poll, created) < ?`, model.FormatTime(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: reap subscriptions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// GetSubscriberState returns a durable subscriber's state.
func (s *Store) GetSubscriberState(ctx context.Context, subscriberID string) (*store.SubscriberState, error) {
	var st store.SubscriberState
	var created string
	var lastPoll sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT subscriber_id, channel, username, promiscuous, last_event_id, created_at, last_poll
		FROM subscriber_state WHERE subscriber_id = ?`, subscriberID).Scan(
		&st.SubscriberID, &st.Channel, &st.User, &st.Promiscuous, &st.LastEventID, &created, &lastPoll)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get subscriber state: %w", err)
	}
	if st.Created, err = parseStoredTime(created); err != nil {
		return nil, err
	}
	if st.LastPoll, err = parseStoredTimePtr(lastPoll); err != nil {
		return nil, err
	}
	return &st, nil
}

// CreateSubscriberState inserts a new state.
func (s *Store) CreateSubscriberState(ctx context.Context, st *store.SubscriberState) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO subscriber_state (subscriber_id, channel, username, promiscuous, last_event_id, created_at, last_poll)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, st.SubscriberID, st.Channel, st.User, boolInt(st.Promiscuous), st.LastEventID,
		model.FormatTime(st.Created), fmtTimePtr(st.LastPoll))
	if isUniqueViolation(err) {
		return fmt.Errorf("subscriber %s: %w", st.SubscriberID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create subscriber state: %w", err)
	}
	return nil
}

// UpdateSubscriberState replaces a state.
func (s *Store) UpdateSubscriberState(ctx context.Context, st *store.SubscriberState) error {
	res, err := s.w.ExecContext(ctx, `UPDATE subscriber_state SET channel = ?, username = ?, promiscuous = ?, last_event_id = ?,
		created_at = ?, last_poll = ? WHERE subscriber_id = ?`, st.Channel, st.User, boolInt(st.Promiscuous), st.LastEventID,
		model.FormatTime(st.Created), fmtTimePtr(st.LastPoll), st.SubscriberID)
	return expectOne(res, err, "update subscriber state")
}

// AckSubscriberState raises last_event_id and records the poll.
func (s *Store) AckSubscriberState(ctx context.Context, subscriberID string, seq int64, poll time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE subscriber_state SET last_event_id = max(last_event_id, ?), last_poll = ?
		WHERE subscriber_id = ?`, seq, model.FormatTime(poll), subscriberID)
	return expectOne(res, err, "ack subscriber state")
}

// DeleteSubscriberState deletes a state.
func (s *Store) DeleteSubscriberState(ctx context.Context, subscriberID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM subscriber_state WHERE subscriber_id = ?`, subscriberID)
	return expectOne(res, err, "delete subscriber state")
}

// ReapSubscriberStates deletes states unused since before t.
func (s *Store) ReapSubscriberStates(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM subscriber_state WHERE COALESCE(last_poll, created_at) < ?`, model.FormatTime(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: reap subscriber states: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PushList appends to a list.
func (s *Store) PushList(ctx context.Context, name string, value []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO list_item (name, value, created) VALUES (?, ?, ?)`,
		name, value, model.FormatTime(model.Now()))
	if err != nil {
		return fmt.Errorf("sqlite: push: %w", err)
	}
	return nil
}

// PopList removes the head of a list. An empty list is answered from a
// reader first, so that waiting poppers do not queue on the writer.
func (s *Store) PopList(ctx context.Context, name string) ([]byte, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM list_item WHERE name = ? LIMIT 1`, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: pop: %w", err)
	}
	var v []byte
	err = s.w.QueryRowContext(ctx, `DELETE FROM list_item WHERE rid =
		(SELECT rid FROM list_item WHERE name = ? ORDER BY rid LIMIT 1) RETURNING value`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: pop: %w", err)
	}
	return v, nil
}

// GetKV reads a value.
func (s *Store) GetKV(ctx context.Context, namespace, key string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM kv WHERE namespace = ? AND key = ?`, namespace, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: get kv: %w", err)
	}
	return v, nil
}

// SetKV writes a value.
func (s *Store) SetKV(ctx context.Context, namespace, key, value string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO kv (namespace, key, value, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		namespace, key, value, model.FormatTime(model.Now()))
	if err != nil {
		return fmt.Errorf("sqlite: set kv: %w", err)
	}
	return nil
}

// DeleteKV deletes a value (no error if missing).
func (s *Store) DeleteKV(ctx context.Context, namespace, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM kv WHERE namespace = ? AND key = ?`, namespace, key); err != nil {
		return fmt.Errorf("sqlite: delete kv: %w", err)
	}
	return nil
}
