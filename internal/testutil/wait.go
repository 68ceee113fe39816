// Package testutil holds what the tests of several packages share. Only
// tests import it.
package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond (a condition, not a delay) every millisecond until it
// holds, and fails t when it still does not after limit: limit bounds a
// stuck test, it is not a timing assertion, so make it generous.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
}
