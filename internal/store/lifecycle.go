package store

import (
	"context"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// Deadline names the node datetime a lapse query looks at.
type Deadline string

// The deadlines of the node lifecycle.
const (
	DeadlineTimeout Deadline = "timeout"
	DeadlineHoldoff Deadline = "holdoff"
)

// PurgeExcludedKinds are the node kinds that retention never deletes,
// whatever their age (the reference's PURGE_EXCLUDED_KINDS).
var PurgeExcludedKinds = []string{model.KindCheckout}

// Lifecycle is what the server-side node lifecycle (internal/lifecycle:
// timeouts, holdoffs, closing), compare-and-set node updates and node
// retention need from a backend.
//
// Every method must be served by an index: none may scan the node
// collection. The SQLite layout has (state, timeout), (state, holdoff),
// (state), (parent) and (created) indexes; MongoDB needs the same.
type Lifecycle interface {
	// LapsedNodes returns up to limit nodes whose state is state and
	// whose deadline field is set (not null) and strictly before `before`,
	// in ascending order of that field (ties in any stable order). It
	// must be served by a (state, field) index.
	LapsedNodes(ctx context.Context, state string, field Deadline, before time.Time, limit int) ([]*model.Node, error)

	// NodesInState returns up to limit nodes whose state is state and
	// whose id is greater than after (objectid.Nil: from the start), in
	// ascending id order, for paging through every node of a state.
	NodesInState(ctx context.Context, state string, after objectid.ID, limit int) ([]*model.Node, error)

	// HasPendingDescendant reports whether any node below id (its
	// children, their children, and so on) has a state other than done.
	// It must walk the tree through the parent index without scanning,
	// should stop at the first pending node it meets (breadth first is
	// best: pending nodes are usually near the top), and must terminate
	// on a parent cycle. An unknown id, or a node without children, has
	// none.
	HasPendingDescendant(ctx context.Context, id objectid.ID) (bool, error)

	// ReplaceNodeIf replaces the stored node n.ID with n, and appends evs,
	// atomically, provided the stored node still has state ifState and
	// updated ifUpdated (compare-and-set: the stored values must be
	// exactly those the caller read, at the backend's time precision).
	// When they differ nothing is written and the error is ErrConflict;
	// when the node is gone, ErrNotFound. Events are assigned like in
	// WriteNodes. Of several callers racing to replace the same version
	// of a node, exactly one succeeds.
	ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) error

	// PurgeNodes deletes up to limit nodes created strictly before
	// `before` whose kind is not in PurgeExcludedKinds, oldest first, in
	// one short write, and returns how many it deleted. Callers loop
	// until it returns less than limit. It appends no events.
	PurgeNodes(ctx context.Context, before time.Time, limit int) (int64, error)

	// CountPurgeable counts, by kind, the nodes PurgeNodes would delete
	// for the same `before` (kinds with none are left out).
	CountPurgeable(ctx context.Context, before time.Time) (map[string]int64, error)
}
