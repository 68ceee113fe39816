package sqlite

// store.Transfer: reading every record in batches (keyset pagination over
// the unique indexes, so no read transaction stays open for long) and
// writing events and subscriptions with their ids.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// transferBatch is how many rows one query of an Each method reads.
const transferBatch = 1000

// transferTables maps the collections of store.TransferCollections to
// their tables.
var transferTables = map[string]string{
	store.CollNode:            "node",
	store.CollUser:            "user",
	store.CollGroup:           "usergroup",
	store.CollEvent:           "eventhistory",
	store.CollTelemetry:       "telemetry",
	store.CollSubscriberState: "subscriber_state",
	store.CollSubscription:    "subscription",
	store.CollKV:              "kv",
	store.CollList:            "list_item",
	store.CollAPIToken:        "api_token",
}

// Counts counts the rows of every table.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, c := range store.TransferCollections {
		var n int64
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM "+transferTables[c]).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: count %s: %w", c, err)
		}
		out[c] = n
	}
	return out, nil
}

// eachByKey walks a table in key order, transferBatch rows per query:
// q selects the key column first and must take the last key seen as its
// only parameter ("... WHERE key > ? ORDER BY key LIMIT ?").
func eachByKey[K any](ctx context.Context, db *sql.DB, what, q string, first K, scan func(*sql.Rows) (K, error)) error {
	return eachBatch(ctx, db, what, first, func(after K) (string, []any) { return q, []any{after} }, scan)
}

// eachBatch is eachByKey with the query and its parameters (all but the
// final LIMIT) chosen from the last key seen, for composite keys.
func eachBatch[K any](ctx context.Context, db *sql.DB, what string, after K, query func(K) (string, []any), scan func(*sql.Rows) (K, error)) error {
	for {
		q, args := query(after)
		rows, err := db.QueryContext(ctx, q, append(args, transferBatch)...)
		if err != nil {
			return fmt.Errorf("sqlite: read %s: %w", what, err)
		}
		n := 0
		for rows.Next() {
			k, err := scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			after = k
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlite: read %s: %w", what, err)
		}
		if n < transferBatch {
			return nil
		}
	}
}

// eachDoc walks a table with a text id and a JSON doc in id order,
// calling fn with every doc decoded (what names it in errors).
func eachDoc[T any](ctx context.Context, db *sql.DB, table, what string, fn func(*T) error) error {
	return eachByKey(ctx, db, table, "SELECT id, doc FROM "+table+" WHERE id > ? ORDER BY id LIMIT ?", "",
		func(rows *sql.Rows) (string, error) {
			var id string
			var doc []byte
			if err := rows.Scan(&id, &doc); err != nil {
				return "", fmt.Errorf("sqlite: scan %s: %w", table, err)
			}
			v, err := decodeAs[T](what)(doc)
			if err != nil {
				return "", err
			}
			return id, fn(v)
		})
}

// EachGroup calls fn for every group in id order.
func (s *Store) EachGroup(ctx context.Context, fn func(*model.Group) error) error {
	return eachDoc(ctx, s.r, "usergroup", "group", fn)
}

// EachUser calls fn for every user in id order.
func (s *Store) EachUser(ctx context.Context, fn func(*model.User) error) error {
	return eachByKey(ctx, s.r, "user", "SELECT id, doc, hashed_password FROM user WHERE id > ? ORDER BY id LIMIT ?", "",
		func(rows *sql.Rows) (string, error) {
			var id, hash string
			var doc []byte
			if err := rows.Scan(&id, &doc, &hash); err != nil {
				return "", fmt.Errorf("sqlite: scan user: %w", err)
			}
			u := new(model.User)
			if err := decodeDoc(doc, u); err != nil {
				return "", fmt.Errorf("sqlite: decode user: %w", err)
			}
			u.HashedPassword = hash
			return id, fn(u)
		})
}

// EachNode calls fn for every node in id order.
func (s *Store) EachNode(ctx context.Context, fn func(*model.Node) error) error {
	return eachDoc(ctx, s.r, "node", "node", fn)
}

// EachEvent calls fn for every event in sequence order.
func (s *Store) EachEvent(ctx context.Context, fn func(*model.Event) error) error {
	return eachByKey(ctx, s.r, "eventhistory",
		"SELECT sequence_id, doc FROM eventhistory WHERE sequence_id > ? ORDER BY sequence_id LIMIT ?", int64(0),
		func(rows *sql.Rows) (int64, error) {
			var seq int64
			var doc []byte
			if err := rows.Scan(&seq, &doc); err != nil {
				return 0, fmt.Errorf("sqlite: scan event: %w", err)
			}
			ev := new(model.Event)
			if err := decodeDoc(doc, ev); err != nil {
				return 0, fmt.Errorf("sqlite: decode event: %w", err)
			}
			ev.SequenceID = seq
			return seq, fn(ev)
		})
}

// EachTelemetry calls fn for every telemetry event in id order.
func (s *Store) EachTelemetry(ctx context.Context, fn func(*model.TelemetryEvent) error) error {
	return eachDoc(ctx, s.r, "telemetry", "telemetry", fn)
}

// EachSubscriberState calls fn for every durable subscriber state.
func (s *Store) EachSubscriberState(ctx context.Context, fn func(*store.SubscriberState) error) error {
	return eachByKey(ctx, s.r, "subscriber_state", `SELECT subscriber_id, channel, username, promiscuous, last_event_id, created_at, last_poll
		FROM subscriber_state WHERE subscriber_id > ? ORDER BY subscriber_id LIMIT ?`, "",
		func(rows *sql.Rows) (string, error) {
			var st store.SubscriberState
			var created string
			var lastPoll sql.NullString
			if err := rows.Scan(&st.SubscriberID, &st.Channel, &st.User, &st.Promiscuous, &st.LastEventID, &created, &lastPoll); err != nil {
				return "", fmt.Errorf("sqlite: scan subscriber state: %w", err)
			}
			var err error
			if st.Created, err = parseStoredTime(created); err != nil {
				return "", err
			}
			if st.LastPoll, err = parseStoredTimePtr(lastPoll); err != nil {
				return "", err
			}
			return st.SubscriberID, fn(&st)
		})
}

// kvKey is the (namespace, key) position of EachKV.
type kvKey struct{ ns, key string }

// EachKV calls fn for every pair in (namespace, key) order.
func (s *Store) EachKV(ctx context.Context, fn func(namespace, key, value string) error) error {
	first := true
	return eachBatch(ctx, s.r, "kv", kvKey{}, func(after kvKey) (string, []any) {
		op := ">"
		if first {
			op, first = ">=", false
		}
		return "SELECT namespace, key, value FROM kv WHERE (namespace, key) " + op + " (?, ?) ORDER BY namespace, key LIMIT ?",
			[]any{after.ns, after.key}
	}, func(rows *sql.Rows) (kvKey, error) {
		var k kvKey
		var v string
		if err := rows.Scan(&k.ns, &k.key, &v); err != nil {
			return k, fmt.Errorf("sqlite: scan kv: %w", err)
		}
		return k, fn(k.ns, k.key, v)
	})
}

// listPos is the (name, rid) position of EachListItem.
type listPos struct {
	name string
	rid  int64
}

// EachListItem calls fn for every list item, list by list, head first.
func (s *Store) EachListItem(ctx context.Context, fn func(list string, value []byte) error) error {
	return eachBatch(ctx, s.r, "lists", listPos{rid: -1}, func(after listPos) (string, []any) {
		return `SELECT name, rid, value FROM list_item INDEXED BY list_item_name
			WHERE (name, rid) > (?, ?) ORDER BY name, rid LIMIT ?`, []any{after.name, after.rid}
	}, func(rows *sql.Rows) (listPos, error) {
		var p listPos
		var v []byte
		if err := rows.Scan(&p.name, &p.rid, &v); err != nil {
			return p, fmt.Errorf("sqlite: scan list item: %w", err)
		}
		return p, fn(p.name, v)
	})
}

// ImportEvents stores events with their ids and sequence ids, in one
// transaction; AUTOINCREMENT keeps its high-water mark above them.
func (s *Store) ImportEvents(ctx context.Context, evs []*model.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO eventhistory (sequence_id, id, timestamp, channel, owner, doc) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare event: %w", err)
		}
		defer stmt.Close()
		for _, ev := range evs {
			if ev.SequenceID <= 0 || ev.ID.IsZero() || ev.Timestamp.IsZero() {
				return fmt.Errorf("sqlite: import event %s (sequence %d): %w: id, timestamp and a positive sequence_id are required",
					ev.ID, ev.SequenceID, store.ErrInvalid)
			}
			c := *ev
			c.SequenceID = 0 // the column holds it (as appendEvents stores it)
			c.Node = nil
			doc, err := json.Marshal(&c)
			if err != nil {
				return fmt.Errorf("sqlite: encode event: %w", err)
			}
			// A taken sequence_id (the rowid) is reported as a UNIQUE
			// constraint failure too.
			_, err = stmt.ExecContext(ctx, ev.SequenceID, ev.ID.String(), model.FormatTime(ev.Timestamp.Time), ev.Channel, nullStr(ev.Owner), string(doc))
			if isUniqueViolation(err) {
				return fmt.Errorf("event %s (sequence %d): %w", ev.ID, ev.SequenceID, store.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("sqlite: import event: %w", err)
			}
		}
		return nil
	})
}

// ImportSubscription stores a subscription with its id.
func (s *Store) ImportSubscription(ctx context.Context, sub *store.Subscription) error {
	if sub.ID <= 0 {
		return fmt.Errorf("sqlite: import subscription: %w: a positive id is required", store.ErrInvalid)
	}
	var subscriber any
	if sub.SubscriberID != "" {
		subscriber = sub.SubscriberID
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO subscription (id, channel, username, promiscuous, subscriber_id, cursor, created, last_poll)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sub.ID, sub.Channel, sub.User, boolInt(sub.Promiscuous), subscriber, sub.Cursor,
		model.FormatTime(sub.Created), fmtTimePtr(sub.LastPoll))
	if isUniqueViolation(err) {
		return fmt.Errorf("subscription %d: %w", sub.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: import subscription: %w", err)
	}
	return nil
}

// RaiseSequence raises the AUTOINCREMENT high-water mark of eventhistory.
func (s *Store) RaiseSequence(ctx context.Context, seq int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'eventhistory'`, seq)
		if err != nil {
			return fmt.Errorf("sqlite: raise sequence: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 || seq <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ('eventhistory', ?)`, seq); err != nil {
			return fmt.Errorf("sqlite: raise sequence: %w", err)
		}
		return nil
	})
}

// Clear deletes every row of the transferred tables; sqlite_sequence
// keeps the high-water marks.
//
// The node counters (counts.go) are emptied with the nodes, their
// triggers dropped around the DELETE and created again from their stored
// SQL, all in one transaction: with triggers, "DELETE FROM node" would
// delete row by row through every index (and journal them) instead of
// dropping the table's pages at once (SQLite's truncate optimization).
func (s *Store) Clear(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		triggers, err := nodeTriggers(ctx, tx)
		if err != nil {
			return err
		}
		for name := range triggers {
			if _, err := tx.ExecContext(ctx, `DROP TRIGGER "`+name+`"`); err != nil {
				return fmt.Errorf("sqlite: clear: %w", err)
			}
		}
		for _, c := range store.TransferCollections {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+transferTables[c]); err != nil {
				return fmt.Errorf("sqlite: clear %s: %w", c, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM node_count"); err != nil {
			return fmt.Errorf("sqlite: clear node counters: %w", err)
		}
		for _, q := range triggers {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("sqlite: clear: %w", err)
			}
		}
		return nil
	})
}

// nodeTriggers returns the SQL of the triggers on node, by name.
func nodeTriggers(ctx context.Context, tx *sql.Tx) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'node'")
	if err != nil {
		return nil, fmt.Errorf("sqlite: node triggers: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			return nil, fmt.Errorf("sqlite: node triggers: %w", err)
		}
		out[name] = q
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: node triggers: %w", err)
	}
	return out, nil
}
