package metrics

// The store decorator: every store method timed into
// kernelci_store_operation_duration_seconds, and the events appended
// counted into kernelci_events_appended_total. The optional interfaces of
// the backend (store.PubSubStore, store.Telemetry, store.Lifecycle) stay
// visible: WrapStore returns a value that implements exactly those the
// backend implements, each one timed too, and Unwrap gives the backend
// for any other (store.As looks through it).
//
// The methods below are one line of timing each; they were written by a
// generator from the interfaces of internal/store, and a test checks that
// the decorator still implements every interface the backend does.

import (
	"context"
	"errors"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Store times a store.Store. Use WrapStore, which adds the optional
// interfaces of the backend.
type Store struct {
	st store.Store
	m  *Metrics
}

// The optional parts, each over the same backend and metrics.
type (
	pubsubOps struct {
		st store.PubSubStore
		m  *Metrics
	}
	telemetryOps struct {
		st store.Telemetry
		m  *Metrics
	}
	lifecycleOps struct {
		st store.Lifecycle
		m  *Metrics
	}
)

// The combinations of optional interfaces a backend may have.
type (
	storeP struct {
		*Store
		*pubsubOps
	}
	storeT struct {
		*Store
		*telemetryOps
	}
	storeL struct {
		*Store
		*lifecycleOps
	}
	storePT struct {
		*Store
		*pubsubOps
		*telemetryOps
	}
	storePL struct {
		*Store
		*pubsubOps
		*lifecycleOps
	}
	storeTL struct {
		*Store
		*telemetryOps
		*lifecycleOps
	}
	storePTL struct {
		*Store
		*pubsubOps
		*telemetryOps
		*lifecycleOps
	}
)

var (
	_ store.PubSubStore    = storeP{}
	_ store.Telemetry      = storeT{}
	_ store.LifecycleStore = storeL{}
	_ store.PubSubStore    = storePT{}
	_ store.Telemetry      = storePT{}
	_ store.PubSubStore    = storePL{}
	_ store.LifecycleStore = storePL{}
	_ store.Telemetry      = storeTL{}
	_ store.LifecycleStore = storeTL{}
	_ store.PubSubStore    = storePTL{}
	_ store.Telemetry      = storePTL{}
	_ store.LifecycleStore = storePTL{}
	_ store.Pinger         = (*Store)(nil)
)

// WrapStore returns st timed into m. The result implements
// store.PubSubStore and store.Lifecycle exactly when st does,
// store.Telemetry when store.TelemetryOf finds one (on st or through its
// Unwrap chain), and store.Pinger always (forwarding to the backend's,
// else a cheap read). A nil m returns st unchanged.
func WrapStore(st store.Store, m *Metrics) store.Store {
	if m == nil || st == nil {
		return st
	}
	base := &Store{st: st, m: m}
	var (
		p *pubsubOps
		t *telemetryOps
		l *lifecycleOps
	)
	if ps, ok := st.(store.PubSubStore); ok {
		p = &pubsubOps{st: ps, m: m}
	}
	if ts, ok := store.As[store.Telemetry](st); ok {
		t = &telemetryOps{st: ts, m: m}
	}
	if ls, ok := st.(store.Lifecycle); ok {
		l = &lifecycleOps{st: ls, m: m}
	}
	switch {
	case p != nil && t != nil && l != nil:
		return storePTL{base, p, t, l}
	case p != nil && t != nil:
		return storePT{base, p, t}
	case p != nil && l != nil:
		return storePL{base, p, l}
	case t != nil && l != nil:
		return storeTL{base, t, l}
	case p != nil:
		return storeP{base, p}
	case t != nil:
		return storeT{base, t}
	case l != nil:
		return storeL{base, l}
	}
	return base
}

// Unwrap returns the decorated store.
func (d *Store) Unwrap() store.Store { return d.st }

// Over a pub/sub backend, Unwrap returns a store.PubSubStore, the form
// pubsub.Service and the other pub/sub decorators look through to find
// the backend's optional interfaces (pubsub.HeadReader,
// pubsub.BlockingLists); store.As and store.TelemetryOf follow both.
func (d storeP) Unwrap() store.PubSubStore   { return d.pubsubOps.st }
func (d storePT) Unwrap() store.PubSubStore  { return d.pubsubOps.st }
func (d storePL) Unwrap() store.PubSubStore  { return d.pubsubOps.st }
func (d storePTL) Unwrap() store.PubSubStore { return d.pubsubOps.st }

// Ping forwards to the backend's store.Pinger (else a cheap read),
// untimed: probes would swamp the timings of real work.
func (d *Store) Ping(ctx context.Context) error { return store.Ping(ctx, d.st) }

// Close closes the backend.
func (d *Store) Close() error { return d.st.Close() }

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

// countEvents counts n events appended once the write succeeded.
func (m *Metrics) countEvents(n int, err *error) {
	if *err == nil {
		m.eventsAdded(n)
	}
}

// Store, events and users (store.Store).

func (d *Store) GetNode(ctx context.Context, id objectid.ID) (r0 *model.Node, err error) {
	defer d.m.observeStore("GetNode", time.Now(), &err)
	return d.st.GetNode(ctx, id)
}

func (d *Store) FindNodes(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Node, err error) {
	defer d.m.observeStore("FindNodes", time.Now(), &err)
	return d.st.FindNodes(ctx, f, p)
}

func (d *Store) CountNodes(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountNodes", time.Now(), &err)
	return d.st.CountNodes(ctx, f)
}

func (d *Store) WriteNodes(ctx context.Context, w store.NodeWrite) (err error) {
	defer d.m.observeStore("WriteNodes", time.Now(), &err)
	defer d.m.countEvents(len(w.Events), &err)
	return d.st.WriteNodes(ctx, w)
}

func (d *Store) AppendEvents(ctx context.Context, evs ...*model.Event) (err error) {
	defer d.m.observeStore("AppendEvents", time.Now(), &err)
	defer d.m.countEvents(len(evs), &err)
	return d.st.AppendEvents(ctx, evs...)
}

func (d *Store) FindEvents(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Event, err error) {
	defer d.m.observeStore("FindEvents", time.Now(), &err)
	return d.st.FindEvents(ctx, f, p)
}

func (d *Store) LastSequence(ctx context.Context) (r0 int64, err error) {
	defer d.m.observeStore("LastSequence", time.Now(), &err)
	return d.st.LastSequence(ctx)
}

func (d *Store) GetUser(ctx context.Context, id objectid.ID) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUser", time.Now(), &err)
	return d.st.GetUser(ctx, id)
}

func (d *Store) GetUserByUsername(ctx context.Context, username string) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUserByUsername", time.Now(), &err)
	return d.st.GetUserByUsername(ctx, username)
}

func (d *Store) GetUserByEmail(ctx context.Context, email string) (r0 *model.User, err error) {
	defer d.m.observeStore("GetUserByEmail", time.Now(), &err)
	return d.st.GetUserByEmail(ctx, email)
}

func (d *Store) FindUsers(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.User, err error) {
	defer d.m.observeStore("FindUsers", time.Now(), &err)
	return d.st.FindUsers(ctx, f, p)
}

func (d *Store) CountUsers(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountUsers", time.Now(), &err)
	return d.st.CountUsers(ctx, f)
}

func (d *Store) InsertUser(ctx context.Context, u *model.User) (err error) {
	defer d.m.observeStore("InsertUser", time.Now(), &err)
	return d.st.InsertUser(ctx, u)
}

func (d *Store) UpdateUser(ctx context.Context, u *model.User) (err error) {
	defer d.m.observeStore("UpdateUser", time.Now(), &err)
	return d.st.UpdateUser(ctx, u)
}

func (d *Store) DeleteUser(ctx context.Context, id objectid.ID) (err error) {
	defer d.m.observeStore("DeleteUser", time.Now(), &err)
	return d.st.DeleteUser(ctx, id)
}

func (d *Store) GetGroup(ctx context.Context, id objectid.ID) (r0 *model.Group, err error) {
	defer d.m.observeStore("GetGroup", time.Now(), &err)
	return d.st.GetGroup(ctx, id)
}

func (d *Store) GetGroupByName(ctx context.Context, name string) (r0 *model.Group, err error) {
	defer d.m.observeStore("GetGroupByName", time.Now(), &err)
	return d.st.GetGroupByName(ctx, name)
}

func (d *Store) FindGroups(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.Group, err error) {
	defer d.m.observeStore("FindGroups", time.Now(), &err)
	return d.st.FindGroups(ctx, f, p)
}

func (d *Store) CountGroups(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountGroups", time.Now(), &err)
	return d.st.CountGroups(ctx, f)
}

func (d *Store) InsertGroup(ctx context.Context, g *model.Group) (err error) {
	defer d.m.observeStore("InsertGroup", time.Now(), &err)
	return d.st.InsertGroup(ctx, g)
}

func (d *Store) DeleteGroup(ctx context.Context, id objectid.ID) (err error) {
	defer d.m.observeStore("DeleteGroup", time.Now(), &err)
	return d.st.DeleteGroup(ctx, id)
}

// Pub/sub (store.EventLog, store.PubSub).

func (d *pubsubOps) EventsAfter(ctx context.Context, channel string, after int64, limit int) (r0 []*model.Event, err error) {
	defer d.m.observeStore("EventsAfter", time.Now(), &err)
	return d.st.EventsAfter(ctx, channel, after, limit)
}

func (d *pubsubOps) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("DeleteEventsBefore", time.Now(), &err)
	return d.st.DeleteEventsBefore(ctx, t, limit)
}

func (d *pubsubOps) CreateSubscription(ctx context.Context, s *store.Subscription) (err error) {
	defer d.m.observeStore("CreateSubscription", time.Now(), &err)
	return d.st.CreateSubscription(ctx, s)
}

func (d *pubsubOps) GetSubscription(ctx context.Context, id int64) (r0 *store.Subscription, err error) {
	defer d.m.observeStore("GetSubscription", time.Now(), &err)
	return d.st.GetSubscription(ctx, id)
}

func (d *pubsubOps) AdvanceSubscription(ctx context.Context, id, from, to int64, poll time.Time) (err error) {
	defer d.m.observeStore("AdvanceSubscription", time.Now(), &err)
	return d.st.AdvanceSubscription(ctx, id, from, to, poll)
}

func (d *pubsubOps) TouchSubscription(ctx context.Context, id int64, poll time.Time) (err error) {
	defer d.m.observeStore("TouchSubscription", time.Now(), &err)
	return d.st.TouchSubscription(ctx, id, poll)
}

func (d *pubsubOps) DeleteSubscription(ctx context.Context, id int64) (err error) {
	defer d.m.observeStore("DeleteSubscription", time.Now(), &err)
	return d.st.DeleteSubscription(ctx, id)
}

func (d *pubsubOps) ListSubscriptions(ctx context.Context) (r0 []*store.Subscription, err error) {
	defer d.m.observeStore("ListSubscriptions", time.Now(), &err)
	return d.st.ListSubscriptions(ctx)
}

func (d *pubsubOps) ReapSubscriptions(ctx context.Context, before time.Time) (r0 int64, err error) {
	defer d.m.observeStore("ReapSubscriptions", time.Now(), &err)
	return d.st.ReapSubscriptions(ctx, before)
}

func (d *pubsubOps) GetSubscriberState(ctx context.Context, subscriberID string) (r0 *store.SubscriberState, err error) {
	defer d.m.observeStore("GetSubscriberState", time.Now(), &err)
	return d.st.GetSubscriberState(ctx, subscriberID)
}

func (d *pubsubOps) CreateSubscriberState(ctx context.Context, st *store.SubscriberState) (err error) {
	defer d.m.observeStore("CreateSubscriberState", time.Now(), &err)
	return d.st.CreateSubscriberState(ctx, st)
}

func (d *pubsubOps) UpdateSubscriberState(ctx context.Context, st *store.SubscriberState) (err error) {
	defer d.m.observeStore("UpdateSubscriberState", time.Now(), &err)
	return d.st.UpdateSubscriberState(ctx, st)
}

func (d *pubsubOps) AckSubscriberState(ctx context.Context, subscriberID string, seq int64, poll time.Time) (err error) {
	defer d.m.observeStore("AckSubscriberState", time.Now(), &err)
	return d.st.AckSubscriberState(ctx, subscriberID, seq, poll)
}

func (d *pubsubOps) DeleteSubscriberState(ctx context.Context, subscriberID string) (err error) {
	defer d.m.observeStore("DeleteSubscriberState", time.Now(), &err)
	return d.st.DeleteSubscriberState(ctx, subscriberID)
}

func (d *pubsubOps) ReapSubscriberStates(ctx context.Context, before time.Time) (r0 int64, err error) {
	defer d.m.observeStore("ReapSubscriberStates", time.Now(), &err)
	return d.st.ReapSubscriberStates(ctx, before)
}

func (d *pubsubOps) PushList(ctx context.Context, name string, value []byte) (err error) {
	defer d.m.observeStore("PushList", time.Now(), &err)
	return d.st.PushList(ctx, name, value)
}

func (d *pubsubOps) PopList(ctx context.Context, name string) (r0 []byte, err error) {
	defer d.m.observeStore("PopList", time.Now(), &err)
	return d.st.PopList(ctx, name)
}

func (d *pubsubOps) GetKV(ctx context.Context, namespace, key string) (r0 string, err error) {
	defer d.m.observeStore("GetKV", time.Now(), &err)
	return d.st.GetKV(ctx, namespace, key)
}

func (d *pubsubOps) SetKV(ctx context.Context, namespace, key, value string) (err error) {
	defer d.m.observeStore("SetKV", time.Now(), &err)
	return d.st.SetKV(ctx, namespace, key, value)
}

func (d *pubsubOps) DeleteKV(ctx context.Context, namespace, key string) (err error) {
	defer d.m.observeStore("DeleteKV", time.Now(), &err)
	return d.st.DeleteKV(ctx, namespace, key)
}

// Telemetry (store.Telemetry).

func (d *telemetryOps) InsertTelemetry(ctx context.Context, evs []*model.TelemetryEvent) (err error) {
	defer d.m.observeStore("InsertTelemetry", time.Now(), &err)
	return d.st.InsertTelemetry(ctx, evs)
}

func (d *telemetryOps) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) (r0 []*model.TelemetryEvent, err error) {
	defer d.m.observeStore("FindTelemetry", time.Now(), &err)
	return d.st.FindTelemetry(ctx, f, p)
}

func (d *telemetryOps) CountTelemetry(ctx context.Context, f query.Filter) (r0 int64, err error) {
	defer d.m.observeStore("CountTelemetry", time.Now(), &err)
	return d.st.CountTelemetry(ctx, f)
}

func (d *telemetryOps) GroupTelemetry(ctx context.Context, f query.Filter, by []string) (r0 []store.TelemetryGroup, err error) {
	defer d.m.observeStore("GroupTelemetry", time.Now(), &err)
	return d.st.GroupTelemetry(ctx, f, by)
}

func (d *telemetryOps) DeleteTelemetryBefore(ctx context.Context, t time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("DeleteTelemetryBefore", time.Now(), &err)
	return d.st.DeleteTelemetryBefore(ctx, t, limit)
}

// Node lifecycle and retention (store.Lifecycle).

func (d *lifecycleOps) LapsedNodes(ctx context.Context, state string, field store.Deadline, before time.Time, limit int) (r0 []*model.Node, err error) {
	defer d.m.observeStore("LapsedNodes", time.Now(), &err)
	return d.st.LapsedNodes(ctx, state, field, before, limit)
}

func (d *lifecycleOps) NodesInState(ctx context.Context, state string, after objectid.ID, limit int) (r0 []*model.Node, err error) {
	defer d.m.observeStore("NodesInState", time.Now(), &err)
	return d.st.NodesInState(ctx, state, after, limit)
}

func (d *lifecycleOps) HasPendingDescendant(ctx context.Context, id objectid.ID) (r0 bool, err error) {
	defer d.m.observeStore("HasPendingDescendant", time.Now(), &err)
	return d.st.HasPendingDescendant(ctx, id)
}

func (d *lifecycleOps) ReplaceNodeIf(ctx context.Context, n *model.Node, ifState string, ifUpdated time.Time, evs ...*model.Event) (err error) {
	defer d.m.observeStore("ReplaceNodeIf", time.Now(), &err)
	defer d.m.countEvents(len(evs), &err)
	return d.st.ReplaceNodeIf(ctx, n, ifState, ifUpdated, evs...)
}

func (d *lifecycleOps) PurgeNodes(ctx context.Context, before time.Time, limit int) (r0 int64, err error) {
	defer d.m.observeStore("PurgeNodes", time.Now(), &err)
	return d.st.PurgeNodes(ctx, before, limit)
}

func (d *lifecycleOps) CountPurgeable(ctx context.Context, before time.Time) (r0 map[string]int64, err error) {
	defer d.m.observeStore("CountPurgeable", time.Now(), &err)
	return d.st.CountPurgeable(ctx, before)
}
