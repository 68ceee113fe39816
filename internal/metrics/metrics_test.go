package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

// The decorated store passes the whole store contract, optional
// interfaces included (the suite fails when one is missing).
func TestWrappedStoreContract(t *testing.T) {
	m := New()
	storetest.Run(t, func(t *testing.T) store.Store { return WrapStore(sqlitetest.Open(t), m) })
	if n := testutil.CollectAndCount(m.storeDuration); n == 0 {
		t.Error("the contract ran through the decorator but no store operation was timed")
	}
}

func TestWrapStore(t *testing.T) {
	backend := sqlitetest.Open(t)
	m := New()
	st := WrapStore(backend, m)
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// Events are counted where they are born (the store's OnCommit), so
	// a write that does not go through the decorator counts too.
	if err := backend.AppendEvents(ctx, &model.Event{Channel: "x", Data: "direct"}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.eventsAppended); got != 1 {
		t.Errorf("events appended = %v, want 1", got)
	}
	text := scrape(t, m)
	for _, want := range []string{
		`kernelci_store_id_retries_total{counter="sequence_id"} 0`,
		`kernelci_store_id_retries_total{counter="subscription_id"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// Several stores in one registry: no duplicate registration.
	WrapStore(sqlitetest.Open(t), m)
	if WrapStore(backend, nil) != store.Store(backend) {
		t.Error("WrapStore with nil metrics must return the store as is")
	}
}

func TestStoreMetrics(t *testing.T) {
	backend := sqlitetest.Open(t)
	m := New()
	st := WrapStore(backend, m)
	ctx := context.Background()
	now := time.Now()
	n := &model.Node{ID: objectid.NewAt(now), Kind: "checkout", Name: "c", Path: []string{"c"}, State: model.StateRunning,
		Created: model.T(now), Updated: model.T(now), Timeout: model.T(now.Add(time.Hour))}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n},
		Events: []*model.Event{{Channel: "node", Data: map[string]any{"op": "created"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, &model.Event{Channel: "x", Data: "a"}, &model.Event{Channel: "x", Data: "b"}); err != nil {
		t.Fatal(err)
	}
	// A failed write appends nothing.
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{{ID: objectid.New()}},
		Events: []*model.Event{{Channel: "node", Data: "lost"}}}); err == nil {
		t.Fatal("replacing an unknown node succeeded")
	}
	if _, err := st.GetNode(ctx, objectid.New()); err == nil {
		t.Fatal("GetNode of an unknown id succeeded")
	}
	if _, err := st.GetNodeJSON(ctx, objectid.New()); err == nil {
		t.Fatal("GetNodeJSON of an unknown id succeeded")
	}
	if got := testutil.ToFloat64(m.eventsAppended); got != 3 {
		t.Errorf("events appended = %v, want 3", got)
	}
	want := map[string]bool{
		`op="WriteNodes",result="ok"`: false, `op="WriteNodes",result="not_found"`: false,
		`op="AppendEvents",result="ok"`: false, `op="GetNode",result="not_found"`: false,
		`op="GetNodeJSON",result="not_found"`: false,
	}
	text := scrape(t, m)
	for line := range strings.Lines(text) {
		if !strings.HasPrefix(line, "kernelci_store_operation_duration_seconds_count{") {
			continue
		}
		for k := range want {
			if strings.Contains(line, k) {
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no store timing with %s in\n%s", k, text)
		}
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	return string(b)
}

type waiters struct{ l, p int64 }

func (w waiters) Waiters() (int64, int64) { return w.l, w.p }

func TestPubSubGauges(t *testing.T) {
	backend := sqlitetest.Open(t)
	ctx := context.Background()
	m := New()
	m.WatchPubSub(waiters{3, 1}, backend)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, s := range []*store.Subscription{
		{Channel: "node", User: "a", Created: now},
		{Channel: "node", User: "b", SubscriberID: "bridge", Created: now},
	} {
		if err := backend.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := backend.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: "bridge", Channel: "node", User: "b",
		LastEventID: 0, Created: now}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := backend.AppendEvents(ctx, &model.Event{Channel: "node", Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := backend.AckSubscriberState(ctx, "bridge", 2, now); err != nil {
		t.Fatal(err)
	}
	text := scrape(t, m)
	for _, want := range []string{
		"kernelci_listeners_open 3\n",
		"kernelci_pops_waiting 1\n",
		`kernelci_subscriptions{durable="false"} 1` + "\n",
		`kernelci_subscriptions{durable="true"} 1` + "\n",
		"kernelci_event_log_last_sequence 5\n",
		`kernelci_subscriber_lag_events{channel="node",subscriber_id="bridge"} 3` + "\n",
		"kernelci_subscriber_lag_max_events 3\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}

	// The subscription goes (reaped, client gone): the lag stays
	// reported while the subscriber's state lives.
	if _, err := backend.ReapSubscriptions(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	text = scrape(t, m)
	if !strings.Contains(text, `kernelci_subscriber_lag_events{channel="node",subscriber_id="bridge"} 3`) {
		t.Errorf("lag of a durable subscriber without subscription not reported:\n%s", text)
	}
	if err := backend.DeleteSubscriberState(ctx, "bridge"); err != nil {
		t.Fatal(err)
	}
	text = scrape(t, m)
	if strings.Contains(text, `subscriber_id="bridge"`) {
		t.Errorf("lag of a deleted subscriber still reported:\n%s", text)
	}
}

func TestHTTPAndLifecycleMetrics(t *testing.T) {
	m := New()
	done := m.RequestStarted()
	m.ObserveRequest("GET", "GET /node/{id}", 200, 3*time.Millisecond)
	m.ObserveRequest("BREW", "", 400, time.Millisecond)
	m.Transition("timeout", "running", "done")
	m.Purged(7)
	m.Purged(0)
	text := scrape(t, m)
	done()
	for _, want := range []string{
		`http_requests_total{method="GET",route="GET /node/{id}",status="200"} 1`,
		`http_requests_total{method="other",route="none",status="400"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="GET /node/{id}",status="200",le="0.005"} 1`,
		"http_requests_in_flight 1",
		`kernelci_lifecycle_transitions_total{from="running",rule="timeout",to="done"} 1`,
		"kernelci_nodes_purged_total 7",
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// A nil *Metrics records nothing and does not panic.
	var none *Metrics
	none.ObserveRequest("GET", "x", 200, 0)
	none.RequestStarted()()
	none.Transition("a", "b", "c")
	none.Purged(1)
	none.WatchPubSub(nil, nil)
}
