// Package pubsub is publish/subscribe over the event history: the store
// is the log and the only truth; this package only wakes the requests
// waiting on it (with a broker.Broker, internal/broker).
//
// Every event is announced by the store that commits it
// (store.Events.OnCommit): the Service registers itself there and hands
// a Notification per event to its Notifier, the Broker or a relay that
// also tells the other server processes (internal/redisbus). When the
// store is shared by several processes (MongoDB), the Service also polls
// the store, once per period for every channel that has waiters
// (poll.go): that bounds the delay of a wake-up that was never relayed
// (no Redis, Redis down, a message lost). docs/pubsub.md draws the path
// of an event from write to listener.
package pubsub

import "github.com/kernelci/kernelci-api-go/internal/broker"

// The Service's waking half lives in internal/broker; these names let
// the Service's callers build one with a single import.
type (
	Broker       = broker.Broker
	Notification = broker.Notification
	Notifier     = broker.Notifier
)

// NewBroker returns an empty broker (broker.New).
func NewBroker() *Broker { return broker.New() }
