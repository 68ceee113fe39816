package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// writeStmts are the statements of node and event writes and of the
// group commit's savepoints, prepared once on the writer connection.
// Every write runs on the single committer goroutine (group.go), so
// what it spends there bounds the store's writes per second; preparing
// a statement costs more than running it (SQLite's parser was a third
// of the committer's CPU per node write, docs/performance.md). Inside a
// transaction, tx.StmtContext reuses the connection's prepared
// statement (database/sql keeps it per connection).
type writeStmts struct {
	insertNode    *sql.Stmt // insertNodeSQL: one node
	insertChunk   *sql.Stmt // insertChunkSQL: insertChunk nodes
	replaceNode   *sql.Stmt // replaceNodeSQL
	replaceNodeIf *sql.Stmt // replaceNodeIfSQL
	nodeExists    *sql.Stmt
	insertEvent   *sql.Stmt
	savepoint     *sql.Stmt
	release       *sql.Stmt
	rollbackTo    *sql.Stmt
	advance       *sql.Stmt // advanceSQL: a subscription's cursor move (pubsub.go)
	subExists     *sql.Stmt
}

const (
	insertEventSQL = `INSERT INTO eventhistory (id, timestamp, channel, owner, doc) VALUES (?, ?, ?, ?, ?)`
	nodeExistsSQL  = `SELECT 1 FROM node WHERE id = ?`
	advanceSQL     = `UPDATE subscription SET cursor = ?, last_poll = ? WHERE id = ? AND cursor = ?`
	subExistsSQL   = `SELECT 1 FROM subscription WHERE id = ?`
)

// prepareWrites prepares the write statements on db (the writer).
func prepareWrites(ctx context.Context, db *sql.DB) (*writeStmts, error) {
	ws := &writeStmts{}
	var errs []error
	prep := func(dst **sql.Stmt, q string) {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			errs = append(errs, err)
			return
		}
		*dst = st
	}
	prep(&ws.insertNode, insertNodeSQL)
	prep(&ws.insertChunk, insertChunkSQL)
	prep(&ws.replaceNode, replaceNodeSQL)
	prep(&ws.replaceNodeIf, replaceNodeIfSQL)
	prep(&ws.nodeExists, nodeExistsSQL)
	prep(&ws.insertEvent, insertEventSQL)
	prep(&ws.savepoint, "SAVEPOINT "+groupSavepoint)
	prep(&ws.release, "RELEASE "+groupSavepoint)
	prep(&ws.rollbackTo, "ROLLBACK TO "+groupSavepoint)
	prep(&ws.advance, advanceSQL)
	prep(&ws.subExists, subExistsSQL)
	if err := errors.Join(errs...); err != nil {
		ws.close()
		return nil, fmt.Errorf("sqlite: prepare writes: %w", err)
	}
	return ws, nil
}

// close closes the statements (nil ws or fields are skipped).
func (ws *writeStmts) close() error {
	if ws == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{ws.insertNode, ws.insertChunk, ws.replaceNode, ws.replaceNodeIf,
		ws.nodeExists, ws.insertEvent, ws.savepoint, ws.release, ws.rollbackTo, ws.advance, ws.subExists} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
