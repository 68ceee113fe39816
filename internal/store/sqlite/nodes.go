package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
	if err != nil {
		return nil, rowErr("get node", err)
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
	if err != nil {
		return nil, rowErr("get node", err)
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
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	return findDocs(ctx, s, t, "node", f, p, func(doc []byte) (json.RawMessage, error) { return wireNode(doc) })
}

// FindNodes returns matching nodes in insertion (id) order.
func (s *Store) FindNodes(ctx context.Context, f query.Filter, p store.Page) ([]*model.Node, error) {
	t, err := s.planNodes(ctx, f)
	if err != nil {
		return nil, err
	}
	return findDocs(ctx, s, t, "node", f, p, decodeAs[model.Node]("node"))
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

func nodeRow(n *model.Node) ([]any, error) { return nodeRowDoc(n, nil) }

// nodeRowDoc is nodeRow with the node's JSON (json.Marshal of n) when
// the caller has it already (store.NodeWrite.Docs), else nil.
func nodeRowDoc(n *model.Node, doc []byte) ([]any, error) {
	if doc == nil {
		var err error
		if doc, err = json.Marshal(n); err != nil {
			return nil, fmt.Errorf("sqlite: encode node: %w", err)
		}
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
	// replaceNodeIfSQL is replaceNodeSQL with the compare-and-set of
	// ReplaceNodeIf: the stored state and updated time.
	replaceNodeIfSQL = replaceNodeSQL + ` AND state = ? AND updated = ?`
)

// insertChunk is the number of nodes one INSERT statement writes. Inside
// a transaction, a statement that fires triggers (counts.go) keeps a
// statement journal of every page it changes; one statement for many
// rows journals each page once instead of once a row, which made a
// 10,000-node hierarchy (PUT /nodes/{id}) a third faster. 50 rows are
// 650 parameters, far below SQLite's limit.
const insertChunk = 50

var insertChunkSQL = insertNodeSQL + strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", insertChunk-1)

// nodeRows encodes nodes (nodeRow) one after the other in one slice;
// docs, when not nil, are their JSON (store.NodeWrite.Docs).
func nodeRows(nodes []*model.Node, docs [][]byte) ([]any, error) {
	args := make([]any, 0, nodeCols*len(nodes))
	for i, n := range nodes {
		var doc []byte
		if docs != nil {
			doc = docs[i]
		}
		row, err := nodeRowDoc(n, doc)
		if err != nil {
			return nil, err
		}
		args = append(args, row...)
	}
	return args, nil
}

// nodeCols is the length of a nodeRow.
const nodeCols = 13

// insertNodes inserts nodes, whose rows are args (nodeRows),
// insertChunk at a time, through the statements prepared once
// (writestmts.go); a duplicate id is store.ErrConflict naming the node.
func (s *Store) insertNodes(ctx context.Context, tx *sql.Tx, nodes []*model.Node, args []any) error {
	for len(nodes) > 0 {
		part := nodes[:min(len(nodes), insertChunk)]
		nodes = nodes[len(part):]
		partArgs := args[:nodeCols*len(part)]
		args = args[len(partArgs):]
		var err error
		switch len(part) {
		case 1:
			_, err = tx.StmtContext(ctx, s.ws.insertNode).ExecContext(ctx, partArgs...)
		case insertChunk:
			_, err = tx.StmtContext(ctx, s.ws.insertChunk).ExecContext(ctx, partArgs...)
		default: // the last part of a large write: prepared for this write only
			_, err = tx.ExecContext(ctx, insertNodeSQL+strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(part)-1), partArgs...)
		}
		if isUniqueViolation(err) {
			// The statement changed nothing; name the culprit.
			one := tx.StmtContext(ctx, s.ws.insertNode)
			for i, n := range part {
				if _, err := one.ExecContext(ctx, partArgs[nodeCols*i:nodeCols*(i+1)]...); isUniqueViolation(err) {
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

// WriteNodes applies w atomically. Documents and events are encoded
// before the transaction: the committer runs one write at a time
// (group.go), the encoding of concurrent writes runs in parallel.
func (s *Store) WriteNodes(ctx context.Context, w store.NodeWrite) error {
	var insDocs, repDocs [][]byte
	if w.Docs != nil {
		if len(w.Docs) != len(w.Insert)+len(w.Replace) {
			return fmt.Errorf("sqlite: write nodes: %d documents for %d nodes", len(w.Docs), len(w.Insert)+len(w.Replace))
		}
		insDocs, repDocs = w.Docs[:len(w.Insert)], w.Docs[len(w.Insert):]
	}
	ins, err := nodeRows(w.Insert, insDocs)
	if err != nil {
		return err
	}
	rep, err := nodeRows(w.Replace, repDocs)
	if err != nil {
		return err
	}
	evs, err := encodeEvents(w.Events)
	if err != nil {
		return err
	}
	return s.writeEvents(ctx, w.Events, func(tx *sql.Tx) error {
		if err := s.insertNodes(ctx, tx, w.Insert, ins); err != nil {
			return err
		}
		if len(w.Replace) > 0 {
			stmt := tx.StmtContext(ctx, s.ws.replaceNode)
			for i, n := range w.Replace {
				res, err := stmt.ExecContext(ctx, rep[nodeCols*i:nodeCols*(i+1)]...)
				if err != nil {
					return fmt.Errorf("sqlite: replace node: %w", err)
				}
				if k, _ := res.RowsAffected(); k == 0 {
					return fmt.Errorf("node %s: %w", n.ID, store.ErrNotFound)
				}
			}
		}
		return s.insertEvents(ctx, tx, evs)
	})
}
