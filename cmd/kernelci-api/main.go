// Command kernelci-api is the KernelCI API server.
//
//	kernelci-api serve     run the API (embedded SQLite store by default)
//	kernelci-api admin     create a superuser
//	kernelci-api indexes   show (and create) the MongoDB indexes
//	kernelci-api purge     delete old nodes now (--dry-run: only report them)
//	kernelci-api version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"golang.org/x/term"
)

const usage = `Usage: kernelci-api <command> [flags]

Commands:
  serve     run the API server
  admin     create a superuser account
  indexes   show the MongoDB indexes: declared, present, missing (--create adds them)
  purge     delete nodes older than NODE_PURGE_AGE_DAYS now, checkouts excepted (--dry-run reports them)
  migrate   show (status) or change (up, down) the database's migration version
  export    write every record of the store as JSON Lines (--out FILE, default standard output)
  import    read an export into an empty store (--in FILE, default standard input; --force)
  version   print the version

Run 'kernelci-api <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "admin":
		return admin(args[1:], stdout, stderr)
	case "indexes":
		return indexes(args[1:], stdout, stderr)
	case "purge":
		return purge(args[1:], stdout, stderr)
	case "migrate", "export", "import": // migrate.go, export.go, import.go
		return dataCommands[args[0]](args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "kernelci-api", app.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kernelci-api: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// loadConfig parses flags, the environment and ./.env into a Config.
func loadConfig(name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*config.Config, *flag.FlagSet, int) {
	fs := flag.NewFlagSet("kernelci-api "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kernelci-api %s [flags]\n\n%s", name, config.Usage(fs))
	}
	cfg, err := config.Load(fs, args, os.Getenv, ".env")
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil, 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return nil, nil, 2
	}
	return cfg, fs, -1
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openMongo opens the MongoDB store of cfg for a command other than serve,
// which creates the missing indexes only with createIndexes; maxTime
// bounds each call (0: the store's default).
func openMongo(ctx context.Context, cfg *config.Config, stderr io.Writer, createIndexes bool, maxTime time.Duration) (*mongo.Store, error) {
	return mongo.Open(ctx, mongo.Options{
		URI:          cfg.MongoService,
		EventTTL:     cfg.EventHistoryTTL,
		TelemetryTTL: cfg.TelemetryTTL,
		MaxTime:      maxTime,
		SkipIndexes:  !createIndexes,
		Logger:       newLogger(cfg, stderr),
	})
}

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, _, code := loadConfig("serve", args, stderr, nil)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stderr)
	// What logs before the app exists (store start-up: schema upgrades,
	// MongoDB's connection and indexes) logs in the same format.
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, cfg, log, stdout)
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 1
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("listen failed", "addr", cfg.Addr, "err", err)
		return 1
	}
	log.Info("kernelci-api serving", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", app.Version)
	if err := a.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("kernelci-api stopped")
	return 0
}

func admin(args []string, stdout, stderr io.Writer) int {
	var username, email, password string
	cfg, _, code := loadConfig("admin", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "admin", "admin username")
		fs.StringVar(&email, "email", "", "admin email address (default <username>@kernelci.org)")
		fs.StringVar(&password, "password", "", "admin password (default: prompt, then KCI_INITIAL_PASSWORD)")
	})
	if cfg == nil {
		return code
	}
	if email == "" {
		email = username + "@kernelci.org"
	}
	if password == "" {
		password = promptPassword(username, stderr)
	}
	if password == "" {
		password = cfg.InitialPassword
	}
	if password == "" {
		fmt.Fprintln(stderr, "Password is empty and KCI_INITIAL_PASSWORD is not set, aborting.")
		return 1
	}
	ctx := context.Background()
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	defer st.Close()
	if _, err := app.CreateSuperuser(ctx, st, username, email, password); err != nil {
		if errors.Is(err, store.ErrConflict) {
			fmt.Fprintf(stderr, "User %s or email %s already exists, aborting.\n", username, email)
			return 1
		}
		fmt.Fprintln(stderr, "kernelci-api:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Created superuser %s (%s).\n", username, email)
	return 0
}

// promptPassword asks twice on a terminal; it returns "" when stdin is not
// a terminal or the answers differ.
func promptPassword(username string, stderr io.Writer) string {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return ""
	}
	fmt.Fprintf(stderr, "Password for user '%s': ", username)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil || len(p1) == 0 {
		return ""
	}
	fmt.Fprintf(stderr, "Retype password for user '%s': ", username)
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil || string(p1) != string(p2) {
		fmt.Fprintln(stderr, "Sorry, passwords do not match.")
		return ""
	}
	return string(p1)
}
