// Package mongotest runs an embedded FerretDB server (SQLite handler) for
// the tests of the MongoDB backend and of anything built on it: there is no
// mongod on the development and CI machines. One server serves a whole test
// package; every test gets a database of its own (NewDatabase).
//
// Set KCI_TEST_MONGO_URI to run the same tests against a real MongoDB
// instead (for example a replica set, to exercise transactions).
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// EnvURI names the environment variable that points the tests at an
// external MongoDB instead of the embedded FerretDB.
const EnvURI = "KCI_TEST_MONGO_URI"

// Server is a running embedded FerretDB.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs FerretDB with its SQLite handler keeping its databases in dir
// (which must exist), listening on 127.0.0.1 on a free port. Log lines go
// to log (nil discards them).
func Start(dir string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + strings.TrimSuffix(dir, "/") + "/",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	// MongoDBURI waits for the listener to have its address.
	uri := make(chan string, 1)
	go func() { uri <- f.MongoDBURI() }()
	select {
	case s.uri = <-uri:
	case <-s.done:
		return nil, errors.New("ferretdb: stopped during start-up")
	case <-time.After(30 * time.Second):
		cancel()
		return nil, errors.New("ferretdb: no listener after 30s")
	}
	return s, nil
}

// URI is the server's mongodb:// URL (without a database name).
func (s *Server) URI() string { return s.uri }

// Stop shuts the server down and waits for it.
// StartT starts a server (Start) in a temporary directory of t, fails t
// when it cannot, and stops it when t and its cleanups are done.
func StartT(t testing.TB) *Server {
	t.Helper()
	srv, err := Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func (s *Server) Stop() {
	s.cancel()
	<-s.done
}

var (
	mu      sync.Mutex
	current string // URI of the package's server
	seq     atomic.Int64
	prefix  = randomHex(3)
)

// Main runs a test package's tests with one server for all of them: call
// it from TestMain as os.Exit(mongotest.Main(m)). With KCI_TEST_MONGO_URI
// set, no server is started and that URI is used.
func Main(m *testing.M) int {
	if uri := os.Getenv(EnvURI); uri != "" {
		setURI(uri)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kci-ferretdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	var log *slog.Logger
	if os.Getenv("KCI_TEST_FERRETDB_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Start(dir, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer s.Stop()
	setURI(s.URI())
	return m.Run()
}

func setURI(uri string) {
	mu.Lock()
	current = uri
	mu.Unlock()
}

// URI returns the URI of the package's server; the test fails when Main
// did not start one.
func URI(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if current == "" {
		t.Fatal("mongotest: no server; call mongotest.Main from TestMain")
	}
	return current
}

// External reports whether the tests run against KCI_TEST_MONGO_URI
// rather than the embedded FerretDB.
func External() bool { return os.Getenv(EnvURI) != "" }

// NewDatabase returns a database name not used by any other test of this
// process (nor, very likely, of another process on the same server).
func NewDatabase() string {
	return fmt.Sprintf("kcitest_%s_%d", prefix, seq.Add(1))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
