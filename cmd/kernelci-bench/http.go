package main

// HTTP mode (-http URL): drives a running kernelci-api from outside, as a
// client would, and prints each figure next to the machine's floor
// measured in the same run:
//
//   - point reads (GET /node/{id}, keep-alive connections) against a
//     plain net/http handler answering the same bytes from memory;
//   - writes (create + update pairs from 1 and 16 clients) against raw
//     SQLite inserts, one row a transaction, with the server's
//     synchronous setting, in a temporary file;
//   - a PUT /nodes/{id} hierarchy of -hierarchy nodes;
//   - a query mix over HTTP (shapes dashboards and pipelines send).
//
// API calls go through the public client package (login, node
// creation, updates, the hierarchy, the query mix), as a pipeline's
// would. The point reads (GET /node/{id}, GET /) and their floor keep
// raw net/http on purpose: both sides of that ratio must pay the same
// per-request client cost (read the body, no decoding), otherwise the
// client's JSON decoding of a Node would be counted against the server.
//
// Ratios matter more than absolutes: both sides share the machine.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

type httpOpts struct {
	base       string // e.g. http://127.0.0.1:8001 (the /latest prefix is added)
	user, pass string
	token      string
	conns      int
	dur        time.Duration
	writers    []int
	hierarchy  int
	hierReps   int
	hierConc   int
	readSlices int
	syncMode   string
	tmpDir     string
	only       *regexp.Regexp
	listen     listenOpts // listen fan-out (listen.go)
}

type httpResult struct {
	name        string
	ops         int64
	elapsed     time.Duration
	lat         []time.Duration
	unit        string // what ops count ("req", "node writes", "hierarchies")
	floor       float64
	floorName   string
	errors      int64
	firstErrMsg string
	serverCPU   time.Duration // CPU the server spent during the figure (0: unknown)
}

func (r *httpResult) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

type httpBench struct {
	o      httpOpts
	client *http.Client   // shared transport of kc and the raw point reads
	api    string         // base URL with /latest
	kc     *client.Client // API calls other than the point reads
}

func runHTTP(ctx context.Context, o httpOpts) error {
	tr := &http.Transport{MaxIdleConns: o.conns * 2, MaxIdleConnsPerHost: o.conns * 2, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 120 * time.Second}
	b := &httpBench{o: o, client: hc, api: strings.TrimSuffix(o.base, "/") + "/latest"}
	b.kc = &client.Client{BaseURL: b.api, Token: o.token, HTTP: hc}
	if b.o.token == "" {
		tok, err := b.kc.Login(ctx, o.user, o.pass)
		if err != nil {
			return fmt.Errorf("login as %s: %w", o.user, err)
		}
		b.o.token, b.kc.Token = tok.AccessToken, tok.AccessToken
	}
	ids, sample, err := b.seedReads(ctx, 1000)
	if err != nil {
		return err
	}
	var out []*httpResult
	want := func(name string) bool { return o.only == nil || o.only.MatchString(name) }
	if want("reads") {
		rs, err := b.pointReads(ctx, ids, sample) // reads.go
		if err != nil {
			return err
		}
		out = append(out, rs...)
	}
	if want("writes") {
		raw, err := rawInsertFloor(ctx, o.tmpDir, o.syncMode, len(sample), o.dur)
		if err != nil {
			return err
		}
		out = append(out, raw)
		for _, w := range o.writers {
			r := b.writes(ctx, w, o.dur)
			r.floor, r.floorName = raw.rate(), raw.name
			out = append(out, r)
		}
	}
	if want("hierarchy") && o.hierarchy > 0 {
		r, err := b.hierarchies(ctx, o.hierarchy, o.hierReps, o.hierConc)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	if want("queries") {
		out = append(out, b.queries(ctx)...)
	}
	var fan []*listenResult
	if want("listen") && len(o.listen.listeners) > 0 {
		if fan, err = b.listenFanOut(ctx); err != nil {
			return err
		}
	}
	if len(out) > 0 {
		printHTTP(os.Stdout, o, out)
	}
	if len(fan) > 0 {
		printListen(os.Stdout, o.listen, fan)
	}
	return nil
}

// do sends one GET and returns the status and body: the raw request of
// the point reads and their floor (see the package comment above).
func (b *httpBench) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.api+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// seedReads returns up to n node ids to read (creating nodes when the
// server has fewer) and the body of one GET /node/{id}.
func (b *httpBench) seedReads(ctx context.Context, n int) ([]string, []byte, error) {
	nodes, err := b.kc.FindNodesFast(ctx, client.Where().Limit(n))
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, x := range nodes {
		ids = append(ids, x.ID.String())
	}
	for i := len(ids); i < n; i++ {
		id, err := b.create(ctx, fmt.Sprintf("bench-read-%d", i))
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
	}
	code, sample, err := b.get(ctx, "/node/"+ids[len(ids)/2])
	if err != nil || code != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /node: %d %v", code, err)
	}
	return ids, sample, nil
}

// benchNode is a node as a pipeline creates it: a test of a job with the
// usual data fields (about 1 kB of JSON stored).
func benchNode(name string) *client.Node {
	return &client.Node{
		Kind: "test", Name: name, Path: []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86", name},
		Group: strPtr("baseline-x86"), State: client.StateRunning,
		Data: map[string]any{
			"kernel_revision": map[string]any{
				"tree": "mainline", "branch": "master", "commit": "2d5404caa8c7bb5c4e0435f94b28834ae5456623",
				"url": "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git", "describe": "v6.12-rc3-123-g2d5404caa8c7",
			},
			"arch": "x86_64", "defconfig": "x86_64_defconfig", "compiler": "gcc-12", "platform": "qemu-x86",
			"runtime": "lava-collabora", "job_id": "12345678", "error_code": nil,
		},
	}
}

func strPtr(s string) *string { return &s }

// done marks n finished with a pass, as a pipeline does.
func done(n *client.Node) {
	n.State, n.Result = client.StateDone, strPtr("pass")
}

func (b *httpBench) create(ctx context.Context, name string) (string, error) {
	n, err := b.kc.CreateNode(ctx, benchNode(name))
	if err != nil {
		return "", err
	}
	return n.ID.String(), nil
}

// load runs conns clients for dur, each sending the requests next gives.
func (b *httpBench) load(ctx context.Context, name string, conns int, dur time.Duration, unit string, next func(*rand.Rand) (path string)) *httpResult {
	res := &httpResult{name: name, unit: unit}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	rs := make([]*rand.Rand, conns)
	for c := range rs {
		rs[c] = rand.New(rand.NewPCG(uint64(c), 99))
	}
	res.clients(conns, func() bool { return ctx.Err() != nil }, func(c, _ int) error {
		p := next(rs[c])
		code, out, err := b.get(context.Background(), p)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %v %.200s", p, code, err, out)
		}
		return nil
	})
	res.ops = int64(len(res.lat))
	fmt.Fprintf(os.Stderr, "  %-22s %8.0f %s/s\n", name, res.rate(), unit)
	return res
}

// clients runs n clients until stop; each calls op again and again (op
// gets the client's number and its call's) and res gets the latency of
// every call that succeeded, the number of errors and the first one.
func (res *httpResult) clients(n int, stop func() bool, op func(c, i int) error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs atomic.Int64
	start := time.Now()
	for c := range n {
		wg.Go(func() {
			var lat []time.Duration
			for i := 0; !stop(); i++ {
				t0 := time.Now()
				if err := op(c, i); err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						res.firstErrMsg = err.Error()
						mu.Unlock()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errs.Load()
}

// rawInsertFloor inserts rows of size bytes into a fresh SQLite file,
// one row a transaction, with the given synchronous setting: what the
// disk allows one committer.
func rawInsertFloor(ctx context.Context, dir, syncMode string, size int, dur time.Duration) (*httpResult, error) {
	d, err := os.MkdirTemp(dir, "kernelci-bench-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(d)
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(d, "floor.db")+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (rid INTEGER PRIMARY KEY, id TEXT UNIQUE, doc TEXT)"); err != nil {
		return nil, err
	}
	doc := strings.Repeat("x", size)
	res := &httpResult{name: "floor_raw_sqlite_insert", unit: "inserts"}
	start := time.Now()
	for i := 0; time.Since(start) < dur; i++ {
		t0 := time.Now()
		if _, err := db.ExecContext(ctx, "INSERT INTO t (id, doc) VALUES (?, ?)", strconv.Itoa(i), doc); err != nil {
			return nil, err
		}
		res.lat = append(res.lat, time.Since(t0))
	}
	res.elapsed = time.Since(start)
	res.ops = int64(len(res.lat))
	fmt.Fprintf(os.Stderr, "  %-22s %8.0f inserts/s (synchronous=%s)\n", res.name, res.rate(), syncMode)
	return res, nil
}

// writes has w clients each create a node and update it, for dur; ops
// are node writes (two a pair), latencies those of the pairs.
func (b *httpBench) writes(ctx context.Context, w int, dur time.Duration) *httpResult {
	res := &httpResult{name: fmt.Sprintf("writes_%d_clients", w), unit: "node writes"}
	start := time.Now()
	res.clients(w, func() bool { return time.Since(start) >= dur }, func(c, i int) error {
		n, err := b.kc.CreateNode(ctx, benchNode(fmt.Sprintf("bench-w%d-%d-%d", c, start.UnixNano(), i)))
		if err != nil {
			return err
		}
		done(n)
		_, err = b.kc.UpdateNode(ctx, n, false)
		return err
	})
	res.ops = 2 * int64(len(res.lat))
	fmt.Fprintf(os.Stderr, "  %-22s %8.0f node writes/s\n", res.name, res.rate())
	return res
}

// hierarchies sends reps PUT /nodes/{id} of n nodes (a checkout root,
// jobs of 100 tests under it), conc at a time.
func (b *httpBench) hierarchies(ctx context.Context, n, reps, conc int) (*httpResult, error) {
	res := &httpResult{name: fmt.Sprintf("hierarchy_%d_nodes_x%d", n, conc), unit: "hierarchies"}
	hiers := make([]*client.Hierarchy, reps)
	for i := range reps {
		root, err := b.create(ctx, fmt.Sprintf("bench-hier-root-%d", i))
		if err != nil {
			return nil, err
		}
		rootNode := benchNode(fmt.Sprintf("bench-hier-root-%d", i))
		if rootNode.ID, err = objectid.Parse(root); err != nil {
			return nil, err
		}
		rootNode.Kind = "job"
		done(rootNode)
		var jobs []*client.Hierarchy
		left := n - 1
		for j := 0; left > 0; j++ {
			job := benchNode(fmt.Sprintf("suite-%d", j))
			done(job)
			left--
			var tests []*client.Hierarchy
			for k := 0; k < 99 && left > 0; k++ {
				t := benchNode(fmt.Sprintf("suite-%d.case-%d", j, k))
				done(t)
				tests = append(tests, &client.Hierarchy{Node: t, ChildNodes: []*client.Hierarchy{}})
				left--
			}
			jobs = append(jobs, &client.Hierarchy{Node: job, ChildNodes: tests})
		}
		hiers[i] = &client.Hierarchy{Node: rootNode, ChildNodes: jobs}
	}
	// The client encodes the body inside SubmitHierarchy, so the timed
	// call includes that client-side encoding (a pipeline pays it too).
	t0 := time.Now()
	sz, _ := json.Marshal(hiers[0])
	fmt.Fprintf(os.Stderr, "  hierarchy body: ~%.1f MB as JSON with nulls (json.Marshal %s, a lower bound of the client's encoding in each timed call)\n",
		float64(len(sz))/1e6, fmtDur(time.Since(t0)))
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= reps {
					return
				}
				t0 := time.Now()
				_, err := b.kc.SubmitHierarchy(ctx, hiers[i])
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("%.300s", err)
					}
				} else {
					res.lat = append(res.lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res.elapsed = time.Since(start)
	res.ops = int64(len(res.lat))
	fmt.Fprintf(os.Stderr, "  %-22s p50 %s\n", res.name, fmtDur(pct(res.lat, 0.5)))
	return res, nil
}

// httpQueries are shapes of GET /nodes (FindNodes) and /count
// (CountNodes) that dashboards and pipelines send, with parameters that
// need no sampling.
var httpQueries = []struct {
	name  string
	count bool
	q     *client.Query
}{
	{"cliff_created_wide", false, client.Where().Eq("kind", "test").Eq("result", "fail").Eq("data.kernel_revision.tree", "mainline").Gt("created", "2000-01-01T00:00:00").Limit(50)},
	{"cliff_no_window", false, client.Where().Eq("kind", "test").Eq("result", "fail").Eq("data.kernel_revision.tree", "mainline").Limit(50)},
	{"kind_test_limit1", false, client.Where().Eq("kind", "test").Limit(1)},
	{"created_wide", false, client.Where().Gt("created", "2000-01-01T00:00:00").Limit(100)},
	{"kind_job_name_re", false, client.Where().Eq("kind", "job").Re("name", "rock-pi").Limit(100)},
	{"kbuild_arch", false, client.Where().Eq("kind", "kbuild").Eq("data.arch", "x86_64").Limit(100)},
	{"count_name_re", true, client.Where().Re("name", "rock-pi")},
	{"count_kind_test", true, client.Where().Eq("kind", "test")},
}

func (b *httpBench) queries(ctx context.Context) []*httpResult {
	var out []*httpResult
	for _, q := range httpQueries {
		res := &httpResult{name: "query_" + q.name, unit: "req"}
		start := time.Now()
		for i := 0; i < 200 && (i < 5 || time.Since(start) < b.o.dur); i++ {
			t0 := time.Now()
			var err error
			if q.count {
				_, err = b.kc.CountNodes(ctx, q.q)
			} else {
				_, err = b.kc.FindNodes(ctx, q.q)
			}
			if err != nil {
				res.errors++
				if res.firstErrMsg == "" {
					res.firstErrMsg = fmt.Sprintf("%.300s", err)
				}
				continue
			}
			res.lat = append(res.lat, time.Since(t0))
		}
		res.elapsed = time.Since(start)
		res.ops = int64(len(res.lat))
		fmt.Fprintf(os.Stderr, "  %-22s p50 %s\n", res.name, fmtDur(pct(res.lat, 0.5)))
		out = append(out, res)
	}
	return out
}

func printHTTP(w io.Writer, o httpOpts, rs []*httpResult) {
	fmt.Fprintf(w, "\n%s, %d connections for reads, %v per figure\n\n", o.base, o.conns, o.dur)
	fmt.Fprintln(w, "| figure | n | rate | p50 | p99 | floor | ratio | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|")
	for _, r := range rs {
		floor, ratio := "-", "-"
		if r.floor > 0 {
			floor = fmt.Sprintf("%s %.0f/s", r.floorName, r.floor)
			ratio = fmt.Sprintf("%.2f", r.rate()/r.floor)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f %s/s | %s | %s | %s | %s | %d |\n", r.name, r.ops, r.rate(), r.unit,
			fmtDur(pct(r.lat, 0.5)), fmtDur(pct(r.lat, 0.99)), floor, ratio, r.errors)
	}
	for _, r := range rs {
		if r.serverCPU > 0 && r.ops > 0 {
			fmt.Fprintf(w, "\n%s: server CPU %.1f µs a request (its process_cpu_seconds_total)", r.name,
				float64(r.serverCPU.Microseconds())/float64(r.ops))
		}
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		if r.firstErrMsg != "" {
			fmt.Fprintf(w, "\n%s: first error: %s\n", r.name, r.firstErrMsg)
		}
	}
}
