package main

// Listen fan-out (-only listen in HTTP mode): N listeners, each a
// subscription with one GET /listen/{id} at a time (kernelci-core's
// receive_event loop), while one publisher sends E events/s for D
// seconds on the same channel. Every listener must receive every event
// once: the figure reports the deliveries, the events lost and
// duplicated, and the delivery latency (from the start of the publish
// to the listener having decoded the CloudEvent) at p50/p99/max.
//
// The floor is the same run against an in-process pub/sub of a few
// lines (floorHub): the same client code, the same numbers of
// subscriptions, listens and publishes over loopback HTTP, but no
// store, no authentication and one pre-rendered answer per event. The
// ratio of the p99s says how much the server adds to what HTTP itself
// costs on this machine at that moment.
//
// With -server-pid, the server's CPU time from the first publish to the
// last delivery (subscriptions left out) is read from /proc and reported
// per delivery: on a loaded machine CPU time moves less than latency.
// "lost" counts the events a listener had not received when the figure
// ended (every listener complete, or 30 s after the last publish): a
// listener still behind at that point counts as losing them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
)

type listenOpts struct {
	listeners []int         // listener counts, one figure each
	rate      float64       // events published per second
	dur       time.Duration // publishing time
	channel   string        // "" = a fresh channel per figure
	newConn   bool          // a new TCP connection per request, as kernelci-core's requests calls
	drain     time.Duration // how long to wait for the last deliveries after the last publish
	serverPID int           // read the server's CPU time from /proc when > 0
}

type listenResult struct {
	name                 string
	listeners, published int
	delivered, lost, dup int64
	errors               int64
	firstErr             string
	lat                  []time.Duration
	elapsed              time.Duration
	serverCPU            time.Duration // -1 when not measured
	floor                *listenResult
}

// benchEvent is the payload every published event carries.
type benchEvent struct {
	Run string `json:"bench_run"`
	N   int    `json:"n"`
	T   int64  `json:"t"` // publish start, unix ns
}

// listenFanOut runs the fan-out figures against the server and the floor.
func (b *httpBench) listenFanOut(ctx context.Context) ([]*listenResult, error) {
	o := b.o.listen
	var out []*listenResult
	for _, n := range o.listeners {
		floor, err := runFloorFanOut(ctx, o, n)
		if err != nil {
			return nil, fmt.Errorf("fan-out floor: %w", err)
		}
		r, err := b.fanOut(ctx, o, n)
		if err != nil {
			return nil, err
		}
		r.floor = floor
		out = append(out, r)
	}
	return out, nil
}

// fanOut runs one figure against the server.
func (b *httpBench) fanOut(ctx context.Context, o listenOpts, n int) (*listenResult, error) {
	return runFanOut(ctx, "listen_"+strconv.Itoa(n), o, n, b.api, b.o.token)
}

// runFloorFanOut runs one figure against an in-process floorHub.
func runFloorFanOut(ctx context.Context, o listenOpts, n int) (*listenResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hub := newFloorHub()
	srv := &http.Server{Handler: hub}
	go srv.Serve(ln)
	defer srv.Close()
	defer hub.stop()
	o.serverPID = 0 // the floor runs in this process
	return runFanOut(ctx, "floor_"+strconv.Itoa(n), o, n, "http://"+ln.Addr().String(), "floor")
}

// runFanOut subscribes n listeners, publishes rate*dur events and waits
// until every listener has every event (or the drain time is over).
func runFanOut(ctx context.Context, name string, o listenOpts, n int, api, token string) (*listenResult, error) {
	tr := &http.Transport{MaxIdleConns: n + 16, MaxIdleConnsPerHost: n + 16, IdleConnTimeout: time.Minute,
		DisableKeepAlives: o.newConn}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second} // kernelci-core's timeout
	kc := &client.Client{BaseURL: api, Token: token, HTTP: hc}
	run := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	channel := o.channel
	if channel == "" {
		channel = "bench-fanout-" + run
	}
	total := int(o.rate*o.dur.Seconds() + 0.5)
	if total < 1 {
		return nil, errors.New("-listen-rate x -listen-duration must give at least one event")
	}
	subs := make([]int64, n)
	{
		var wg sync.WaitGroup
		var first atomic.Value
		sem := make(chan struct{}, 16)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s, err := kc.Subscribe(ctx, channel, client.SubscribeOptions{})
				if err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				subs[i] = s.ID
			}()
		}
		wg.Wait()
		if err, _ := first.Load().(error); err != nil {
			unsubscribeAll(kc, subs)
			return nil, fmt.Errorf("subscribe %d listeners: %w", n, err)
		}
	}
	defer unsubscribeAll(kc, subs)

	res := &listenResult{name: name, listeners: n, published: total, serverCPU: -1}
	// The server's CPU is counted from here (subscriptions made) to the
	// last delivery: the cost of the deliveries and publishes.
	cpu0 := procCPU(o.serverPID)
	var (
		mu       sync.Mutex
		errCount atomic.Int64
		complete atomic.Int64 // listeners that have every event
	)
	allDone := make(chan struct{})
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, id := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]int, total)
			var lat []time.Duration
			got, dup := 0, 0
			defer func() {
				mu.Lock()
				res.lat = append(res.lat, lat...)
				res.delivered += int64(got + dup)
				res.dup += int64(dup)
				res.lost += int64(total - got)
				mu.Unlock()
			}()
			// Listen on after having every event, until the figure ends,
			// to catch duplicates.
			for {
				m, err := kc.Listen(lctx, id)
				at := time.Now()
				if lctx.Err() != nil {
					return
				}
				if err != nil {
					if errCount.Add(1) == 1 {
						mu.Lock()
						res.firstErr = fmt.Sprintf("%.300s", err)
						mu.Unlock()
					}
					select { // as a client would: pause, then listen again
					case <-time.After(100 * time.Millisecond):
					case <-lctx.Done():
						return
					}
					continue
				}
				ev, err := m.Event()
				if err != nil || ev.KeepAlive() {
					continue
				}
				var be benchEvent
				if raw, err := json.Marshal(ev.Data); err != nil || json.Unmarshal(raw, &be) != nil || be.Run != run {
					continue // another event of the channel
				}
				if be.N < 0 || be.N >= total {
					continue
				}
				if seen[be.N]++; seen[be.N] > 1 {
					dup++
					continue
				}
				got++
				lat = append(lat, at.Sub(time.Unix(0, be.T)))
				if got == total && complete.Add(1) == int64(len(subs)) {
					close(allDone)
				}
			}
		}()
	}
	// The publisher: event i at start + i/rate, or at once when behind.
	pub := &client.Client{BaseURL: api, Token: token, HTTP: hc}
	interval := time.Duration(float64(time.Second) / o.rate)
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		t := time.Now()
		if err := pub.Publish(ctx, channel, client.PublishRequest{Data: benchEvent{Run: run, N: i, T: t.UnixNano()}}); err != nil {
			cancel()
			wg.Wait()
			return nil, fmt.Errorf("publish: %w", err)
		}
	}
	select {
	case <-allDone:
	case <-time.After(o.drain):
	case <-ctx.Done():
	}
	if cpu1 := procCPU(o.serverPID); cpu0 >= 0 && cpu1 >= 0 {
		res.serverCPU = cpu1 - cpu0
	}
	cancel()
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errCount.Load()
	fmt.Fprintf(os.Stderr, "  %-22s %d events x %d listeners: delivered %d, lost %d, duplicated %d, p50 %s, p99 %s\n",
		name, total, n, res.delivered, res.lost, res.dup, fmtDur(pct(res.lat, 0.5)), fmtDur(pct(res.lat, 0.99)))
	return res, nil
}

func unsubscribeAll(kc *client.Client, ids []int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, id := range ids {
		if id == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			kc.Unsubscribe(ctx, id)
		}()
	}
	wg.Wait()
}

// procCPU is the user+system CPU time of process pid, -1 when unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces), from ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

func printListen(w io.Writer, o listenOpts, rs []*listenResult) {
	conn := "keep-alive connections"
	if o.newConn {
		conn = "a new connection per request"
	}
	fmt.Fprintf(w, "\nListen fan-out: %.0f events/s for %v, %s; latency from publish to decoded event\n\n", o.rate, o.dur, conn)
	fmt.Fprintln(w, "| listeners | events | delivered | lost | duplicated | p50 | p99 | max | floor p50 | floor p99 | p99 / floor | server CPU per delivery | errors |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fp50, fp99, ratio := "-", "-", "-"
		if f := r.floor; f != nil {
			fp50, fp99 = fmtDur(pct(f.lat, 0.5)), fmtDur(pct(f.lat, 0.99))
			if p := pct(f.lat, 0.99); p > 0 {
				ratio = fmt.Sprintf("%.1f", float64(pct(r.lat, 0.99))/float64(p))
			}
		}
		cpu := "-"
		if r.serverCPU >= 0 && r.delivered > 0 {
			cpu = fmt.Sprintf("%.0f µs", float64(r.serverCPU.Microseconds())/float64(r.delivered))
		}
		maxLat := time.Duration(0)
		if len(r.lat) > 0 {
			maxLat = slices.Max(r.lat)
		}
		fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %d |\n", r.listeners, r.published,
			r.delivered, r.lost, r.dup, fmtDur(pct(r.lat, 0.5)), fmtDur(pct(r.lat, 0.99)), fmtDur(maxLat),
			fp50, fp99, ratio, cpu, r.errors)
	}
	for _, r := range rs {
		if r.firstErr != "" {
			fmt.Fprintf(w, "\nlisten_%d: first error: %s\n", r.listeners, r.firstErr)
		}
		if f := r.floor; f != nil && (f.lost > 0 || f.dup > 0 || f.firstErr != "") {
			fmt.Fprintf(w, "\nfloor_%d: lost %d, duplicated %d, first error: %s\n", f.listeners, f.lost, f.dup, f.firstErr)
		}
	}
}

// floorHub is the least a long-poll pub/sub server can do over HTTP: it
// answers POST /subscribe/{ch}, POST /unsubscribe/{id}, POST
// /publish/{ch} and GET /listen/{id} like the API (same shapes), keeping
// one cursor per subscription over an in-memory list of answers
// rendered once per event.
type floorHub struct {
	mu      sync.Mutex
	nextID  int64
	cursors map[int64]int
	msgs    [][]byte
	wake    chan struct{}
	done    chan struct{}
}

func newFloorHub() *floorHub {
	return &floorHub{cursors: map[int64]int{}, wake: make(chan struct{}), done: make(chan struct{})}
}

func (h *floorHub) stop() { close(h.done) }

func (h *floorHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch parts[0] {
	case "subscribe":
		h.mu.Lock()
		h.nextID++
		id := h.nextID
		h.cursors[id] = len(h.msgs)
		h.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"id": id, "channel": parts[1], "user": "floor", "promiscuous": false})
	case "unsubscribe":
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		h.mu.Lock()
		delete(h.cursors, id)
		h.mu.Unlock()
		w.Write([]byte("null"))
	case "publish":
		var in struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"detail":"bad body"}`, http.StatusUnprocessableEntity)
			return
		}
		ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "type": "api.kernelci.org", "data": in.Data})
		msg, _ := json.Marshal(map[string]any{"type": "message", "pattern": nil, "channel": parts[1], "data": string(ce)})
		h.mu.Lock()
		h.msgs = append(h.msgs, msg)
		close(h.wake)
		h.wake = make(chan struct{})
		h.mu.Unlock()
		w.Write([]byte("null"))
	case "listen":
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		timeout := time.NewTimer(45 * time.Second)
		defer timeout.Stop()
		for {
			h.mu.Lock()
			c, ok := h.cursors[id]
			if !ok {
				h.mu.Unlock()
				http.Error(w, `{"detail":"Subscription id not found"}`, http.StatusNotFound)
				return
			}
			if c < len(h.msgs) {
				msg := h.msgs[c]
				h.cursors[id] = c + 1
				h.mu.Unlock()
				w.Write(msg)
				return
			}
			wake := h.wake
			h.mu.Unlock()
			select {
			case <-wake:
			case <-timeout.C:
				w.Write([]byte(`{"type":"message","pattern":null,"channel":"x","data":"{\"data\":\"BEEP\"}"}`))
				return
			case <-r.Context().Done():
				return
			case <-h.done:
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}
