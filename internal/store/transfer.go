package store

import (
	"context"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// Collection names used by Transfer (the MongoDB names, which the JSON
// Lines of "kernelci-api export" use too).
const (
	CollNode            = "node"
	CollUser            = "user"
	CollGroup           = "usergroup"
	CollEvent           = "eventhistory"
	CollTelemetry       = "telemetry"
	CollSubscriberState = "subscriber_state"
	CollSubscription    = "subscription"
	CollKV              = "kv"
	CollList            = "list"
	CollAPIToken        = "api_token"
)

// TransferCollections lists every collection Transfer moves, in the
// order export writes them.
var TransferCollections = []string{
	CollGroup, CollUser, CollNode, CollEvent, CollTelemetry,
	CollSubscriberState, CollSubscription, CollKV, CollList, CollAPIToken,
}

// Transfer is the raw access that moving a whole store to another backend
// needs (kernelci-api export and import, internal/transfer): reading every record of a collection in a
// stable order, writing events and subscriptions with the ids they have,
// raising the sequence counter, and emptying the store.
//
// The Each methods read in batches (a query per batch, resuming after the
// last key), so that no cursor or read transaction stays open for the
// whole collection; records written during the walk may or may not be
// seen. They stop at the first error fn returns and return it.
type Transfer interface {
	// Counts returns the number of records of each collection of
	// TransferCollections (it may be an estimate on a live store).
	Counts(ctx context.Context) (map[string]int64, error)

	// EachGroup calls fn for every group, in id order.
	EachGroup(ctx context.Context, fn func(*model.Group) error) error
	// EachUser calls fn for every user (HashedPassword included), in id
	// order.
	EachUser(ctx context.Context, fn func(*model.User) error) error
	// EachNode calls fn for every node, in id order.
	EachNode(ctx context.Context, fn func(*model.Node) error) error
	// EachEvent calls fn for every event of the history: those with a
	// sequence_id in ascending sequence order, then (MongoDB only) those
	// written without one by old versions of the reference, with
	// SequenceID 0, in id order.
	EachEvent(ctx context.Context, fn func(*model.Event) error) error
	// EachTelemetry calls fn for every telemetry event, in id order.
	EachTelemetry(ctx context.Context, fn func(*model.TelemetryEvent) error) error
	// EachSubscriberState calls fn for every durable subscriber state, in
	// subscriber id order.
	EachSubscriberState(ctx context.Context, fn func(*SubscriberState) error) error
	// EachKV calls fn for every key-value pair, in (namespace, key) order.
	EachKV(ctx context.Context, fn func(namespace, key, value string) error) error
	// EachListItem calls fn for every item of every list: list by list in
	// name order, each from head to tail.
	EachListItem(ctx context.Context, fn func(list string, value []byte) error) error
	// (Subscriptions are few: ListSubscriptions reads them all.)

	// ImportEvents stores events exactly as given: id, timestamp and
	// SequenceID (which must be > 0 and not stored yet, else the whole
	// call fails, ErrConflict for a taken id or sequence). All or none.
	// The sequence counter is raised so that LastSequence is at least the
	// highest SequenceID imported.
	ImportEvents(ctx context.Context, evs []*model.Event) error
	// ImportSubscription stores sub keeping its ID (> 0; ErrConflict if
	// taken); later CreateSubscription ids are above it.
	ImportSubscription(ctx context.Context, sub *Subscription) error
	// RaiseSequence makes LastSequence at least seq (it never lowers it).
	RaiseSequence(ctx context.Context, seq int64) error
	// Clear deletes every record of every collection of
	// TransferCollections (and nothing else: schema, indexes, migration
	// records stay). Counters never go back: LastSequence and the
	// subscription ids continue from where they were.
	Clear(ctx context.Context) error
}
