// Package config gathers the server settings. Each setting is declared
// once, in the settings table below, with its flag, environment variable
// (the reference server's name), default, help text and whether it is a
// secret; Load binds all of them from, in decreasing order of precedence:
//
//  1. command-line flags (--kebab-case names);
//  2. the process environment;
//  3. a .env file in the working directory (see ReadDotenv);
//  4. the built-in default.
//
// Empty values in the environment and in .env count as unset, so that a
// .env copied from the reference's env.sample (which lists KEY= lines)
// keeps the defaults. A flag given explicitly always wins, even when empty.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTokenLifetime is the reference's access_token_expire_seconds
// default, 315360000 s (ten years).
const DefaultTokenLifetime = 315360000 * time.Second

// Config holds every setting of the server.
type Config struct {
	Addr    string // KCI_LISTEN_ADDR: host:port to listen on
	DataDir string // KCI_DATA_DIR: where the embedded database lives

	SecretKey     string // SECRET_KEY: signs tokens (required by the server: see Validate)
	UnifiedSecret string // UNIFIED_SECRET: second key accepted when verifying tokens
	Algorithm     string // ALGORITHM: HS256, HS384 or HS512

	// Access token lifetime: both are 0 when unset. Use TokenLifetime.
	AccessTokenExpireMinutes int64   // ACCESS_TOKEN_EXPIRE_MINUTES
	AccessTokenExpireSeconds float64 // ACCESS_TOKEN_EXPIRE_SECONDS (a decimal number, as in the reference)

	InviteTokenLifetime time.Duration // INVITE_TOKEN_EXPIRE_SECONDS
	// MaxAPITokensPerUser is KCI_MAX_API_TOKENS_PER_USER: how many API
	// tokens (docs/tokens.md) one user may hold; 0 means no limit.
	MaxAPITokensPerUser int
	PublicBaseURL       string // PUBLIC_BASE_URL: base of links sent to users, without trailing slash; "" = from the request

	MongoService string // MONGO_SERVICE: MongoDB URL; "" selects the embedded SQLite store
	RedisHost    string // REDIS_HOST: "" keeps kv and lists in the store and wake-ups in the process
	// RedisDBNumber is REDIS_DB_NUMBER: the Redis database of the lists
	// (key-value pairs are in database 0, as in the reference).
	RedisDBNumber int
	// SequenceGapGrace is KCI_SEQUENCE_GAP_GRACE_SECONDS: with MongoDB,
	// how long listeners wait for an event whose sequence id a writer
	// reserved but never stored before passing over it; 0 means the
	// store's default.
	SequenceGapGrace time.Duration

	InitialPassword      string // KCI_INITIAL_PASSWORD: bootstraps the first admin
	InitialAdminUsername string // KCI_INITIAL_ADMIN_USERNAME
	InitialAdminEmail    string // KCI_INITIAL_ADMIN_EMAIL (default <username>@kernelci.org)

	KeepAlivePeriod   time.Duration // KEEP_ALIVE_PERIOD
	EventHistoryTTL   time.Duration // EVENT_HISTORY_TTL_SECONDS
	TelemetryTTL      time.Duration // TELEMETRY_TTL_SECONDS: telemetry events older than this are deleted
	NodePurgeAgeDays  int           // NODE_PURGE_AGE_DAYS
	Lifecycle         bool          // KCI_LIFECYCLE: run the node lifecycle (timeouts, holdoffs, closing) in the server
	LifecycleInterval time.Duration // KCI_LIFECYCLE_INTERVAL: period of the node lifecycle
	CloudEventsSource string        // CLOUD_EVENTS_SOURCE
	SubscriptionReap  time.Duration // SUBSCRIPTION_REAP_MINUTES: subscriptions not polled this long are deleted

	MaxBodyBytes      int64 // KCI_MAX_BODY_BYTES
	MaxHierarchyBytes int64 // KCI_MAX_HIERARCHY_BYTES

	StatsMaxGroups     int           // KCI_STATS_MAX_GROUPS: groups GET /stats/nodes answers at most
	StreamHeartbeat    time.Duration // KCI_STREAM_HEARTBEAT_SECONDS: comment period of idle GET /stream
	StreamMaxPerClient int           // KCI_STREAM_MAX_PER_CLIENT: open streams per user or address; 0 = no limit
	StreamMaxTotal     int           // KCI_STREAM_MAX_TOTAL: open streams per process; 0 = no limit

	// Outgoing email (invites, password resets); off when SMTPHost is "".
	SMTPHost      string // SMTP_HOST
	SMTPPort      int    // SMTP_PORT: 465 is SMTPS, anything else STARTTLS when offered
	EmailSender   string // EMAIL_SENDER: From address and SMTP login
	EmailPassword string // EMAIL_PASSWORD: SMTP password; "" sends without logging in

	// Failed-login limits; 0 turns a limit off.
	LoginMaxFailuresPerUser   int           // KCI_LOGIN_MAX_FAILURES_PER_USER
	LoginMaxFailuresPerClient int           // KCI_LOGIN_MAX_FAILURES_PER_CLIENT
	LoginFailureWindow        time.Duration // KCI_LOGIN_FAILURE_WINDOW_SECONDS

	// Resource limits against hostile clients (docs/security.md).
	QueryTimeout            time.Duration // KCI_QUERY_TIMEOUT_SECONDS
	QueryMaxConditions      int           // KCI_QUERY_MAX_CONDITIONS
	QueryMaxListValues      int           // KCI_QUERY_MAX_LIST_VALUES
	QueryMaxRegexRepeat     int           // KCI_QUERY_MAX_REGEX_REPEAT
	RefuseUnboundedRegex    bool          // KCI_QUERY_REFUSE_UNBOUNDED_REGEX
	MaxHeavyQueries         int           // KCI_MAX_HEAVY_QUERIES: 0 = half the cores
	MaxConcurrentHashes     int           // KCI_MAX_CONCURRENT_HASHES: 0 = the cores
	MaxLargeHierarchies     int           // KCI_MAX_LARGE_HIERARCHIES: 0 = half the cores
	AdmissionWait           time.Duration // KCI_ADMISSION_WAIT_SECONDS
	MaxJSONDepth            int           // KCI_MAX_JSON_DEPTH
	MaxPageLimit            int           // KCI_MAX_PAGE_LIMIT
	MaxEventsLimit          int           // KCI_MAX_EVENTS_LIMIT
	MaxSubscriptionsPerUser int           // KCI_MAX_SUBSCRIPTIONS_PER_USER
	MaxWaitsPerUser         int           // KCI_MAX_WAITS_PER_USER
	BodyReadTimeout         time.Duration // KCI_BODY_READ_TIMEOUT_SECONDS
	MinBodyRate             int64         // KCI_MIN_BODY_RATE
	WriteTimeout            time.Duration // KCI_WRITE_TIMEOUT_SECONDS
	MaxConnections          int           // KCI_MAX_CONNECTIONS: 0 = no limit
	AuthCacheTTL            time.Duration // KCI_AUTH_CACHE_SECONDS (decimal, to the millisecond): reuse of a successful authentication; 0 = off
	AuthCacheSize           int           // KCI_AUTH_CACHE_SIZE: credentials cached
	// TrustedProxies is KCI_TRUSTED_PROXIES: the CIDRs of the reverse
	// proxies whose X-Forwarded-For/X-Real-IP headers name the client;
	// empty trusts none.
	TrustedProxies []netip.Prefix

	// PprofAddr is KCI_PPROF_ADDR: a loopback host:port serving
	// net/http/pprof for profiling; empty (the default) serves none.
	PprofAddr string

	LogLevel  slog.Level // KCI_LOG_LEVEL: debug, info, warn (or warning) or error
	LogFormat string     // KCI_LOG_FORMAT: text or json

	sources map[string]Source // by environment variable name
}

// Source tells where a setting's value came from.
type Source int

// Sources, in increasing order of precedence.
const (
	FromDefault Source = iota
	FromDotenv
	FromEnv
	FromFlag
)

func (s Source) String() string {
	switch s {
	case FromDotenv:
		return ".env"
	case FromEnv:
		return "environment"
	case FromFlag:
		return "flag"
	}
	return "default"
}

// setting declares one configuration setting.
type setting struct {
	flag   string // without dashes
	env    string
	def    string // default, in the textual form the parser accepts
	defDoc string // how the default is shown in the help, when not def
	kind   string // value placeholder for the help
	secret bool
	isBool bool // a boolean flag: --name alone means true
	help   string
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

// settings is the single declaration of every setting.
var settings = []setting{
	{flag: "addr", env: "KCI_LISTEN_ADDR", def: ":8001", kind: "host:port",
		help: "Address the HTTP server listens on.",
		set:  str(func(c *Config) *string { return &c.Addr }, nonEmpty), get: getStr(func(c *Config) string { return c.Addr })},
	{flag: "data-dir", env: "KCI_DATA_DIR", def: "./kernelci-data", kind: "dir",
		help: "Directory of the embedded database and other local state.",
		set:  str(func(c *Config) *string { return &c.DataDir }, nonEmpty), get: getStr(func(c *Config) string { return c.DataDir })},
	{flag: "secret-key", env: "SECRET_KEY", kind: "string", secret: true,
		help: "Key signing and verifying access tokens; required with MONGO_SERVICE, generated once and kept in the data dir for the embedded store. Prefer the environment or .env: flags show in ps.",
		set:  str(func(c *Config) *string { return &c.SecretKey }, nil), get: getStr(func(c *Config) string { return c.SecretKey })},
	{flag: "unified-secret", env: "UNIFIED_SECRET", kind: "string", secret: true,
		help: "Second key accepted when verifying tokens (shared by all KernelCI services), never used to sign.",
		set:  str(func(c *Config) *string { return &c.UnifiedSecret }, nil), get: getStr(func(c *Config) string { return c.UnifiedSecret })},
	{flag: "algorithm", env: "ALGORITHM", def: "HS256", kind: "name",
		help: "Token signing algorithm: HS256, HS384 or HS512.",
		set:  str(func(c *Config) *string { return &c.Algorithm }, oneOf("HS256", "HS384", "HS512")), get: getStr(func(c *Config) string { return c.Algorithm })},
	{flag: "access-token-expire-minutes", env: "ACCESS_TOKEN_EXPIRE_MINUTES", defDoc: "unset", kind: "minutes",
		help: "Access token lifetime in minutes. If both this and the seconds setting are given, the one from the higher-precedence source wins, and seconds on a tie.",
		set:  setMinutes, get: func(c *Config) string { return optInt(c.AccessTokenExpireMinutes) }},
	{flag: "access-token-expire-seconds", env: "ACCESS_TOKEN_EXPIRE_SECONDS", defDoc: "unset, meaning 315360000 (ten years)", kind: "seconds",
		help: "Access token lifetime in seconds (a decimal number, as in the reference).",
		set:  setSeconds, get: func(c *Config) string { return optFloat(c.AccessTokenExpireSeconds) }},
	{flag: "invite-token-expire-seconds", env: "INVITE_TOKEN_EXPIRE_SECONDS", def: "604800", kind: "seconds",
		help: "Lifetime of user invite tokens.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.InviteTokenLifetime }), get: getSeconds(func(c *Config) time.Duration { return c.InviteTokenLifetime })},
	{flag: "max-api-tokens-per-user", env: "KCI_MAX_API_TOKENS_PER_USER", def: "100", kind: "count",
		help: "API tokens one user may hold (docs/tokens.md); creating one more answers 400. 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.MaxAPITokensPerUser }), get: func(c *Config) string { return strconv.Itoa(c.MaxAPITokensPerUser) }},
	{flag: "public-base-url", env: "PUBLIC_BASE_URL", kind: "url",
		help: "Public base URL of the API, used in links sent to users; empty means derived from each request.",
		set:  setBaseURL, get: getStr(func(c *Config) string { return c.PublicBaseURL })},
	{flag: "mongo-service", env: "MONGO_SERVICE", defDoc: "empty, meaning the embedded SQLite store", kind: "url",
		help: "MongoDB connection URL.",
		set:  str(func(c *Config) *string { return &c.MongoService }, nil), get: func(c *Config) string { return redactURL(c.MongoService) }},
	{flag: "redis-host", env: "REDIS_HOST", kind: "host",
		help: "Redis server: host, host:port, user:password@host:port or a redis:// URL. Key-value pairs go to its database 0, lists to REDIS_DB_NUMBER, and replicas wake each other's listeners through it; empty keeps them in the store and the process.",
		set:  str(func(c *Config) *string { return &c.RedisHost }, nil), get: func(c *Config) string { return redactHost(c.RedisHost) }},
	{flag: "redis-db-number", env: "REDIS_DB_NUMBER", def: "1", kind: "number",
		help: "Redis database of the /push and /pop lists (key-value pairs are in database 0), as in the reference.",
		set:  setRedisDB, get: func(c *Config) string { return strconv.Itoa(c.RedisDBNumber) }},
	{flag: "sequence-gap-grace", env: "KCI_SEQUENCE_GAP_GRACE_SECONDS", defDoc: "unset, meaning 70 (twice the 30 s MongoDB operation limit, plus 10 s)", kind: "seconds",
		help: "MongoDB: how long listeners wait for an event whose sequence id a writer reserved but has not stored (a replica that died mid-write) before passing over it. Shorter than the slowest write, listeners could skip a late event: leave it unset in production.",
		set:  setGapGrace, get: func(c *Config) string { return optInt(int64(c.SequenceGapGrace / time.Second)) }},
	{flag: "initial-password", env: "KCI_INITIAL_PASSWORD", kind: "string", secret: true,
		help: "Password of the admin user created at start-up when no superuser exists.",
		set:  str(func(c *Config) *string { return &c.InitialPassword }, nil), get: getStr(func(c *Config) string { return c.InitialPassword })},
	{flag: "initial-admin-username", env: "KCI_INITIAL_ADMIN_USERNAME", def: "admin", kind: "name",
		help: "Username of that initial admin.",
		set:  str(func(c *Config) *string { return &c.InitialAdminUsername }, nonEmpty), get: getStr(func(c *Config) string { return c.InitialAdminUsername })},
	{flag: "initial-admin-email", env: "KCI_INITIAL_ADMIN_EMAIL", defDoc: "<initial admin username>@kernelci.org", kind: "email",
		help: "Email address of that initial admin.",
		set:  str(func(c *Config) *string { return &c.InitialAdminEmail }, nil), get: getStr(func(c *Config) string { return c.InitialAdminEmail })},
	{flag: "keep-alive-period", env: "KEEP_ALIVE_PERIOD", def: "45", kind: "seconds",
		help: "Interval of keep-alive messages to event listeners.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.KeepAlivePeriod }), get: getSeconds(func(c *Config) time.Duration { return c.KeepAlivePeriod })},
	{flag: "event-history-ttl", env: "EVENT_HISTORY_TTL_SECONDS", def: "604800", kind: "seconds",
		help: "How long published events are kept for catch-up (default seven days).",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.EventHistoryTTL }), get: getSeconds(func(c *Config) time.Duration { return c.EventHistoryTTL })},
	{flag: "telemetry-ttl", env: "TELEMETRY_TTL_SECONDS", def: "1209600", kind: "seconds",
		help: "How long telemetry events are kept (default 14 days); older ones are deleted in the background.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.TelemetryTTL }), get: getSeconds(func(c *Config) time.Duration { return c.TelemetryTTL })},
	{flag: "node-purge-age-days", env: "NODE_PURGE_AGE_DAYS", def: "180", kind: "days",
		help: "Age in days beyond which nodes are purged.",
		set:  setPurgeDays, get: func(c *Config) string { return strconv.Itoa(c.NodePurgeAgeDays) }},
	{flag: "lifecycle", env: "KCI_LIFECYCLE", def: "true", kind: "bool", isBool: true,
		help: "Run the node lifecycle in the server: timeouts, holdoffs and closing (see docs/lifecycle.md). Turn off (--lifecycle=false) where the pipeline's timeout services do it.",
		set:  setBool(func(c *Config) *bool { return &c.Lifecycle }), get: func(c *Config) string { return strconv.FormatBool(c.Lifecycle) }},
	{flag: "lifecycle-interval", env: "KCI_LIFECYCLE_INTERVAL", def: "10", kind: "seconds",
		help: "Period of the node lifecycle: whole seconds, or a Go duration such as 500ms or 1m.",
		set:  setLifecycleInterval, get: func(c *Config) string { return formatInterval(c.LifecycleInterval) }},
	{flag: "cloud-events-source", env: "CLOUD_EVENTS_SOURCE", def: "https://api.kernelci.org/", kind: "uri",
		help: "CloudEvents source attribute of published events.",
		set:  str(func(c *Config) *string { return &c.CloudEventsSource }, nonEmpty), get: getStr(func(c *Config) string { return c.CloudEventsSource })},
	{flag: "subscription-reap-minutes", env: "SUBSCRIPTION_REAP_MINUTES", def: "15", kind: "minutes",
		help: "Pub/sub subscriptions not polled for this long are deleted (durable subscribers keep their position).",
		set:  setReapMinutes, get: func(c *Config) string { return strconv.FormatInt(int64(c.SubscriptionReap/time.Minute), 10) }},
	{flag: "max-body", env: "KCI_MAX_BODY_BYTES", def: "1048576", kind: "bytes",
		help: "Largest request body accepted, in bytes (default 1 MiB).",
		set:  bytesSetting(func(c *Config) *int64 { return &c.MaxBodyBytes }), get: func(c *Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) }},
	{flag: "max-hierarchy-body", env: "KCI_MAX_HIERARCHY_BYTES", def: "67108864", kind: "bytes",
		help: "Largest node hierarchy (PUT /nodes/{id}) body accepted, in bytes (default 64 MiB).",
		set:  bytesSetting(func(c *Config) *int64 { return &c.MaxHierarchyBytes }), get: func(c *Config) string { return strconv.FormatInt(c.MaxHierarchyBytes, 10) }},
	{flag: "stats-max-groups", env: "KCI_STATS_MAX_GROUPS", def: "10000", kind: "count",
		help: "Most groups GET /stats/nodes answers; a query with more is refused with 400 (narrow its filter).",
		set:  positiveCount(func(c *Config) *int { return &c.StatsMaxGroups }), get: func(c *Config) string { return strconv.Itoa(c.StatsMaxGroups) }},
	{flag: "stream-heartbeat", env: "KCI_STREAM_HEARTBEAT_SECONDS", def: "15", kind: "seconds",
		help: "Period of the heartbeat comments of an idle GET /stream (keeps proxies from closing it).",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.StreamHeartbeat }), get: getSeconds(func(c *Config) time.Duration { return c.StreamHeartbeat })},
	{flag: "stream-max-per-client", env: "KCI_STREAM_MAX_PER_CLIENT", def: "8", kind: "count",
		help: "Open GET /stream per client (a user, or an address when anonymous) before 429; 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.StreamMaxPerClient }), get: func(c *Config) string { return strconv.Itoa(c.StreamMaxPerClient) }},
	{flag: "stream-max-total", env: "KCI_STREAM_MAX_TOTAL", def: "1000", kind: "count",
		help: "Open GET /stream per server process before 503; 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.StreamMaxTotal }), get: func(c *Config) string { return strconv.Itoa(c.StreamMaxTotal) }},
	{flag: "smtp-host", env: "SMTP_HOST", defDoc: "empty, meaning no email is sent", kind: "host",
		help: "SMTP server for invite and password reset emails.",
		set:  str(func(c *Config) *string { return &c.SMTPHost }, nil), get: getStr(func(c *Config) string { return c.SMTPHost })},
	{flag: "smtp-port", env: "SMTP_PORT", def: "587", kind: "port",
		help: "SMTP server port: 465 speaks TLS from the start, any other port upgrades with STARTTLS when the server offers it.",
		set:  setPort, get: func(c *Config) string { return strconv.Itoa(c.SMTPPort) }},
	{flag: "email-sender", env: "EMAIL_SENDER", kind: "email",
		help: "From address of the emails, also the SMTP login name (required with SMTP_HOST).",
		set:  str(func(c *Config) *string { return &c.EmailSender }, bareAddress), get: getStr(func(c *Config) string { return c.EmailSender })},
	{flag: "email-password", env: "EMAIL_PASSWORD", kind: "string", secret: true,
		help: "SMTP password; empty sends without logging in. Never sent over an unencrypted connection to a remote host.",
		set:  str(func(c *Config) *string { return &c.EmailPassword }, nil), get: getStr(func(c *Config) string { return c.EmailPassword })},
	{flag: "login-max-failures-per-user", env: "KCI_LOGIN_MAX_FAILURES_PER_USER", def: "10", kind: "count",
		help: "Failed logins (and password changes) for one username within the window before it is refused with 429; 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.LoginMaxFailuresPerUser }), get: func(c *Config) string { return strconv.Itoa(c.LoginMaxFailuresPerUser) }},
	{flag: "login-max-failures-per-client", env: "KCI_LOGIN_MAX_FAILURES_PER_CLIENT", def: "50", kind: "count",
		help: "Failed logins from one client address (an IPv6 /64) within the window before it is refused with 429; 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.LoginMaxFailuresPerClient }), get: func(c *Config) string { return strconv.Itoa(c.LoginMaxFailuresPerClient) }},
	{flag: "login-failure-window", env: "KCI_LOGIN_FAILURE_WINDOW_SECONDS", def: "900", kind: "seconds",
		help: "Window of the failed-login limits (default 15 minutes).",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.LoginFailureWindow }), get: getSeconds(func(c *Config) time.Duration { return c.LoginFailureWindow })},
	{flag: "query-timeout", env: "KCI_QUERY_TIMEOUT_SECONDS", def: "5", kind: "seconds",
		help: "Time budget of a read query (GET /nodes, /nodes/fast, /count, /events, /node/{id}, /stats/nodes, /telemetry, /telemetry/stats, /telemetry/anomalies); past it the query is interrupted and answered 504.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.QueryTimeout }), get: getSeconds(func(c *Config) time.Duration { return c.QueryTimeout })},
	{flag: "query-max-conditions", env: "KCI_QUERY_MAX_CONDITIONS", def: "100", kind: "count",
		help: "Most filter conditions in one query string (400 beyond); at most 250, as SQLite refuses expressions nested 1000 deep (a /nodes page reached that with 490).",
		set:  countUpTo(MaxQueryConditions, func(c *Config) *int { return &c.QueryMaxConditions }), get: func(c *Config) string { return strconv.Itoa(c.QueryMaxConditions) }},
	{flag: "query-max-list-values", env: "KCI_QUERY_MAX_LIST_VALUES", def: "1000", kind: "count",
		help: "Most values in the __in/__nin lists of one query, all lists together, or in an /events ids list (400 beyond); at most 5000, as SQLite refuses statements with more than 32766 variables (a data.* value takes up to three).",
		set:  countUpTo(MaxQueryListValues, func(c *Config) *int { return &c.QueryMaxListValues }), get: func(c *Config) string { return strconv.Itoa(c.QueryMaxListValues) }},
	{flag: "query-max-regex-repeat", env: "KCI_QUERY_MAX_REGEX_REPEAT", def: "100", kind: "count",
		help: "Most counted repetition in one __re pattern: the sum of the largest counts of its x{n,m}, nested ones multiplied (400 beyond).",
		set:  positiveCount(func(c *Config) *int { return &c.QueryMaxRegexRepeat }), get: func(c *Config) string { return strconv.Itoa(c.QueryMaxRegexRepeat) }},
	{flag: "query-refuse-unbounded-regex", env: "KCI_QUERY_REFUSE_UNBOUNDED_REGEX", def: "false", kind: "bool", isBool: true,
		help: "Refuse with 400 a node query whose name__re no index bounds (no ^literal prefix, and no kind other than test, parent, group, commit or created__gt window): it would match every node's name.",
		set:  setBool(func(c *Config) *bool { return &c.RefuseUnboundedRegex }), get: func(c *Config) string { return strconv.FormatBool(c.RefuseUnboundedRegex) }},
	{flag: "max-heavy-queries", env: "KCI_MAX_HEAVY_QUERIES", def: "0", kind: "count",
		help: "Regular-expression queries run at once; others queue up to KCI_ADMISSION_WAIT_SECONDS, then 503. 0 means half the cores (at least 1).",
		set:  countSetting(func(c *Config) *int { return &c.MaxHeavyQueries }), get: func(c *Config) string { return strconv.Itoa(c.MaxHeavyQueries) }},
	{flag: "max-concurrent-hashes", env: "KCI_MAX_CONCURRENT_HASHES", def: "0", kind: "count",
		help: "Password hashes (64 MiB each) computed at once by logins and password changes; others queue up to KCI_ADMISSION_WAIT_SECONDS, then 503. 0 means the number of cores.",
		set:  countSetting(func(c *Config) *int { return &c.MaxConcurrentHashes }), get: func(c *Config) string { return strconv.Itoa(c.MaxConcurrentHashes) }},
	{flag: "max-large-hierarchies", env: "KCI_MAX_LARGE_HIERARCHIES", def: "0", kind: "count",
		help: "PUT /nodes/{id} bodies over 1 MiB decoded and written at once (a 64 MiB hierarchy can take about 12 times its size in memory); others queue up to KCI_ADMISSION_WAIT_SECONDS, then 503. 0 means half the cores (at least 1).",
		set:  countSetting(func(c *Config) *int { return &c.MaxLargeHierarchies }), get: func(c *Config) string { return strconv.Itoa(c.MaxLargeHierarchies) }},
	{flag: "admission-wait", env: "KCI_ADMISSION_WAIT_SECONDS", def: "2", kind: "seconds",
		help: "How long a request queues for a heavy-query or password-hash slot before 503 with Retry-After.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.AdmissionWait }), get: getSeconds(func(c *Config) time.Duration { return c.AdmissionWait })},
	{flag: "max-json-depth", env: "KCI_MAX_JSON_DEPTH", def: "64", kind: "levels",
		help: "Deepest nesting of arrays and objects in a JSON body (422 beyond); at most 96, as MongoDB refuses documents nested more than 100 levels deep and stores events a level or two below their data.",
		set:  countUpTo(MaxJSONDepth, func(c *Config) *int { return &c.MaxJSONDepth }), get: func(c *Config) string { return strconv.Itoa(c.MaxJSONDepth) }},
	{flag: "max-page-limit", env: "KCI_MAX_PAGE_LIMIT", def: "10000", kind: "count",
		help: "Largest limit of GET /nodes (422 beyond; /nodes/fast streams any size).",
		set:  positiveCount(func(c *Config) *int { return &c.MaxPageLimit }), get: func(c *Config) string { return strconv.Itoa(c.MaxPageLimit) }},
	{flag: "max-events-limit", env: "KCI_MAX_EVENTS_LIMIT", def: "10000", kind: "count",
		help: "Largest limit of GET /events (400 beyond; limit=0 streams every match).",
		set:  positiveCount(func(c *Config) *int { return &c.MaxEventsLimit }), get: func(c *Config) string { return strconv.Itoa(c.MaxEventsLimit) }},
	{flag: "max-subscriptions-per-user", env: "KCI_MAX_SUBSCRIPTIONS_PER_USER", def: "1000", kind: "count",
		help: "Pub/sub subscriptions one user may hold at once (429 beyond).",
		set:  positiveCount(func(c *Config) *int { return &c.MaxSubscriptionsPerUser }), get: func(c *Config) string { return strconv.Itoa(c.MaxSubscriptionsPerUser) }},
	{flag: "max-waits-per-user", env: "KCI_MAX_WAITS_PER_USER", def: "2000", kind: "count",
		help: "Long-polls (GET /listen, GET /pop) one user may hold open at once (429 beyond).",
		set:  positiveCount(func(c *Config) *int { return &c.MaxWaitsPerUser }), get: func(c *Config) string { return strconv.Itoa(c.MaxWaitsPerUser) }},
	{flag: "body-read-timeout", env: "KCI_BODY_READ_TIMEOUT_SECONDS", def: "30", kind: "seconds",
		help: "Time a client has to send a request body, plus its size at KCI_MIN_BODY_RATE; past it the connection is closed.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.BodyReadTimeout }), get: getSeconds(func(c *Config) time.Duration { return c.BodyReadTimeout })},
	{flag: "min-body-rate", env: "KCI_MIN_BODY_RATE", def: "102400", kind: "bytes/s",
		help: "Slowest upload rate a large body is given time for (default 100 KiB/s).",
		set:  bytesSetting(func(c *Config) *int64 { return &c.MinBodyRate }), get: func(c *Config) string { return strconv.FormatInt(c.MinBodyRate, 10) }},
	{flag: "write-timeout", env: "KCI_WRITE_TIMEOUT_SECONDS", def: "120", kind: "seconds",
		help: "Time a client has to read an answer (long-polls get KEEP_ALIVE_PERIOD on top); past it the connection is closed.",
		set:  durSeconds(func(c *Config) *time.Duration { return &c.WriteTimeout }), get: getSeconds(func(c *Config) time.Duration { return c.WriteTimeout })},
	{flag: "max-connections", env: "KCI_MAX_CONNECTIONS", def: "4096", kind: "count",
		help: "Open client connections at once; more wait in the listen backlog. 0 means no limit.",
		set:  countSetting(func(c *Config) *int { return &c.MaxConnections }), get: func(c *Config) string { return strconv.Itoa(c.MaxConnections) }},
	{flag: "auth-cache-seconds", env: "KCI_AUTH_CACHE_SECONDS", def: "0.5", kind: "seconds",
		help: "Seconds (a decimal number, to the millisecond) a successful authentication (token verified, user read) is reused by the next requests with the same token. A revocation, password change or deactivation holds at once on the server that makes it, at once on the other replicas when REDIS_HOST is set and Redis answers, and otherwise after at most this long there: keep it under 1 to have every replica refuse an ended credential within a second. 0 turns the cache off.",
		set:  setAuthCacheTTL, get: func(c *Config) string { return strconv.FormatFloat(c.AuthCacheTTL.Seconds(), 'f', -1, 64) }},
	{flag: "auth-cache-size", env: "KCI_AUTH_CACHE_SIZE", def: "10000", kind: "count",
		help: "Tokens the authentication cache holds; beyond it the expired, then any, entries make room.",
		set:  positiveCount(func(c *Config) *int { return &c.AuthCacheSize }), get: func(c *Config) string { return strconv.Itoa(c.AuthCacheSize) }},
	{flag: "trusted-proxies", env: "KCI_TRUSTED_PROXIES", defDoc: "empty, meaning no proxy is trusted", kind: "cidrs",
		help: "Comma-separated addresses or CIDRs of the reverse proxies in front of the server: only from these peers are X-Forwarded-For and X-Real-IP believed for the client address (login limits, access log).",
		set:  setTrustedProxies, get: func(c *Config) string { return formatPrefixes(c.TrustedProxies) }},
	{flag: "pprof-addr", env: "KCI_PPROF_ADDR", defDoc: "empty, meaning no profiling endpoint", kind: "host:port",
		help: "Loopback address (127.0.0.1:PORT or [::1]:PORT) serving Go's /debug/pprof/ profiles, for performance work; off by default, never on another interface.",
		set:  str(func(c *Config) *string { return &c.PprofAddr }, loopbackAddr), get: getStr(func(c *Config) string { return c.PprofAddr })},
	{flag: "log-level", env: "KCI_LOG_LEVEL", def: "info", kind: "level",
		help: "Log level: debug, info, warn (or warning) or error.",
		set:  setLogLevel, get: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) }},
	{flag: "log-format", env: "KCI_LOG_FORMAT", def: "text", kind: "format",
		help: "Log format: text or json.",
		set:  str(func(c *Config) *string { return &c.LogFormat }, oneOf("text", "json")), get: getStr(func(c *Config) string { return c.LogFormat })},
}

// flagValue records a flag's raw text; parsing happens in Load so that
// errors name the setting the same way whatever the source.
type flagValue struct {
	s      string
	isBool bool
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }

// IsBoolFlag lets the flag package accept --name without a value for
// boolean settings.
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

// Load registers a flag for every setting on fs (a new FlagSet named
// "kernelci-api" when nil), parses args, and binds each setting from the
// flag, getenv (os.Getenv when nil), the .env file at dotenvPath (skipped
// when dotenvPath is empty or the file does not exist) or its default.
// fs.Usage is set to print Usage(fs).
//
// Parse failures of fs are returned as they are (flag.ErrHelp for -h).
// Invalid values are reported together, each naming its environment
// variable, flag and source. Load does not check that required settings
// are present: see Validate.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string, dotenvPath string) (*Config, error) {
	if fs == nil {
		fs = flag.NewFlagSet("kernelci-api", flag.ContinueOnError)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	values := make([]*flagValue, len(settings))
	for i, s := range settings {
		values[i] = &flagValue{s: s.def, isBool: s.isBool}
		fs.Var(values[i], s.flag, s.help+" (env "+s.env+")")
	}
	fs.Usage = func() { fmt.Fprint(fs.Output(), Usage(fs)) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	dotenv := map[string]string{}
	if dotenvPath != "" {
		var err error
		if dotenv, err = ReadDotenv(dotenvPath); err != nil {
			return nil, err
		}
	}

	c := &Config{sources: make(map[string]Source, len(settings))}
	var errs []error
	for i, s := range settings {
		raw, src := s.def, FromDefault
		if given[s.flag] {
			raw, src = values[i].s, FromFlag
		} else if v := getenv(s.env); v != "" {
			raw, src = v, FromEnv
		} else if v := dotenv[s.env]; v != "" {
			raw, src = v, FromDotenv
		}
		c.sources[s.env] = src
		if err := s.set(c, raw); err != nil {
			shown := fmt.Sprintf("%q", raw)
			if s.secret {
				shown = "(secret)"
			}
			errs = append(errs, fmt.Errorf("config: %s (--%s) from %s: invalid value %s: %w", s.env, s.flag, src, shown, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.InitialAdminEmail == "" {
		c.InitialAdminEmail = c.InitialAdminUsername + "@kernelci.org"
	}
	return c, nil
}

// Validate reports missing settings the server cannot run without:
// SECRET_KEY (empty or blank), which the reference also checks at
// start-up, and EMAIL_SENDER when SMTP_HOST is set.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.SecretKey) == "" {
		return errors.New("config: SECRET_KEY (--secret-key) is required: set it in the environment or in .env")
	}
	if c.SMTPHost != "" && c.EmailSender == "" {
		return errors.New("config: EMAIL_SENDER (--email-sender) is required when SMTP_HOST is set")
	}
	return nil
}

// EmailEnabled reports whether emails can be sent (SMTP_HOST is set).
func (c *Config) EmailEnabled() bool { return c.SMTPHost != "" }

// Source returns where the setting with environment variable env was read
// from (FromDefault for unknown names).
func (c *Config) Source(env string) Source { return c.sources[env] }

// TokenLifetime returns the access token lifetime: ACCESS_TOKEN_EXPIRE_MINUTES
// or ACCESS_TOKEN_EXPIRE_SECONDS when set (both set: the one from the
// higher-precedence source, seconds on a tie, seconds being the only one
// the reference reads), DefaultTokenLifetime otherwise.
func (c *Config) TokenLifetime() time.Duration {
	minutes, seconds := c.AccessTokenExpireMinutes > 0, c.AccessTokenExpireSeconds > 0
	if minutes && seconds {
		minutes = c.sources["ACCESS_TOKEN_EXPIRE_MINUTES"] > c.sources["ACCESS_TOKEN_EXPIRE_SECONDS"]
		seconds = !minutes
	}
	switch {
	case seconds:
		return time.Duration(c.AccessTokenExpireSeconds * float64(time.Second))
	case minutes:
		return time.Duration(c.AccessTokenExpireMinutes) * time.Minute
	}
	return DefaultTokenLifetime
}

// Redacted lists every setting as an slog attribute keyed by its
// environment variable, in declaration order, for a start-up log line:
//
//	logger.LogAttrs(ctx, slog.LevelInfo, "configuration", cfg.Redacted()...)
//
// Secrets read "***" when set and "" when not; a password in
// MONGO_SERVICE is masked.
func (c *Config) Redacted() []slog.Attr {
	attrs := make([]slog.Attr, 0, len(settings))
	for _, s := range settings {
		v := s.get(c)
		if s.secret && v != "" {
			v = "***"
		}
		attrs = append(attrs, slog.String(s.env, v))
	}
	return attrs
}

// Usage returns the help text: every setting with its flag, environment
// variable, default and description, then any other flag defined on fs.
func Usage(fs *flag.FlagSet) string {
	var b strings.Builder
	name := "kernelci-api"
	if fs != nil && fs.Name() != "" {
		name = fs.Name()
	}
	fmt.Fprintf(&b, "Usage: %s [flags]\n\n", name)
	b.WriteString("Each setting comes from, by decreasing precedence: its flag, its environment\n" +
		"variable, the .env file of the working directory (KEY=VALUE lines), its default.\n" +
		"Empty environment and .env values count as unset.\n\nSettings:\n")
	known := map[string]bool{}
	for _, s := range settings {
		known[s.flag] = true
		fmt.Fprintf(&b, "  --%s %s\n", s.flag, s.kind)
		fmt.Fprintf(&b, "        %s\n", s.help)
		def := s.defDoc
		if def == "" {
			def = "none"
			if s.def != "" {
				def = strconv.Quote(s.def)
			}
		}
		extra := ""
		if s.secret {
			extra = ", secret"
		}
		fmt.Fprintf(&b, "        env %s, default %s%s\n", s.env, def, extra)
	}
	if fs != nil {
		first := true
		fs.VisitAll(func(f *flag.Flag) {
			if known[f.Name] {
				return
			}
			if first {
				b.WriteString("\nOther flags:\n")
				first = false
			}
			fmt.Fprintf(&b, "  --%s\n        %s", f.Name, f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(&b, " (default %q)", f.DefValue)
			}
			b.WriteString("\n")
		})
	}
	return b.String()
}

// Parsers and formatters used by the settings table.

func str(field func(*Config) *string, check func(string) error) func(*Config, string) error {
	return func(c *Config, v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		*field(c) = v
		return nil
	}
}

func getStr(field func(*Config) string) func(*Config) string { return field }

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// loopbackAddr accepts "" or a host:port whose host is a loopback IP
// address (a profiling endpoint must not be reachable from outside).
func loopbackAddr(v string) error {
	if v == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return errors.New("the host must be a loopback address such as 127.0.0.1")
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
		}
		return nil
	}
}

// setBaseURL accepts an absolute http(s) URL and drops trailing slashes,
// as the reference does before appending paths.
func setBaseURL(c *Config, v string) error {
	if v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want an absolute http(s) URL")
		}
	}
	c.PublicBaseURL = strings.TrimRight(v, "/")
	return nil
}

// positiveInt parses a base-10 integer in [1, max].
func positiveInt(v string, limit int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 1 || n > limit {
		return 0, fmt.Errorf("want a whole number from 1 to %d", limit)
	}
	return n, nil
}

const maxSeconds = int64(math.MaxInt64 / int64(time.Second))

func durSeconds(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := positiveInt(v, maxSeconds)
		if err != nil {
			return fmt.Errorf("%w seconds", err)
		}
		*field(c) = time.Duration(n) * time.Second
		return nil
	}
}

func getSeconds(field func(*Config) time.Duration) func(*Config) string {
	return func(c *Config) string { return strconv.FormatInt(int64(field(c)/time.Second), 10) }
}

func bytesSetting(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := positiveInt(v, math.MaxInt64)
		if err != nil {
			return fmt.Errorf("%w bytes", err)
		}
		*field(c) = n
		return nil
	}
}

func setPort(c *Config, v string) error {
	n, err := positiveInt(v, 65535)
	if err != nil {
		return err
	}
	c.SMTPPort = int(n)
	return nil
}

// countSetting parses a whole number from 0 (meaning off) to 1<<30.
func countSetting(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 || n > 1<<30 {
			return fmt.Errorf("want a whole number from 0 to %d", 1<<30)
		}
		*field(c) = int(n)
		return nil
	}
}

// setTrustedProxies parses a comma-separated list of addresses and
// CIDRs; a bare address is its own /32 or /128.
func setTrustedProxies(c *Config, v string) error {
	c.TrustedProxies = nil
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is not an IP address or CIDR", part)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func formatPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

// positiveCount parses a whole number from 1 to 1<<30.
// The largest values of the settings that keep a request inside what
// the stores accept, so that no setting can turn bad input into a 500.
const (
	MaxQueryConditions = 250  // SQLite: expressions at most 1000 deep (a /nodes page failed at 490)
	MaxQueryListValues = 5000 // SQLite: 32,766 variables, up to three a value on data.*
	MaxJSONDepth       = 96   // MongoDB: documents at most 100 levels deep
)

// countUpTo sets a count from 1 to max.
func countUpTo(max int64, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := positiveInt(v, max)
		if err != nil {
			return err
		}
		*field(c) = int(n)
		return nil
	}
}

func positiveCount(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := positiveInt(v, 1<<30)
		if err != nil {
			return err
		}
		*field(c) = int(n)
		return nil
	}
}

// bareAddress accepts "" or a plain email address (no display name).
func bareAddress(v string) error {
	if v == "" {
		return nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return errors.New("want a plain email address such as bot@example.org")
	}
	return nil
}

func setPurgeDays(c *Config, v string) error {
	n, err := positiveInt(v, 1<<20)
	if err != nil {
		return fmt.Errorf("%w days", err)
	}
	c.NodePurgeAgeDays = int(n)
	return nil
}

func setBool(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "t", "true", "yes", "on":
			*field(c) = true
		case "0", "f", "false", "no", "off":
			*field(c) = false
		default:
			return errors.New("want true or false")
		}
		return nil
	}
}

// setLifecycleInterval accepts whole seconds or a Go duration, from
// 100ms to a day.
func setLifecycleInterval(c *Config, v string) error {
	v = strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 1 || n > 86400 {
			return errors.New("want 1 to 86400 seconds, or a duration from 100ms to 24h")
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(v); err != nil {
		return errors.New("want whole seconds or a duration such as 500ms or 1m")
	}
	if d < 100*time.Millisecond || d > 24*time.Hour {
		return errors.New("want 1 to 86400 seconds, or a duration from 100ms to 24h")
	}
	c.LifecycleInterval = d
	return nil
}

// formatInterval writes whole seconds as a number, anything else as a
// Go duration.
func formatInterval(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return d.String()
}

func setRedisDB(c *Config, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > 1<<20 {
		return errors.New("want a database number from 0")
	}
	c.RedisDBNumber = int(n)
	return nil
}

func setGapGrace(c *Config, v string) error {
	if v == "" {
		c.SequenceGapGrace = 0
		return nil
	}
	n, err := positiveInt(v, 86400)
	if err != nil {
		return fmt.Errorf("%w seconds", err)
	}
	c.SequenceGapGrace = time.Duration(n) * time.Second
	return nil
}

// redactHost masks a password in REDIS_HOST, which may be a URL or, as
// the reference accepts it, "user:password@host:port".
func redactHost(v string) string {
	if strings.Contains(v, "://") {
		return redactURL(v)
	}
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return v
	}
	user, _, hasPassword := strings.Cut(v[:at], ":")
	if !hasPassword {
		return v
	}
	return user + ":xxxxx" + v[at:]
}

func setReapMinutes(c *Config, v string) error {
	n, err := positiveInt(v, int64(math.MaxInt64/int64(time.Minute)))
	if err != nil {
		return fmt.Errorf("%w minutes", err)
	}
	c.SubscriptionReap = time.Duration(n) * time.Minute
	return nil
}

func setMinutes(c *Config, v string) error {
	if v == "" {
		c.AccessTokenExpireMinutes = 0
		return nil
	}
	n, err := positiveInt(v, int64(math.MaxInt64/int64(time.Minute)))
	if err != nil {
		return fmt.Errorf("%w minutes", err)
	}
	c.AccessTokenExpireMinutes = n
	return nil
}

func setSeconds(c *Config, v string) error {
	if v == "" {
		c.AccessTokenExpireSeconds = 0
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f < 0.001 || f > float64(maxSeconds) {
		return fmt.Errorf("want a number of seconds from 0.001 to %d", maxSeconds)
	}
	c.AccessTokenExpireSeconds = f
	return nil
}

// maxAuthCacheSeconds bounds KCI_AUTH_CACHE_SECONDS (an hour).
const maxAuthCacheSeconds = 3600

// setAuthCacheTTL parses KCI_AUTH_CACHE_SECONDS: a decimal number of
// seconds, 0 (off) or from 0.001 to maxAuthCacheSeconds, kept to the
// millisecond.
func setAuthCacheTTL(c *Config, v string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	ms := math.Round(f * 1000)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxAuthCacheSeconds || (f > 0 && ms < 1) {
		return fmt.Errorf("want 0 (off) or a number of seconds from 0.001 to %d", maxAuthCacheSeconds)
	}
	c.AuthCacheTTL = time.Duration(ms) * time.Millisecond
	return nil
}

func optInt(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func optFloat(f float64) string {
	if f == 0 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func setLogLevel(c *Config, v string) error {
	s := strings.ToLower(strings.TrimSpace(v))
	switch s {
	case "debug", "info", "warn", "error":
	case "warning":
		s = "warn"
	default:
		return errors.New("want debug, info, warn, warning or error")
	}
	return c.LogLevel.UnmarshalText([]byte(s))
}

// redactURL masks the password in the user information of a URL
// (scheme://user:password@host...), the way url.URL.Redacted does, but
// without parsing the rest, which for MongoDB may list several hosts.
func redactURL(v string) string {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return v
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return v
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return v
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
