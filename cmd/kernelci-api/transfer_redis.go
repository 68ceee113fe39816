package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/redisbus"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// redisTransfer is a store whose key-value pairs and lists are in Redis,
// as the server keeps them when REDIS_HOST is set (internal/redisbus):
// export reads them from there and import writes them there; everything
// else is the store's.
//
// Key-value pairs are the string keys "namespace:key" of database 0 (the
// namespace ends at the first colon); lists are the list keys of database
// REDIS_DB_NUMBER. Clear (import --force) leaves Redis alone: pairs are
// overwritten, list items appended.
type redisTransfer struct {
	store.Store
	bus   *redisbus.Bus
	wrap  *redisbus.Store
	kv    *redis.Client
	lists *redis.Client
}

// withRedis routes the key-value pairs and lists of st to Redis when the
// configuration names a Redis server; close releases it.
func withRedis(cfg *config.Config, st store.Store) (store.Store, func(), error) {
	if cfg.RedisHost == "" {
		return st, func() {}, nil
	}
	bus, err := redisbus.Open(redisbus.Options{Host: cfg.RedisHost, DB: cfg.RedisDBNumber})
	if err != nil {
		return nil, nil, err
	}
	kvOpts, err := redisbus.ClientOptions(cfg.RedisHost, 0)
	if err != nil {
		bus.Close()
		return nil, nil, err
	}
	listOpts, _ := redisbus.ClientOptions(cfg.RedisHost, cfg.RedisDBNumber)
	r := &redisTransfer{Store: st, bus: bus, wrap: bus.Wrap(st), kv: redis.NewClient(kvOpts), lists: redis.NewClient(listOpts)}
	return r, func() { r.kv.Close(); r.lists.Close(); bus.Close() }, nil
}

// Counts takes the kv and list counts from Redis.
func (r *redisTransfer) Counts(ctx context.Context) (map[string]int64, error) {
	c, err := r.Store.Counts(ctx)
	if err != nil {
		return nil, err
	}
	c[store.CollKV], c[store.CollList] = 0, 0
	err = r.scan(ctx, r.kv, "string", func(k string) error {
		if strings.Contains(k, ":") {
			c[store.CollKV]++
		}
		return nil
	})
	if err == nil {
		err = r.scan(ctx, r.lists, "list", func(k string) error {
			n, err := r.lists.LLen(ctx, k).Result()
			c[store.CollList] += n
			return err
		})
	}
	return c, err
}

// scan calls fn for every key of type typ of the client's database.
func (r *redisTransfer) scan(ctx context.Context, c *redis.Client, typ string, fn func(key string) error) error {
	it := c.ScanType(ctx, 0, "*", 1000, typ).Iterator()
	for it.Next(ctx) {
		if err := fn(it.Val()); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("redis: scan: %w", err)
	}
	return nil
}

// EachKV reads the "namespace:key" strings of database 0.
func (r *redisTransfer) EachKV(ctx context.Context, fn func(namespace, key, value string) error) error {
	return r.scan(ctx, r.kv, "string", func(k string) error {
		ns, key, ok := strings.Cut(k, ":")
		if !ok {
			return nil // not a key-value pair of the API (no namespace)
		}
		v, err := r.kv.Get(ctx, k).Result()
		if err == redis.Nil {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("redis: get %s: %w", k, err)
		}
		return fn(ns, key, v)
	})
}

// EachListItem reads every list of database REDIS_DB_NUMBER, head first.
func (r *redisTransfer) EachListItem(ctx context.Context, fn func(list string, value []byte) error) error {
	return r.scan(ctx, r.lists, "list", func(k string) error {
		items, err := r.lists.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			return fmt.Errorf("redis: lrange %s: %w", k, err)
		}
		for _, it := range items {
			if err := fn(k, []byte(it)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetKV writes to Redis, as the server does.
func (r *redisTransfer) SetKV(ctx context.Context, namespace, key, value string) error {
	return r.wrap.SetKV(ctx, namespace, key, value)
}

// PushList writes to Redis, as the server does.
func (r *redisTransfer) PushList(ctx context.Context, name string, value []byte) error {
	return r.wrap.PushList(ctx, name, value)
}
