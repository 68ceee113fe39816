package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Resource limits of the HTTP layer (docs/security.md lists them all with
// the threat each answers). Every one is an Options field, set from
// internal/config; zero values take the defaults below.
const (
	DefaultQueryTimeout     = 5 * time.Second
	DefaultMaxJSONDepth     = 64
	DefaultMaxPageLimit     = 10000
	DefaultMaxEventsLimit   = 10000
	DefaultMaxSubscriptions = 1000
	// DefaultAdmissionWait is how long a request queues for a heavy-query
	// or password-hash slot before it is answered 503.
	DefaultAdmissionWait = 2 * time.Second
	// fastChunk is how many nodes /nodes/fast reads per store call while
	// it streams its answer.
	fastChunk = 500
)

// DefaultMaxHeavyQueries is the default number of regex queries run at
// once: half the cores, at least one, so that plain reads keep the rest
// of the CPU and of SQLite's reader pool.
func DefaultMaxHeavyQueries() int { return max(1, runtime.NumCPU()/2) }

// DefaultMaxHashes is the default number of password hashes computed at
// once (each argon2id hash holds 64 MiB): the number of cores.
func DefaultMaxHashes() int { return max(1, runtime.NumCPU()) }

// DefaultMaxLargeHierarchies is the default number of large hierarchies
// (bodies over largeHierarchy) decoded and written at once: half the
// cores, at least one.
func DefaultMaxLargeHierarchies() int { return max(1, runtime.NumCPU()/2) }

// largeHierarchy is the body size from which PUT /nodes/{id} waits for a
// large-hierarchy slot; smaller ones, the pipeline's usual, never wait.
const largeHierarchy = 1 << 20

func (o *Options) setLimitDefaults() {
	orDefault(&o.QueryTimeout, DefaultQueryTimeout)
	orDefault(&o.MaxJSONDepth, DefaultMaxJSONDepth)
	orDefault(&o.MaxPageLimit, DefaultMaxPageLimit)
	orDefault(&o.MaxEventsLimit, DefaultMaxEventsLimit)
	orDefault(&o.MaxSubscriptionsPerUser, DefaultMaxSubscriptions)
	orDefault(&o.MaxWaitsPerUser, DefaultMaxWaitsPerUser)
	orDefault(&o.MaxHeavyQueries, DefaultMaxHeavyQueries())
	orDefault(&o.MaxHashes, DefaultMaxHashes())
	orDefault(&o.MaxLargeHierarchies, DefaultMaxLargeHierarchies())
	orDefault(&o.AdmissionWait, DefaultAdmissionWait)
}

// parseQuery is query.Parse with the server's query limits.
func (s *Server) parseQuery(v url.Values, schema query.Schema) (query.Filter, error) {
	return query.Parse(v, schema.WithLimits(s.opts.QueryLimits))
}

// queryLimits are the query limits with defaults filled in.
func (s *Server) queryLimits() query.Limits {
	l := s.opts.QueryLimits
	orDefault(&l.MaxListValues, query.DefaultLimits.MaxListValues)
	return l
}

// gate is a counting semaphore with a short queue: acquire waits at most
// wait for a slot, then gives up with a 503 and Retry-After.
type gate struct {
	slots chan struct{}
	wait  time.Duration
	what  string // named in the 503's detail
}

func newGate(n int, wait time.Duration, what string) *gate {
	return &gate{slots: make(chan struct{}, n), wait: wait, what: what}
}

// acquire takes a slot; release must be called when it returns nil.
func (g *gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return &Error{Status: http.StatusServiceUnavailable,
			Detail: "Too many " + g.what + " running at once; try again in a second",
			Header: http.Header{"Retry-After": {"1"}}}
	}
}

func (g *gate) release() { <-g.slots }

// hashing runs a handler that hashes or checks a password once a hash
// slot is free: each argon2id hash holds 64 MiB for tens of
// milliseconds, so the number running at once bounds the memory a flood
// of logins (known users or not) can take. Past AdmissionWait in the
// queue the answer is 503 with Retry-After. The body is read before
// the slot is taken, so that a slow client never holds one.
func (s *Server) hashing(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Body != nil && r.Body != http.NoBody {
			b, err := readBody(w, r, s.opts.MaxBodyBytes)
			if err != nil {
				return err
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if err := s.hashes.acquire(r.Context()); err != nil {
			return err
		}
		defer s.hashes.release()
		return h(w, r)
	}
}

// heavy reports whether a filter needs the heavy-query gate: regular
// expressions are matched row by row, in Go for SQLite, by a backtracking
// engine on MongoDB.
func heavy(f query.Filter) bool {
	for _, c := range f.Conds {
		if c.Op == query.Re {
			return true
		}
	}
	return false
}

// budgeted runs a read handler under the query time budget: the store
// calls it makes see a context that ends QueryTimeout after the request
// started (SQLite interrupts the statement, MongoDB gets maxTimeMS), and
// running past it answers 504 naming the budget. A request whose filter
// is heavy first waits for a heavy-query slot.
func (s *Server) budgeted(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), requestCtxKey, r.Context()), s.opts.QueryTimeout)
		defer cancel()
		err := h(w, r.WithContext(ctx))
		// The MongoDB driver gives up before the deadline itself when
		// the time left is below its round-trip time: its error then
		// wraps DeadlineExceeded while ctx has not ended yet.
		if err != nil && r.Context().Err() == nil &&
			(errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) {
			return errorf(http.StatusGatewayTimeout, "Query exceeded its time budget of "+
				strconv.FormatFloat(s.opts.QueryTimeout.Seconds(), 'f', -1, 64)+
				" s (KCI_QUERY_TIMEOUT_SECONDS): narrow the filter or use a smaller limit")
		}
		return err
	}
}

// nextQueryContext is the context of a further store query of a
// streamed answer: a fresh query budget under the request's own context
// (the client leaving still ends it).
func (s *Server) nextQueryContext(r *http.Request) (context.Context, context.CancelFunc) {
	parent, ok := r.Context().Value(requestCtxKey).(context.Context)
	if !ok {
		parent = r.Context()
	}
	return context.WithTimeout(parent, s.opts.QueryTimeout)
}

// admitHeavy takes a heavy-query slot when f needs one; the returned
// function releases it.
func (s *Server) admitHeavy(ctx context.Context, f query.Filter) (func(), error) {
	if !heavy(f) {
		return func() {}, nil
	}
	if err := s.heavy.acquire(ctx); err != nil {
		return nil, err
	}
	return s.heavy.release, nil
}

// deeperThan reports whether the JSON text b nests arrays and objects
// more than limit levels deep. It only counts brackets outside strings;
// the decoder checks the rest.
func deeperThan(b []byte, limit int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > limit {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// checkDepth refuses a JSON body nested deeper than MaxJSONDepth with a
// 422: both stores keep documents as JSON or BSON with nesting limits of
// their own (SQLite: 1000), which must never surface as a 500.
func checkDepth(r *http.Request, b []byte) error {
	limit := DefaultMaxJSONDepth
	if o, ok := r.Context().Value(optsKey).(*Options); ok {
		limit = o.MaxJSONDepth
	}
	if deeperThan(b, limit) {
		return bodyError("json_invalid", "JSON decode error: nested deeper than "+strconv.Itoa(limit)+
			" levels (KCI_MAX_JSON_DEPTH)", nil)
	}
	return nil
}
