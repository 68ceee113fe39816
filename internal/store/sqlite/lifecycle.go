package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// deadlineColumn is the node column of a lifecycle deadline; each has a
// (state, column) index (node_state_timeout, node_state_holdoff).
func deadlineColumn(d store.Deadline) (string, error) {
	switch d {
	case store.DeadlineTimeout:
		return "timeout", nil
	case store.DeadlineHoldoff:
		return "holdoff", nil
	}
	return "", fmt.Errorf("sqlite: unknown node deadline %q", d)
}

// queryNodes runs a SELECT of node docs on the reader pool.
func (s *Store) queryNodes(ctx context.Context, what, q string, args ...any) ([]*model.Node, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	out := []*model.Node{}
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		n := new(model.Node)
		if err := decodeDoc(doc, n); err != nil {
			return nil, fmt.Errorf("sqlite: %s: decode node: %w", what, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// LapsedNodes returns nodes in state whose deadline is before t, served
// by the (state, deadline) index in deadline order.
func (s *Store) LapsedNodes(ctx context.Context, state string, field store.Deadline, before time.Time, limit int) ([]*model.Node, error) {
	col, err := deadlineColumn(field)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []*model.Node{}, nil
	}
	// NULL deadlines never compare less than anything.
	q := fmt.Sprintf(`SELECT doc FROM node INDEXED BY node_state_%[1]s
		WHERE state = ? AND %[1]s < ? ORDER BY %[1]s LIMIT ?`, col)
	return s.queryNodes(ctx, "lapsed nodes", q, state, model.FormatTime(before), limit)
}

// NodesInState pages through the nodes of a state in id order.
func (s *Store) NodesInState(ctx context.Context, state string, after objectid.ID, limit int) ([]*model.Node, error) {
	if limit <= 0 {
		return []*model.Node{}, nil
	}
	return s.queryNodes(ctx, "nodes in state",
		`SELECT doc FROM node WHERE state = ? AND id > ? ORDER BY id LIMIT ?`,
		state, after.String(), limit)
}

// hasPendingDescendantSQL walks the subtree below ?1 breadth first (the
// recursive CTE is a FIFO queue fed through the parent index) and stops
// at the first node that is not done: SQLite hands the CTE's rows to the
// outer query as they are produced, so LIMIT 1 ends the walk. UNION (not
// UNION ALL) drops rows already seen, and the root is never re-entered,
// so a parent cycle cannot loop.
const hasPendingDescendantSQL = `
WITH RECURSIVE sub(id, state) AS (
	SELECT id, state FROM node WHERE parent = ?1
	UNION
	SELECT n.id, n.state FROM sub JOIN node AS n ON n.parent = sub.id WHERE n.id <> ?1
)
SELECT 1 FROM sub WHERE state <> 'done' LIMIT 1`

// HasPendingDescendant reports whether any node below id is not done.
func (s *Store) HasPendingDescendant(ctx context.Context, id objectid.ID) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, hasPendingDescendantSQL, id.String()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: pending descendants of %s: %w", id, err)
	}
	return true, nil
}

// ReplaceNodeIf replaces n and appends evs if the stored node still has
// the expected state and updated time.
func (s *Store) ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) error {
	row, err := nodeRow(n)
	if err != nil {
		return err
	}
	// replaceNodeIfSQL: nodeRow ends with the id, then the expected values.
	args := append(row, ifState, model.FormatTime(ifUpdated))
	enc, err := encodeEvents(evs) // before the transaction: see WriteNodes
	if err != nil {
		return err
	}
	return s.writeEvents(ctx, evs, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.ws.replaceNodeIf).ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: replace node: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			var one int
			err := tx.StmtContext(ctx, s.ws.nodeExists).QueryRowContext(ctx, n.ID.String()).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("node %s: %w", n.ID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("sqlite: replace node: %w", err)
			}
			return fmt.Errorf("node %s changed since it was read: %w", n.ID, store.ErrConflict)
		}
		return s.insertEvents(ctx, tx, enc)
	})
}

// purgeableWhere is the condition of the nodes retention deletes, with
// its arguments after the created bound.
func purgeableWhere(before time.Time) (string, []any) {
	args := []any{model.FormatTime(before)}
	ph := make([]string, len(store.PurgeExcludedKinds))
	for i, k := range store.PurgeExcludedKinds {
		ph[i] = "?"
		args = append(args, k)
	}
	where := "created < ?"
	if len(ph) > 0 {
		where += " AND kind NOT IN (" + strings.Join(ph, ", ") + ")"
	}
	return where, args
}

// PurgeNodes deletes up to limit of the oldest purgeable nodes. The
// victims are chosen on the reader pool, through the created index, so
// that the write transaction (which holds the single writer) only
// deletes rows by primary key; each is re-checked there, so a node
// changed in between is not deleted by mistake.
func (s *Store) PurgeNodes(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	where, args := purgeableWhere(before)
	rows, err := s.r.QueryContext(ctx, `SELECT rid FROM node INDEXED BY node_created WHERE `+where+` ORDER BY created LIMIT ?`, append(args, limit)...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge nodes: %w", err)
	}
	var rids []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: purge nodes: %w", err)
		}
		rids = append(rids, rid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: purge nodes: %w", err)
	}
	if len(rids) == 0 {
		return 0, nil
	}
	var deleted int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM node WHERE rid = ? AND `+where)
		if err != nil {
			return fmt.Errorf("sqlite: purge nodes: %w", err)
		}
		defer stmt.Close()
		for _, rid := range rids {
			res, err := stmt.ExecContext(ctx, append([]any{rid}, args...)...)
			if err != nil {
				return fmt.Errorf("sqlite: purge nodes: %w", err)
			}
			k, _ := res.RowsAffected()
			deleted += k
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// CountPurgeable counts the purgeable nodes by kind.
func (s *Store) CountPurgeable(ctx context.Context, before time.Time) (map[string]int64, error) {
	where, args := purgeableWhere(before)
	rows, err := s.r.QueryContext(ctx, `SELECT kind, count(*) FROM node INDEXED BY node_created WHERE `+where+` GROUP BY kind`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count purgeable nodes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var kind string
		var n int64
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count purgeable nodes: %w", err)
		}
		out[kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count purgeable nodes: %w", err)
	}
	return out, nil
}
