// Package sqlitetest opens embedded stores for the tests of other
// packages.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// Open opens an empty store in a temporary directory of t, closed when
// t ends.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
