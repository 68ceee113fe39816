// Package mongo is the production storage backend: MongoDB (or a server
// speaking its protocol, such as FerretDB), with the same documents as the
// reference kernelci-api so that an existing database works as-is and the
// reference can read what this backend writes.
//
// Collections and documents (see codec.go):
//
//	node          the reference's Node documents (_id and parent ObjectIds,
//	              datetimes as BSON dates)
//	user          fastapi-users/Beanie documents: email, hashed_password,
//	              is_active, is_superuser, is_verified, username,
//	              groups [{_id, name}]
//	usergroup     {_id, name}
//	eventhistory  {_id, timestamp, sequence_id, channel, owner, data}
//	              (plus "attributes" for POST /publish events, ours)
//	telemetry     kernelci-core TelemetryEvent documents (telemetry.go)
//	subscriber_state  the reference's durable subscriber positions
//
// and, ignored by the reference: counter (the durable event sequence
// counter and other id counters, events.go), seqgap (sequence ids of
// failed writes, visibility.go), subscription, list, kv (pubsub.go).
//
// Every call runs under the caller's context bounded by Options.MaxTime,
// which the driver sends to the server as maxTimeMS. Query filters are
// compiled to BSON by filter.go; no query-string key can become an
// operator. Node writes are atomic with their events: in a transaction
// where the server supports them, otherwise by ordered writes with
// compensation (nodes.go). Indexes are declared in indexes.go and created
// at start-up.
//
// FerretDB 1.x (the embedded test server) lacks transactions, TTL
// indexes, Decimal128, the $first accumulator, field names with dots,
// and atomic findAndModify/update (it finds, then writes). The store
// detects it (buildInfo.ferretdbVersion) and adapts: compensation
// instead of transactions, deletion of expired events by the store,
// integers beyond 64 bits refused, a query per group for the latest
// telemetry event, and in-process locks around counters and
// compare-and-set updates (so several API replicas on one FerretDB are
// not supported). On MongoDB none of these workarounds is used.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Collection names. The first four are the reference's.
const (
	colNode    = "node"
	colUser    = "user"
	colGroup   = "usergroup"
	colEvent   = "eventhistory"
	colCounter = "counter"
)

// DefaultDatabase is the database used when neither Options.Database nor
// the URL path names one (the reference's default).
const DefaultDatabase = "kernelci"

// Defaults of Options.
const (
	DefaultMaxTime      = 30 * time.Second
	DefaultIndexTimeout = 15 * time.Minute
	// DefaultBackgroundIndexMin: an index on up to 100,000 documents
	// builds in about a second on MongoDB.
	DefaultBackgroundIndexMin = 100_000
)

// TxMode chooses how multi-document writes are made atomic.
type TxMode int

const (
	// TxAuto uses transactions when the server supports them (a replica
	// set member or mongos) and compensation otherwise.
	TxAuto TxMode = iota
	// TxOff never uses transactions (compensation only).
	TxOff
	// TxOn always uses transactions; writes fail on servers without them.
	TxOn
)

// Options configure Open.
type Options struct {
	// URI is the MongoDB connection string (MONGO_SERVICE).
	URI string
	// Database overrides the database named in the URI path; when both
	// are empty DefaultDatabase is used.
	Database string
	// MaxTime bounds every call (sent to the server as maxTimeMS);
	// 0 means DefaultMaxTime.
	MaxTime time.Duration
	// IndexTimeout bounds the index builds of EnsureIndexes, which can
	// take long on a big existing collection; 0 means DefaultIndexTimeout.
	IndexTimeout time.Duration
	// BackgroundIndexMin: at Open, a missing index of a collection with
	// more documents than this is built in the background instead of
	// before Open returns (indexes.go); 0 means DefaultBackgroundIndexMin,
	// a negative value builds every missing index in the background.
	BackgroundIndexMin int64
	// EventTTL is how long events are kept (EVENT_HISTORY_TTL_SECONDS):
	// the expireAfterSeconds of the TTL index on eventhistory.timestamp.
	// 0 keeps events forever.
	EventTTL time.Duration
	// TelemetryTTL is the TTL of telemetry events (TELEMETRY_TTL_SECONDS):
	// the expireAfterSeconds of the TTL index on telemetry.ts; 0 for none.
	// (The API server also deletes them itself: internal/retention.)
	TelemetryTTL time.Duration
	// RetentionInterval is how often expired events are deleted by the
	// store itself when the server has no TTL indexes (FerretDB); 0 means
	// min(EventTTL/4, 10 minutes).
	RetentionInterval time.Duration
	// SkipIndexes leaves the database as it is at Open: no index is
	// created and the sequence counter is set up only when the first
	// event is written (for read-only tools such as "kernelci-api
	// indexes").
	SkipIndexes bool
	// Transactions selects the write strategy (TxAuto by default).
	Transactions TxMode
	// GapGrace is how long a gap in the stored sequence ids may hold back
	// EventsAfter before the missing ids are taken as lost (visibility.go);
	// 0 means 2*MaxTime + 10s.
	GapGrace time.Duration
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// Monitor, when set, observes every command sent (tests).
	Monitor *event.CommandMonitor

	// indexBuildHook, when set, is called before each background index
	// build (tests).
	indexBuildHook func(IndexSpec)
	// aggregateMaxTimeMS, when set, is the maxTimeMS of every
	// aggregation (counts included) instead of the context's deadline
	// (tests: a tiny one makes the server end them).
	aggregateMaxTimeMS int64
}

// Store implements store.Store on MongoDB.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	log     *slog.Logger
	maxTime time.Duration
	opts    Options

	nodes, users, groups, events, counters *mongo.Collection

	// Capabilities found at Open.
	useTx      bool // multi-document transactions
	ferret     bool // FerretDB 1.x: see seqMu
	noDecimal  bool // the server cannot store Decimal128 (FerretDB 1.x)
	ttlEnabled bool // the TTL index on eventhistory.timestamp is in force

	// seqMu serialises the sequence counter's findAndModify in this
	// process on FerretDB 1.x, whose findAndModify is a find followed by
	// an update, not atomic: concurrent increments could hand out the
	// same ids. (MongoDB's is atomic; FerretDB is not supported with
	// several API replicas.)
	seqMu sync.Mutex
	// seqReady is set once the counter is known to be above every stored
	// sequence_id (initSequence).
	seqReady atomic.Bool
	// casMu serialises compare-and-set updates (ReplaceNodeIf,
	// AdvanceSubscription, AckSubscriberState, PopList) on FerretDB 1.x for
	// the same reason.
	casMu sync.Mutex

	// hz is the visibility horizon of EventsAfter (visibility.go).
	hz struct {
		mu sync.Mutex
		w  int64
		ok bool
		at time.Time // start of the last refresh
	}

	// testHook, when set, is called between the steps of a
	// non-transactional write; a non-nil result fails the write there.
	testHook func(step string) error

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	store.Commits // OnCommit, IDRetries (events.go)
}

var _ store.Store = (*Store)(nil)

// DatabaseName returns the database a URI selects: its path, else
// DefaultDatabase.
func DatabaseName(uri string) (string, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return "", fmt.Errorf("mongo: invalid MONGO_SERVICE URL: %w", redactErr(err, uri))
	}
	if cs.Database != "" {
		return cs.Database, nil
	}
	return DefaultDatabase, nil
}

// redactErr keeps a password in the URI out of error messages.
func redactErr(err error, uri string) error {
	u, perr := url.Parse(uri)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Open connects to the server, checks what it supports, initialises the
// event sequence counter and (unless SkipIndexes) creates missing indexes.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.MaxTime <= 0 {
		o.MaxTime = DefaultMaxTime
	}
	if o.GapGrace <= 0 {
		o.GapGrace = 2*o.MaxTime + 10*time.Second
	}
	if o.IndexTimeout <= 0 {
		o.IndexTimeout = DefaultIndexTimeout
	}
	if o.BackgroundIndexMin == 0 {
		o.BackgroundIndexMin = DefaultBackgroundIndexMin
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dbName := o.Database
	if dbName == "" {
		var err error
		if dbName, err = DatabaseName(o.URI); err != nil {
			return nil, err
		}
	}
	co := options.Client().ApplyURI(o.URI)
	if co.ServerSelectionTimeout == nil {
		co.SetServerSelectionTimeout(15 * time.Second)
	}
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", redactErr(err, o.URI))
	}
	db := client.Database(dbName)
	s := &Store{
		client: client, db: db, log: o.Logger, maxTime: o.MaxTime, opts: o,
		nodes: db.Collection(colNode), users: db.Collection(colUser), groups: db.Collection(colGroup),
		events: db.Collection(colEvent), counters: db.Collection(colCounter),
		stop: make(chan struct{}),
	}
	fail := func(err error) (*Store, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
		return nil, err
	}
	if err := s.probe(ctx); err != nil {
		return fail(err)
	}
	if !o.SkipIndexes {
		if err := s.initSequence(ctx); err != nil {
			return fail(err)
		}
		s.seqReady.Store(true)
		if _, err := s.ensureIndexesAtOpen(ctx); err != nil {
			return fail(err)
		}
		if o.EventTTL > 0 && !s.ttlEnabled {
			s.startRetention()
		}
	}
	return s, nil
}

// Close stops background work and disconnects.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.client.Disconnect(ctx)
}

// Database is the name of the database in use.
func (s *Store) Database() string { return s.db.Name() }

// Transactions reports whether node writes use multi-document
// transactions.
func (s *Store) Transactions() bool { return s.useTx }

// opCtx bounds ctx by MaxTime; the driver turns the deadline into the
// command's maxTimeMS.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.maxTime)
}

// probe asks the server what it is: a replica set member or mongos
// supports transactions, FerretDB (buildInfo.ferretdbVersion) lacks
// Decimal128.
func (s *Store) probe(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fmt.Errorf("mongo: hello: %w", redactErr(err, s.opts.URI))
	}
	var build bson.Raw
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&build); err != nil {
		return fmt.Errorf("mongo: buildInfo: %w", err)
	}
	_, ferret := build.Lookup("ferretdbVersion").StringValueOK()
	s.ferret, s.noDecimal = ferret, ferret
	serverTx := hello.SetName != "" || hello.Msg == "isdbgrid"
	switch s.opts.Transactions {
	case TxOn:
		s.useTx = true
	case TxOff:
		s.useTx = false
	default:
		s.useTx = serverTx
	}
	version, _ := build.Lookup("version").StringValueOK()
	s.log.Info("mongo: connected", "database", s.db.Name(), "server", version, "ferretdb", ferret,
		"replica_set", hello.SetName, "transactions", s.useTx)
	if !s.useTx {
		s.log.Info("mongo: no multi-document transactions on this server; node writes use ordered writes with compensation")
	}
	return nil
}

// Errors.

// ErrNumberRange is returned for a number the server cannot store
// exactly: an integer of more than 34 digits, or beyond 64 bits on a
// server without Decimal128 (FerretDB).
var ErrNumberRange = fmt.Errorf("%w: number cannot be stored exactly", store.ErrInvalid)

// mapErr turns driver errors into store errors where they have a meaning
// for callers.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("mongo: %s: %w", op, store.ErrConflict)
	}
	if msg, ok := refusedDocument(err); ok {
		return fmt.Errorf("%w: %s", store.ErrInvalid, msg)
	}
	switch {
	case errors.Is(err, context.Canceled):
		// The request's context ended (the client went away): not the
		// server's fault.
	case mongo.IsNetworkError(err) || mongo.IsTimeout(err):
		// No server reachable, the connection broke, or the operation
		// ran past its maxTimeMS.
		return &store.UnavailableError{Backend: "database", Err: fmt.Errorf("mongo: %s: %w", op, err)}
	}
	return fmt.Errorf("mongo: %s: %w", op, err)
}

// Server error codes of a document the server refuses to store.
var refusedDocumentCodes = map[int]bool{
	2:     true, // BadValue (FerretDB: a field name with '$' or '.')
	52:    true, // DollarPrefixedFieldName
	56:    true, // EmptyFieldName
	57:    true, // DottedFieldName
	10334: true, // BSONObjectTooLarge
	17419: true, // document too large after an update
	17420: true,
}

// refusedDocument reports whether err is the server refusing a document
// it was asked to write (a field name it does not allow, a document over
// 16 MB), with the server's reason: bad input, not a server failure.
func refusedDocument(err error) (string, bool) {
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if refusedDocumentCodes[e.Code] {
				return e.Message, true
			}
		}
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		for _, e := range bwe.WriteErrors {
			if refusedDocumentCodes[e.Code] {
				return e.Message, true
			}
		}
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && refusedDocumentCodes[int(ce.Code)] {
		return ce.Message, true
	}
	if errors.Is(err, driver.ErrDocumentTooLarge) {
		return "document larger than the server's 16 MB limit", true
	}
	return "", false
}

// hasCode reports whether err carries the server error code.
func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}
