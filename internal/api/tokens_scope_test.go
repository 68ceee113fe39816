package api

import (
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
)

// TestRouteScopesCoverTable: every route open to any user names the scope
// an API token needs for it (tokens.go routeScopes, docs/tokens.md); a
// route left out would silently need admin. Every listed pattern is a
// route.
func TestRouteScopesCoverTable(t *testing.T) {
	s := &Server{}
	seen := map[string]bool{}
	for _, rt := range s.routeTable() {
		p := rt.pattern()
		seen[p] = true
		_, listed := routeScopes[p]
		switch {
		case rt.access == user && !listed:
			t.Errorf("route %s (any user) has no API token scope in routeScopes", p)
		case rt.access == admin && listed:
			t.Errorf("route %s (superusers) is in routeScopes: it needs %s", p, auth.ScopeAdmin)
		case rt.access == public && listed:
			t.Errorf("public route %s is in routeScopes", p)
		}
	}
	for p := range routeScopes {
		if !seen[p] {
			t.Errorf("routeScopes lists %s, which is not a route", p)
		}
	}
}
