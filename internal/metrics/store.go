package metrics

// The store decorator: the store methods that do the work are timed into
// kernelci_store_operation_duration_seconds; every other method of
// store.Store (Ping, Close, OnCommit, the Transfer walks, methods added
// later) passes through untimed by embedding. Events appended are
// counted into kernelci_events_appended_total from the store's OnCommit,
// so that whatever writes an event is counted.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// timedStore times a store.Store into m.
type timedStore struct {
	store.Store
	m *Metrics
}

// WrapStore returns st timed into m, and counts the events st commits
// and the ids it retries (kernelci_store_id_retries_total). A nil m
// returns st unchanged.
func WrapStore(st store.Store, m *Metrics) store.Store {
	if m == nil || st == nil {
		return st
	}
	st.OnCommit(func(_ context.Context, evs []*model.Event) { m.eventsAdded(len(evs)) })
	m.watchIDRetries(st)
	return &timedStore{Store: st, m: m}
}

// resultOf is the result label of a store operation.
func resultOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}

// Store, events and users (store.Store).

func (d *timedStore) GetNode(ctx context.Context, id objectid.ID) (r0 *model.Node, err error) {
	defer d.m.observeStore("GetNode", time.Now(), &err)
	return d.Store.GetNode(ctx, id)
}

func (d *timedStore) GetNodeJSON(ctx context.Context, id objectid.ID) (r0 []byte, err error) {
	defer d.m.observeStore("GetNodeJSON", time.Now(), &err)
	return d.Store.GetNodeJSON(ctx, id)
}

func (d *timedStore) FindNodes(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Node, err error) {
	defer d.m.observeStore("FindNodes", time.Now(), &err)
	return d.Store.FindNodes(ctx, f, p)
}

func (d *timedStore) FindNodesJSON(ctx context.Context, f query.Filter, p store.Page) (r0 []json.RawMessage, err error) {
	defer d.m.observeStore("FindNodesJSON", time.Now(), &err)
	return d.Store.FindNodesJSON(ctx, f, p)
}

func (d *timedStore) CountNodes(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountNodes", time.Now(), &err)
	return d.Store.CountNodes(ctx, f)
}

func (d *timedStore) WriteNodes(ctx context.Context, w store.NodeWrite) (err error) {
	defer d.m.observeStore("WriteNodes", time.Now(), &err)
	return d.Store.WriteNodes(ctx, w)
}

func (d *timedStore) AppendEvents(ctx context.Context, evs ...*model.Event) (err error) {
	defer d.m.observeStore("AppendEvents", time.Now(), &err)
	return d.Store.AppendEvents(ctx, evs...)
}

func (d *timedStore) FindEvents(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Event, err error) {
	defer d.m.observeStore("FindEvents", time.Now(), &err)
	return d.Store.FindEvents(ctx, f, p)
}

func (d *timedStore) LastSequence(ctx context.Context) (r0 int64, err error) {
	defer d.m.observeStore("LastSequence", time.Now(), &err)
	return d.Store.LastSequence(ctx)
}

func (d *timedStore) GetUser(ctx context.Context, id objectid.ID) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUser", time.Now(), &err)
	return d.Store.GetUser(ctx, id)
}

func (d *timedStore) GetUserByUsername(ctx context.Context, username string) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUserByUsername", time.Now(), &err)
	return d.Store.GetUserByUsername(ctx, username)
}

func (d *timedStore) GetUserByEmail(ctx context.Context, email string) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUserByEmail", time.Now(), &err)
	return d.Store.GetUserByEmail(ctx, email)
}

func (d *timedStore) FindUsers(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.User, err error) {
	defer d.m.observeStore("FindUsers", time.Now(), &err)
	return d.Store.FindUsers(ctx, f, p)
}

func (d *timedStore) CountUsers(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountUsers", time.Now(), &err)
	return d.Store.CountUsers(ctx, f)
}

func (d *timedStore) InsertUser(ctx context.Context, u *model.User) (err error) {
	defer d.m.observeStore("InsertUser", time.Now(), &err)
	return d.Store.InsertUser(ctx, u)
}

func (d *timedStore) UpdateUser(ctx context.Context, u *model.User) (err error) {
	defer d.m.observeStore("UpdateUser", time.Now(), &err)
	return d.Store.UpdateUser(ctx, u)
}

func (d *timedStore) DeleteUser(ctx context.Context, id objectid.ID) (err error) {
	defer d.m.observeStore("DeleteUser", time.Now(), &err)
	return d.Store.DeleteUser(ctx, id)
}

func (d *timedStore) GetGroup(ctx context.Context, id objectid.ID) (r0 *model.Group, err error) {
	defer d.m.observeStore("GetGroup", time.Now(), &err)
	return d.Store.GetGroup(ctx, id)
}

func (d *timedStore) GetGroupByName(ctx context.Context, name string) (r0 *model.Group, err error) {
	defer d.m.observeStore("GetGroupByName", time.Now(), &err)
	return d.Store.GetGroupByName(ctx, name)
}

func (d *timedStore) FindGroups(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Group, err error) {
	defer d.m.observeStore("FindGroups", time.Now(), &err)
	return d.Store.FindGroups(ctx, f, p)
}

func (d *timedStore) CountGroups(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountGroups", time.Now(), &err)
	return d.Store.CountGroups(ctx, f)
}

func (d *timedStore) InsertGroup(ctx context.Context, g *model.Group) (err error) {
	defer d.m.observeStore("InsertGroup", time.Now(), &err)
	return d.Store.InsertGroup(ctx, g)
}

func (d *timedStore) DeleteGroup(ctx context.Context, id objectid.ID) (err error) {
	defer d.m.observeStore("DeleteGroup", time.Now(), &err)
	return d.Store.DeleteGroup(ctx, id)
}

// Event log and pub/sub (store.Events, store.PubSub).

func (d *timedStore) EventsAfter(ctx context.Context, channel string, after int64, limit int) (r0 []*model.Event, err error) {
	defer d.m.observeStore("EventsAfter", time.Now(), &err)
	return d.Store.EventsAfter(ctx, channel, after, limit)
}

func (d *timedStore) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("DeleteEventsBefore", time.Now(), &err)
	return d.Store.DeleteEventsBefore(ctx, t, limit)
}

func (d *timedStore) CreateSubscription(ctx context.Context, s *store.Subscription) (err error) {
	defer d.m.observeStore("CreateSubscription", time.Now(), &err)
	return d.Store.CreateSubscription(ctx, s)
}

func (d *timedStore) GetSubscription(ctx context.Context, id int64) (r0 *store.Subscription, err error) {
	defer d.m.observeStore("GetSubscription", time.Now(), &err)
	return d.Store.GetSubscription(ctx, id)
}

func (d *timedStore) AdvanceSubscription(ctx context.Context, id, from, to int64, poll time.Time) (err error) {
	defer d.m.observeStore("AdvanceSubscription", time.Now(), &err)
	return d.Store.AdvanceSubscription(ctx, id, from, to, poll)
}

func (d *timedStore) TouchSubscription(ctx context.Context, id int64, poll time.Time) (err error) {
	defer d.m.observeStore("TouchSubscription", time.Now(), &err)
	return d.Store.TouchSubscription(ctx, id, poll)
}

func (d *timedStore) DeleteSubscription(ctx context.Context, id int64) (err error) {
	defer d.m.observeStore("DeleteSubscription", time.Now(), &err)
	return d.Store.DeleteSubscription(ctx, id)
}

func (d *timedStore) ListSubscriptions(ctx context.Context) (r0 []*store.Subscription, err error) {
	defer d.m.observeStore("ListSubscriptions", time.Now(), &err)
	return d.Store.ListSubscriptions(ctx)
}

func (d *timedStore) CountSubscriptions(ctx context.Context, user string) (r0 int64, err error) {
	defer d.m.observeStore("CountSubscriptions", time.Now(), &err)
	return d.Store.CountSubscriptions(ctx, user)
}

func (d *timedStore) ReapSubscriptions(ctx context.Context, before time.Time) (r0 int64, err error) {
	defer d.m.observeStore("ReapSubscriptions", time.Now(), &err)
	return d.Store.ReapSubscriptions(ctx, before)
}

func (d *timedStore) GetSubscriberState(ctx context.Context, subscriberID string) (r0 *store.SubscriberState, err error) {
	defer d.m.observeStore("GetSubscriberState", time.Now(), &err)
	return d.Store.GetSubscriberState(ctx, subscriberID)
}

func (d *timedStore) CreateSubscriberState(ctx context.Context, st *store.SubscriberState) (err error) {
	defer d.m.observeStore("CreateSubscriberState", time.Now(), &err)
	return d.Store.CreateSubscriberState(ctx, st)
}

func (d *timedStore) UpdateSubscriberState(ctx context.Context, st *store.SubscriberState) (err error) {
	defer d.m.observeStore("UpdateSubscriberState", time.Now(), &err)
	return d.Store.UpdateSubscriberState(ctx, st)
}

func (d *timedStore) AckSubscriberState(ctx context.Context, subscriberID string, seq int64, poll time.Time) (err error) {
	defer d.m.observeStore("AckSubscriberState", time.Now(), &err)
	return d.Store.AckSubscriberState(ctx, subscriberID, seq, poll)
}

func (d *timedStore) DeleteSubscriberState(ctx context.Context, subscriberID string) (err error) {
	defer d.m.observeStore("DeleteSubscriberState", time.Now(), &err)
	return d.Store.DeleteSubscriberState(ctx, subscriberID)
}

func (d *timedStore) ReapSubscriberStates(ctx context.Context, before time.Time) (r0 int64, err error) {
	defer d.m.observeStore("ReapSubscriberStates", time.Now(), &err)
	return d.Store.ReapSubscriberStates(ctx, before)
}

func (d *timedStore) PushList(ctx context.Context, name string, value []byte) (err error) {
	defer d.m.observeStore("PushList", time.Now(), &err)
	return d.Store.PushList(ctx, name, value)
}

func (d *timedStore) PopList(ctx context.Context, name string) (r0 []byte, err error) {
	defer d.m.observeStore("PopList", time.Now(), &err)
	return d.Store.PopList(ctx, name)
}

func (d *timedStore) GetKV(ctx context.Context, namespace, key string) (r0 string, err error) {
	defer d.m.observeStore("GetKV", time.Now(), &err)
	return d.Store.GetKV(ctx, namespace, key)
}

func (d *timedStore) SetKV(ctx context.Context, namespace, key, value string) (err error) {
	defer d.m.observeStore("SetKV", time.Now(), &err)
	return d.Store.SetKV(ctx, namespace, key, value)
}

func (d *timedStore) DeleteKV(ctx context.Context, namespace, key string) (err error) {
	defer d.m.observeStore("DeleteKV", time.Now(), &err)
	return d.Store.DeleteKV(ctx, namespace, key)
}

// Telemetry (store.Telemetry).

func (d *timedStore) InsertTelemetry(ctx context.Context, evs []*model.TelemetryEvent) (err error) {
	defer d.m.observeStore("InsertTelemetry", time.Now(), &err)
	return d.Store.InsertTelemetry(ctx, evs)
}

func (d *timedStore) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.TelemetryEvent, err error) {
	defer d.m.observeStore("FindTelemetry", time.Now(), &err)
	return d.Store.FindTelemetry(ctx, f, p)
}

func (d *timedStore) CountTelemetry(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountTelemetry", time.Now(), &err)
	return d.Store.CountTelemetry(ctx, f)
}

func (d *timedStore) GroupTelemetry(ctx context.Context, f query.Filter, by []string) (r0 []store.TelemetryGroup, err error) {
	defer d.m.observeStore("GroupTelemetry", time.Now(), &err)
	return d.Store.GroupTelemetry(ctx, f, by)
}

func (d *timedStore) DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("DeleteTelemetryBefore", time.Now(), &err)
	return d.Store.DeleteTelemetryBefore(ctx, t, limit)
}

// Node lifecycle and retention (store.Lifecycle).

func (d *timedStore) LapsedNodes(ctx context.Context, state string, field store.Deadline, before time.Time, limit int) (r0 []*model.Node, err error) {
	defer d.m.observeStore("LapsedNodes", time.Now(), &err)
	return d.Store.LapsedNodes(ctx, state, field, before, limit)
}

func (d *timedStore) NodesInState(ctx context.Context, state string, after objectid.ID, limit int) (r0 []*model.Node, err error) {
	defer d.m.observeStore("NodesInState", time.Now(), &err)
	return d.Store.NodesInState(ctx, state, after, limit)
}

func (d *timedStore) HasPendingDescendant(ctx context.Context, id objectid.ID) (r0 bool, err error) {
	defer d.m.observeStore("HasPendingDescendant", time.Now(), &err)
	return d.Store.HasPendingDescendant(ctx, id)
}

func (d *timedStore) ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) (err error) {
	defer d.m.observeStore("ReplaceNodeIf", time.Now(), &err)
	return d.Store.ReplaceNodeIf(ctx, n, ifState, ifUpdated, evs...)
}

func (d *timedStore) PurgeNodes(ctx context.Context, before time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("PurgeNodes", time.Now(), &err)
	return d.Store.PurgeNodes(ctx, before, limit)
}

func (d *timedStore) CountPurgeable(ctx context.Context, before time.Time) (r0 map[string]int64, err error) {
	defer d.m.observeStore("CountPurgeable", time.Now(), &err)
	return d.Store.CountPurgeable(ctx, before)
}

// watchIDRetries adds st to the stores whose id retries
// kernelci_store_id_retries_total sums at each scrape (one in a server;
// a test may wrap several stores into one registry).
func (m *Metrics) watchIDRetries(st store.Store) {
	m.idMu.Lock()
	defer m.idMu.Unlock()
	m.idStores = append(m.idStores, st)
	if len(m.idStores) > 1 {
		return
	}
	sum := func(get func(store.IDRetries) int64) func() float64 {
		return func() float64 {
			m.idMu.Lock()
			defer m.idMu.Unlock()
			var n int64
			for _, st := range m.idStores {
				n += get(st.IDRetries())
			}
			return float64(n)
		}
	}
	for _, c := range []struct {
		label string
		get   func(store.IDRetries) int64
	}{
		{"sequence_id", func(r store.IDRetries) int64 { return r.Sequence }},
		{"subscription_id", func(r store.IDRetries) int64 { return r.Subscription }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "kernelci_store_id_retries_total",
			Help:        "Writes of this process that found a counter-allocated id (an event's sequence_id, a subscription id) already taken and retried with a fresh one: the store's counter is not atomic (docs/pubsub.md).",
			ConstLabels: prometheus.Labels{"counter": c.label},
		}, sum(c.get)))
	}
}
