package pubsub

import (
	"context"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// NotifyingStore decorates a store: after every successful write that
// appends events (WriteNodes, AppendEvents) or pushes on a list, it tells
// the Notifier, so that the HTTP handlers need not know about pub/sub.
// Everything else passes through.
type NotifyingStore struct {
	store.PubSubStore
	n Notifier
}

// NewNotifyingStore wraps st.
func NewNotifyingStore(st store.PubSubStore, n Notifier) *NotifyingStore {
	return &NotifyingStore{PubSubStore: st, n: n}
}

// Unwrap returns the decorated store, for type assertions on backend
// features this decorator does not forward.
func (s *NotifyingStore) Unwrap() store.PubSubStore { return s.PubSubStore }

func (s *NotifyingStore) notifyEvents(ctx context.Context, evs []*model.Event) {
	if len(evs) == 0 {
		return
	}
	ns := make([]Notification, 0, len(evs))
	for _, ev := range evs {
		ns = append(ns, Notification{Channel: ev.Channel, Seq: ev.SequenceID, Owner: ownerOf(ev)})
	}
	// The write is committed: the wake-ups must go out even if the
	// request that made it is being cancelled.
	s.n.Notify(context.WithoutCancel(ctx), ns...)
}

// WriteNodes writes and then notifies the events' channels.
func (s *NotifyingStore) WriteNodes(ctx context.Context, w store.NodeWrite) error {
	if err := s.PubSubStore.WriteNodes(ctx, w); err != nil {
		return err
	}
	s.notifyEvents(ctx, w.Events)
	return nil
}

// AppendEvents appends and then notifies the events' channels.
func (s *NotifyingStore) AppendEvents(ctx context.Context, evs ...*model.Event) error {
	if err := s.PubSubStore.AppendEvents(ctx, evs...); err != nil {
		return err
	}
	s.notifyEvents(ctx, evs)
	return nil
}

// PushList pushes and then wakes the list's poppers.
func (s *NotifyingStore) PushList(ctx context.Context, name string, value []byte) error {
	if err := s.PubSubStore.PushList(ctx, name, value); err != nil {
		return err
	}
	s.n.Notify(context.WithoutCancel(ctx), Notification{List: name})
	return nil
}
