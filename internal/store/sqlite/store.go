// Package sqlite is the embedded storage backend: one SQLite database file
// in WAL mode with a single writer connection and a pool of readers, using
// the pure-Go modernc driver so the binary stays static.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store implements store.Store on SQLite.
type Store struct {
	w *sql.DB // exactly one connection: all writes are serialised here
	r *sql.DB // read-only pool

	adv advancer  // batches subscription cursor moves (pubsub.go)
	gc  committer // shares commits between concurrent writes (group.go)

	store.Commits // OnCommit, IDRetries (events.go)

	// getNode is GetNode's statement, prepared once: preparing it for
	// every call cost a fifth of a GET /node/{id}.
	getNode *sql.Stmt
	ws      *writeStmts      // node and event writes, prepared once on w (writestmts.go)
	stmts   sync.Map         // query -> *sql.Stmt on r (readStmt, plan.go)
	probed  func([]measured) // tests: the measurements of each planned query (plan.go)

	distinct distinctCache // distinct values of columns, for planning regexes (regex.go)
}

var _ store.Store = (*Store)(nil)

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	// busy_timeout first so that the following pragmas wait for locks.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: every commit is on disk (the WAL fsynced) before the write
	// is acknowledged, so a power loss or OS crash loses no answered
	// write (NORMAL only survives a crash of this process). Measured
	// here (BenchmarkWriteNode, a node and its event): 1.3 ms a write
	// instead of 0.85 ms, hundreds of writes a second on the single
	// writer, far above KernelCI's rate.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-65536)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// The statement journal of a node write (its triggers make it a
		// multi-table statement, counts.go) stays in memory: on disk,
		// it spills the pages of a single insert to a temporary file,
		// which tripled the cost of writing a node. It holds the pages
		// one statement changes (a node write: ~25).
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. It refuses a database newer than this code.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	st := &Store{w: w, r: r}
	if st.ws, err = prepareWrites(ctx, w); err != nil {
		st.Close()
		return nil, err
	}
	if st.getNode, err = r.PrepareContext(ctx, "SELECT doc FROM node WHERE id = ?"); err != nil {
		st.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	// Planner statistics for the current size (cheap; see Optimize).
	if err := st.Optimize(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	var errs []error
	if s.getNode != nil {
		errs = append(errs, s.getNode.Close())
	}
	errs = append(errs, s.ws.close())
	s.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, s.r.Close(), s.w.Close())...)
}

func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this server (%d); upgrade the server", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", i+1, err)
		}
	}
	return nil
}

// decodeDoc unmarshals a stored JSON document keeping numbers exact.
func decodeDoc(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// selectDocs runs a filtered SELECT of the doc column (and any extra
// columns) and calls scan for each row.
func (s *Store) selectDocs(ctx context.Context, t table, cols string, f query.Filter, p store.Page, scan func(*sql.Rows) error) error {
	q, args, err := findSQL(t, cols, f, p)
	if err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: select %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: select %s: %w", t.Name, err)
	}
	return nil
}

// findDocs returns the docs of t that f matches in page p, each read by
// decode; what names them in errors.
func findDocs[T any](ctx context.Context, s *Store, t table, what string, f query.Filter, p store.Page, decode func(doc []byte) (T, error)) ([]T, error) {
	out := []T{}
	err := s.selectDocs(ctx, t, "doc", f, p, func(rows *sql.Rows) error {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return fmt.Errorf("sqlite: scan %s: %w", what, err)
		}
		v, err := decode(doc)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// decodeAs returns the decoder of a doc into a new T; what names it in
// errors.
func decodeAs[T any](what string) func(doc []byte) (*T, error) {
	return func(doc []byte) (*T, error) {
		v := new(T)
		if err := decodeDoc(doc, v); err != nil {
			return nil, fmt.Errorf("sqlite: decode %s: %w", what, err)
		}
		return v, nil
	}
}

func (s *Store) count(ctx context.Context, t table, f query.Filter) (int64, error) {
	q, args, err := countSQL(t, f)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", t.Name, err)
	}
	return n, nil
}

// rowErr is the error of a failed single-row read: store.ErrNotFound
// when there was no row.
func rowErr(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// isUniqueViolation reports whether err is a UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
