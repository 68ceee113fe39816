package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

var tokenRE = regexp.MustCompile(`^kci_[a-z2-7]{59}$`)

// newToken creates an API token with the credentials cred (a JWT or a
// token) and returns the answer's object.
func (e *env) newToken(cred, name string, scopes ...string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/latest/user/tokens", cred, map[string]any{"name": name, "scopes": scopes})
	r.expect(http.StatusCreated)
	o := r.object()
	if tok, _ := o["token"].(string); !tokenRE.MatchString(tok) {
		e.t.Fatalf("token %q does not match %s", tok, tokenRE)
	}
	return o
}

func secretOf(o map[string]any) string { s, _ := o["token"].(string); return s }

func TestAPITokenLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jwt := e.token("lab")
	created := e.newToken(jwt, "lab-ci", "read")
	tok := secretOf(created)
	for _, k := range []string{"id", "name", "scopes", "prefix", "user_id", "username", "created", "expires", "last_used", "token"} {
		if _, ok := created[k]; !ok {
			t.Errorf("answer lacks %q: %v", k, created)
		}
	}
	if created["username"] != "lab" || created["expires"] != nil || !strings.HasPrefix(tok, created["prefix"].(string)) {
		t.Errorf("answer %v", created)
	}
	// The token works where the JWT does, with "Bearer" or bare (kci-dev).
	if got := e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK).object()["username"]; got != "lab" {
		t.Fatalf("whoami with the token: %v", got)
	}
	e.doHeaders("GET", "/latest/user/me", map[string]string{"Authorization": tok}, nil).expect(http.StatusOK)

	// The list shows it without the secret, with its last use.
	list := e.do("GET", "/latest/user/tokens", jwt, nil).expect(http.StatusOK)
	if strings.Contains(string(list.body), tok) || strings.Contains(string(list.body), auth.HashAPIToken(tok)) {
		t.Fatalf("the list shows the secret or its hash: %s", list.body)
	}
	items := list.list()
	if len(items) != 1 || items[0].(map[string]any)["name"] != "lab-ci" || items[0].(map[string]any)["last_used"] == nil {
		t.Fatalf("list %s", list.body)
	}

	// Revoked: 401 at once; public reads go on ignoring the header.
	id := created["id"].(string)
	e.do("DELETE", "/latest/user/tokens/"+id, jwt, nil).expect(http.StatusNoContent)
	e.do("GET", "/latest/whoami", tok, nil).expectDetail(http.StatusUnauthorized, "Unauthorized")
	e.do("GET", "/latest/nodes", tok, nil).expect(http.StatusOK)
	e.do("DELETE", "/latest/user/tokens/"+id, jwt, nil).expectDetail(http.StatusNotFound, "API token not found with id: "+id)
	if n := len(e.do("GET", "/latest/user/tokens", jwt, nil).expect(http.StatusOK).list()); n != 0 {
		t.Fatalf("%d tokens listed after revocation", n)
	}

	// A look-alike, a JWT-shaped garbage and a token of a deleted or
	// inactive user are 401.
	e.do("GET", "/latest/whoami", "kci_"+strings.Repeat("a", 59), nil).expect(http.StatusUnauthorized)
	other := secretOf(e.newToken(e.token("gone"), "x", "read"))
	u, err := e.store.GetUserByUsername(context.Background(), "gone")
	if err != nil {
		t.Fatal(err)
	}
	u.IsActive = false
	if err := e.store.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/latest/whoami", other, nil).expect(http.StatusUnauthorized)
}

func TestAPITokenInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jwt := e.token("lab")
	post := func(body any) *response { return e.do("POST", "/latest/user/tokens", jwt, body) }
	if locs := post(map[string]any{"scopes": []string{"read"}}).expect422(); locs[0] != "body.name" {
		t.Errorf("no name: %v", locs)
	}
	if locs := post(map[string]any{"name": "x"}).expect422(); locs[0] != "body.scopes" {
		t.Errorf("no scopes: %v", locs)
	}
	post(map[string]any{"name": "x", "scopes": "read"}).expect422()
	post(map[string]any{"name": "x", "scopes": []string{"read"}, "colour": 1}).expect422()
	post(map[string]any{"name": "x", "scopes": []string{}}).expectDetailPrefix(http.StatusBadRequest, "Invalid scopes: at least one scope")
	post(map[string]any{"name": "x", "scopes": []string{"write"}}).expectDetailPrefix(http.StatusBadRequest, `Invalid scopes: unknown scope "write"`)
	post(map[string]any{"name": " ", "scopes": []string{"read"}}).expectDetailPrefix(http.StatusBadRequest, "Invalid token name")
	post(map[string]any{"name": "x", "scopes": []string{"read"}, "expires": "2001-01-01T00:00:00"}).expectDetailPrefix(http.StatusBadRequest, "expires is in the past")
	post(map[string]any{"name": "x", "scopes": []string{"read"}, "expires_in_days": 0}).expect(http.StatusBadRequest)
	post(map[string]any{"name": "x", "scopes": []string{"admin"}}).expectDetailPrefix(http.StatusForbidden, "The scope admin is for superusers only")
	post(map[string]any{"name": "x", "scopes": []string{"read"}, "username": "root"}).expect(http.StatusForbidden)
	e.do("DELETE", "/latest/user/tokens/nope", jwt, nil).expect(http.StatusBadRequest)
	if n := len(e.do("GET", "/latest/user/tokens", jwt, nil).expect(http.StatusOK).list()); n != 0 {
		t.Fatalf("bad input stored %d tokens", n)
	}
	o := post(map[string]any{"name": "x", "scopes": []string{"read"}, "expires_in_days": 30}).expect(http.StatusCreated).object()
	if o["expires"] == nil {
		t.Errorf("expires_in_days gave no expiry: %v", o)
	}
	post(map[string]any{"name": "x", "scopes": []string{"read"}}).expectDetail(http.StatusConflict, `User lab already has an API token named "x"`)
}

func TestAPITokenExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.addUser("lab")
	tok, hash, err := auth.NewAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	ts := e.store
	past := time.Now().Add(-time.Second)
	if err := ts.InsertAPIToken(context.Background(), &store.APIToken{UserID: u.ID, Name: "old", Scopes: []string{"read"},
		Prefix: tok[:8], Hash: hash, Created: past.Add(-time.Hour), Expires: &past}); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusUnauthorized)
}

func TestAPITokenLimit(t *testing.T) {
	t.Parallel()
	st := openTestStore(t)
	srv := httptest.NewServer(api.New(st, &auth.Tokens{Secret: testSecret}, api.Options{MaxAPITokensPerUser: 2}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	e := &env{t: t, base: srv.URL, client: srv.Client(), store: st}
	jwt := e.token("lab")
	e.newToken(jwt, "a", "read")
	e.newToken(jwt, "b", "read")
	e.do("POST", "/latest/user/tokens", jwt, map[string]any{"name": "c", "scopes": []string{"read"}}).
		expectDetailPrefix(http.StatusBadRequest, "User lab already has 2 API tokens, the limit (KCI_MAX_API_TOKENS_PER_USER)")
}

// TestAPITokenScopes: a scoped token is refused outside its scope (403)
// and accepted inside; it never does more than its user.
func TestAPITokenScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jwt := e.token("lab", inGroups("runtime:lava-a:node-editor"))
	rootJWT := e.token("root", superuser)
	read := secretOf(e.newToken(jwt, "read", "read"))
	lavaA := secretOf(e.newToken(jwt, "lava-a", "node:write:lava-a"))
	ps := secretOf(e.newToken(jwt, "pubsub", "pubsub"))
	writer := secretOf(e.newToken(jwt, "writer", "node:write", "telemetry:write"))
	rootRead := secretOf(e.newToken(rootJWT, "ro", "read"))
	rootAdmin := secretOf(e.newToken(rootJWT, "all", "admin"))

	nodeBody := func(name, rt string) map[string]any {
		return map[string]any{"name": name, "kind": "job", "path": []string{"checkout", name}, "data": map[string]any{"runtime": rt}}
	}
	forbidden := func(r *response) {
		t.Helper()
		r.expectDetailPrefix(http.StatusForbidden, "This API token")
	}

	// read: authenticated reads yes, any write no.
	e.do("GET", "/latest/whoami", read, nil).expect(http.StatusOK)
	e.do("GET", "/latest/users", read, nil).expect(http.StatusOK)
	e.do("GET", "/latest/user/tokens", read, nil).expect(http.StatusOK)
	forbidden(e.do("POST", "/latest/node", read, nodeBody("j0", "lava-a")))
	forbidden(e.do("POST", "/latest/subscribe/node", read, nil))
	forbidden(e.do("POST", "/latest/telemetry", read, []any{}))
	forbidden(e.do("PATCH", "/latest/user/me", read, map[string]any{"email": "x@example.org"}))
	forbidden(e.do("POST", "/latest/user/tokens", read, map[string]any{"name": "more", "scopes": []string{"read"}}))

	// node:write:lava-a: nodes of runtime lava-a only, in and out.
	j1 := e.do("POST", "/latest/node", lavaA, nodeBody("j1", "lava-a")).expect(http.StatusOK).object()
	forbidden(e.do("POST", "/latest/node", lavaA, nodeBody("j2", "lava-b")))
	forbidden(e.do("POST", "/latest/node", lavaA, map[string]any{"name": "c", "kind": "checkout", "path": []string{"c"}}))
	j1["state"] = "available"
	e.do("PUT", "/latest/node/"+j1["id"].(string), lavaA, j1).expect(http.StatusOK)
	j1["data"] = map[string]any{"runtime": "lava-b"}
	forbidden(e.do("PUT", "/latest/node/"+j1["id"].(string), lavaA, j1))
	jb := e.do("POST", "/latest/node", writer, nodeBody("jb", "lava-b")).expect(http.StatusOK).object()
	forbidden(e.do("PATCH", "/latest/node/"+jb["id"].(string), lavaA, map[string]any{"state": "available"}))
	forbidden(e.do("POST", "/latest/subscribe/node", lavaA, nil))
	if n := e.do("PUT", "/latest/batch/nodeset", lavaA, map[string]any{"nodes": []string{j1["id"].(string), jb["id"].(string)},
		"field": "processed_by_kcidb_bridge", "value": "true"}).expect(http.StatusOK).value(); n != float64(1) {
		t.Errorf("batch with node:write:lava-a updated %v nodes, want 1 (its runtime's)", n)
	}

	// pubsub: subscribe and listen, no node writes.
	sub := e.do("POST", "/latest/subscribe/node", ps, nil).expect(http.StatusOK).object()
	e.do("POST", "/latest/unsubscribe/"+jsonNumber(sub["id"]), ps, nil).expect(http.StatusOK)
	forbidden(e.do("POST", "/latest/node", ps, nodeBody("j3", "lava-a")))

	// node:write + telemetry:write.
	e.do("POST", "/latest/telemetry", writer, []any{map[string]any{"kind": "job_result", "runtime": "lava-a", "ts": "2026-01-01T00:00:00"}}).expect(http.StatusOK)

	// Never more than the user: a node the user may not edit stays
	// closed (the same 401 as with the JWT), admin routes need a
	// superuser.
	other := e.do("POST", "/latest/node", rootJWT, nodeBody("theirs", "lava-z")).expect(http.StatusOK).object()
	e.do("PATCH", "/latest/node/"+other["id"].(string), writer, map[string]any{"state": "available"}).expect(http.StatusUnauthorized)
	e.do("GET", "/latest/user-groups", writer, nil).expect(http.StatusForbidden)

	// A superuser's token: admin routes need the admin scope.
	forbidden(e.do("GET", "/latest/user-groups", rootRead, nil))
	e.do("GET", "/latest/user-groups", rootAdmin, nil).expect(http.StatusOK)

	// A token creates tokens only within its own scopes.
	acct := secretOf(e.newToken(jwt, "acct", "account", "node:write:lava-a"))
	e.newToken(acct, "sub", "node:write:lava-a")
	e.do("POST", "/latest/user/tokens", acct, map[string]any{"name": "wider", "scopes": []string{"node:write"}}).
		expectDetailPrefix(http.StatusForbidden, "An API token can only create tokens within its own scopes")
	e.do("POST", "/latest/user/tokens", acct, map[string]any{"name": "ps", "scopes": []string{"pubsub"}}).
		expectDetailPrefix(http.StatusForbidden, "An API token can only create tokens within its own scopes")
}

func jsonNumber(v any) string {
	n, _ := v.(float64)
	return strconv.FormatInt(int64(n), 10)
}

// TestAPITokenAdmin: superusers list and revoke anyone's tokens, and
// create tokens for other users; others see only their own.
func TestAPITokenAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.token("root", superuser)
	lab := e.token("lab")
	mallory := e.token("mallory")
	labTok := e.newToken(lab, "lab-ci", "read")
	made := e.do("POST", "/latest/user/tokens", root, map[string]any{"name": "for-lab", "scopes": []string{"node:write:lava-a"}, "username": "lab"}).
		expect(http.StatusCreated).object()
	if made["username"] != "lab" {
		t.Fatalf("token made for lab: %v", made)
	}
	if got := e.do("GET", "/latest/whoami", secretOf(made), nil).expect(http.StatusOK).object()["username"]; got != "lab" {
		t.Fatalf("the token made for lab acts as %v", got)
	}
	if n := len(e.do("GET", "/latest/user/tokens?username=lab", root, nil).expect(http.StatusOK).list()); n != 2 {
		t.Errorf("root lists %d of lab's tokens, want 2", n)
	}
	if n := len(e.do("GET", "/latest/user/tokens?all=true", root, nil).expect(http.StatusOK).list()); n != 2 {
		t.Errorf("root lists %d tokens in all, want 2", n)
	}
	e.do("GET", "/latest/user/tokens?all=true", mallory, nil).expect(http.StatusForbidden)
	e.do("GET", "/latest/user/tokens?username=lab", mallory, nil).expect(http.StatusForbidden)
	e.do("DELETE", "/latest/user/tokens/"+labTok["id"].(string), mallory, nil).expect(http.StatusNotFound)
	e.do("GET", "/latest/whoami", secretOf(labTok), nil).expect(http.StatusOK)
	e.do("DELETE", "/latest/user/tokens/"+labTok["id"].(string), root, nil).expect(http.StatusNoContent)
	e.do("GET", "/latest/whoami", secretOf(labTok), nil).expect(http.StatusUnauthorized)
	// Deleting a user deletes its tokens.
	u, err := e.store.GetUserByUsername(context.Background(), "lab")
	if err != nil {
		t.Fatal(err)
	}
	e.do("DELETE", "/latest/user/"+u.ID.String(), root, nil).expect(http.StatusNoContent)
	if n := len(e.do("GET", "/latest/user/tokens?all=true", root, nil).expect(http.StatusOK).list()); n != 0 {
		t.Errorf("%d tokens left after their user was deleted", n)
	}
}

// openSecondHandle opens another store on the same database as the
// package's test store of t would: a second replica's view.
func openReplicaStores(t *testing.T) (store.Store, store.Store) {
	t.Helper()
	ctx := context.Background()
	if !onMongo(t) {
		path := filepath.Join(t.TempDir(), "kernelci.db")
		a, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		b, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	}
	db := mongotest.NewDatabase()
	open := func() store.Store {
		st, err := mongo.Open(ctx, mongo.Options{URI: mongoURI(t), Database: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open(), open()
}

// TestAPITokenRevokedOnOtherReplica: two servers over one database; a
// token revoked through A answers 401 on B at the next request when B
// keeps no authentication cache, and once B's cache entry has expired
// (AuthCacheTTL on B's clock) when it does.
func TestAPITokenRevokedOnOtherReplica(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"no cache", -1}, {"cache", 0}} {
		t.Run(c.name, func(t *testing.T) {
			sa, sb := openReplicaStores(t)
			tokens := &auth.Tokens{Secret: testSecret}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srvA := httptest.NewServer(api.New(sa, tokens, api.Options{}, log))
			t.Cleanup(srvA.Close)
			clock := newFakeClock()
			srvB := httptest.NewServer(api.New(sb, tokens, api.Options{AuthCacheTTL: c.ttl, Now: clock.Now}, log))
			t.Cleanup(srvB.Close)
			a := &env{t: t, base: srvA.URL, client: srvA.Client(), store: sa}
			b := &env{t: t, base: srvB.URL, client: srvB.Client(), store: sb}
			jwt := a.token("lab")
			made := a.newToken(jwt, "lab-ci", "node:write:lava-a")
			tok := secretOf(made)
			b.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK)
			b.do("POST", "/latest/node", tok, map[string]any{"name": "j", "kind": "job", "path": []string{"j"}, "data": map[string]any{"runtime": "lava-a"}}).expect(http.StatusOK)
			a.do("DELETE", "/latest/user/tokens/"+made["id"].(string), jwt, nil).expect(http.StatusNoContent)
			if c.ttl == 0 {
				// B may still take it from its cache, for at most the TTL.
				clock.Advance(api.DefaultAuthCacheTTL)
			}
			b.do("GET", "/latest/whoami", tok, nil).expectDetail(http.StatusUnauthorized, "Unauthorized")
			b.do("POST", "/latest/node", tok, map[string]any{"name": "j2", "kind": "job", "path": []string{"j2"}, "data": map[string]any{"runtime": "lava-a"}}).expect(http.StatusUnauthorized)
		})
	}
}
