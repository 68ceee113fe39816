package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

func TestPing(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.As[store.Pinger](store.Store(st)); !ok {
		t.Fatal("the SQLite store is not a store.Pinger")
	}
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	st.Close()
	if err := st.Ping(context.Background()); err == nil {
		t.Error("Ping of a closed store succeeded")
	}
}
