package redisbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Store decorates a store: key-value pairs and lists live in Redis, as
// the reference keeps them; everything else (events, subscriptions,
// nodes, users) passes through to the store. Its PopListWait is what
// pubsub.Options.Lists takes, so that pops wait in Redis (BLPOP).
type Store struct {
	store.Store
	bus *Bus
}

var _ pubsub.BlockingLists = (*Store)(nil)

// Wrap returns st with its key-value pairs and lists in Redis.
func (b *Bus) Wrap(st store.Store) *Store { return &Store{Store: st, bus: b} }

// KVKey is the Redis key of a key-value pair: "namespace:key", as the
// reference names it.
func KVKey(namespace, key string) string { return namespace + ":" + key }

// GetKV returns the value or store.ErrNotFound.
func (s *Store) GetKV(ctx context.Context, namespace, key string) (string, error) {
	v, err := s.bus.kv.Get(ctx, KVKey(namespace, key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", wrapErr("get "+KVKey(namespace, key), err)
	}
	return v, nil
}

// SetKV sets a value.
func (s *Store) SetKV(ctx context.Context, namespace, key, value string) error {
	if err := s.bus.kv.Set(ctx, KVKey(namespace, key), value, 0).Err(); err != nil {
		return wrapErr("set "+KVKey(namespace, key), err)
	}
	return nil
}

// DeleteKV deletes a pair; a missing one is not an error.
func (s *Store) DeleteKV(ctx context.Context, namespace, key string) error {
	if err := s.bus.kv.Del(ctx, KVKey(namespace, key)).Err(); err != nil {
		return wrapErr("del "+KVKey(namespace, key), err)
	}
	return nil
}

// wrapErr names the failed command; an error that says Redis cannot
// serve now (no connection, a timeout, a server loading its data or
// read-only) becomes a *store.UnavailableError.
func wrapErr(op string, err error) error {
	err = fmt.Errorf("redis: %s: %w", op, err)
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY"} {
			if strings.HasPrefix(re.Error(), p+" ") {
				return &store.UnavailableError{Backend: "redis", Err: err}
			}
		}
		return err // a reply to this command, as WRONGTYPE
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &store.UnavailableError{Backend: "redis", Err: err}
}

// PushList appends a CloudEvent to the tail of the list (RPUSH), written
// as the reference writes it (Python's json.dumps layout).
func (s *Store) PushList(ctx context.Context, name string, value []byte) error {
	item, err := pythonJSON(value)
	if err != nil {
		item = value // not JSON: stored as given
	}
	if err := s.bus.lists.RPush(ctx, name, item).Err(); err != nil {
		return wrapErr("rpush "+name, err)
	}
	return nil
}

// answer turns a list item into the /pop answer (compact JSON, as
// FastAPI answers the reference's pop). ok is false for an item that is
// JSON null (which the reference's pop consumes and skips) or not JSON
// at all (on which it fails; no server pushes one): it is dropped.
func (s *Store) answer(name, item string) ([]byte, bool) {
	out, err := compactJSON([]byte(item))
	if err != nil {
		s.bus.log.Warn("redis: dropped a list item that is not JSON", "list", name, "item", truncate(item, 200))
		return nil, false
	}
	if string(out) == "null" {
		return nil, false
	}
	return out, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// PopList removes and returns the head of the list (LPOP), or
// store.ErrNotFound when it is empty.
func (s *Store) PopList(ctx context.Context, name string) ([]byte, error) {
	for {
		item, err := s.bus.lists.LPop(ctx, name).Result()
		if errors.Is(err, redis.Nil) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, wrapErr("lpop "+name, err)
		}
		if out, ok := s.answer(name, item); ok {
			return out, nil
		}
	}
}

// PopListWait removes and returns the head of the list, waiting up to
// wait (whole seconds, at least one) for an item to be pushed (BLPOP):
// store.ErrNotFound when none came. The wait itself is not cut short by
// ctx, so that an item Redis hands out is never lost in a connection
// torn down half-way; if ctx has ended when it comes, the item goes back
// to the head of the list (LPUSH) and ctx's error is returned.
func (s *Store) PopListWait(ctx context.Context, name string, wait time.Duration) ([]byte, error) {
	wait = max(wait.Truncate(time.Second), time.Second)
	bctx := context.WithoutCancel(ctx)
	for {
		res, err := s.bus.lists.BLPop(bctx, wait, name).Result()
		if errors.Is(err, redis.Nil) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, wrapErr("blpop "+name, err)
		}
		if len(res) != 2 {
			return nil, fmt.Errorf("redis: blpop %s: unexpected reply of %d items", name, len(res))
		}
		if err := ctx.Err(); err != nil {
			if perr := s.bus.lists.LPush(bctx, name, res[1]).Err(); perr != nil {
				s.bus.log.Error("redis: could not put back an item popped for a client that went away; it is lost",
					"list", name, "err", perr)
			}
			return nil, err
		}
		if out, ok := s.answer(name, res[1]); ok {
			return out, nil
		}
	}
}
