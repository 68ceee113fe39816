package store

import (
	"context"
	"time"
)

// Subscription is a pub/sub subscription: a cursor into the event history
// of one channel, owned by one user. It lives in the store so that any
// server process can serve it and it survives restarts.
type Subscription struct {
	ID          int64 // assigned by CreateSubscription, never reused
	Channel     string
	User        string // username of the owner
	Promiscuous bool   // receives every event, whatever its owner
	// SubscriberID names the durable subscriber state the subscription
	// acknowledges into; "" for an ordinary subscription.
	SubscriberID string
	// Cursor is the sequence_id of the last event handed to the client
	// (or passed over as not visible to it); 0 before any.
	Cursor   int64
	Created  time.Time
	LastPoll *time.Time // nil until the first listen
}

// SubscriberState is the durable position of a named subscriber
// (collection "subscriber_state"), as the reference keeps it.
type SubscriberState struct {
	SubscriberID string
	Channel      string
	User         string
	Promiscuous  bool
	LastEventID  int64 // last acknowledged sequence_id
	Created      time.Time
	LastPoll     *time.Time
}

// PubSub stores subscriptions, durable subscriber states, lists and
// key-value pairs. Times are stored with microsecond precision.
type PubSub interface {
	// CreateSubscription stores s and sets s.ID to a new id, greater
	// than every id ever assigned (ids are never reused).
	CreateSubscription(ctx context.Context, s *Subscription) error
	GetSubscription(ctx context.Context, id int64) (*Subscription, error)
	// AdvanceSubscription moves the cursor from `from` to `to` and sets
	// last_poll, atomically: ErrConflict if the cursor is no longer
	// `from` (another listen moved it), ErrNotFound if the subscription
	// is gone.
	AdvanceSubscription(ctx context.Context, id, from, to int64, poll time.Time) error
	// TouchSubscription sets last_poll (ErrNotFound if gone).
	TouchSubscription(ctx context.Context, id int64, poll time.Time) error
	DeleteSubscription(ctx context.Context, id int64) error
	// ListSubscriptions returns every subscription in id order.
	ListSubscriptions(ctx context.Context) ([]*Subscription, error)
	// CountSubscriptions returns how many subscriptions user holds,
	// read through an index on the user: its cost grows with that
	// user's subscriptions, not with everyone's (the POST /subscribe
	// cap).
	CountSubscriptions(ctx context.Context, user string) (int64, error)
	// ReapSubscriptions deletes the subscriptions whose last poll (or
	// creation, if never polled) is before t.
	ReapSubscriptions(ctx context.Context, before time.Time) (int64, error)

	GetSubscriberState(ctx context.Context, subscriberID string) (*SubscriberState, error)
	// CreateSubscriberState inserts st (ErrConflict if the id exists).
	CreateSubscriberState(ctx context.Context, st *SubscriberState) error
	// UpdateSubscriberState replaces the stored state (ErrNotFound if
	// missing).
	UpdateSubscriberState(ctx context.Context, st *SubscriberState) error
	// AckSubscriberState raises last_event_id to seq (never lowers it)
	// and sets last_poll (ErrNotFound if missing).
	AckSubscriberState(ctx context.Context, subscriberID string, seq int64, poll time.Time) error
	DeleteSubscriberState(ctx context.Context, subscriberID string) error
	// ReapSubscriberStates deletes the states whose last poll (or
	// creation, if never polled) is before t.
	ReapSubscriberStates(ctx context.Context, before time.Time) (int64, error)

	// PushList appends value to the tail of the named list.
	PushList(ctx context.Context, name string, value []byte) error
	// PopList removes and returns the head of the named list, each item
	// to exactly one caller; ErrNotFound when the list is empty.
	PopList(ctx context.Context, name string) ([]byte, error)

	// GetKV returns the value or ErrNotFound.
	GetKV(ctx context.Context, namespace, key string) (string, error)
	SetKV(ctx context.Context, namespace, key, value string) error
	// DeleteKV deletes the pair; deleting a missing key is not an error.
	DeleteKV(ctx context.Context, namespace, key string) error
}
