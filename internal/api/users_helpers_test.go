package api_test

// Plumbing shared by the user, group and invite tests.

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
)

// fakeClock is a clock that moves only when told (Advance), for the login
// limiter and the authentication cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// userFields are the keys of the user JSON (UserRead): never a hash.
var userFields = []string{"email", "groups", "id", "is_active", "is_superuser", "is_verified", "username"}

// checkUserShape checks that u has exactly the user fields, a 24-hex id
// and groups as {id, name} objects.
func checkUserShape(t *testing.T, u map[string]any) {
	t.Helper()
	keys := sortedKeys(u)
	if !reflect.DeepEqual(keys, userFields) {
		t.Fatalf("user fields %v, want %v", keys, userFields)
	}
	if id, _ := u["id"].(string); !hexID.MatchString(id) {
		t.Errorf("user id %v", u["id"])
	}
	groups, ok := u["groups"].([]any)
	if !ok {
		t.Fatalf("groups %v is not a list", u["groups"])
	}
	for _, g := range groups {
		m, _ := g.(map[string]any)
		if len(m) != 2 || !hexID.MatchString(m["id"].(string)) || m["name"] == "" {
			t.Errorf("group %v is not {id, name}", g)
		}
	}
}

// groupNames lists the names of a user JSON's groups.
func groupNames(u map[string]any) []string {
	out := []string{}
	for _, g := range u["groups"].([]any) {
		out = append(out, g.(map[string]any)["name"].(string))
	}
	return out
}

// noHash fails if the body mentions a password hash.
func noHash(t *testing.T, body []byte) {
	t.Helper()
	for _, bad := range []string{"hashed_password", "$argon2", "$2b$", "$2a$"} {
		if strings.Contains(string(body), bad) {
			t.Fatalf("body leaks %q: %s", bad, body)
		}
	}
}

// signed makes an HS256 JWT with the test secret (or another) and the
// given claims, for tokens the server would never issue (expired, wrong
// purpose, ...).
func signed(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// resetToken makes a password reset token the way fastapi-users does.
func (e *env) resetToken(u *model.User) string {
	e.t.Helper()
	stored, err := e.store.GetUser(context.Background(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	fp, err := auth.HashPassword(stored.HashedPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.tokens.IssueWith(map[string]any{"sub": u.ID.String(), "password_fgpt": fp, "aud": "fastapi-users:reset"}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// storedUser reloads a user from the store.
func (e *env) storedUser(u *model.User) *model.User {
	e.t.Helper()
	got, err := e.store.GetUser(context.Background(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// loginWith logs in with a password and returns the response.
func (e *env) loginWith(name, password string) *response {
	e.t.Helper()
	return e.postForm("/latest/user/login", map[string][]string{"username": {name}, "password": {password}})
}

// invite invites a user through the API (admin token, return_token) and
// returns the response object.
func (e *env) invite(admin string, body map[string]any) map[string]any {
	e.t.Helper()
	if _, ok := body["send_email"]; !ok {
		body["send_email"] = false
	}
	body["return_token"] = true
	return e.do(http.MethodPost, "/latest/user/invite", admin, body).expect(http.StatusOK).object()
}

// storedUserByName loads a user by username.
func (e *env) storedUserByName(name string) *model.User {
	e.t.Helper()
	u, err := e.store.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}
