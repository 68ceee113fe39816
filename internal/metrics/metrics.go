// Package metrics holds the Prometheus metrics of one server process: a
// registry of its own (never the global default one, so that tests and
// several servers in one process do not share counters), the HTTP,
// store, pub/sub, lifecycle and retention metrics, and the handler of
// GET /metrics. docs/operations.md lists every metric.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Metrics is the registry of a server process and the metrics the code
// updates directly. Its methods may be called on a nil *Metrics, which
// records nothing.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	httpInFlight   prometheus.Gauge
	storeDuration  *prometheus.HistogramVec
	eventsAppended prometheus.Counter
	transitions    *prometheus.CounterVec
	nodesPurged    prometheus.Counter

	idMu     sync.Mutex    // guards idStores
	idStores []store.Store // read by kernelci_store_id_retries_total (store.go)
}

// httpBuckets reach past the longest requests, the long-polls of
// GET /listen (KEEP_ALIVE_PERIOD, 45 s by default).
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// storeBuckets start at 100 µs: most store operations of the embedded
// store take less than a millisecond.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New returns a registry with the process and Go runtime collectors and
// the metrics of this package registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method, route pattern and status code (long-polls included).",
			Buckets: httpBuckets,
		}, []string{"method", "route", "status"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served (this scrape included).",
		}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kernelci_store_operation_duration_seconds",
			Help:    "Time of store operations, by operation (store method) and result (ok, not_found, conflict, canceled, error).",
			Buckets: storeBuckets,
		}, []string{"op", "result"}),
		eventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kernelci_events_appended_total",
			Help: "Events appended to the event history by this process (node writes, publishes, lifecycle transitions).",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kernelci_lifecycle_transitions_total",
			Help: "Node state transitions made by the server's lifecycle, by rule (timeout, holdoff, closing) and states.",
		}, []string{"rule", "from", "to"}),
		nodesPurged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kernelci_nodes_purged_total",
			Help: "Nodes deleted by node retention (NODE_PURGE_AGE_DAYS).",
		}),
	}
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		m.httpRequests, m.httpDuration, m.httpInFlight, m.storeDuration,
		m.eventsAppended, m.transitions, m.nodesPurged,
	)
	return m
}

// Registry is the process's registry, to register more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics / protobuf when the scraper asks). A failing collector
// leaves its metrics out instead of failing the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// methods are the request methods counted under their own name; any
// other is counted as "other", so that clients cannot create series.
var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// RequestStarted counts a request in flight until done is called.
func (m *Metrics) RequestStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.httpInFlight.Inc()
	return m.httpInFlight.Dec
}

// ObserveRequest records an answered request. route must be the route
// pattern that matched (bounded), never the request path; "" is recorded
// as "none" (no route matched: a refused API version).
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if !methods[method] {
		method = "other"
	}
	if route == "" {
		route = "none"
	}
	code := strconv.Itoa(status)
	m.httpRequests.WithLabelValues(method, route, code).Inc()
	m.httpDuration.WithLabelValues(method, route, code).Observe(d.Seconds())
}

// Transition counts a lifecycle transition.
func (m *Metrics) Transition(rule, from, to string) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(rule, from, to).Inc()
}

// Purged counts nodes deleted by retention.
func (m *Metrics) Purged(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.nodesPurged.Add(float64(n))
}

// eventsAdded counts events appended.
func (m *Metrics) eventsAdded(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsAppended.Add(float64(n))
}

// observeStore records one store operation.
func (m *Metrics) observeStore(op string, start time.Time, err *error) {
	if m == nil {
		return
	}
	m.storeDuration.WithLabelValues(op, resultOf(*err)).Observe(time.Since(start).Seconds())
}
