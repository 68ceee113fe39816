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
	"text/tabwriter"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// migrateMaxTime bounds each database call of a migration: longer than the
// API's limit, since a migration may scan a whole collection.
const migrateMaxTime = 30 * time.Minute

// embeddedPath is the database file of the embedded store.
func embeddedPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "kernelci.db") }

// migrate shows or changes the schema version of the store:
//
//	kernelci-api migrate [status]      the applied and pending migrations
//	kernelci-api migrate up [--to N]   apply the pending ones (up to version N)
//	kernelci-api migrate down [--to N] revert the last one (down to version N)
func migrate(args []string, stdout, stderr io.Writer) int {
	action := "status"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if action != "status" && action != "up" && action != "down" {
		fmt.Fprintf(stderr, "kernelci-api migrate: unknown action %q: want status, up or down\n", action)
		return 2
	}
	to := -1
	cfg, _, code := loadConfig("migrate "+action, args, stderr, func(fs *flag.FlagSet) {
		if action != "status" {
			fs.IntVar(&to, "to", -1, "target version (up: default the latest; down: default one below the current)")
		}
	})
	if cfg == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cfg.MongoService == "" {
		return migrateEmbedded(ctx, cfg, action, stdout, stderr)
	}
	st, err := openMongo(ctx, cfg, stderr, false, migrateMaxTime)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	defer st.Close()
	logLine := func(s string) { fmt.Fprintln(stdout, s) }
	switch action {
	case "up":
		done, err := st.MigrateUp(ctx, to, "kernelci-api "+app.Version, logLine)
		if err != nil {
			fmt.Fprintln(stderr, "kernelci-api migrate up:", err)
			return 1
		}
		if len(done) == 0 {
			fmt.Fprintln(stdout, "Nothing to apply.")
		}
	case "down":
		if to < 0 {
			rep, err := st.MigrationStatus(ctx)
			if err != nil {
				fmt.Fprintln(stderr, "kernelci-api:", err)
				return 1
			}
			to = max(rep.Version-1, 0)
		}
		done, err := st.MigrateDown(ctx, to, logLine)
		if err != nil {
			fmt.Fprintln(stderr, "kernelci-api migrate down:", err)
			return 1
		}
		if len(done) == 0 {
			fmt.Fprintln(stdout, "Nothing to revert.")
		}
	}
	rep, err := st.MigrationStatus(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	if action != "status" {
		fmt.Fprintln(stdout)
	}
	printMongoMigrations(stdout, rep)
	if last, err := st.LastSequence(ctx); err == nil {
		fmt.Fprintf(stdout, "Last event sequence id: %d.\n", last)
	}
	if len(rep.Unknown) > 0 {
		return 1
	}
	return 0
}

func fmtApplied(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return "applied " + model.FormatTime(*t)[:19]
}

func printMongoMigrations(w io.Writer, rep *mongo.MigrationReport) {
	fmt.Fprintf(w, "Database %q (MongoDB)\n\n", rep.Database)
	fmt.Fprintln(w, "Reference migrations (collection pymongo_migrate, written by the reference's pymongo-migrate):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch {
	case !rep.RefCollection:
		fmt.Fprintln(tw, "  none recorded (no pymongo_migrate collection: a new database, or one the reference created at its current layout)")
	default:
		for _, r := range rep.Reference {
			state := fmtApplied(r.Applied)
			if r.Applied == nil {
				state = "downgraded"
			}
			note := ""
			if !r.Known {
				note = "(not one of the reference migrations this version knows)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, state, note)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "kernelci-api migrations (collection kernelci_api_migrations):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, m := range rep.Ours {
		state, by := "pending", ""
		if m.Applied != nil {
			state, by = fmtApplied(m.Applied), "by "+m.By
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", m.ID(), state, by, m.Summary)
	}
	for _, m := range rep.Unknown {
		fmt.Fprintf(tw, "  %04d_%s\t%s\tby %s\tUNKNOWN to this version\n", m.Version, m.Name, fmtApplied(m.Applied), m.By)
	}
	tw.Flush()
	fmt.Fprintln(w)
	pending := rep.Pending()
	switch {
	case len(rep.Unknown) > 0:
		fmt.Fprintf(w, "The database is at version %d, newer than this kernelci-api (%d): upgrade kernelci-api; migrate and serve refuse to run on it.\n",
			rep.Version, mongo.Latest())
	case len(pending) == 0:
		fmt.Fprintf(w, "Version %d of %d: up to date.\n", rep.Version, mongo.Latest())
	default:
		fmt.Fprintf(w, "Version %d of %d: %d pending; 'kernelci-api migrate up' applies them.\n", rep.Version, mongo.Latest(), len(pending))
	}
}

// migrateEmbedded handles the embedded store, whose schema version is its
// PRAGMA user_version and which every start brings up to date.
func migrateEmbedded(ctx context.Context, cfg *config.Config, action string, stdout, stderr io.Writer) int {
	path := embeddedPath(cfg)
	switch action {
	case "down":
		fmt.Fprintln(stderr, "kernelci-api migrate down: the embedded store's schema only moves forward; to go back to an older kernelci-api, export the data with this one and import it with the older one")
		return 1
	case "up":
		if _, err := os.Stat(cfg.DataDir); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "kernelci-api migrate up: no data directory %s\n", cfg.DataDir)
			return 1
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			fmt.Fprintln(stderr, "kernelci-api migrate up:", err)
			return 1
		}
		st.Close()
	}
	cur, known, err := sqlite.SchemaVersion(ctx, path)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	latest := len(known) - 1
	fmt.Fprintf(stdout, "Embedded store %s (SQLite; schema version in PRAGMA user_version)\n\n", path)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for v := 1; v <= latest; v++ {
		state := "pending"
		if v <= cur {
			state = "applied"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", v, state, known[v])
	}
	for v := latest + 1; v <= cur; v++ {
		fmt.Fprintf(tw, "  %d\tapplied\tUNKNOWN to this version\n", v)
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	switch {
	case cur > latest:
		fmt.Fprintf(stdout, "Version %d is newer than this kernelci-api (%d): upgrade kernelci-api; it refuses to open this store.\n", cur, latest)
		return 1
	case cur == latest:
		fmt.Fprintf(stdout, "Version %d of %d: up to date.\n", cur, latest)
	case cur == 0:
		fmt.Fprintf(stdout, "No store yet: 'kernelci-api serve' (or 'migrate up') creates it at version %d.\n", latest)
	default:
		fmt.Fprintf(stdout, "Version %d of %d: the next start of 'kernelci-api serve' (or 'migrate up') applies the rest.\n", cur, latest)
	}
	return 0
}

// dataCommands are the commands that move or migrate the data, which
// run() dispatches by name.
var dataCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"migrate": migrate,
	"export":  export,
	"import":  importCmd,
}
