package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/redisbus/redistest"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// runOK runs a command and fails the test unless it exits 0; it returns
// stdout and stderr.
func runOK(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("kernelci-api %s = %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func runFails(t *testing.T, want string, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code == 0 || !strings.Contains(out.String()+errOut.String(), want) {
		t.Fatalf("kernelci-api %s = %d, want a failure saying %q\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestMoveEmbeddedToMongo is the operator's path: an embedded store is
// exported, migrated MongoDB receives it, and it comes back.
func TestMoveEmbeddedToMongo(t *testing.T) {
	srv := mongotest.StartT(t)
	t.Chdir(t.TempDir()) // no .env
	t.Setenv("MONGO_SERVICE", "")
	ctx := context.Background()

	// An embedded store with a user, nodes and events.
	dataDir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dataDir, 0o700)
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.CreateSuperuser(ctx, st, "admin", "admin@kernelci.org", "s3cret"); err != nil {
		t.Fatal(err)
	}
	n := &model.Node{Kind: "checkout", Name: "checkout", Path: []string{"checkout"}, State: model.StateRunning,
		Created: model.T(model.Now()), Updated: model.T(model.Now()), Timeout: model.T(model.Now())}
	n.ID = [12]byte{1}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}, Events: []*model.Event{
		{Channel: "node", Data: map[string]any{"op": "created"}}, {Channel: "node", Data: map[string]any{"op": "updated"}}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, _ := runOK(t, "migrate", "--data-dir", dataDir)
	contains(t, "migrate status (embedded)", out, "SQLite", "applied", "telemetry", "up to date")
	runFails(t, "only moves forward", "migrate", "down", "--data-dir", dataDir)

	file := filepath.Join(t.TempDir(), "dump.jsonl")
	_, errOut := runOK(t, "export", "--data-dir", dataDir, "--out", file)
	contains(t, "export summary", errOut, "Exported user 1, node 1, eventhistory 2 from the sqlite store", "last event sequence id 2")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, %v (want mode 0600: it holds password hashes)", fi, err)
	}
	runFails(t, "no embedded store", "export", "--data-dir", filepath.Join(t.TempDir(), "none"), "--out", file+".x")

	// MongoDB: migrate, then import.
	t.Setenv("MONGO_SERVICE", srv.URI()+"moved")
	out, _ = runOK(t, "migrate", "status")
	contains(t, "migrate status (fresh MongoDB)", out, `Database "moved"`, "none recorded", "0001_reference_baseline", "pending",
		"Version 0 of 4: 4 pending")
	out, _ = runOK(t, "migrate", "up", "--to", "2")
	contains(t, "migrate up --to 2", out, "applying 0001_reference_baseline", "applied 0002_legacy_events_aside", "Version 2 of 4")
	out, _ = runOK(t, "migrate", "up")
	contains(t, "migrate up", out, "applied 0004_declared_indexes", "up to date")
	out, _ = runOK(t, "import", "--in", file)
	contains(t, "import summary", out, "Imported user 1, node 1, eventhistory 2 into the mongo store; event sequence ids continue after 2")
	if strings.Contains(out, "pending") {
		t.Errorf("import after migrate up reports pending migrations:\n%s", out)
	}
	runFails(t, "not empty", "import", "--in", file)
	stdin = bytes.NewReader(mustRead(t, file))
	defer func() { stdin = os.Stdin }()
	_, errOut = runOK(t, "import", "--force")
	contains(t, "forced import", errOut, "deleting what the destination holds first")

	// And back to a new embedded store, through a file.
	file2 := filepath.Join(t.TempDir(), "back.jsonl")
	runOK(t, "export", "--out", file2)
	dataDir2 := filepath.Join(t.TempDir(), "data2")
	out, _ = runOK(t, "import", "--mongo-service=", "--data-dir", dataDir2, "--in", file2)
	contains(t, "import into a new embedded store", out, "into the sqlite store")
	st2, err := sqlite.Open(ctx, filepath.Join(dataDir2, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	u, err := st2.GetUserByUsername(ctx, "admin")
	if err != nil || !u.IsSuperuser || u.HashedPassword == "" {
		t.Fatalf("admin after the round trip: %+v, %v", u, err)
	}
	if last, _ := st2.LastSequence(ctx); last != 2 {
		t.Fatalf("last sequence %d after the round trip, want 2", last)
	}

	// migrate down reverts one step at a time, and status shows it.
	out, _ = runOK(t, "migrate", "down")
	contains(t, "migrate down", out, "reverted 0004_declared_indexes", "Version 3 of 4: 1 pending")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTransferWithRedis moves key-value pairs and lists between the
// embedded store and Redis, where the server keeps them with REDIS_HOST.
func TestTransferWithRedis(t *testing.T) {
	addr := redistest.Addr(t)
	srv := mongotest.StartT(t)
	t.Chdir(t.TempDir())
	t.Setenv("MONGO_SERVICE", "")
	t.Setenv("REDIS_HOST", "")
	ctx := context.Background()
	ns, list := redistest.Unique("ns"), redistest.Unique("jobs")
	const listDB = 9
	kvc, lc := redistest.Client(t, addr, 0), redistest.Client(t, addr, listDB)
	defer kvc.Del(ctx, ns+":k")
	defer lc.Del(ctx, list)

	dataDir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dataDir, 0o700)
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.SetKV(ctx, ns, "k", "v1")
	st.PushList(ctx, list, []byte(`{"specversion":"1.0","data":{"i":1}}`))
	st.PushList(ctx, list, []byte(`{"specversion":"1.0","data":{"i":2}}`))
	st.Close()
	file := filepath.Join(t.TempDir(), "dump.jsonl")
	runOK(t, "export", "--data-dir", dataDir, "--out", file)

	// Into MongoDB + Redis: the pairs and lists go to Redis. (--force:
	// the shared test Redis may hold other tests' lists.)
	t.Setenv("MONGO_SERVICE", srv.URI()+"withredis")
	t.Setenv("REDIS_HOST", addr)
	t.Setenv("REDIS_DB_NUMBER", fmt.Sprint(listDB))
	runOK(t, "import", "--in", file, "--force")
	if v, err := kvc.Get(ctx, ns+":k").Result(); err != nil || v != "v1" {
		t.Fatalf("Redis %s:k = %q, %v", ns, v, err)
	}
	items, err := lc.LRange(ctx, list, 0, -1).Result()
	if err != nil || len(items) != 2 || !strings.Contains(items[0], `"i": 1`) {
		t.Fatalf("Redis list %s = %q, %v", list, items, err)
	}

	// And back: export reads them from Redis.
	file2 := filepath.Join(t.TempDir(), "back.jsonl")
	runOK(t, "export", "--out", file2)
	back := string(mustRead(t, file2))
	contains(t, "export with Redis", back, `{"kv":{"namespace":"`+ns+`","key":"k","value":"v1"}}`, `{"list":{"list":"`+list+`","value":`)
	t.Setenv("MONGO_SERVICE", "")
	t.Setenv("REDIS_HOST", "")
	dataDir2 := filepath.Join(t.TempDir(), "data2")
	runOK(t, "import", "--data-dir", dataDir2, "--in", file2)
	st2, err := sqlite.Open(ctx, filepath.Join(dataDir2, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if v, err := st2.GetKV(ctx, ns, "k"); err != nil || v != "v1" {
		t.Fatalf("kv after the round trip: %q, %v", v, err)
	}
	if v, err := st2.PopList(ctx, list); err != nil || !strings.Contains(string(v), `"i": 1`) {
		t.Fatalf("list head after the round trip: %s, %v", v, err)
	}
}
