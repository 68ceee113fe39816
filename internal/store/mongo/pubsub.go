package mongo

// store.EventLog and store.PubSub in MongoDB, so that any replica can
// serve any subscription and a restart loses nothing.
//
//	subscriber_state  the reference's documents: {subscriber_id, channel,
//	                  user, promiscuous, last_event_id, created_at,
//	                  last_poll}, unique on subscriber_id
//	subscription      ours: {_id: id, channel, user, promiscuous,
//	                  subscriber_id, cursor, created, last_poll}; ids come
//	                  from the "subscription.id" counter, never reused
//	list              ours: {list, seq, value} (seq from the "list.seq"
//	                  counter: first in, first out across replicas)
//	kv                ours: {_id: "namespace:key", value}, the key the
//	                  reference uses in Redis
//
// Times are BSON dates (milliseconds).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

const (
	colSubState     = "subscriber_state"
	colSubscription = "subscription"
	colList         = "list"
	colKV           = "kv"

	subscriptionCounter = "subscription.id"
	listCounter         = "list.seq"
)

// EventsAfter returns up to limit events of channel after a sequence id,
// never beyond the visibility horizon (visibility.go).
func (s *Store) EventsAfter(ctx context.Context, channel string, after int64, limit int) ([]*model.Event, error) {
	h, err := s.horizon(ctx)
	if err != nil {
		return nil, err
	}
	out := []*model.Event{}
	if h <= after {
		return out, nil
	}
	err = s.findRaw(ctx, s.events, bson.D{
		{Key: "channel", Value: bson.D{{Key: "$eq", Value: channel}}},
		{Key: "sequence_id", Value: bson.D{{Key: "$gt", Value: after}, {Key: "$lte", Value: h}}},
	}, bson.D{{Key: "sequence_id", Value: 1}}, 0, int64(max(limit, 0)), appendTo(&out, decodeEvent))
	return out, err
}

// DeleteEventsBefore deletes up to limit of the oldest events stored
// before t. The sequence counter is untouched.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return s.PurgeEvents(ctx, t)
	}
	return s.deleteFirst(ctx, colEvent, bson.D{{Key: "timestamp", Value: bson.D{{Key: "$lt", Value: dateOf(t)}}}},
		bson.D{{Key: "timestamp", Value: 1}, {Key: "sequence_id", Value: 1}}, int64(limit))
}

func optDate(t *time.Time) any {
	if t == nil {
		return nil
	}
	return dateOf(*t)
}

func rawOptTime(field string, rv bson.RawValue) (*time.Time, error) {
	if isNull(rv) || rv.Type == 0 {
		return nil, nil
	}
	t, err := rawTime(field, rv)
	return &t, err
}

// CreateSubscription stores sub with a new id. An id already taken (the
// counter is not atomic on some servers) is replaced by a fresh one, up
// to idAttempts times, and counted (store.Events.IDRetries).
func (s *Store) CreateSubscription(ctx context.Context, sub *store.Subscription) error {
	for attempt := 1; ; attempt++ {
		err := s.createSubscription(ctx, sub)
		if !errors.Is(err, store.ErrConflict) || attempt == idAttempts {
			return err
		}
		s.SubscriptionRetried()
		s.log.Warn("mongo: a subscription id the counter handed out was already taken (the server's findAndModify is not atomic?); retrying with a fresh one")
	}
}

// subscriptionDoc is the document of subscription id.
func subscriptionDoc(id int64, sub *store.Subscription) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "channel", Value: sub.Channel},
		{Key: "user", Value: sub.User},
		{Key: "promiscuous", Value: sub.Promiscuous},
		{Key: "subscriber_id", Value: sub.SubscriberID},
		{Key: "cursor", Value: sub.Cursor},
		{Key: "created", Value: dateOf(sub.Created)},
		{Key: "last_poll", Value: optDate(sub.LastPoll)},
	}
}

func (s *Store) createSubscription(ctx context.Context, sub *store.Subscription) error {
	id, err := s.increment(ctx, subscriptionCounter, 1)
	if err != nil {
		return err
	}
	cctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err = s.db.Collection(colSubscription).InsertOne(cctx, subscriptionDoc(id, sub))
	if err != nil {
		return mapErr("create subscription", err)
	}
	sub.ID = id
	return nil
}

func decodeSubscription(raw bson.Raw) (*store.Subscription, error) {
	var sub store.Subscription
	var err error
	get := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	get(func() (e error) { sub.ID, e = rawInt("_id", raw.Lookup("_id")); return })
	get(func() (e error) { sub.Channel, e = rawString("channel", raw.Lookup("channel")); return })
	get(func() (e error) { sub.User, e = rawString("user", raw.Lookup("user")); return })
	get(func() (e error) { sub.Promiscuous, e = rawBool("promiscuous", raw.Lookup("promiscuous")); return })
	get(func() (e error) {
		if v := raw.Lookup("subscriber_id"); !isNull(v) && v.Type != 0 {
			sub.SubscriberID, e = rawString("subscriber_id", v)
		}
		return
	})
	get(func() (e error) { sub.Cursor, e = rawInt("cursor", raw.Lookup("cursor")); return })
	get(func() (e error) { sub.Created, e = rawTime("created", raw.Lookup("created")); return })
	get(func() (e error) { sub.LastPoll, e = rawOptTime("last_poll", raw.Lookup("last_poll")); return })
	if err != nil {
		return nil, fmt.Errorf("decode subscription: %w", err)
	}
	return &sub, nil
}

// GetSubscription returns a subscription or store.ErrNotFound.
func (s *Store) GetSubscription(ctx context.Context, id int64) (*store.Subscription, error) {
	return findOne(ctx, s, s.db.Collection(colSubscription), "get subscription", bson.D{{Key: "_id", Value: id}}, decodeSubscription)
}

// casUpdate applies update to the document matching filter plus cond:
// ErrConflict when the document exists but does not match cond,
// ErrNotFound when it does not exist.
func (s *Store) casUpdate(ctx context.Context, col string, filter, cond, update bson.D) error {
	if s.ferret {
		s.casMu.Lock()
		defer s.casMu.Unlock()
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	c := s.db.Collection(col)
	res, err := c.UpdateOne(ctx, append(append(bson.D{}, filter...), cond...), update)
	if err != nil {
		return mapErr("update "+col, err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	if len(cond) == 0 {
		return store.ErrNotFound
	}
	n, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return mapErr("count "+col, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return store.ErrConflict
}

// AdvanceSubscription moves the cursor from `from` to `to`.
func (s *Store) AdvanceSubscription(ctx context.Context, id, from, to int64, poll time.Time) error {
	return s.casUpdate(ctx, colSubscription, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "cursor", Value: from}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cursor", Value: to}, {Key: "last_poll", Value: dateOf(poll)}}}})
}

// TouchSubscription records a poll.
func (s *Store) TouchSubscription(ctx context.Context, id int64, poll time.Time) error {
	return s.casUpdate(ctx, colSubscription, bson.D{{Key: "_id", Value: id}}, nil,
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_poll", Value: dateOf(poll)}}}})
}

// DeleteSubscription deletes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id int64) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(colSubscription).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mapErr("delete subscription", err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListSubscriptions returns every subscription in id order.
func (s *Store) ListSubscriptions(ctx context.Context) ([]*store.Subscription, error) {
	out := []*store.Subscription{}
	err := s.findRaw(ctx, s.db.Collection(colSubscription), bson.D{}, bson.D{{Key: "_id", Value: 1}}, 0, 0, appendTo(&out, decodeSubscription))
	return out, err
}

// CountSubscriptions counts user's subscriptions through the {user: 1}
// index (indexes.go).
func (s *Store) CountSubscriptions(ctx context.Context, user string) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	n, err := s.db.Collection(colSubscription).CountDocuments(ctx, bson.D{{Key: "user", Value: bson.D{{Key: "$eq", Value: user}}}})
	if err != nil {
		return 0, mapErr("count subscriptions", err)
	}
	return n, nil
}

// staleFilter matches documents last polled (or, never polled, created)
// before t.
func staleFilter(created string, t time.Time) bson.D {
	d := dateOf(t)
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "last_poll", Value: bson.D{{Key: "$lt", Value: d}}}},
		bson.D{{Key: "last_poll", Value: nil}, {Key: created, Value: bson.D{{Key: "$lt", Value: d}}}},
	}}}
}

func (s *Store) deleteMany(ctx context.Context, col string, filter bson.D) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.db.Collection(col).DeleteMany(ctx, filter)
	if err != nil {
		return 0, mapErr("delete from "+col, err)
	}
	return res.DeletedCount, nil
}

// deleteFirst deletes the first limit (0: all) documents of col that
// match filter in sort order.
func (s *Store) deleteFirst(ctx context.Context, col string, filter, sort bson.D, limit int64) (int64, error) {
	var ids bson.A
	err := s.findRaw(ctx, s.db.Collection(col), filter, sort, 0, limit, func(raw bson.Raw) error {
		ids = append(ids, raw.Lookup("_id"))
		return nil
	})
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return s.deleteMany(ctx, col, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
}

// ReapSubscriptions deletes the subscriptions idle since before t.
func (s *Store) ReapSubscriptions(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteMany(ctx, colSubscription, staleFilter("created", before))
}

func subStateFields(st *store.SubscriberState) bson.D {
	return bson.D{
		{Key: "subscriber_id", Value: st.SubscriberID},
		{Key: "channel", Value: st.Channel},
		{Key: "user", Value: st.User},
		{Key: "promiscuous", Value: st.Promiscuous},
		{Key: "last_event_id", Value: intValue(st.LastEventID)},
		{Key: "created_at", Value: dateOf(st.Created)},
		{Key: "last_poll", Value: optDate(st.LastPoll)},
	}
}

// GetSubscriberState returns a durable subscriber's state.
func (s *Store) GetSubscriberState(ctx context.Context, subscriberID string) (*store.SubscriberState, error) {
	return findOne(ctx, s, s.db.Collection(colSubState), "get subscriber state", bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$eq", Value: subscriberID}}}}, decodeSubscriberState)
}

// CreateSubscriberState inserts a state; a taken id is ErrConflict.
func (s *Store) CreateSubscriberState(ctx context.Context, st *store.SubscriberState) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(colSubState).InsertOne(ctx, subStateFields(st))
	return mapErr("create subscriber state", err)
}

// UpdateSubscriberState replaces a stored state's fields.
func (s *Store) UpdateSubscriberState(ctx context.Context, st *store.SubscriberState) error {
	return s.casUpdate(ctx, colSubState, bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$eq", Value: st.SubscriberID}}}}, nil,
		bson.D{{Key: "$set", Value: subStateFields(st)}})
}

// AckSubscriberState raises last_event_id to seq and records the poll.
func (s *Store) AckSubscriberState(ctx context.Context, subscriberID string, seq int64, poll time.Time) error {
	return s.casUpdate(ctx, colSubState, bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$eq", Value: subscriberID}}}}, nil,
		bson.D{{Key: "$max", Value: bson.D{{Key: "last_event_id", Value: seq}}}, {Key: "$set", Value: bson.D{{Key: "last_poll", Value: dateOf(poll)}}}})
}

// DeleteSubscriberState deletes a state.
func (s *Store) DeleteSubscriberState(ctx context.Context, subscriberID string) error {
	n, err := s.deleteMany(ctx, colSubState, bson.D{{Key: "subscriber_id", Value: bson.D{{Key: "$eq", Value: subscriberID}}}})
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// ReapSubscriberStates deletes the states idle since before t.
func (s *Store) ReapSubscriberStates(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteMany(ctx, colSubState, staleFilter("created_at", before))
}

// PushList appends value to the named list.
func (s *Store) PushList(ctx context.Context, name string, value []byte) error {
	seq, err := s.increment(ctx, listCounter, 1)
	if err != nil {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err = s.db.Collection(colList).InsertOne(ctx, bson.D{
		{Key: "list", Value: name}, {Key: "seq", Value: seq}, {Key: "value", Value: bson.Binary{Data: value}},
	})
	return mapErr("push list", err)
}

// PopList removes and returns the head of the named list.
func (s *Store) PopList(ctx context.Context, name string) ([]byte, error) {
	if s.ferret {
		// FerretDB 1.x: findAndModify is a find then a delete, so two
		// pops could take the same item.
		s.casMu.Lock()
		defer s.casMu.Unlock()
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := s.db.Collection(colList).FindOneAndDelete(ctx, bson.D{{Key: "list", Value: bson.D{{Key: "$eq", Value: name}}}},
		options.FindOneAndDelete().SetSort(bson.D{{Key: "seq", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, mapErr("pop list", err)
	}
	rv := raw.Lookup("value")
	if _, b, ok := rv.BinaryOK(); ok {
		return b, nil
	}
	if str, ok := rv.StringValueOK(); ok {
		return []byte(str), nil
	}
	return nil, fmt.Errorf("mongo: list item: %w", fieldErr("value", rv, "binary"))
}

func kvID(namespace, key string) string { return namespace + ":" + key }

// GetKV returns a value or ErrNotFound.
func (s *Store) GetKV(ctx context.Context, namespace, key string) (string, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := s.db.Collection(colKV).FindOne(ctx, bson.D{{Key: "_id", Value: kvID(namespace, key)}}).Raw()
	if err != nil {
		return "", mapErr("get kv", err)
	}
	return rawString("value", raw.Lookup("value"))
}

// SetKV sets a value.
func (s *Store) SetKV(ctx context.Context, namespace, key, value string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.db.Collection(colKV).ReplaceOne(ctx, bson.D{{Key: "_id", Value: kvID(namespace, key)}},
		bson.D{{Key: "_id", Value: kvID(namespace, key)}, {Key: "value", Value: value}}, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // a concurrent upsert won: write over it
		_, err = s.db.Collection(colKV).ReplaceOne(ctx, bson.D{{Key: "_id", Value: kvID(namespace, key)}},
			bson.D{{Key: "_id", Value: kvID(namespace, key)}, {Key: "value", Value: value}})
	}
	return mapErr("set kv", err)
}

// DeleteKV deletes a pair; a missing one is not an error.
func (s *Store) DeleteKV(ctx context.Context, namespace, key string) error {
	_, err := s.deleteMany(ctx, colKV, bson.D{{Key: "_id", Value: kvID(namespace, key)}})
	return err
}
