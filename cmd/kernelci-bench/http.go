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
// Ratios matter more than absolutes: both sides share the machine.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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
	syncMode   string
	tmpDir     string
	only       *regexp.Regexp
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
}

func (r *httpResult) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

type httpBench struct {
	o      httpOpts
	client *http.Client
	api    string
}

func runHTTP(ctx context.Context, o httpOpts) error {
	tr := &http.Transport{MaxIdleConns: o.conns * 2, MaxIdleConnsPerHost: o.conns * 2, IdleConnTimeout: time.Minute}
	b := &httpBench{o: o, client: &http.Client{Transport: tr, Timeout: 120 * time.Second}, api: strings.TrimSuffix(o.base, "/") + "/latest"}
	if b.o.token == "" {
		if err := b.login(); err != nil {
			return err
		}
	}
	ids, sample, err := b.seedReads(ctx, 1000)
	if err != nil {
		return err
	}
	var out []*httpResult
	want := func(name string) bool { return o.only == nil || o.only.MatchString(name) }
	var static *httpResult
	if want("reads") {
		static, err = b.staticFloor(ctx, sample)
		if err != nil {
			return err
		}
		out = append(out, static)
		rd := b.load(ctx, "get_node", o.conns, o.dur, "req", func(r *rand.Rand) (string, string, []byte) {
			return "GET", "/node/" + ids[r.IntN(len(ids))], nil
		})
		rd.floor, rd.floorName = static.rate(), static.name
		root := b.load(ctx, "get_root", o.conns, o.dur, "req", func(*rand.Rand) (string, string, []byte) { return "GET", "/", nil })
		root.floor, root.floorName = static.rate(), static.name
		out = append(out, rd, root)
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
	printHTTP(os.Stdout, o, out)
	return nil
}

func (b *httpBench) login() error {
	resp, err := b.client.PostForm(b.api+"/user/login", url.Values{"username": {b.o.user}, "password": {b.o.pass}})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return fmt.Errorf("login as %s: status %d", b.o.user, resp.StatusCode)
	}
	b.o.token = tok.AccessToken
	return nil
}

// do sends one request and returns the status and body.
func (b *httpBench) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.api+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if method != "GET" {
		req.Header.Set("Authorization", "Bearer "+b.o.token)
		req.Header.Set("Content-Type", "application/json")
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
	code, body, err := b.do(ctx, "GET", "/nodes/fast?limit="+strconv.Itoa(n), nil)
	if err != nil || code != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /nodes/fast: %d %v", code, err)
	}
	var nodes []struct{ ID string }
	if err := json.Unmarshal(body, &nodes); err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, x := range nodes {
		ids = append(ids, x.ID)
	}
	for i := len(ids); i < n; i++ {
		id, err := b.create(ctx, fmt.Sprintf("bench-read-%d", i))
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
	}
	code, sample, err := b.do(ctx, "GET", "/node/"+ids[len(ids)/2], nil)
	if err != nil || code != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /node: %d %v", code, err)
	}
	return ids, sample, nil
}

// benchNode is a node as a pipeline creates it: a test of a job with the
// usual data fields (about 1 kB of JSON stored).
func benchNode(name string) map[string]any {
	return map[string]any{
		"kind": "test", "name": name, "path": []string{"checkout", "kbuild-gcc-12-x86", "baseline-x86", name},
		"group": "baseline-x86", "state": "running",
		"data": map[string]any{
			"kernel_revision": map[string]any{
				"tree": "mainline", "branch": "master", "commit": "2d5404caa8c7bb5c4e0435f94b28834ae5456623",
				"url": "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git", "describe": "v6.12-rc3-123-g2d5404caa8c7",
			},
			"arch": "x86_64", "defconfig": "x86_64_defconfig", "compiler": "gcc-12", "platform": "qemu-x86",
			"runtime": "lava-collabora", "job_id": "12345678", "error_code": nil,
		},
	}
}

func (b *httpBench) create(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(benchNode(name))
	code, out, err := b.do(ctx, "POST", "/node", body)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("POST /node: %d %s", code, out)
	}
	var n struct{ ID string }
	if err := json.Unmarshal(out, &n); err != nil {
		return "", err
	}
	return n.ID, nil
}

// load runs conns clients for dur, each sending the requests next gives.
func (b *httpBench) load(ctx context.Context, name string, conns int, dur time.Duration, unit string, next func(*rand.Rand) (method, path string, body []byte)) *httpResult {
	res := &httpResult{name: name, unit: unit}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 99))
			var lat []time.Duration
			for ctx.Err() == nil {
				m, p, body := next(r)
				t0 := time.Now()
				code, out, err := b.do(context.Background(), m, p, body)
				if err != nil || code != http.StatusOK {
					if errs.Add(1) == 1 {
						mu.Lock()
						res.firstErrMsg = fmt.Sprintf("%s %s: %d %v %.200s", m, p, code, err, out)
						mu.Unlock()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ops = int64(len(res.lat))
	res.errors = errs.Load()
	fmt.Fprintf(os.Stderr, "  %-22s %8.0f %s/s\n", name, res.rate(), unit)
	return res
}

// staticFloor serves body from memory with a plain net/http server on
// 127.0.0.1 and loads it like GET /node/{id}.
func (b *httpBench) staticFloor(ctx context.Context, body []byte) (*httpResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	floor := &httpBench{o: b.o, client: b.client, api: "http://" + ln.Addr().String()}
	r := floor.load(ctx, "floor_static_handler", b.o.conns, b.o.dur, "req", func(*rand.Rand) (string, string, []byte) {
		return "GET", "/node/x", nil
	})
	return r, nil
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
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs atomic.Int64
	start := time.Now()
	for c := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := 0; time.Since(start) < dur; i++ {
				t0 := time.Now()
				err := func() error {
					node := benchNode(fmt.Sprintf("bench-w%d-%d-%d", c, start.UnixNano(), i))
					body, _ := json.Marshal(node)
					code, out, err := b.do(ctx, "POST", "/node", body)
					if err != nil || code != http.StatusOK {
						return fmt.Errorf("POST /node: %d %v %.200s", code, err, out)
					}
					var n map[string]any
					if err := json.Unmarshal(out, &n); err != nil {
						return err
					}
					n["state"] = "done"
					n["result"] = "pass"
					body, _ = json.Marshal(n)
					code, out, err = b.do(ctx, "PUT", "/node/"+n["id"].(string), body)
					if err != nil || code != http.StatusOK {
						return fmt.Errorf("PUT /node: %d %v %.200s", code, err, out)
					}
					return nil
				}()
				if err != nil {
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
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ops = 2 * int64(len(res.lat))
	res.errors = errs.Load()
	fmt.Fprintf(os.Stderr, "  %-22s %8.0f node writes/s\n", res.name, res.rate())
	return res
}

// hierarchies sends reps PUT /nodes/{id} of n nodes (a checkout root,
// jobs of 100 tests under it), conc at a time.
func (b *httpBench) hierarchies(ctx context.Context, n, reps, conc int) (*httpResult, error) {
	res := &httpResult{name: fmt.Sprintf("hierarchy_%d_nodes_x%d", n, conc), unit: "hierarchies"}
	bodies := make([][]byte, reps)
	roots := make([]string, reps)
	for i := range reps {
		root, err := b.create(ctx, fmt.Sprintf("bench-hier-root-%d", i))
		if err != nil {
			return nil, err
		}
		roots[i] = root
		rootNode := benchNode(fmt.Sprintf("bench-hier-root-%d", i))
		rootNode["kind"], rootNode["state"], rootNode["result"] = "job", "done", "pass"
		var jobs []any
		left := n - 1
		for j := 0; left > 0; j++ {
			job := benchNode(fmt.Sprintf("suite-%d", j))
			job["state"], job["result"] = "done", "pass"
			left--
			var tests []any
			for k := 0; k < 99 && left > 0; k++ {
				t := benchNode(fmt.Sprintf("suite-%d.case-%d", j, k))
				t["state"], t["result"] = "done", "pass"
				tests = append(tests, map[string]any{"node": t, "child_nodes": []any{}})
				left--
			}
			jobs = append(jobs, map[string]any{"node": job, "child_nodes": tests})
		}
		bodies[i], _ = json.Marshal(map[string]any{"node": rootNode, "child_nodes": jobs})
	}
	fmt.Fprintf(os.Stderr, "  hierarchy body: %.1f MB\n", float64(len(bodies[0]))/1e6)
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
				code, out, err := b.do(ctx, "PUT", "/nodes/"+roots[i], bodies[i])
				d := time.Since(t0)
				mu.Lock()
				if err != nil || code != http.StatusOK {
					if firstErr == nil {
						firstErr = fmt.Errorf("PUT /nodes: %d %v %.300s", code, err, out)
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

// httpQueries are shapes of GET /nodes and /count that dashboards and
// pipelines send, with parameters that need no sampling.
var httpQueries = []struct{ name, path string }{
	{"cliff_created_wide", "/nodes?kind=test&result=fail&data.kernel_revision.tree=mainline&created__gt=2000-01-01T00:00:00&limit=50"},
	{"cliff_no_window", "/nodes?kind=test&result=fail&data.kernel_revision.tree=mainline&limit=50"},
	{"kind_test_limit1", "/nodes?kind=test&limit=1"},
	{"created_wide", "/nodes?created__gt=2000-01-01T00:00:00&limit=100"},
	{"kind_job_name_re", "/nodes?kind=job&name__re=rock-pi&limit=100"},
	{"kbuild_arch", "/nodes?kind=kbuild&data.arch=x86_64&limit=100"},
	{"count_name_re", "/count?name__re=rock-pi"},
	{"count_kind_test", "/count?kind=test"},
}

func (b *httpBench) queries(ctx context.Context) []*httpResult {
	var out []*httpResult
	for _, q := range httpQueries {
		res := &httpResult{name: "query_" + q.name, unit: "req"}
		start := time.Now()
		for i := 0; i < 200 && (i < 5 || time.Since(start) < b.o.dur); i++ {
			t0 := time.Now()
			code, body, err := b.do(ctx, "GET", q.path, nil)
			if err != nil || code != http.StatusOK {
				res.errors++
				if res.firstErrMsg == "" {
					res.firstErrMsg = fmt.Sprintf("%d %v %.200s", code, err, body)
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
		if r.firstErrMsg != "" {
			fmt.Fprintf(w, "\n%s: first error: %s\n", r.name, r.firstErrMsg)
		}
	}
}
