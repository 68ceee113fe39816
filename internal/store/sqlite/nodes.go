package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// GetNode returns the node with the given id or store.ErrNotFound.
func (s *Store) GetNode(ctx context.Context, id objectid.ID) (*model.Node, error) {
	var doc []byte
	err := s.getNode.QueryRowContext(ctx, id.String()).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get node: %w", err)
	}
	var n model.Node
	if err := decodeDoc(doc, &n); err != nil {
		return nil, fmt.Errorf("sqlite: decode node %s: %w", id, err)
	}
	return &n, nil
}

// GetNodeJSON returns the node's JSON: the stored document itself when
// it is in wire form (every document this version writes), else the
// document decoded and encoded again, as GetNode and the handler did.
//
// The lookup by the unique id reads one index entry and one row, so it
// runs without ctx's cancellation: with it, the driver starts a
// goroutine for every query to interrupt it, a quarter of the CPU of a
// GET /node/{id}. A request that is over already is not started.
func (s *Store) GetNodeJSON(ctx context.Context, id objectid.ID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var doc []byte
	err := s.getNode.QueryRowContext(context.WithoutCancel(ctx), id.String()).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get node: %w", err)
	}
	return wireNode(doc)
}

// wireNode returns the wire JSON of a stored node document: doc itself
// when it is in wire form, else doc decoded and encoded.
func wireNode(doc []byte) ([]byte, error) {
	if model.IsWireNode(doc) {
		return doc, nil
	}
	var n model.Node
	if err := decodeDoc(doc, &n); err != nil {
		return nil, fmt.Errorf("sqlite: decode node: %w", err)
	}
	b, err := json.Marshal(&n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode node %s: %w", n.ID, err)
	}
	return b, nil
}

// FindNodesJSON is FindNodes answering each node's wire JSON, the
// stored document itself when it is in wire form.
func (s *Store) FindNodesJSON(ctx context.Context, f query.Filter, p store.Page) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	err = s.selectDocs(ctx, t, "doc", f, p, func(rows *sql.Rows) error {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return fmt.Errorf("sqlite: scan node: %w", err)
		}
		b, err := wireNode(doc)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// FindNodes returns matching nodes in insertion (id) order.
func (s *Store) FindNodes(ctx context.Context, f query.Filter, p store.Page) ([]*model.Node, error) {
	out := []*model.Node{}
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	err = s.selectDocs(ctx, t, "doc", f, p, func(rows *sql.Rows) error {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return fmt.Errorf("sqlite: scan node: %w", err)
		}
		n := new(model.Node)
		if err := decodeDoc(doc, n); err != nil {
			return fmt.Errorf("sqlite: decode node: %w", err)
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// CountNodes counts matching nodes: from the counters of counts.go when
// the filter is on kind, state and result only, else over the node table.
func (s *Store) CountNodes(ctx context.Context, f query.Filter) (int64, error) {
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return 0, err
	}
	q, args, err := countNodesSQL(t, f)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count node: %w", err)
	}
	return n, nil
}

func nodeRow(n *model.Node) ([]any, error) {
	doc, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode node: %w", err)
	}
	var parent, holdoff any
	if n.Parent != nil {
		parent = n.Parent.String()
	}
	if n.Holdoff != nil {
		holdoff = model.FormatTime(n.Holdoff.Time)
	}
	return []any{
		n.Kind, n.Name, nullStr(n.Group), parent, n.State, nullStr(n.Result), nullStr(n.Owner),
		model.FormatTime(n.Created.Time), model.FormatTime(n.Updated.Time), model.FormatTime(n.Timeout.Time), holdoff,
		string(doc), n.ID.String(),
	}, nil
}

func nullStr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

const (
	insertNodeSQL = `INSERT INTO node (kind, name, grp, parent, state, result, owner, created, updated, timeout, holdoff, doc, id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	replaceNodeSQL = `UPDATE node SET kind = ?, name = ?, grp = ?, parent = ?, state = ?, result = ?, owner = ?,
		created = ?, updated = ?, timeout = ?, holdoff = ?, doc = ? WHERE id = ?`
)

// insertChunk is the number of nodes one INSERT statement writes. Inside
// a transaction, a statement that fires triggers (counts.go) keeps a
// statement journal of every page it changes; one statement for many
// rows journals each page once instead of once a row, which made a
// 10,000-node hierarchy (PUT /nodes/{id}) a third faster. 50 rows are
// 650 parameters, far below SQLite's limit.
const insertChunk = 50

var insertChunkSQL = insertNodeSQL + strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", insertChunk-1)

// insertNodes inserts nodes, insertChunk at a time; a duplicate id is
// store.ErrConflict naming the node.
func insertNodes(ctx context.Context, tx *sql.Tx, nodes []*model.Node) error {
	var stmt *sql.Stmt
	for len(nodes) > 0 {
		part := nodes[:min(len(nodes), insertChunk)]
		nodes = nodes[len(part):]
		args := make([]any, 0, 13*len(part))
		for _, n := range part {
			row, err := nodeRow(n)
			if err != nil {
				return err
			}
			args = append(args, row...)
		}
		var err error
		switch {
		case len(part) < insertChunk:
			_, err = tx.ExecContext(ctx, insertNodeSQL+strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(part)-1), args...)
		default:
			if stmt == nil {
				if stmt, err = tx.PrepareContext(ctx, insertChunkSQL); err != nil {
					return fmt.Errorf("sqlite: prepare insert: %w", err)
				}
				defer stmt.Close()
			}
			_, err = stmt.ExecContext(ctx, args...)
		}
		if isUniqueViolation(err) {
			// The statement changed nothing; name the culprit.
			for i, n := range part {
				if _, err := tx.ExecContext(ctx, insertNodeSQL, args[13*i:13*i+13]...); isUniqueViolation(err) {
					return fmt.Errorf("node %s: %w", n.ID, store.ErrConflict)
				} else if err != nil {
					return fmt.Errorf("sqlite: insert node: %w", err)
				}
			}
			return fmt.Errorf("sqlite: insert node: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("sqlite: insert node: %w", err)
		}
	}
	return nil
}

// WriteNodes applies w atomically.
func (s *Store) WriteNodes(ctx context.Context, w store.NodeWrite) error {
	return s.writeEvents(ctx, w.Events, func(tx *sql.Tx) error {
		if err := insertNodes(ctx, tx, w.Insert); err != nil {
			return err
		}
		if len(w.Replace) > 0 {
			stmt, err := tx.PrepareContext(ctx, replaceNodeSQL)
			if err != nil {
				return fmt.Errorf("sqlite: prepare replace: %w", err)
			}
			defer stmt.Close()
			for _, n := range w.Replace {
				row, err := nodeRow(n)
				if err != nil {
					return err
				}
				res, err := stmt.ExecContext(ctx, row...)
				if err != nil {
					return fmt.Errorf("sqlite: replace node: %w", err)
				}
				if k, _ := res.RowsAffected(); k == 0 {
					return fmt.Errorf("node %s: %w", n.ID, store.ErrNotFound)
				}
			}
		}
		return appendEvents(ctx, tx, w.Events)
	})
}
