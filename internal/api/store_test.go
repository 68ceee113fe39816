package api_test

// The store under the HTTP tests. SQLite by default; MongoDB (the
// embedded FerretDB of mongotest, one server for the whole package,
// started by the first test that needs it and stopped by TestMain) for
//
//   - every test, with KCI_TEST_API_STORE=mongo (KCI_TEST_MONGO_URI points
//     them at a real MongoDB instead of FerretDB). The default run does
//     both: after the pass on SQLite, TestMain runs the same binary again
//     with KCI_TEST_API_STORE=mongo (mongoPass).
//
// A test that needs something FerretDB lacks calls skipOnFerret, which
// says what.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// envStore selects the backend of every test: "sqlite" (default) or
// "mongo".
const envStore = "KCI_TEST_API_STORE"

// onMongo reports whether t runs on MongoDB.
func onMongo(t testing.TB) bool {
	return os.Getenv(envStore) == "mongo"
}

// skipOnFerret skips t when it runs on the embedded FerretDB, which
// lacks what the test needs (why); on SQLite and on a real MongoDB
// (KCI_TEST_MONGO_URI) it runs.
func skipOnFerret(t testing.TB, why string) {
	t.Helper()
	if onMongo(t) && !mongotest.External() {
		t.Skipf("skipped on FerretDB 1.x: %s", why)
	}
}

// openTestStore returns a fresh, empty store for t, closed at its end.
func openTestStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	if !onMongo(t) {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kernelci.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, err := mongo.Open(ctx, mongo.Options{
		URI:      mongoURI(t),
		Database: mongotest.NewDatabase(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The package's MongoDB server.
var mongoSrv struct {
	once sync.Once
	uri  string
	err  error
	srv  *mongotest.Server
	dir  string
}

// mongoURI returns the URI of the package's server, starting the embedded
// FerretDB on first use (or using KCI_TEST_MONGO_URI).
func mongoURI(t testing.TB) string {
	t.Helper()
	m := &mongoSrv
	m.once.Do(func() {
		if uri := os.Getenv(mongotest.EnvURI); uri != "" {
			m.uri = uri
			return
		}
		m.dir, m.err = os.MkdirTemp("", "kci-api-ferretdb-")
		if m.err != nil {
			return
		}
		m.srv, m.err = mongotest.Start(m.dir, nil)
		if m.err == nil {
			m.uri = m.srv.URI()
		}
	})
	if m.err != nil {
		t.Fatalf("embedded FerretDB: %v", m.err)
	}
	return m.uri
}

// stopMongo stops the embedded server, if one was started.
func stopMongo() {
	if mongoSrv.srv != nil {
		mongoSrv.srv.Stop()
	}
	if mongoSrv.dir != "" {
		if err := os.RemoveAll(mongoSrv.dir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the FerretDB directory:", err)
		}
	}
}

// mongoPass runs the package's tests a second time, every one of them on
// MongoDB, in a child process of the same test binary with
// KCI_TEST_API_STORE=mongo (and the same flags: -run, -v, -timeout...),
// after the first pass on SQLite. It is part of the default run, so the
// whole HTTP suite holds on both backends in CI: about 21 s more on two
// cores. Skipped with -short, when the pass is already the MongoDB one,
// and with a coverage profile (the child would overwrite it).
func mongoPass() int {
	if os.Getenv(envStore) != "" || testing.Short() {
		return 0
	}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.coverprofile") || strings.HasPrefix(a, "-test.list") {
			return 0
		}
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), envStore+"=mongo")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if testing.Verbose() {
		fmt.Println("=== second pass: every test on MongoDB (" + envStore + "=mongo)")
	}
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the pass on MongoDB (%s=mongo): %v\n", envStore, err)
		return 1
	}
	return 0
}
