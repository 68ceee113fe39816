package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"golang.org/x/term"

	"github.com/kernelci/kernelci-api-go/internal/transfer"
)

// stdin is the input of "import --in -" (tests replace it).
var stdin io.Reader = os.Stdin

// importCmd reads a file written by export into the store.
func importCmd(args []string, stdout, stderr io.Writer) int {
	var in string
	var force bool
	cfg, _, code := loadConfig("import", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&in, "in", "-", "file to read, - for standard input")
		fs.BoolVar(&force, "force", false, "import into a store that holds data, DELETING that data first (indexes, counters and migration records stay)")
	})
	if cfg == nil {
		return code
	}
	var r io.Reader = stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			fmt.Fprintln(stderr, "kernelci-api import:", err)
			return 1
		}
		defer f.Close()
		r = f
	} else if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(stderr, "kernelci-api import: standard input is a terminal; use --in FILE or a pipe from 'kernelci-api export'")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := openTransferStore(ctx, cfg, true, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api import:", err)
		return 1
	}
	defer st.close()
	p := transfer.NewProgress(stderr, isTerminal(stderr), "import")
	sum, err := transfer.Import(ctx, st, r, transfer.ImportOptions{
		Force:    force,
		Progress: p,
		Log:      func(s string) { fmt.Fprintln(stderr, "kernelci-api import:", s) },
	})
	if errors.Is(err, transfer.ErrNotEmpty) {
		fmt.Fprintf(stderr, "kernelci-api import: %v.\nImport into an empty store, or add --force to delete what it holds first.\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api import:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Imported %s into the %s store; event sequence ids continue after %d.\n",
		countsLine(sum.Counts), st.backend, sum.LastSequence)
	if st.mongo != nil {
		if pending, err := st.mongo.CheckMigrations(ctx); err == nil && len(pending) > 0 {
			fmt.Fprintf(stdout, "%d migrations are pending on this database: run 'kernelci-api migrate up' before serving.\n", len(pending))
		}
	}
	return 0
}
