package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/lifecycle"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// purge deletes now the nodes the daily retention job would delete
// (created more than NODE_PURGE_AGE_DAYS ago, checkouts excepted), after
// listing them by kind; with --dry-run it only lists them.
func purge(args []string, stdout, stderr io.Writer) int {
	var dryRun bool
	cfg, _, code := loadConfig("purge", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "only report what would be deleted")
	})
	if cfg == nil {
		return code
	}
	if cfg.MongoService == "" {
		// Do not create an empty database where there is none.
		path := filepath.Join(cfg.DataDir, "kernelci.db")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "kernelci-api: no database at %s (set --data-dir or MONGO_SERVICE)\n", path)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	defer st.Close()
	ls := st
	age := time.Duration(cfg.NodePurgeAgeDays) * 24 * time.Hour
	before := lifecycle.PurgeBefore(time.Now(), age)
	counts, err := ls.CountPurgeable(ctx, before)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	printPurgeable(stdout, counts, before, cfg.NodePurgeAgeDays)
	if dryRun {
		fmt.Fprintln(stdout, "Dry run: nothing was deleted.")
		return 0
	}
	n, err := lifecycle.Purge(ctx, ls, before, lifecycle.DefaultPurgeBatch, lifecycle.DefaultPurgePause, nil)
	if err != nil {
		fmt.Fprintf(stderr, "kernelci-api: purge stopped after %d nodes: %v\n", n, err)
		return 1
	}
	fmt.Fprintf(stdout, "Deleted %d nodes.\n", n)
	return 0
}

// printPurgeable lists the purgeable nodes by kind with a total.
func printPurgeable(w io.Writer, counts map[string]int64, before time.Time, days int) {
	fmt.Fprintf(w, "Nodes created before %s (older than %d days; %v are kept):\n",
		model.FormatTime(before), days, store.PurgeExcludedKinds)
	kinds := make([]string, 0, len(counts))
	var total int64
	for k, n := range counts {
		kinds = append(kinds, k)
		total += n
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-12s %10d\n", k, counts[k])
	}
	fmt.Fprintf(w, "  %-12s %10d\n", "total", total)
}
