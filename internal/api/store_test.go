package api_test

// The store under the HTTP tests. SQLite by default; MongoDB (the
// embedded FerretDB of mongotest, one server for the whole package,
// started by the first test that needs it and stopped by TestMain) for
//
//   - every test, with KCI_TEST_API_STORE=mongo (KCI_TEST_MONGO_URI points
//     them at a real MongoDB instead of FerretDB);
//   - the tests that TestMongo runs as its subtests (a representative
//     subset of every suite, part of the default run).
//
// A test that needs something FerretDB lacks calls skipOnFerret, which
// says what.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
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

// mongoPrefix is the name prefix of the tests TestMongo runs on MongoDB.
const mongoPrefix = "TestMongo/"

// onMongo reports whether t runs on MongoDB.
func onMongo(t testing.TB) bool {
	return os.Getenv(envStore) == "mongo" || strings.HasPrefix(t.Name(), mongoPrefix)
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

// mongoSuite is what TestMongo runs on MongoDB in the default run: a
// representative part of each suite (nodes, events, users, groups,
// permissions, invites, pub/sub, telemetry): about 15 s on two busy
// cores (9 s of CPU). KCI_TEST_API_STORE=mongo runs every test there:
// about 36 s (17 s of CPU), TestPutHierarchyLarge being skipped on
// FerretDB.
var mongoSuite = []struct {
	name string
	fn   func(*testing.T)
}{
	{"TestPostNodeCheckout", TestPostNodeCheckout},
	{"TestPostNodeKeepsFields", TestPostNodeKeepsFields},
	{"TestGetNode", TestGetNode},
	{"TestNodeFilters", TestNodeFilters},
	{"TestPatchNode", TestPatchNode},
	{"TestPutNodeReplaces", TestPutNodeReplaces},
	{"TestUpdateTransitions", TestUpdateTransitions},
	{"TestUpdateErrors", TestUpdateErrors},
	{"TestPutHierarchy", TestPutHierarchy},
	{"TestPutHierarchyAllOrNothing", TestPutHierarchyAllOrNothing},
	{"TestEventsShape", TestEventsShape},
	{"TestEventFilters", TestEventFilters},
	{"TestEventsRecursive", TestEventsRecursive},
	{"TestEventsOfHierarchyAndBatch", TestEventsOfHierarchyAndBatch},
	{"TestLogin", TestLogin},
	{"TestReferenceHashesLogIn", TestReferenceHashesLogIn},
	{"TestWhoami", TestWhoami},
	{"TestGetUsers", TestGetUsers},
	{"TestPatchUser", TestPatchUser},
	{"TestDeleteUser", TestDeleteUser},
	{"TestGroupCRUD", TestGroupCRUD},
	{"TestGroupErrors", TestGroupErrors},
	{"TestEditPermissions", TestEditPermissions},
	{"TestHierarchyChildPermission", TestHierarchyChildPermission},
	{"TestSeedInviteWalkthrough", TestSeedInviteWalkthrough},
	{"TestPubSubWalkThrough", TestPubSubWalkThrough},
	{"TestPubSubNodeEvents", TestPubSubNodeEvents},
	{"TestPubSubDurableOverHTTP", TestPubSubDurableOverHTTP},
	{"TestPubSubPushPop", TestPubSubPushPop},
	{"TestPubSubKV", TestPubSubKV},
	{"TestPubSubStats", TestPubSubStats},
	{"TestTelemetryPost", TestTelemetryPost},
	{"TestTelemetryGet", TestTelemetryGet},
	{"TestTelemetryStats", TestTelemetryStats},
	{"TestTelemetryAnomalies", TestTelemetryAnomalies},
}

// TestMongo runs mongoSuite with every store on MongoDB.
func TestMongo(t *testing.T) {
	if os.Getenv(envStore) == "mongo" {
		t.Skip("KCI_TEST_API_STORE=mongo: every test runs on MongoDB already")
	}
	if testing.Short() {
		t.Skip("-short: the MongoDB run is skipped")
	}
	for _, tc := range mongoSuite {
		t.Run(tc.name, tc.fn)
	}
}
