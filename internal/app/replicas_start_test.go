package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// Replicas started together on an empty MongoDB database all come up,
// with one superuser between them. (On the embedded FerretDB through
// mongotest.SerialProxy, which gives each command the atomicity MongoDB
// gives single-document writes.)
func TestReplicasStartTogether(t *testing.T) {
	srv := mongotest.StartT(t)
	proxy, err := mongotest.NewSerialProxy(srv.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	uri := proxy.URI() + mongotest.NewDatabase()
	const replicas = 3
	apps := make([]*App, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		cfg := testConfig(t, map[string]string{"SECRET_KEY": "k", "MONGO_SERVICE": uri,
			"KCI_DATA_DIR": t.TempDir(), "KCI_INITIAL_PASSWORD": "pw"})
		wg.Go(func() {
			apps[i], errs[i] = Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer apps[i].Close()
	}
	n, err := apps[0].Store.CountUsers(context.Background(), query.Where("is_superuser", true))
	if err != nil || n != 1 {
		t.Fatalf("%d superusers, %v; want 1", n, err)
	}
}
