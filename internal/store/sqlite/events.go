package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// AppendEvents appends events in one transaction, assigning sequence ids.
func (s *Store) AppendEvents(ctx context.Context, evs ...*model.Event) error {
	return s.writeEvents(ctx, evs, func(tx *sql.Tx) error { return s.appendEvents(ctx, tx, evs) })
}

// writeEvents runs fn, a write that appends evs (with appendEvents), in
// one transaction and, once it has committed, announces evs
// (store.Events.OnCommit). Every write that appends events goes through
// here. Sequence ids are the eventhistory table's AUTOINCREMENT key,
// assigned by the single writer inside the transaction: they cannot
// collide, so IDRetries stays 0 on SQLite.
func (s *Store) writeEvents(ctx context.Context, evs []*model.Event, fn func(tx *sql.Tx) error) error {
	if err := s.inTx(ctx, fn); err != nil {
		return err
	}
	s.Announce(ctx, evs)
	return nil
}

// appendEvents inserts evs in tx (their statement is prepared once,
// writestmts.go), assigning their ids, timestamps and sequence ids.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, evs []*model.Event) error {
	enc, err := encodeEvents(evs)
	if err != nil {
		return err
	}
	return s.insertEvents(ctx, tx, enc)
}

// encodedEvent is an event with its stored document, encoded before
// its transaction so that the committer, which runs every write of the
// store one after the other (group.go), does not spend its time in
// encoding/json. An event without a timestamp gets it in the
// transaction (insertEvents), so that timestamps follow sequence ids:
// its document holds a placeholder of the same width until then.
type encodedEvent struct {
	ev      *model.Event
	doc     []byte
	stampAt int // offset of the placeholder timestamp in doc; -1: none
}

// eventStampAt is the offset of the timestamp's value in an event's
// document: {"id":"<24 hex>","timestamp":"... (model.Event's field
// order; checked by encodeEvents).
const eventStampAt = len(`{"id":"`) + 24 + len(`","timestamp":"`)

// encodeEvents assigns missing ids and encodes evs for insertEvents.
func encodeEvents(evs []*model.Event) ([]encodedEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	out := make([]encodedEvent, len(evs))
	for i, ev := range evs {
		if ev.ID.IsZero() {
			ev.ID = objectid.New()
		}
		stamp := ev.Timestamp.IsZero()
		ev.SequenceID = 0
		doc, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode event: %w", err)
		}
		out[i] = encodedEvent{ev: ev, doc: doc, stampAt: -1}
		if stamp {
			// The zero time's text, replaced in the transaction.
			out[i].stampAt = eventStampAt
			if z := model.FormatTime(ev.Timestamp.Time); len(doc) < eventStampAt+len(z)+1 ||
				string(doc[eventStampAt-len(`"timestamp":"`):eventStampAt+len(z)+1]) != `"timestamp":"`+z+`"` {
				return nil, fmt.Errorf("sqlite: encode event: unexpected layout %.80q", doc)
			}
		}
	}
	return out, nil
}

// insertEvents inserts events encoded by encodeEvents, giving those
// without one their timestamp now, and assigns their sequence ids.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, evs []encodedEvent) error {
	if len(evs) == 0 {
		return nil
	}
	stmt := tx.StmtContext(ctx, s.ws.insertEvent)
	for _, e := range evs {
		ev := e.ev
		if e.stampAt >= 0 {
			ev.Timestamp = model.T(model.Now())
			copy(e.doc[e.stampAt:], model.FormatTime(ev.Timestamp.Time))
		}
		res, err := stmt.ExecContext(ctx, ev.ID.String(), model.FormatTime(ev.Timestamp.Time), ev.Channel, nullStr(ev.Owner), string(e.doc))
		if err != nil {
			return fmt.Errorf("sqlite: insert event: %w", err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("sqlite: event sequence: %w", err)
		}
		ev.SequenceID = seq
	}
	return nil
}

// FindEvents returns matching events in sequence order.
func (s *Store) FindEvents(ctx context.Context, f query.Filter, p store.Page) ([]*model.Event, error) {
	out := []*model.Event{}
	err := s.selectDocs(ctx, eventTable, "sequence_id, doc", f, p, func(rows *sql.Rows) error {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return fmt.Errorf("sqlite: scan event: %w", err)
		}
		ev := new(model.Event)
		if err := decodeDoc(doc, ev); err != nil {
			return fmt.Errorf("sqlite: decode event: %w", err)
		}
		ev.SequenceID = seq
		out = append(out, ev)
		return nil
	})
	return out, err
}

// LastSequence returns the highest sequence id ever assigned.
func (s *Store) LastSequence(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	// sqlite_sequence keeps the AUTOINCREMENT high-water mark even after
	// old events are deleted.
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'eventhistory'`).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: last sequence: %w", err)
	}
	return seq.Int64, nil
}
