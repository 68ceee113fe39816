package metrics

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Waiters reports the long-polls in progress (pubsub.Service.Waiters).
type Waiters interface {
	Waiters() (listens, pops int64)
}

// SubscriptionStore is what the subscription metrics read at each
// scrape: one list of the subscriptions, the end of the event log and
// one state per durable subscriber.
type SubscriptionStore interface {
	ListSubscriptions(ctx context.Context) ([]*store.Subscription, error)
	GetSubscriberState(ctx context.Context, subscriberID string) (*store.SubscriberState, error)
	LastSequence(ctx context.Context) (int64, error)
}

// MaxLagSeries bounds the per-subscriber lag series: beyond that many
// durable subscribers only the largest lags get a series of their own
// (kernelci_subscriber_lag_max_events covers every one).
const MaxLagSeries = 100

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// WatchPubSub registers the pub/sub gauges: open listens and pops (w,
// this process), subscriptions and the lag of durable subscribers (st,
// read at scrape time, shared by every process). Either may be nil.
func (m *Metrics) WatchPubSub(w Waiters, st SubscriptionStore) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&pubsubCollector{w: w, st: st, known: map[string]bool{}})
}

var (
	descListens = prometheus.NewDesc("kernelci_listeners_open",
		"GET /listen long-polls waiting in this process.", nil, nil)
	descPops = prometheus.NewDesc("kernelci_pops_waiting",
		"GET /pop long-polls waiting in this process.", nil, nil)
	descSubs = prometheus.NewDesc("kernelci_subscriptions",
		"Pub/sub subscriptions in the store, by durable (subscriber_id set) or not.", []string{"durable"}, nil)
	descLastSeq = prometheus.NewDesc("kernelci_event_log_last_sequence",
		"Highest sequence_id of the event history (the end of the log).", nil, nil)
	descLag = prometheus.NewDesc("kernelci_subscriber_lag_events",
		"Events between the end of the event log and the last event a durable subscriber acknowledged (sequence ids; every channel counts).",
		[]string{"subscriber_id", "channel"}, nil)
	descLagMax = prometheus.NewDesc("kernelci_subscriber_lag_max_events",
		"Largest kernelci_subscriber_lag_events over every durable subscriber (0 when there is none).", nil, nil)
)

// pubsubCollector reads the pub/sub state at scrape time.
type pubsubCollector struct {
	w  Waiters
	st SubscriptionStore

	mu sync.Mutex
	// known are the durable subscribers seen in a subscription, kept
	// after their subscriptions are gone (a stopped client is when lag
	// matters) until their state is.
	known map[string]bool
}

func (c *pubsubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descListens, descPops, descSubs, descLastSeq, descLag, descLagMax} {
		ch <- d
	}
}

func (c *pubsubCollector) Collect(ch chan<- prometheus.Metric) {
	if c.w != nil {
		listens, pops := c.w.Waiters()
		ch <- prometheus.MustNewConstMetric(descListens, prometheus.GaugeValue, float64(listens))
		ch <- prometheus.MustNewConstMetric(descPops, prometheus.GaugeValue, float64(pops))
	}
	if c.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	subs, err := c.st.ListSubscriptions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSubs, err)
		return
	}
	last, err := c.st.LastSequence(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descLastSeq, err)
		return
	}
	var durable, plain int
	c.mu.Lock()
	for _, s := range subs {
		if s.SubscriberID == "" {
			plain++
			continue
		}
		durable++
		c.known[s.SubscriberID] = true
	}
	ids := make([]string, 0, len(c.known))
	for id := range c.known {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(plain), "false")
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(durable), "true")
	ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(last))

	type lag struct {
		id, channel string
		n           int64
	}
	var lags []lag
	for _, id := range ids {
		st, err := c.st.GetSubscriberState(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			c.mu.Lock()
			delete(c.known, id)
			c.mu.Unlock()
			continue
		}
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descLag, err)
			return
		}
		lags = append(lags, lag{id, st.Channel, max(0, last-st.LastEventID)})
	}
	sort.Slice(lags, func(i, j int) bool {
		if lags[i].n != lags[j].n {
			return lags[i].n > lags[j].n
		}
		return lags[i].id < lags[j].id
	})
	var worst int64
	if len(lags) > 0 {
		worst = lags[0].n
	}
	ch <- prometheus.MustNewConstMetric(descLagMax, prometheus.GaugeValue, float64(worst))
	for i, l := range lags {
		if i == MaxLagSeries {
			break
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(l.n), l.id, l.channel)
	}
}
