package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// slowTelemetry stands for a telemetry store whose reads run until their
// context ends: the reads must carry the query time budget (a deadline),
// or they would hold a connection and a core for as long as they take.
type slowTelemetry struct{ store.Store }

var errNoBudget = errors.New("telemetry read without a query time budget")

func waitBudget(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return errNoBudget
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s slowTelemetry) GroupTelemetry(ctx context.Context, f query.Filter, by []string) ([]store.TelemetryGroup, error) {
	return nil, waitBudget(ctx)
}

func (s slowTelemetry) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) ([]*model.TelemetryEvent, error) {
	return nil, waitBudget(ctx)
}

func TestTelemetryReadsAnswer504PastTheBudget(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{QueryTimeout: 20 * time.Millisecond}, func(st store.Store) store.Store {
		return slowTelemetry{st}
	}, nil)
	for _, path := range []string{
		"/latest/telemetry/stats?group_by=runtime",
		"/latest/telemetry/anomalies",
		"/latest/telemetry?limit=10",
	} {
		e.do("GET", path, "", nil).expectDetailPrefix(http.StatusGatewayTimeout, "Query exceeded its time budget")
	}
}

// gatedTelemetry blocks the first telemetry query until released.
type gatedTelemetry struct {
	store.Store
	once    sync.Once
	first   chan struct{}
	release chan struct{}
}

func (g *gatedTelemetry) FindTelemetry(ctx context.Context, f query.Filter, p store.Page) ([]*model.TelemetryEvent, error) {
	g.once.Do(func() {
		close(g.first)
		<-g.release
	})
	return g.Store.FindTelemetry(ctx, f, p)
}

func TestTelemetryRegexQueriesTakeAHeavySlot(t *testing.T) {
	t.Parallel()
	g := &gatedTelemetry{first: make(chan struct{}), release: make(chan struct{})}
	e := newEnvWith(t, api.Options{MaxHeavyQueries: 1, AdmissionWait: 10 * time.Millisecond}, func(st store.Store) store.Store {
		g.Store = st
		return g
	}, nil)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(g.release) }) }
	t.Cleanup(unblock) // registered after the server's: runs before it closes
	done := make(chan *response, 1)
	go func() { done <- e.do("GET", "/latest/telemetry?job_name__re="+url.QueryEscape("a.*b"), "", nil) }()
	<-g.first
	e.do("GET", "/latest/count?name__re=b&kind=job", "", nil).
		expectDetailPrefix(http.StatusServiceUnavailable, "Too many regular-expression queries")
	e.do("GET", "/latest/telemetry/stats?group_by=runtime", "", nil).expect(http.StatusOK)
	unblock()
	(<-done).expect(http.StatusOK)
}
