package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// The hourly planner refresh finds the SQLite store the app opened under
// its decorators (metrics).
func TestMaintenanceFindsTheOptimizer(t *testing.T) {
	a, err := Open(context.Background(), testConfig(t, map[string]string{"SECRET_KEY": "k", "KCI_DATA_DIR": t.TempDir(),
		"KCI_INITIAL_PASSWORD": "pw"}), slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.backend.(optimizer); !ok {
		t.Fatalf("the planner refresh does not find the SQLite store's Optimize in %T", a.backend)
	}
	if _, ok := a.Store.(optimizer); ok {
		t.Fatalf("%T is not decorated: the test checks nothing", a.Store)
	}
}
