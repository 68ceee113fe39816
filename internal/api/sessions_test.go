package api_test

// Sessions end when the password changes (issue 12, item 3).

import (
	"net/http"
	"net/url"
	"testing"
)

func TestTokensEndWhenThePasswordChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("root", superuser)
	alice := e.addUser("alice")
	changes := []struct {
		name   string
		change func()
	}{
		{"update-password", func() {
			e.postForm("/latest/user/update-password", url.Values{"username": {"alice"}, "password": {testPassword},
				"new_password": {testPassword}}).expect(http.StatusOK)
		}},
		{"PATCH /user/me password", func() {
			e.do("PATCH", "/latest/user/me", e.login("alice"), map[string]any{"password": testPassword}).expect(http.StatusOK)
		}},
		{"reset-password", func() {
			e.do("POST", "/latest/user/reset-password", "", map[string]any{"token": e.resetToken(alice), "password": testPassword}).
				expect(http.StatusOK)
		}},
		{"admin PATCH password", func() {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"password": testPassword}).expect(http.StatusOK)
		}},
		{"admin revocation", func() {
			e.do("POST", "/latest/user/"+alice.ID.String()+"/logout", admin, nil).expect(http.StatusNoContent)
		}},
		{"deactivation and reactivation", func() {
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": false}).expect(http.StatusOK)
			e.do("PATCH", "/latest/user/"+alice.ID.String(), admin, map[string]any{"is_active": true}).expect(http.StatusOK)
		}},
	}
	for _, c := range changes {
		old := e.login("alice")
		e.do("GET", "/latest/whoami", old, nil).expect(http.StatusOK)
		c.change()
		if r := e.do("GET", "/latest/whoami", old, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s: a token issued before answers %d, want 401", c.name, r.status)
		}
		// A new login works, and its token does.
		e.do("GET", "/latest/whoami", e.login("alice"), nil).expect(http.StatusOK)
	}
	// Public reads ignore a revoked token, as any other.
	old := e.login("alice")
	e.do("POST", "/latest/user/"+alice.ID.String()+"/logout", admin, nil).expect(http.StatusNoContent)
	e.do("GET", "/latest/nodes?limit=1", "", nil).expect(http.StatusOK)
	e.do("GET", "/latest/nodes?limit=1", old, nil).expect(http.StatusOK)
}

func TestLogoutEndsTheCallingToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	e.do("POST", "/latest/user/logout", tok, nil).expect(http.StatusNoContent)
	e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusUnauthorized)
	e.do("POST", "/latest/user/logout", tok, nil).expect(http.StatusUnauthorized)
	e.do("GET", "/latest/whoami", e.login("alice"), nil).expect(http.StatusOK)
	// Other users keep theirs.
	bob := e.token("bob")
	e.do("POST", "/latest/user/logout", e.login("alice"), nil).expect(http.StatusNoContent)
	e.do("GET", "/latest/whoami", bob, nil).expect(http.StatusOK)
}
