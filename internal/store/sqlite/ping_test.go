package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestPing(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	st.Close()
	if err := st.Ping(context.Background()); err == nil {
		t.Error("Ping of a closed store succeeded")
	}
}
