package app

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// OpenStore picks MongoDB when MONGO_SERVICE is set, with the database
// named in the URL's path. (An embedded FerretDB of its own: this package
// has no TestMain.)
func TestOpenStoreSelectsMongo(t *testing.T) {
	srv := mongotest.StartT(t)
	ctx := context.Background()
	cfg := &config.Config{MongoService: srv.URI() + "kcidb", EventHistoryTTL: 7 * 24 * time.Hour, DataDir: t.TempDir()}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, ok := st.(*mongo.Store)
	if !ok {
		t.Fatalf("OpenStore = %T, want *mongo.Store", st)
	}
	if ms.Database() != "kcidb" {
		t.Fatalf("database %q, want kcidb (from the URL path)", ms.Database())
	}
	if err := st.InsertGroup(ctx, &model.Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
}
