package pubsub_test

// Publish-to-delivery latency with many concurrent listeners.
//
//	go test ./internal/pubsub -run '^$' -bench PublishToDelivery -benchtime 300x -count 1
//
// Each round publishes one event and waits until every listener has
// received it; the latency of a delivery is the time from the start of
// the publish to the listener having decoded the event. Listeners listen
// again at once, as clients do. Reported: p50/p99/max latency over every
// (event, listener) pair, and the memory that the idle listeners hold.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// benchSizes are the numbers of concurrent listeners benchmarked.
var benchSizes = []int{1, 100, 1000}

// latencies collects delivery latencies.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	q := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(l.d[len(l.d)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

// heap returns the bytes in use by the heap and goroutine stacks.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// deliveries counts received events and signals when a round is done.
type deliveries struct {
	n      atomic.Int64
	target atomic.Int64
	done   chan struct{}
}

func (d *deliveries) got() {
	if d.n.Add(1) == d.target.Load() {
		d.done <- struct{}{}
	}
}

func benchStore(b *testing.B) (*sqlite.Store, *pubsub.Broker, *sqlite.Store) {
	raw := sqlitetest.Open(b)
	br := pubsub.NewBroker()
	return raw, br, raw
}

// eventTime decodes a listen answer and returns the publish time carried
// in its data (false for a keep-alive).
func eventTime(msg []byte) (int64, bool) {
	var env struct{ Data string }
	if json.Unmarshal(msg, &env) != nil {
		return 0, false
	}
	var ce struct {
		Data struct {
			T int64 `json:"t"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(env.Data), &ce) != nil || ce.Data.T == 0 {
		return 0, false
	}
	return ce.Data.T, true
}

// measure runs a listener per subscription id, calling listen again as
// soon as it answers until it fails (cancel makes it fail), waits until
// every listener waits, then times b.N rounds: publish(i, t0) sends one
// event carrying its start time t0, and a round ends once every listener
// has it. It reports the delivery latencies and the memory the idle
// listeners hold above base.
func measure(b *testing.B, svc *pubsub.Service, ids []int64, base uint64, listen func(id int64) ([]byte, error), publish func(i int, t0 int64) error, cancel func()) {
	lat := &latencies{}
	dl := &deliveries{done: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := listen(id)
				if err != nil {
					return
				}
				if t0, ok := eventTime(msg); ok {
					lat.add(time.Duration(time.Now().UnixNano() - t0))
					dl.got()
				}
			}
		}()
	}
	for l, _ := svc.Waiters(); l < int64(len(ids)); l, _ = svc.Waiters() {
		time.Sleep(time.Millisecond)
	}
	idle := heap()
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU()
	for i := range b.N {
		dl.target.Store(int64(len(ids)) * int64(i+1))
		if err := publish(i, time.Now().UnixNano()); err != nil {
			b.Fatal(err)
		}
		<-dl.done
	}
	cpu := testutil.ProcessCPU() - cpu0
	b.StopTimer()
	cancel()
	wg.Wait()
	lat.report(b)
	b.ReportMetric((float64(idle)-float64(base))/float64(len(ids)), "idle-B/listener")
	// CPU time of the whole process (the store's and, over HTTP, the
	// client's included) per delivery: what the machine's load does not
	// change much, unlike the latencies.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(ids)), "cpu-µs/delivery")
}

// BenchmarkPublishToDeliveryService: listeners call Service.Listen
// directly (the pub/sub layer without HTTP).
func BenchmarkPublishToDeliveryService(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) { benchService(b, n) })
	}
}

func benchService(b *testing.B, benchListeners int) {
	_, br, st := benchStore(b)
	svc := pubsub.New(st, br, pubsub.Options{KeepAlive: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ids []int64
	for range benchListeners {
		sub, err := svc.Subscribe(ctx, "bench", "bench", true, "")
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	measure(b, svc, ids, heap(), func(id int64) ([]byte, error) {
		return svc.Listen(ctx, id, "bench")
	}, func(i int, t0 int64) error {
		_, err := svc.Publish(ctx, "bench", "bench", map[string]any{"i": i, "t": t0}, nil)
		return err
	}, cancel)
}

// BenchmarkPublishToDeliveryHTTP: the whole server over loopback HTTP:
// 1000 clients hold GET /listen long-polls (one keep-alive connection
// each) and one client POSTs /publish. Memory is that of both ends (the
// clients run in the same process).
func BenchmarkPublishToDeliveryHTTP(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) { benchHTTP(b, n) })
	}
}

func benchHTTP(b *testing.B, benchListeners int) {
	defer auth.SetTestParams()()
	raw, br, st := benchStore(b)
	ctx := context.Background()
	if err := raw.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		b.Fatal(err)
	}
	hash, _ := auth.HashPassword("pw")
	if err := raw.InsertUser(ctx, &model.User{Username: "bench", Email: "bench@example.org", HashedPassword: hash,
		IsActive: true, IsVerified: true, Groups: []model.Group{}}); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := pubsub.New(st, br, pubsub.Options{KeepAlive: time.Minute, Log: log})
	srv := httptest.NewServer(api.New(st, &auth.Tokens{Secret: "bench"}, api.Options{PubSub: svc}, log))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 2*benchListeners + 10, MaxIdleConnsPerHost: 2*benchListeners + 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.PostForm(srv.URL+"/latest/user/login", url.Values{"username": {"bench"}, "password": {"pw"}})
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	do := func(ctx context.Context, method, path, body string) ([]byte, error) {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+"/latest"+path, r)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out, err
	}
	var ids []int64
	for range benchListeners {
		out, err := do(ctx, "POST", "/subscribe/bench?promisc=true", "")
		if err != nil {
			b.Fatal(err)
		}
		var s struct{ ID int64 }
		json.Unmarshal(out, &s)
		ids = append(ids, s.ID)
	}
	base := heap()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	measure(b, svc, ids, base, func(id int64) ([]byte, error) {
		return do(lctx, "GET", "/listen/"+strconv.FormatInt(id, 10), "")
	}, func(i int, t0 int64) error {
		_, err := do(ctx, "POST", "/publish/bench", fmt.Sprintf(`{"data": {"i": %d, "t": %d}}`, i, t0))
		return err
	}, cancel)
}
