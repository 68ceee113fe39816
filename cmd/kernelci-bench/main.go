// Command kernelci-bench measures the embedded store at production scale:
// it generates a realistic KernelCI node tree (checkouts -> kbuilds ->
// jobs -> tests) of a chosen size directly through the store, then times
// the requests kernelci-pipeline and its clients make most (GET /node/{id},
// GET /nodes with a count when the page is full, GET /count) with p50/p99
// latencies. docs/performance.md has results and how to read them.
//
//	go run ./cmd/kernelci-bench -db /tmp/bench/1m.db -nodes 1000000
//
// An existing database is reused (generation is skipped) unless -regen.
//
// With -http URL it drives a running server instead, over HTTP, and
// prints each figure next to the machine's floor (http.go):
//
//	go run ./cmd/kernelci-bench -http http://127.0.0.1:8001 -password PW
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

func main() {
	var (
		dbPath  = flag.String("db", "kernelci-bench/bench.db", "database file (created and filled when missing or empty)")
		nodes   = flag.Int("nodes", 1_000_000, "number of nodes to generate")
		seed    = flag.Uint64("seed", 1, "random seed of the generator and of the query parameters")
		batch   = flag.Int("batch", 20000, "nodes per write transaction while generating")
		regen   = flag.Bool("regen", false, "delete the database and generate it again")
		iters   = flag.Int("iters", 200, "requests per query (each with other parameters)")
		budget  = flag.Duration("budget", 15*time.Second, "time budget per query (at least 5 requests run)")
		only    = flag.String("only", "", "run only the queries whose name matches this regexp")
		genOnly = flag.Bool("gen-only", false, "generate (if needed) and exit")
		explain = flag.Bool("explain", false, "print the query plans of one request per query")
		noOpt   = flag.Bool("no-optimize", false, "do not run Store.Optimize after generating")
		reOpt   = flag.Bool("optimize", false, "run Store.Optimize on the database before the queries")
		execSQL = flag.String("exec", "", "SQL to run on a separate connection before the queries (e.g. ANALYZE, for experiments)")
		cpuProf = flag.String("cpuprofile", "", "write a CPU profile to this file")

		httpURL   = flag.String("http", "", "HTTP mode: base URL of a running kernelci-api (e.g. http://127.0.0.1:8001)")
		user      = flag.String("user", "admin", "HTTP mode: user to log in as")
		password  = flag.String("password", "", "HTTP mode: password (or -token)")
		token     = flag.String("token", "", "HTTP mode: bearer token of a user allowed to create nodes")
		conns     = flag.Int("conns", 64, "HTTP mode: keep-alive connections of the read figures")
		dur       = flag.Duration("duration", 10*time.Second, "HTTP mode: duration of each throughput figure")
		writers   = flag.String("writers", "1,16", "HTTP mode: numbers of concurrent writing clients")
		hierarchy = flag.Int("hierarchy", 10000, "HTTP mode: nodes of the PUT /nodes/{id} hierarchy (0: skip)")
		hierReps  = flag.Int("hierarchy-reps", 5, "HTTP mode: hierarchies sent")
		hierConc  = flag.Int("hierarchy-conc", 1, "HTTP mode: hierarchies sent at once")
		slices    = flag.Int("read-slices", 5, "HTTP mode: turns in which the point reads and their floor alternate")
		syncMode  = flag.String("synchronous", "FULL", "HTTP mode: synchronous setting of the raw SQLite insert floor (the server's: FULL)")
		tmpDir    = flag.String("tmpdir", os.TempDir(), "HTTP mode: directory of the raw SQLite insert floor's file (put it on the server's disk)")
		// Listen fan-out (listen.go).
		listeners  = flag.String("listeners", "10,100,1000", "HTTP mode: numbers of listeners of the listen fan-out figures (each a subscription listening one GET at a time)")
		listenRate = flag.Float64("listen-rate", 10, "HTTP mode: events published per second during the listen fan-out")
		listenDur  = flag.Duration("listen-duration", 10*time.Second, "HTTP mode: how long the listen fan-out publishes")
		listenChan = flag.String("listen-channel", "", "HTTP mode: channel of the listen fan-out (default: a fresh test channel per figure)")
		newConn    = flag.Bool("listen-new-conn", false, "HTTP mode: listen fan-out with a new TCP connection per request, as kernelci-core's client (default: keep-alive)")
		serverPID  = flag.Int("server-pid", 0, "HTTP mode: PID of the server, to report its CPU time per delivery (Linux /proc)")
	)
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kernelci-bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *httpURL != "" {
		o := httpOpts{base: *httpURL, user: *user, pass: *password, token: *token, conns: *conns, dur: *dur,
			hierarchy: *hierarchy, hierReps: *hierReps, hierConc: *hierConc, readSlices: *slices, syncMode: *syncMode, tmpDir: *tmpDir}
		o.listen = listenOpts{rate: *listenRate, dur: *listenDur, channel: *listenChan, newConn: *newConn,
			drain: 30 * time.Second, serverPID: *serverPID}
		for _, s := range strings.Split(*listeners, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "kernelci-bench: -listeners: %q is not a positive number\n", s)
				os.Exit(2)
			}
			o.listen.listeners = append(o.listen.listeners, n)
		}
		if *listenRate <= 0 {
			fmt.Fprintln(os.Stderr, "kernelci-bench: -listen-rate must be positive")
			os.Exit(2)
		}
		for _, s := range strings.Split(*writers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "kernelci-bench: -writers: %q is not a positive number\n", s)
				os.Exit(2)
			}
			o.writers = append(o.writers, n)
		}
		if *only != "" {
			re, err := regexp.Compile(*only)
			if err != nil {
				fmt.Fprintln(os.Stderr, "kernelci-bench: -only:", err)
				os.Exit(2)
			}
			o.only = re
		}
		if err := runHTTP(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "kernelci-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(ctx, *dbPath, *nodes, *seed, *batch, *regen, *iters, *budget, *only, *genOnly, *explain, *noOpt, *reOpt, *execSQL); err != nil {
		fmt.Fprintln(os.Stderr, "kernelci-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func bench(ctx context.Context, path string, nodes int, seed uint64, batch int, regen bool, iters int, budget time.Duration, only string, genOnly, explain, noOpt, reOpt bool, execSQL string) error {
	filter, err := regexp.Compile(only)
	if err != nil {
		return err
	}
	if regen {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	t0 := time.Now()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Printf("open: %v\n", time.Since(t0).Round(time.Millisecond))
	have, err := st.CountNodes(ctx, query.Filter{})
	if err != nil {
		return err
	}
	if have == 0 {
		fmt.Printf("generating %d nodes (seed %d, %d per transaction) into %s\n", nodes, seed, batch, path)
		t0 := time.Now()
		last := t0
		err := generate(ctx, st, seed, nodes, batch, func(done int) {
			if time.Since(last) > 30*time.Second {
				last = time.Now()
				el := time.Since(t0)
				fmt.Printf("  %d nodes, %v, %.0f nodes/s\n", done, el.Round(time.Second), float64(done)/el.Seconds())
			}
		})
		if err != nil {
			return err
		}
		gen := time.Since(t0)
		fmt.Printf("generated in %v (%.0f nodes/s)\n", gen.Round(time.Second), float64(nodes)/gen.Seconds())
		if !noOpt {
			t1 := time.Now()
			if err := st.Optimize(ctx); err != nil {
				return err
			}
			fmt.Printf("optimize: %v\n", time.Since(t1).Round(time.Millisecond))
		}
	} else {
		fmt.Printf("reusing %s: %d nodes\n", path, have)
		if reOpt {
			t1 := time.Now()
			if err := st.Optimize(ctx); err != nil {
				return err
			}
			fmt.Printf("optimize: %v\n", time.Since(t1).Round(time.Millisecond))
		}
	}
	if execSQL != "" {
		t1 := time.Now()
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return err
		}
		_, err = db.ExecContext(ctx, execSQL)
		db.Close()
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		fmt.Printf("exec: %v\n", time.Since(t1).Round(time.Millisecond))
	}
	if fi, err := os.Stat(path); err == nil {
		fmt.Printf("database size: %.2f GB\n", float64(fi.Size())/1e9)
	}
	if genOnly {
		return nil
	}
	t1 := time.Now()
	p, err := sample(ctx, path, seed, iters)
	if err != nil {
		return err
	}
	fmt.Printf("sampled parameters in %v (%d checkouts, %d big jobs)\n\n", time.Since(t1).Round(time.Millisecond), len(p.checkouts), len(p.bigJobs))
	var results []*result
	for _, s := range specs {
		if !filter.MatchString(s.name) {
			continue
		}
		if explain {
			printPlan(ctx, st, s, p)
		}
		r, err := run(ctx, st, p, s, iters, budget)
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %-24s p50 %s\n", s.name, fmtDur(pct(r.lat, 0.5)))
	}
	fmt.Println()
	printResults(os.Stdout, results)
	return nil
}
