package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/transfer"
)

// transferStore is a store opened for export or import.
type transferStore struct {
	store.Store
	backend string       // "sqlite" or "mongo"
	mongo   *mongo.Store // nil for the embedded store
	close   func()
}

// openTransferStore opens the store the configuration names for export
// (forWrite false: nothing is created, the embedded store must exist) or
// import, with its key-value pairs and lists in Redis when REDIS_HOST is
// set (transfer_redis.go), as the server keeps them.
func openTransferStore(ctx context.Context, cfg *config.Config, forWrite bool, stderr io.Writer) (*transferStore, error) {
	var ts transferStore
	if cfg.MongoService != "" {
		ms, err := openMongo(ctx, cfg, stderr, forWrite, 0) // an export changes nothing
		if err != nil {
			return nil, err
		}
		if _, err := ms.CheckMigrations(ctx); err != nil {
			ms.Close()
			return nil, err
		}
		ts = transferStore{Store: ms, backend: "mongo", mongo: ms}
	} else {
		path := embeddedPath(cfg)
		if forWrite {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no embedded store at %s (set --data-dir, or MONGO_SERVICE for MongoDB): %w", path, err)
		}
		ss, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		ts = transferStore{Store: ss, backend: "sqlite"}
	}
	st, closeRedis, err := withRedis(cfg, ts.Store)
	if err != nil {
		ts.Store.Close()
		return nil, err
	}
	base := ts.Store
	ts.Store = st
	ts.close = func() { closeRedis(); base.Close() }
	return &ts, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// countsLine is "node 12, user 3, ..." for the non-zero counts.
func countsLine(counts map[string]int64) string {
	var parts []string
	for _, c := range store.TransferCollections {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, counts[c]))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// export writes every record of the store as JSON Lines.
func export(args []string, stdout, stderr io.Writer) int {
	var out string
	cfg, _, code := loadConfig("export", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "-", "file to write, - for standard output (the file holds password hashes: it is created mode 0600)")
	})
	if cfg == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := openTransferStore(ctx, cfg, false, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api export:", err)
		return 1
	}
	defer st.close()
	w, tmp := stdout, ""
	if out != "-" {
		// Write next to the target and rename at the end: a failed export
		// leaves no half file under the name.
		tmp = out + ".partial"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintln(stderr, "kernelci-api export:", err)
			return 1
		}
		defer func() {
			if tmp != "" {
				f.Close()
				os.Remove(tmp)
			}
		}()
		w = f
	} else if isTerminal(stdout) {
		fmt.Fprintln(stderr, "kernelci-api export: standard output is a terminal; use --out FILE or a pipe")
		return 2
	}
	p := transfer.NewProgress(stderr, isTerminal(stderr), "export")
	sum, err := transfer.Export(ctx, st, w, st.backend, p)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api export:", err)
		return 1
	}
	if tmp != "" {
		f := w.(*os.File)
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			fmt.Fprintln(stderr, "kernelci-api export:", err)
			return 1
		}
		if err := os.Rename(tmp, out); err != nil {
			fmt.Fprintln(stderr, "kernelci-api export:", err)
			return 1
		}
		tmp = ""
	}
	dest := "standard output"
	if out != "-" {
		dest, _ = filepath.Abs(out)
	}
	fmt.Fprintf(stderr, "Exported %s from the %s store to %s (last event sequence id %d).\n",
		countsLine(sum.Counts), st.backend, dest, sum.LastSequence)
	if sum.Renumbered > 0 {
		fmt.Fprintf(stderr, "%d events have no sequence id of their own (old reference data): the import gives them new ones.\n", sum.Renumbered)
	}
	return 0
}
