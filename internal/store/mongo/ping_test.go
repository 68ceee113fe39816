package mongo

import (
	"context"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/store"
)

func TestPing(t *testing.T) {
	st := openTest(t, testOptions(t))
	if _, ok := store.As[store.Pinger](store.Store(st)); !ok {
		t.Fatal("the MongoDB store is not a store.Pinger")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
