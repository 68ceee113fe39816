// Package store defines the storage interfaces the API runs on and the
// contract test suite every backend must pass. Backends live in
// sub-packages (sqlite, mongo) and compile query.Filter their own way.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

var (
	// ErrNotFound is returned when the addressed record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a unique key (username, email, group
	// name) is already taken.
	ErrConflict = errors.New("already exists")
	// ErrInvalid is returned when a backend cannot store a value exactly
	// (for example an integer beyond what its number types hold); the
	// request is refused and nothing is written.
	ErrInvalid = errors.New("value cannot be stored")
	// ErrUnavailable matches an *UnavailableError.
	ErrUnavailable = errors.New("backend unavailable")
)

// UnavailableError is returned when a backend server (MongoDB, Redis)
// cannot be reached or did not answer in time: the request may succeed
// if tried again later. Err is the driver's error, for the log; it may
// name hosts, so it is not for clients.
type UnavailableError struct {
	Backend string // "database", "redis"
	Err     error
}

func (e *UnavailableError) Error() string {
	return e.Backend + " unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Page selects a window of results; Limit 0 means no limit.
//
// Order, when set, replaces the backend's default order (nodes: id or
// insertion order; events: sequence order); its last key is unique (see
// query.Order). After, when set, holds one value per key of Order and
// selects the records strictly after that position (keyset paging);
// Offset then counts from there.
type Page struct {
	Limit  int
	Offset int
	Order  query.Order
	After  []any
}

// NodeWrite is one atomic node write: every insert and replacement and
// every event append succeeds, or none does. Inserted nodes carry their
// IDs already. A replacement of a node that does not exist fails the whole
// write with ErrNotFound. Events get their ID (if zero), Timestamp (if
// zero) and SequenceID assigned.
type NodeWrite struct {
	Insert  []*model.Node
	Replace []*model.Node
	Events  []*model.Event
	// Docs, when not nil, holds the JSON of each node of Insert then of
	// Replace, in that order, exactly as json.Marshal encodes it: a
	// backend that keeps nodes as their wire JSON (SQLite) stores these
	// bytes instead of encoding the nodes again, and the caller answers
	// the same bytes (PUT /nodes/{id}: one encoding of each node instead
	// of two). Backends that do not keep JSON ignore it.
	Docs [][]byte
}

// Nodes stores nodes. Find results are in stable id order, or in
// Page.Order when it is set.
type Nodes interface {
	GetNode(ctx context.Context, id objectid.ID) (*model.Node, error)
	// GetNodeJSON returns the node as GET /node/{id} answers it: exactly
	// the bytes of json.Marshal of what GetNode returns (ErrNotFound
	// alike). A backend that keeps the document as JSON answers it as
	// it is when it is already in that form (model.IsWireNode), with no
	// decode and encode.
	GetNodeJSON(ctx context.Context, id objectid.ID) ([]byte, error)
	FindNodes(ctx context.Context, f query.Filter, p Page) ([]*model.Node, error)
	// FindNodesJSON returns the nodes FindNodes returns, in its order,
	// each as GetNodeJSON answers it (GET /nodes, /nodes/fast).
	FindNodesJSON(ctx context.Context, f query.Filter, p Page) ([]json.RawMessage, error)
	CountNodes(ctx context.Context, f query.Filter) (int64, error)
	WriteNodes(ctx context.Context, w NodeWrite) error
}

// Events is the append-only event history, ordered by sequence_id.
//
// Sequence ids are unique (a unique index in every backend) and only
// grow. Visibility rule, which every backend must keep: once EventsAfter
// has returned an event with sequence S, no event with a smaller
// sequence may become visible later on that channel. (SQLite serialises
// commits, so this holds by construction; a backend whose writers commit
// out of sequence order must hold back events above a gap.) Listeners
// advance their cursors over what they read and would otherwise miss the
// late event.
type Events interface {
	// AppendEvents appends events alone (POST /publish); it is a write
	// like WriteNodes and announced like it.
	AppendEvents(ctx context.Context, evs ...*model.Event) error
	// FindEvents returns matching events in ascending sequence order, or
	// in Page.Order when it is set.
	FindEvents(ctx context.Context, f query.Filter, p Page) ([]*model.Event, error)
	// LastSequence is the highest sequence_id assigned so far (0 if none).
	LastSequence(ctx context.Context) (int64, error)
	// EventsAfter returns up to limit events of channel with
	// sequence_id > after, in ascending sequence order. It must be served
	// by a (channel, sequence_id) index.
	EventsAfter(ctx context.Context, channel string, after int64, limit int) ([]*model.Event, error)
	// DeleteEventsBefore deletes up to limit of the oldest events whose
	// timestamp is before t, returning how many it deleted. It never
	// lowers LastSequence.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error)

	// OnCommit adds fn to the functions the store calls after every
	// write that appended events has committed (WriteNodes, AppendEvents,
	// ReplaceNodeIf: every way an event is born), with those events as
	// stored (ids, timestamps and sequence ids assigned), before the
	// write returns. This is the one place where events are announced
	// (pub/sub wakes its listeners from it, metrics count them), so no
	// wrapper or caller can write an event nobody hears of. fn must not
	// block for long; its ctx is the write's, without its cancellation.
	// Imports (Transfer.ImportEvents) are not announced.
	OnCommit(fn CommitFunc)
	// IDRetries counts, since the store was opened, the writes that
	// found a counter-allocated id (an event's sequence_id, a
	// subscription id) already taken and retried with a fresh one: a
	// counter that is not atomic (some MongoDB-compatible servers) costs
	// a retry, never a shared id.
	IDRetries() IDRetries
}

// CommitFunc is called with the events a write committed.
type CommitFunc func(ctx context.Context, evs []*model.Event)

// IDRetries are the counts of Events.IDRetries, by counter.
type IDRetries struct {
	Sequence     int64 // eventhistory.sequence_id
	Subscription int64 // subscription ids
}

// Users stores accounts and groups. A user's groups are stored with the
// user (as the reference embeds them); group lookups are by name.
type Users interface {
	GetUser(ctx context.Context, id objectid.ID) (*model.User, error)
	GetUserByUsername(ctx context.Context, username string) (*model.User, error)
	GetUserByEmail(ctx context.Context, email string) (*model.User, error)
	FindUsers(ctx context.Context, f query.Filter, p Page) ([]*model.User, error)
	CountUsers(ctx context.Context, f query.Filter) (int64, error)
	InsertUser(ctx context.Context, u *model.User) error
	UpdateUser(ctx context.Context, u *model.User) error
	DeleteUser(ctx context.Context, id objectid.ID) error

	GetGroup(ctx context.Context, id objectid.ID) (*model.Group, error)
	GetGroupByName(ctx context.Context, name string) (*model.Group, error)
	FindGroups(ctx context.Context, f query.Filter, p Page) ([]*model.Group, error)
	CountGroups(ctx context.Context, f query.Filter) (int64, error)
	InsertGroup(ctx context.Context, g *model.Group) error
	DeleteGroup(ctx context.Context, id objectid.ID) error
}

// Store is a complete backend. Every part is required: both backends
// implement all of it, and code never probes a store for a part. Each
// concern is a small named interface, so adding a method is a change to
// one of them (and to both backends, and to the contract suite,
// internal/store/storetest).
type Store interface {
	Nodes
	NodeStats // nodestats.go
	Events
	Users
	PubSub
	Telemetry
	Lifecycle
	Transfer
	APITokens // apitokens.go
	// Ping answers nil when the backend serves requests, for the
	// readiness probe (GET /readyz); it must be cheap (no collection
	// scan) and honour ctx's deadline.
	Ping(ctx context.Context) error
	Close() error
}
