package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// With REDIS_HOST, kv and lists are in Redis whatever the store; with
// MongoDB the service also polls the shared store and relays wake-ups
// over Redis; without Redis, MongoDB mode still polls (and keeps kv and
// lists in MongoDB).
func TestRedisWiring(t *testing.T) {
	addr := redistest.Addr(t)
	srv := mongotest.StartT(t)
	for _, tc := range []struct {
		name           string
		mongo, redis   bool
		polls, blocks  bool
		kvInRedis      bool
		wantRelayAlive bool
	}{
		{name: "sqlite+redis", redis: true, blocks: true, kvInRedis: true},
		{name: "mongo+redis", mongo: true, redis: true, polls: true, blocks: true, kvInRedis: true, wantRelayAlive: true},
		{name: "mongo", mongo: true, polls: true},
		{name: "sqlite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SECRET_KEY": "k", "KCI_DATA_DIR": t.TempDir(), "KCI_INITIAL_PASSWORD": "pw",
				"REDIS_DB_NUMBER": "4"}
			db := mongotest.NewDatabase()
			if tc.mongo {
				env["MONGO_SERVICE"] = srv.URI() + db
			}
			if tc.redis {
				env["REDIS_HOST"] = addr
			}
			a, err := Open(context.Background(), testConfig(t, env), slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.PubSub.Polling() != tc.polls || a.PubSub.BlockingPops() != tc.blocks {
				t.Fatalf("polling %v, blocking pops %v; want %v, %v", a.PubSub.Polling(), a.PubSub.BlockingPops(), tc.polls, tc.blocks)
			}
			ctx := context.Background()
			ns := redistest.Unique("wiring")
			if err := a.PubSub.SetKV(ctx, ns, "k", "v"); err != nil {
				t.Fatal(err)
			}
			raw := redistest.Client(t, addr, 0)
			defer raw.Del(ctx, ns+":k")
			n, _ := raw.Exists(ctx, ns+":k").Result()
			if (n == 1) != tc.kvInRedis {
				t.Fatalf("key in Redis: %v, want %v", n == 1, tc.kvInRedis)
			}
			if v, ok, err := a.PubSub.GetKV(ctx, ns, "k"); err != nil || !ok || v != "v" {
				t.Fatalf("GetKV = %q %v %v", v, ok, err)
			}
			list := redistest.Unique("wiring-list")
			if err := a.PubSub.Push(ctx, list, map[string]any{"i": 1}, nil); err != nil {
				t.Fatal(err)
			}
			lists := redistest.Client(t, addr, 4)
			if n, _ := lists.LLen(ctx, list).Result(); (n == 1) != tc.kvInRedis {
				t.Fatalf("list in Redis database 4: %d items", n)
			}
			if v, err := a.PubSub.Pop(ctx, list); err != nil || len(v) == 0 {
				t.Fatalf("Pop = %s, %v", v, err)
			}
			if tc.wantRelayAlive {
				// The relay subscribes to its channel, named by the
				// lists' database and the MongoDB database.
				channel := "kernelci-api-go:wake:4:" + db
				testutil.WaitFor(t, 10*time.Second, "a subscriber of "+channel, func() bool {
					m, err := raw.PubSubNumSub(ctx, channel).Result()
					return err == nil && m[channel] > 0
				})
			}
		})
	}
}
