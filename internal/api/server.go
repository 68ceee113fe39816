// Package api is the HTTP layer: the route table, middleware, handlers and
// error rendering. Handlers are thin: they decode and validate input with
// internal/model and internal/query, check permissions with internal/auth
// and call the store interfaces; they never see SQL or BSON.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/metrics"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/ratelimit"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Options are the settings the HTTP layer needs.
type Options struct {
	MaxBodyBytes      int64 // limit for ordinary request bodies
	MaxHierarchyBytes int64 // limit for PUT /nodes/{id}
	DefaultTimeout    time.Duration
	Version           string
	// PubSub serves subscribe, listen, publish, lists and key-value; it
	// must be built over the store passed to New (pubsub.New), whose
	// commits then wake its listeners. nil: those endpoints answer 503.
	PubSub *pubsub.Service

	// Users, invites and emails (users.go).
	PublicBaseURL       string        // PUBLIC_BASE_URL without trailing slash; "" = from each request
	InviteTokenLifetime time.Duration // 0 = 7 days
	// MaxAPITokensPerUser bounds the API tokens of one user (tokens.go);
	// 0 means no limit.
	MaxAPITokensPerUser int
	// Mailer sends invite and password emails; nil means email is not
	// configured (invites answer email_sent: false).
	Mailer email.Sender
	// LoginLimiter limits failed logins; nil means the default limits
	// (ratelimit.DefaultLoginConfig). ratelimit.NewLogin with zero limits
	// turns them off.
	LoginLimiter *ratelimit.Login

	// Operations (operations.go). Metrics is the registry GET /metrics
	// serves; nil means a registry of the server's own. ReadyChecks are
	// checked by GET /readyz after the store's (see AddReadyCheck).
	Metrics     *metrics.Metrics
	ReadyChecks []ReadyCheck

	// Resource limits (limits.go, docs/security.md); zero means the
	// default.
	QueryLimits             query.Limits  // conditions, list values, regex repetitions
	QueryTimeout            time.Duration // time budget of a read query
	MaxHeavyQueries         int           // regex queries run at once
	MaxHashes               int           // password hashes computed at once
	MaxLargeHierarchies     int           // PUT /nodes/{id} bodies over 1 MiB decoded at once
	AdmissionWait           time.Duration // queueing for a heavy-query or hash slot
	MaxJSONDepth            int           // nesting of JSON bodies
	MaxPageLimit            int           // largest limit of GET /nodes
	MaxEventsLimit          int           // largest limit of GET /events
	MaxSubscriptionsPerUser int           // subscriptions one user holds at once
	MaxWaitsPerUser         int           // long-polls (listen, pop) one user holds open at once (slots.go)
	// RefuseUnboundedRegex refuses node filters whose name regex no
	// index can bound (unbounded.go) with a 400.
	RefuseUnboundedRegex bool
	// Slow clients (deadlines.go): how long a request may take to send
	// its body and to read the answer; zero means the default.
	BodyReadTimeout time.Duration
	MinBodyRate     int64 // bytes a second a large body must keep up
	WriteTimeout    time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers name the client (users_net.go); none when empty.
	TrustedProxies []netip.Prefix
	// Web pages and their data (pages*.go, statsnodes.go, stream.go).
	StatsMaxGroups int // groups GET /stats/nodes answers at most; 0 = DefaultStatsMaxGroups
	Stream         StreamOptions
	// The authentication cache (authcache.go): how long a successful
	// authentication is reused (0 = DefaultAuthCacheTTL, < 0 = no cache;
	// a revocation made on another process that does not call
	// InvalidateAuthCache here holds after at most this long) and how
	// many credentials it holds (0 = DefaultAuthCacheSize).
	AuthCacheTTL  time.Duration
	AuthCacheSize int
	// OnAuthChange, when set, is called after each write that may end or
	// narrow a credential (user update or deletion, group deletion, API
	// token revocation), once this server's cache is emptied and before
	// the write is answered: the Redis relay tells the other replicas,
	// which call InvalidateAuthCache (authcache.go).
	OnAuthChange func(context.Context)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Server holds the dependencies of the handlers.
type Server struct {
	store  store.Store
	tokens *auth.Tokens
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	now    func() time.Time
	pubsub *pubsub.Service // nil: pub/sub endpoints answer 503
	table  []route         // routes.go
	ops    operations      // operations.go: metrics, readiness, shutdown
	heavy  *gate           // limits.go: regex queries run at once
	hashes *gate           // limits.go: password hashes computed at once
	// hierarchies bounds the large PUT /nodes/{id} bodies decoded at once.
	hierarchies *gate

	subscribing sync.Mutex // pubsub.go: the per-user subscription cap

	streams streamCounter // stream.go: open event streams
	waits   slotCounter   // slots.go: open long-polls per user

	auth *authCache // authcache.go
}

// orDefault sets an option left unset (zero or negative) to def.
func orDefault[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// New builds the HTTP handler of the API.
func New(st store.Store, tokens *auth.Tokens, opts Options, log *slog.Logger) *Server {
	orDefault(&opts.MaxBodyBytes, 1<<20)
	orDefault(&opts.MaxHierarchyBytes, 64<<20)
	opts.setLimitDefaults()
	opts.setDeadlineDefaults()
	if log == nil {
		log = slog.Default()
	}
	if opts.LoginLimiter == nil {
		opts.LoginLimiter = ratelimit.NewLogin(ratelimit.DefaultLoginConfig, nil)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
		if opts.PubSub != nil {
			opts.Metrics.WatchPubSub(opts.PubSub, st)
		}
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = DefaultAuthCacheTTL
	}
	orDefault(&opts.AuthCacheSize, DefaultAuthCacheSize)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ac := newAuthCache(opts.AuthCacheTTL, opts.AuthCacheSize)
	// Every write of the handlers that may end a credential goes
	// through authWatch, which invalidates the cache.
	st = authWatch{Store: st, c: ac, changed: opts.OnAuthChange}
	s := &Server{store: st, tokens: tokens, opts: opts, log: log, mux: http.NewServeMux(), now: opts.Now, pubsub: opts.PubSub, auth: ac,
		heavy:       newGate(opts.MaxHeavyQueries, opts.AdmissionWait, "regular-expression queries"),
		hashes:      newGate(opts.MaxHashes, opts.AdmissionWait, "password checks"),
		hierarchies: newGate(opts.MaxLargeHierarchies, opts.AdmissionWait, "large hierarchies")}
	s.ops.ready = append([]ReadyCheck{{Name: "store", Check: func(ctx context.Context) error { return st.Ping(ctx) }}},
		opts.ReadyChecks...)
	s.table = s.routeTable()
	s.routes()
	return s
}

// ServeHTTP normalises the path (version prefix, repeated slashes) and
// dispatches through the route table.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok, bad := normalizePath(r.URL.Path)
	if !ok {
		http.Error(w, "Unsupported API version: "+bad, http.StatusBadRequest)
		return
	}
	if path != r.URL.Path {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = path
		u.RawPath = ""
		r2.URL = &u
		r = r2
	}
	s.setDeadlines(w, r, path)
	if info := requestInfoFrom(r.Context()); info != nil {
		info.Client = s.clientAddr(r) // the access log's client
	}
	// The limits travel with the request for the body decoders.
	r = r.WithContext(context.WithValue(r.Context(), optsKey, &s.opts))
	s.mux.ServeHTTP(w, r)
}
