package mongo

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// One embedded FerretDB serves every test of the package (each test gets
// its own database); KCI_TEST_MONGO_URI points them at a real MongoDB.
func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testOptions are the options of a fresh store in a database of its own.
func testOptions(t *testing.T) Options {
	return Options{
		URI:          mongotest.URI(t),
		Database:     mongotest.NewDatabase(),
		EventTTL:     7 * 24 * time.Hour,
		TelemetryTTL: 14 * 24 * time.Hour,
		Logger:       quietLog(),
	}
}

// openTest opens a store with o, closing it at the end of the test.
func openTest(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
