// Package app wires the server together: it opens the store named by the
// configuration, bootstraps the secret key, the first superuser and the
// built-in groups, and serves the API until its context ends.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/lifecycle"
	"github.com/kernelci/kernelci-api-go/internal/metrics"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/ratelimit"
	"github.com/kernelci/kernelci-api-go/internal/redisbus"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// Version is set at build time with -ldflags "-X ...app.Version=...".
var Version = "dev"

// App is a configured server.
type App struct {
	Config *config.Config
	Store  store.Store
	Tokens *auth.Tokens
	API    *api.Server
	Log    *slog.Logger
	// PubSub is the pub/sub service over Store: every event Store
	// commits wakes its listeners (store.Events.OnCommit).
	PubSub *pubsub.Service
	// Metrics is the process's Prometheus registry (GET /metrics); Store
	// is timed into it (metrics.WrapStore).
	Metrics *metrics.Metrics

	// backend is the store as opened, under the decorators, for what
	// only one backend has (SQLite's planner refresh, MongoDB's
	// ChannelHeads).
	backend store.Store
	// closers release what wirePubSub opened (the Redis relay and
	// clients), last first, after the store.
	closers []func() error
	// readyChecks are the dependencies GET /readyz checks besides the
	// store (Redis): append to it before api.New runs in Open.
	readyChecks []api.ReadyCheck
	// maxConns bounds the open client connections (KCI_MAX_CONNECTIONS;
	// 0: no limit).
	maxConns int
	// relay is the Redis relay of the replicas (MongoDB and REDIS_HOST),
	// else nil: it also carries the authentication cache's invalidations.
	relay *redisbus.Relay
}

// Open prepares the data directory and the store. Messages meant for the
// operator (the generated admin password) go to out.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) (*App, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	secret, err := secretKey(cfg, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	tokens := &auth.Tokens{Secret: secret, UnifiedSecret: cfg.UnifiedSecret, Algorithm: cfg.Algorithm, Lifetime: cfg.TokenLifetime()}
	// Every store operation is timed, the lifecycle's included.
	m := metrics.New()
	a := &App{Config: cfg, Store: metrics.WrapStore(st, m), Tokens: tokens, Log: log, Metrics: m, backend: st}
	st = a.Store
	if err := a.bootstrap(ctx, out); err != nil {
		st.Close()
		return nil, err
	}
	if err := a.wirePubSub(ctx); err != nil {
		st.Close()
		return nil, err
	}
	mail, err := mailer(cfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.API = api.New(a.Store, tokens, api.Options{
		MaxBodyBytes:      cfg.MaxBodyBytes,
		MaxHierarchyBytes: cfg.MaxHierarchyBytes,
		Version:           Version,
		PubSub:            a.PubSub,

		PublicBaseURL:       cfg.PublicBaseURL,
		InviteTokenLifetime: cfg.InviteTokenLifetime,
		MaxAPITokensPerUser: cfg.MaxAPITokensPerUser,
		Mailer:              mail,
		LoginLimiter: ratelimit.NewLogin(ratelimit.LoginConfig{
			MaxPerUser:   cfg.LoginMaxFailuresPerUser,
			MaxPerClient: cfg.LoginMaxFailuresPerClient,
			Window:       cfg.LoginFailureWindow,
			// Password reset emails per address and window.
			MaxResetEmails: ratelimit.DefaultLoginConfig.MaxResetEmails,
		}, nil),

		Metrics:     a.Metrics,
		ReadyChecks: a.readyChecks,

		QueryLimits: query.Limits{MaxConds: cfg.QueryMaxConditions, MaxListValues: cfg.QueryMaxListValues,
			MaxRegexRepeat: cfg.QueryMaxRegexRepeat},
		QueryTimeout:            cfg.QueryTimeout,
		RefuseUnboundedRegex:    cfg.RefuseUnboundedRegex,
		MaxHeavyQueries:         cfg.MaxHeavyQueries,
		MaxHashes:               cfg.MaxConcurrentHashes,
		MaxLargeHierarchies:     cfg.MaxLargeHierarchies,
		AdmissionWait:           cfg.AdmissionWait,
		MaxJSONDepth:            cfg.MaxJSONDepth,
		MaxPageLimit:            cfg.MaxPageLimit,
		MaxEventsLimit:          cfg.MaxEventsLimit,
		MaxSubscriptionsPerUser: cfg.MaxSubscriptionsPerUser,
		MaxWaitsPerUser:         cfg.MaxWaitsPerUser,
		BodyReadTimeout:         cfg.BodyReadTimeout,
		MinBodyRate:             cfg.MinBodyRate,
		WriteTimeout:            cfg.WriteTimeout,
		TrustedProxies:          cfg.TrustedProxies,
		StatsMaxGroups:          cfg.StatsMaxGroups,
		AuthCacheTTL:            authCacheTTL(cfg.AuthCacheTTL),
		AuthCacheSize:           cfg.AuthCacheSize,
		OnAuthChange:            a.authChanged(),
		Stream: api.StreamOptions{
			Heartbeat:    cfg.StreamHeartbeat,
			MaxPerClient: noLimit(cfg.StreamMaxPerClient),
			MaxTotal:     noLimit(cfg.StreamMaxTotal),
		},
	}, log)
	if a.relay != nil {
		// Another replica ended or narrowed a credential: forget every
		// cached authentication at once.
		a.relay.OnAuthChange(a.API.InvalidateAuthCache)
	}
	a.maxConns = cfg.MaxConnections
	// Subscriptions and lag are read from the backend, untimed.
	a.Metrics.WatchPubSub(a.PubSub, a.backend)
	return a, nil
}

// authCacheTTL maps KCI_AUTH_CACHE_SECONDS (0: off) to the API's
// AuthCacheTTL (negative: off).
func authCacheTTL(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return -1
	}
	return ttl
}

// authChanged is the API's OnAuthChange: with the Redis relay, tell the
// other replicas to empty their authentication cache; without it (one
// process, or MongoDB without Redis) nothing, and the other replicas'
// entries expire within KCI_AUTH_CACHE_SECONDS.
func (a *App) authChanged() func(context.Context) {
	if a.relay == nil {
		return nil
	}
	return a.relay.PublishAuthChange
}

// noLimit maps a setting's 0 (no limit) to the API's negative.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// mailer is the SMTP sender the configuration names, or nil (no email).
func mailer(cfg *config.Config) (email.Sender, error) {
	if !cfg.EmailEnabled() {
		return nil, nil
	}
	if cfg.EmailSender == "" {
		return nil, errors.New("SMTP_HOST is set but EMAIL_SENDER is not: set the From address of the emails")
	}
	return email.NewSMTP(email.SMTPConfig{
		Host:     cfg.SMTPHost,
		Port:     cfg.SMTPPort,
		From:     cfg.EmailSender,
		Password: cfg.EmailPassword,
	}), nil
}

// wirePubSub puts the pub/sub service over the store: every event the
// store commits, whoever wrote it, wakes the listeners of its channel
// (the in-process Broker) through the store's OnCommit (docs/pubsub.md).
//
// With REDIS_HOST, key-value pairs and lists move to Redis (redisbus),
// and when the store is MongoDB, which several replicas share, wake-ups
// go through the Redis relay: it wakes this process's Broker and
// publishes to the other replicas, whose relays feed theirs. The
// Service polls a shared store for events written by other replicas
// (every second without a working relay, every few seconds with one),
// so that a missing wake-up only delays an event.
func (a *App) wirePubSub(ctx context.Context) error {
	ps := a.Store
	b := pubsub.NewBroker()
	var notifier pubsub.Notifier = b
	var relay *redisbus.Relay
	var lists pubsub.BlockingLists
	// A MongoDB store is shared by every replica: the others' events are
	// polled for (and relayed over Redis when there is one).
	ms, shared := a.backend.(*mongo.Store)
	if a.Config.RedisHost != "" {
		bus, err := redisbus.Open(redisbus.Options{Host: a.Config.RedisHost, DB: a.Config.RedisDBNumber, Log: a.Log})
		if err != nil {
			return err
		}
		a.closers = append(a.closers, bus.Close)
		a.readyChecks = append(a.readyChecks, api.ReadyCheck{Name: "redis", Check: bus.Ping, Optional: true})
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := bus.Ping(pctx); err != nil {
			a.Log.Error("Redis does not answer: kv and lists fail until it does, listeners poll the store", "err", err)
		}
		cancel()
		if shared {
			relay = bus.NewRelay(b, fmt.Sprintf("%d:%s", a.Config.RedisDBNumber, ms.Database()))
			notifier = relay
		}
		rs := bus.Wrap(ps)
		ps, lists = rs, rs
		a.Log.Info("Redis: kv in database 0, lists in database REDIS_DB_NUMBER", "addr", bus.Addr(),
			"lists_db", bus.DB(), "wake_up_relay", relay != nil)
	}
	a.Store = ps
	opts := pubsub.Options{
		KeepAlive: a.Config.KeepAlivePeriod,
		Source:    a.Config.CloudEventsSource,
		ReapAfter: a.Config.SubscriptionReap,
		EventTTL:  a.Config.EventHistoryTTL,
		Log:       a.Log,
		Notifier:  notifier,
		Lists:     lists,
	}
	if shared {
		opts.Heads = ms
	}
	if relay != nil {
		opts.RelayUp = relay.Up
	}
	a.PubSub = pubsub.New(ps, b, opts)
	if relay != nil {
		svc := a.PubSub
		// Once (re)subscribed, look at the store for what the other
		// replicas wrote while the relay was down.
		relay.OnUp = func() {
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = svc.Poll(pctx)
		}
		relay.Start()
		a.closers = append(a.closers, relay.Close)
		a.relay = relay
	}
	return nil
}

// OpenStore opens the backend the configuration names.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	if cfg.MongoService != "" {
		// The database is the URL's path, else "kernelci".
		st, err := mongo.Open(ctx, mongo.Options{
			URI:          cfg.MongoService,
			EventTTL:     cfg.EventHistoryTTL,
			TelemetryTTL: cfg.TelemetryTTL,
			GapGrace:     cfg.SequenceGapGrace,
			Logger:       slog.Default(),
		})
		if err != nil {
			return nil, err
		}
		// Refuse a database migrated by a newer kernelci-api; warn of
		// pending migrations (mongo/migrate.go).
		if err := st.StartupCheck(ctx); err != nil {
			st.Close()
			return nil, err
		}
		return st, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "kernelci.db")
	// Say so before a schema upgrade, which runs inside Open and can take
	// a while on a large database (migration 4 counts every node).
	if cur, known, err := sqlite.SchemaVersion(ctx, path); err == nil && cur > 0 && cur < len(known)-1 {
		slog.Info("upgrading the embedded database; this can take a minute on millions of nodes",
			"path", path, "from_schema", cur, "to_schema", len(known)-1, "new", strings.Join(known[cur+1:], "; "))
	}
	return sqlite.Open(ctx, path)
}

// secretKey returns SECRET_KEY, or in embedded mode a key generated once
// and kept in the data directory.
func secretKey(cfg *config.Config, log *slog.Logger) (string, error) {
	if cfg.SecretKey != "" {
		return cfg.SecretKey, nil
	}
	if cfg.MongoService != "" {
		// Replicas share the database: a key generated per machine would
		// make each one reject the others' tokens.
		return "", errors.New("SECRET_KEY must be set when MONGO_SERVICE is set (every replica must sign with the same key)")
	}
	path := filepath.Join(cfg.DataDir, "secret-key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		log.Warn("SECRET_KEY is not set; using the key kept in the data directory", "file", path)
		return strings.TrimSpace(string(b)), nil
	}
	key := randomHex(32)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("secret key: %w", err)
	}
	log.Warn("SECRET_KEY is not set; generated one and kept it in the data directory", "file", path)
	return key, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bootstrap creates the built-in group and the first superuser.
func (a *App) bootstrap(ctx context.Context, out io.Writer) error {
	if _, err := a.Store.GetGroupByName(ctx, model.EditAnyGroup); errors.Is(err, store.ErrNotFound) {
		if err := a.Store.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create group %s: %w", model.EditAnyGroup, err)
		}
	} else if err != nil {
		return err
	}
	n, err := a.Store.CountUsers(ctx, query.Where("is_superuser", true))
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	username := a.Config.InitialAdminUsername
	if username == "" {
		username = "admin"
	}
	email := a.Config.InitialAdminEmail
	if email == "" {
		email = username + "@kernelci.org"
	}
	password, generated := a.Config.InitialPassword, false
	if password == "" {
		password, generated = randomHex(12), true
	}
	if _, err := CreateSuperuser(ctx, a.Store, username, email, password); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Replicas starting together on an empty database: another one
			// created the superuser first.
			if n, cerr := a.Store.CountUsers(ctx, query.Where("is_superuser", true)); cerr == nil && n > 0 {
				return nil
			}
			return fmt.Errorf("no superuser exists and user %q or email %q is taken by another account; set KCI_INITIAL_ADMIN_USERNAME/KCI_INITIAL_ADMIN_EMAIL or run 'kernelci-api admin'", username, email)
		}
		return err
	}
	if generated {
		path := filepath.Join(a.Config.DataDir, "initial-admin-password")
		if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("initial admin password: %w", err)
		}
		fmt.Fprintf(out, "\nCreated superuser %q with password: %s\n(also kept in %s)\n\n", username, password, path)
	} else {
		a.Log.Info("created initial superuser", "username", username, "email", email)
	}
	return nil
}

// CreateSuperuser stores a verified, active superuser.
func CreateSuperuser(ctx context.Context, st store.Store, username, email, password string) (*model.User, error) {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &model.User{Username: username, Email: email, HashedPassword: hash,
		IsActive: true, IsSuperuser: true, IsVerified: true, Groups: []model.Group{}}
	if err := st.InsertUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully.
// The background jobs (pub/sub reaping and event retention) run while it
// serves.
//
// There is no read or write timeout on requests: GET /listen and
// GET /pop hold their request for up to KEEP_ALIVE_PERIOD (pop: until an
// item comes). Request contexts are not cancelled by the shutdown (only
// by clients going away): in-flight requests finish, and open long-polls
// are answered at once (listen: a keep-alive; pop: 503) by draining the
// pub/sub service when the shutdown starts.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           observe(a.Log, a.Metrics, a.API), // observe.go
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	bgDone := make(chan struct{})
	bgCtx, stopBg := context.WithCancel(ctx)
	defer func() { stopBg(); <-bgDone }()
	go func() {
		defer close(bgDone)
		if a.PubSub != nil {
			a.PubSub.Run(bgCtx)
		}
	}()
	waitLifecycle := a.startLifecycle(bgCtx)
	defer func() { stopBg(); waitLifecycle() }()
	waitTelemetry := a.startTelemetryRetention(bgCtx) // telemetry.go
	defer func() { stopBg(); waitTelemetry() }()
	waitMaintenance := a.startMaintenance(bgCtx) // maintenance.go
	defer func() { stopBg(); waitMaintenance() }()
	// Shutdown closes the listener at once, then these run: /readyz
	// answers 503, open listens a keep-alive, open pops 503.
	srv.RegisterOnShutdown(a.API.StartShutdown)
	if a.PubSub != nil {
		srv.RegisterOnShutdown(a.PubSub.Drain)
	}
	if a.maxConns > 0 {
		ln = limitListener(ln, a.maxConns)
	}
	if a.Config.PprofAddr != "" {
		stopPprof, err := a.startPprof(a.Config.PprofAddr) // pprof.go
		if err != nil {
			return fmt.Errorf("KCI_PPROF_ADDR: %w", err)
		}
		defer stopPprof()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	listens, pops := 0, 0
	if a.PubSub != nil {
		l, p := a.PubSub.Waiters()
		listens, pops = int(l), int(p)
	}
	a.Log.Info("shutting down: no new connections; answering open long-polls, finishing requests in flight",
		"listens", listens, "pops", pops, "grace", ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// What still runs after the grace period is cut, so that the
		// process ends within the 10 s orchestrators usually allow.
		a.Log.Warn("shutdown: requests still running after the grace period; closing their connections", "grace", ShutdownGrace)
		err = srv.Close()
	}
	<-errc
	return err
}

// ShutdownGrace is how long a shutdown waits for requests in flight
// before closing their connections.
const ShutdownGrace = 8 * time.Second

// startLifecycle starts the node lifecycle (unless turned off) and the
// daily node purge over the backend (docs/lifecycle.md); the returned
// function waits for them to end once ctx has.
func (a *App) startLifecycle(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	ls := a.Store
	if a.Config.Lifecycle {
		m := a.Metrics
		r := lifecycle.New(ls, lifecycle.Options{
			Interval: a.Config.LifecycleInterval,
			Log:      a.Log,
			OnTransition: func(tr lifecycle.Transition) {
				m.Transition(string(tr.Rule), tr.Previous.State, tr.Node.State)
			},
		})
		wg.Go(func() { r.Run(ctx) })
	} else {
		a.Log.Info("node lifecycle is off (KCI_LIFECYCLE=false)")
	}
	age := time.Duration(a.Config.NodePurgeAgeDays) * 24 * time.Hour
	wg.Go(func() {
		lifecycle.RunPurge(ctx, ls, lifecycle.PurgeOptions{Age: age, Log: a.Log, OnPurge: a.Metrics.Purged})
	})
	return wg.Wait
}

// Close releases the store.
func (a *App) Close() error {
	errs := []error{a.Store.Close()}
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
