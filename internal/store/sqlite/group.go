package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Group commit. Every write transaction of the store (inTx) is a request
// to one committer: requests that arrive while a commit is being flushed
// wait together, and the next round runs them all in one transaction,
// each inside its own savepoint, and commits once. With
// synchronous=FULL the commit's fsync is most of a small write's cost,
// so N concurrent writers pay one flush instead of N, while a lone
// writer still commits at once (it finds the committer idle).
//
// Each write is acknowledged (inTx returns nil) only after the commit
// that holds it is on disk; a write whose function fails is rolled back
// to its savepoint, answered with its error at once, and leaves the
// others of its group untouched, so a group behaves exactly like its
// writes run one after the other in arrival order. If the group's
// transaction itself fails (the commit, or SQLite rolling the whole
// transaction back after an I/O error or an interrupted statement),
// every write of the group gets the error: none of them is acknowledged.
//
// maxGroup bounds how many writes share a commit, so that a write's
// latency is bounded by the group it lands in; the concurrency of the
// HTTP server bounds the queue.
const maxGroup = 256

// groupSavepoint names the savepoint of each write in a group.
const groupSavepoint = "kci_group_write"

type txRequest struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

type committer struct {
	mu      sync.Mutex
	queue   []*txRequest
	running bool
	commits atomic.Int64 // transactions committed, for tests and metrics
}

// inTx runs fn in a write transaction, possibly shared with concurrent
// writes (see above), and returns once that transaction is committed
// (nil) or fn's own error once its changes are rolled back. fn must not
// call inTx. A write whose ctx ends before its turn is not run; once it
// has run, inTx waits for its commit whatever ctx does, so that the
// answer says what happened.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c := &s.gc
	c.mu.Lock()
	c.queue = append(c.queue, r)
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go s.commitRounds()
	}
	return <-r.done
}

// commitRounds commits groups until the queue is empty.
func (s *Store) commitRounds() {
	c := &s.gc
	for {
		c.mu.Lock()
		n := min(len(c.queue), maxGroup)
		if n == 0 {
			c.running = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		group := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.mu.Unlock()
		s.commitGroup(group)
	}
}

// commitGroup runs the writes of group in one transaction and answers
// each of them.
func (s *Store) commitGroup(group []*txRequest) {
	// The transaction is not tied to any one request: a client going
	// away must not roll back the others.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		err = fmt.Errorf("sqlite: begin: %w", err)
		for _, r := range group {
			r.done <- err
		}
		return
	}
	if len(group) == 1 {
		// Alone: no savepoint needed, the transaction is the write's own.
		r := group[0]
		if err := r.ctx.Err(); err != nil {
			tx.Rollback()
			r.done <- err
			return
		}
		if err := r.fn(tx); err != nil {
			tx.Rollback()
			r.done <- err
			return
		}
		if err := tx.Commit(); err != nil {
			r.done <- fmt.Errorf("sqlite: commit: %w", err)
			return
		}
		s.gc.commits.Add(1)
		r.done <- nil
		return
	}
	// The savepoint statements, prepared once (writestmts.go).
	savepoint, release, rollbackTo := tx.Stmt(s.ws.savepoint), tx.Stmt(s.ws.release), tx.Stmt(s.ws.rollbackTo)
	var ok []*txRequest // run and kept, answered after the commit
	abort := func(i int, cause error) {
		tx.Rollback()
		err := fmt.Errorf("sqlite: group commit: %w", cause)
		for _, r := range ok {
			r.done <- err
		}
		for _, r := range group[i:] {
			r.done <- err
		}
	}
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		if _, err := savepoint.Exec(); err != nil {
			abort(i, err)
			return
		}
		if err := r.fn(tx); err != nil {
			// Undo this write only. If SQLite has already rolled the
			// whole transaction back (an I/O error, an interrupted
			// write), the savepoint is gone with it and so is every
			// write of the group.
			if _, rerr := rollbackTo.Exec(); rerr != nil {
				abort(i+1, errors.Join(err, rerr))
				r.done <- err
				return
			}
			if _, rerr := release.Exec(); rerr != nil {
				abort(i+1, rerr)
				r.done <- err
				return
			}
			r.done <- err
			continue
		}
		if _, err := release.Exec(); err != nil {
			abort(i, err)
			return
		}
		ok = append(ok, r)
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("sqlite: commit: %w", err)
		for _, r := range ok {
			r.done <- err
		}
		return
	}
	s.gc.commits.Add(1)
	for _, r := range ok {
		r.done <- nil
	}
}
