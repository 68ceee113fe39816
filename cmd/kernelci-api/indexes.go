package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// indexes prints the declared, present and missing MongoDB indexes; with
// --create it creates the missing ones first (as "serve" does at start).
func indexes(args []string, stdout, stderr io.Writer) int {
	var create bool
	cfg, _, code := loadConfig("indexes", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&create, "create", false, "create the missing indexes (and fix the event TTL) before reporting")
	})
	if cfg == nil {
		return code
	}
	if cfg.MongoService == "" {
		fmt.Fprintln(stdout, "MONGO_SERVICE is not set: the embedded store keeps its indexes in its schema; nothing to report.")
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := openMongo(ctx, cfg, stderr, false, 0)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	defer st.Close()
	report := st.Indexes
	if create {
		report = st.EnsureIndexes
	}
	rep, err := report(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Database %q\n\n", st.Database())
	if err := rep.Print(stdout); err != nil {
		return 1
	}
	if len(rep.Missing()) > 0 && !create {
		fmt.Fprintln(stdout, "\n'kernelci-api serve' creates missing indexes at start-up; 'kernelci-api indexes --create' does it now.")
	}
	return 0
}
