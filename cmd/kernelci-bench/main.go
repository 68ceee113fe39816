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
