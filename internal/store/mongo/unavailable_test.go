package mongo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// A server that goes away makes calls fail with store.ErrUnavailable
// (which the API answers with 503), within MaxTime, not with an opaque
// error.
func TestServerGoneIsUnavailable(t *testing.T) {
	srv, err := mongotest.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	o.URI = srv.URI()
	o.MaxTime = time.Second
	s := openTest(t, o)
	ctx := context.Background()
	if _, err := s.GetNode(ctx, objectid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetNode with the server up: %v", err)
	}
	srv.Stop()
	if _, err := s.GetNode(ctx, objectid.New()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetNode with the server gone: %v; want ErrUnavailable", err)
	}
	if _, err := s.CountNodes(ctx, query.Filter{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CountNodes with the server gone: %v; want ErrUnavailable", err)
	}
	var ue *store.UnavailableError
	if _, err := s.GetNode(ctx, objectid.New()); !errors.As(err, &ue) || ue.Backend != "database" {
		t.Errorf("GetNode with the server gone: %v; want an UnavailableError of the database", err)
	}
	// A request whose client went away is not the server's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetNode(cctx, objectid.New()); errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("GetNode with a cancelled context: %v", err)
	}
}
