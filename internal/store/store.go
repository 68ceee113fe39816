// Package store defines the storage interfaces the API runs on and the
// contract test suite every backend must pass. Backends live in
// sub-packages (sqlite, mongo) and compile query.Filter their own way.
package store

import (
	"context"
	"errors"

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
type Page struct {
	Limit  int
	Offset int
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
}

// Nodes stores nodes. Find results are in stable id order.
type Nodes interface {
	GetNode(ctx context.Context, id objectid.ID) (*model.Node, error)
	FindNodes(ctx context.Context, f query.Filter, p Page) ([]*model.Node, error)
	CountNodes(ctx context.Context, f query.Filter) (int64, error)
	WriteNodes(ctx context.Context, w NodeWrite) error
}

// Events is the append-only event history, ordered by sequence_id.
type Events interface {
	AppendEvents(ctx context.Context, evs ...*model.Event) error
	// FindEvents returns matching events in ascending sequence order.
	FindEvents(ctx context.Context, f query.Filter, p Page) ([]*model.Event, error)
	// LastSequence is the highest sequence_id assigned so far (0 if none).
	LastSequence(ctx context.Context) (int64, error)
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

// Store is a complete backend.
type Store interface {
	Nodes
	Events
	Users
	Close() error
}
