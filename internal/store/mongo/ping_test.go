package mongo

import (
	"context"
	"testing"
	"time"
)

func TestPing(t *testing.T) {
	st := openTest(t, testOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
