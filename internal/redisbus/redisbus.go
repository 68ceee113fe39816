// Package redisbus is the Redis side of the production backend
// (REDIS_HOST), laid out as the reference kernelci-api lays it out so
// that either server can take over from the other:
//
//   - key-value pairs (/kv) are strings named "namespace:key" in Redis
//     database 0 (GET, SET, DEL), as the reference's db.py keeps them;
//   - lists (/push, /pop) are Redis lists in database REDIS_DB_NUMBER
//     (default 1): RPUSH of the CloudEvent JSON, in the layout Python's
//     json.dumps gives it, and BLPOP;
//   - cross-replica wake-ups (Relay, a broker.Notifier) are Redis
//     PUBLISH messages "channel C reached sequence S" on a channel of our
//     own, which every replica relays into its local broker.Broker;
//   - on the same channel, reports of writes that may end or narrow a
//     credential, on which every other replica empties its
//     authentication cache (Relay.PublishAuthChange, OnAuthChange).
//
// Events, subscriptions and sequence numbers stay in the store (MongoDB):
// Redis only carries wake-ups, so a lost message or a Redis outage
// costs latency (listeners fall back to polling the store), never an
// event. The reference's Redis counters (kernelci-api-pubsub-id,
// kernelci-api-event-seq) are not used.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure Open.
type Options struct {
	// Host is REDIS_HOST: "host", "host:port" (default port 6379),
	// "user:password@host:port" as the reference accepts it (it builds
	// "redis://" + REDIS_HOST + "/" + db), or a redis:// or rediss:// URL
	// (its database path, if any, is ignored).
	Host string
	// DB is REDIS_DB_NUMBER, the database of the lists (the reference's
	// default is 1). Key-value pairs are always in database 0.
	DB int
	// ListConns bounds the connections of the lists' client, hence the
	// number of pops waiting at once (each holds a connection in BLPOP);
	// default 256.
	ListConns int
	// Log receives connection-state messages; nil means slog.Default().
	Log *slog.Logger
}

// Bus holds the Redis clients.
type Bus struct {
	kv    *redis.Client // database 0: key-value pairs, PUBLISH
	lists *redis.Client // database DB: lists
	log   *slog.Logger
	addr  string
	db    int
}

// ClientOptions parses REDIS_HOST into the options of a client of the
// given database.
func ClientOptions(host string, db int) (*redis.Options, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return nil, errors.New("redis: empty REDIS_HOST")
	}
	u := host
	if !strings.Contains(u, "://") {
		u = "redis://" + u
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		msg := err.Error()
		if p := hostPassword(host); p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		return nil, fmt.Errorf("redis: invalid REDIS_HOST %q: %s", redactHost(host), msg)
	}
	o.DB = db
	o.DialTimeout = 2 * time.Second
	o.ReadTimeout = 3 * time.Second
	o.WriteTimeout = 3 * time.Second
	return o, nil
}

// splitHost cuts REDIS_HOST around its password: prefix, password,
// rest; ok false when there is none.
func splitHost(h string) (prefix, password, rest string, ok bool) {
	scheme, body, hasScheme := strings.Cut(h, "://")
	if !hasScheme {
		scheme, body = "", h
	}
	at := strings.LastIndexByte(body, '@')
	if at < 0 {
		return "", "", "", false
	}
	user, pass, hasPass := strings.Cut(body[:at], ":")
	if !hasPass || pass == "" {
		return "", "", "", false
	}
	prefix = user + ":"
	if hasScheme {
		prefix = scheme + "://" + prefix
	}
	return prefix, pass, body[at:], true
}

// hostPassword is the password in REDIS_HOST, "" if none.
func hostPassword(h string) string {
	_, p, _, _ := splitHost(h)
	return p
}

// redactHost hides a password in REDIS_HOST.
func redactHost(h string) string {
	prefix, _, rest, ok := splitHost(h)
	if !ok {
		return h
	}
	return prefix + "xxxxx" + rest
}

var setLoggerOnce sync.Once

// Open makes the clients; it does not connect (the clients connect on
// first use and reconnect by themselves): see Ping.
func Open(o Options) (*Bus, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.DB < 0 {
		return nil, fmt.Errorf("redis: invalid database number %d", o.DB)
	}
	kvOpts, err := ClientOptions(o.Host, 0)
	if err != nil {
		return nil, err
	}
	listOpts, _ := ClientOptions(o.Host, o.DB)
	// A push retried after a lost reply would be pushed twice: fail it
	// instead (pops retry by themselves, see pubsub.Service.Pop).
	listOpts.MaxRetries = -1
	listOpts.PoolSize = o.ListConns
	if listOpts.PoolSize <= 0 {
		listOpts.PoolSize = 256
	}
	listOpts.PoolTimeout = 30 * time.Second
	setLoggerOnce.Do(func() { redis.SetLogger(logAdapter{}) })
	return &Bus{kv: redis.NewClient(kvOpts), lists: redis.NewClient(listOpts), log: o.Log, addr: kvOpts.Addr, db: o.DB}, nil
}

// Addr is the server's address.
func (b *Bus) Addr() string { return b.addr }

// DB is the database of the lists.
func (b *Bus) DB() int { return b.db }

// Ping checks that the server answers.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.kv.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %s: %w", b.addr, err)
	}
	return nil
}

// Close closes the clients.
func (b *Bus) Close() error {
	return errors.Join(b.kv.Close(), b.lists.Close())
}

// logAdapter sends go-redis's own messages (reconnections, pool errors),
// which it logs process-wide, to slog's default logger at debug level:
// the relay and the store log the state changes that matter.
type logAdapter struct{}

func (logAdapter) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().Log(ctx, slog.LevelDebug, "redis: "+fmt.Sprintf(format, v...))
}
