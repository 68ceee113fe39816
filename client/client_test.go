package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

const adminPassword = "admin-pw"

func TestMain(m *testing.M) {
	restore := auth.SetTestParams()
	code := m.Run()
	restore()
	if code == 0 && !checkEveryRouteCalled() {
		code = 1
	}
	os.Exit(code)
}

// startAPI starts a server on a new SQLite store in dir with a superuser
// "admin" (adminPassword) and answers its base URL, the store and a
// function that stops both.
func startAPI(dir, secret string) (base string, st store.Store, stop func(), err error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "kernelci.db"))
	if err != nil {
		return "", nil, nil, err
	}
	if err := db.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		db.Close()
		return "", nil, nil, err
	}
	if _, err := app.CreateSuperuser(ctx, db, "admin", "admin@kernelci.org", adminPassword); err != nil {
		db.Close()
		return "", nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := pubsub.New(db, pubsub.NewBroker(), pubsub.Options{Log: log})
	srv := httptest.NewServer(recordCalls(api.New(db, &auth.Tokens{Secret: secret}, api.Options{PubSub: svc}, log)))
	return srv.URL + "/latest", db, func() { srv.Close(); db.Close() }, nil
}

// login answers a client of base logged in as the admin.
func login(ctx context.Context, base string) (*client.Client, error) {
	c := client.New(base, "")
	tok, err := c.Login(ctx, "admin", adminPassword)
	if err != nil {
		return nil, err
	}
	if tok.TokenType != "bearer" || tok.AccessToken == "" {
		return nil, fmt.Errorf("login: %+v", tok)
	}
	c.Token = tok.AccessToken
	return c, nil
}

// newAPI starts a server (startAPI) and answers a client logged in as
// the admin, and the store.
func newAPI(t *testing.T) (*client.Client, store.Store) {
	t.Helper()
	base, st, stop, err := startAPI(t.TempDir(), "client-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c, err := login(context.Background(), base+"/")
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func TestUsers(t *testing.T) {
	t.Parallel()
	c, st := newAPI(t)
	ctx := context.Background()
	for i := range 120 {
		u := &model.User{Username: fmt.Sprintf("u%03d", i), Email: fmt.Sprintf("u%03d@example.org", i),
			HashedPassword: "x", IsActive: true, Groups: []model.Group{}}
		if err := st.InsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}

	me, err := c.Whoami(ctx)
	if err != nil || me.Username != "admin" || !me.IsSuperuser {
		t.Fatalf("whoami %+v %v", me, err)
	}
	p, err := c.ListUsers(ctx, nil, 0, 0)
	if err != nil || len(p.Items) != 50 || p.Limit != 50 || p.Total != 121 {
		t.Fatalf("first page: %d items, %+v, %v", len(p.Items), p, err)
	}
	p, err = c.ListUsers(ctx, url.Values{"username": {"u007"}}, 10, 0)
	if err != nil || len(p.Items) != 1 || p.Items[0].Email != "u007@example.org" {
		t.Fatalf("filtered: %+v %v", p, err)
	}
	all, err := c.AllUsers(ctx, nil)
	if err != nil || len(all) != 121 {
		t.Fatalf("all: %d %v", len(all), err)
	}

	for _, ref := range []string{"u119", "u119@example.org", all[120].ID.String()} {
		id, err := c.ResolveUserID(ctx, ref)
		if err != nil || id != all[120].ID.String() {
			t.Fatalf("resolve %s = %s, %v", ref, id, err)
		}
	}
	var nf *client.NotFoundError
	if _, err := c.ResolveUserID(ctx, "nobody"); !errors.As(err, &nf) || nf.Kind != "user" {
		t.Fatalf("resolve nobody: %v", err)
	}
	odd := &model.User{Username: "u001@example.org", Email: "odd@example.org", HashedPassword: "x", IsActive: true}
	if err := st.InsertUser(ctx, odd); err != nil {
		t.Fatal(err)
	}
	var amb *client.AmbiguousError
	if _, err := c.ResolveUserID(ctx, "u001@example.org"); !errors.As(err, &amb) || len(amb.IDs) != 2 {
		t.Fatalf("ambiguous: %v", err)
	}

	id := all[1].ID.String()
	f, tr := false, true
	u, err := c.UpdateUser(ctx, id, wire.UserUpdate{IsActive: &f, IsSuperuser: &tr})
	if err != nil || u.IsActive || !u.IsSuperuser || u.Username != "u000" {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := c.GetUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(ctx, id)
	if client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("deleted user: %v", err)
	}
}

func TestGroupsAndInvites(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()
	g, err := c.CreateGroup(ctx, "team-a")
	if err != nil || g.Name != "team-a" || g.ID.IsZero() {
		t.Fatalf("create: %+v %v", g, err)
	}
	if id, err := c.ResolveGroupID(ctx, "team-a"); err != nil || id != g.ID.String() {
		t.Fatalf("resolve id: %s %v", id, err)
	}
	if name, err := c.ResolveGroupName(ctx, g.ID.String()); err != nil || name != "team-a" {
		t.Fatalf("resolve name: %s %v", name, err)
	}
	if name, err := c.ResolveGroupName(ctx, "whatever"); err != nil || name != "whatever" {
		t.Fatalf("a name is taken as is: %s %v", name, err)
	}
	var nf *client.NotFoundError
	if _, err := c.ResolveGroupID(ctx, "nope"); !errors.As(err, &nf) || nf.Kind != "group" {
		t.Fatalf("resolve nope: %v", err)
	}
	groups, err := c.AllGroups(ctx, nil)
	if err != nil || len(groups) != 2 {
		t.Fatalf("groups %v %v", groups, err)
	}

	inv, err := c.Invite(ctx, wire.InviteRequest{Username: "alice", Email: "alice@example.org",
		Groups: []string{"team-a"}, ReturnToken: true})
	if err != nil || inv.Token == nil || inv.User.GroupNames()[0] != "team-a" || inv.EmailSent {
		t.Fatalf("invite %+v %v", inv, err)
	}
	iu, err := c.InviteURL(ctx)
	if err != nil || iu.AcceptInviteURL != inv.AcceptInviteURL || iu.PublicBaseURL != inv.PublicBaseURL {
		t.Fatalf("invite url %+v %v", iu, err)
	}
	anon := client.New(c.BaseURL, "")
	u, err := anon.AcceptInvite(ctx, *inv.Token, "alice-pw")
	if err != nil || !u.IsVerified {
		t.Fatalf("accept %+v %v", u, err)
	}
	if err := c.DeleteGroup(ctx, g.ID.String()); client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("delete group in use: %v", err)
	}
	empty := []string{}
	if u, err = c.UpdateUser(ctx, u.ID.String(), wire.UserUpdate{Groups: &empty}); err != nil || len(u.Groups) != 0 {
		t.Fatalf("clear groups %+v %v", u, err)
	}
	if err := c.DeleteGroup(ctx, g.ID.String()); err != nil {
		t.Fatal(err)
	}

	// The user's own changes and passwords.
	tok, err := anon.Login(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(c.BaseURL, tok.AccessToken)
	mail := "alice2@example.org"
	if u, err := alice.UpdateMe(ctx, wire.UserUpdate{Email: &mail}); err != nil || u.Email != mail {
		t.Fatalf("update me %+v %v", u, err)
	}
	if err := anon.UpdatePassword(ctx, "alice", "alice-pw", "pw2"); err != nil {
		t.Fatal(err)
	}
	if err := anon.ForgotPassword(ctx, mail); err != nil {
		t.Fatal(err)
	}
	err = anon.ResetPassword(ctx, "bad", "x")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message() != "RESET_PASSWORD_BAD_TOKEN" {
		t.Fatalf("reset: %v", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	ctx := context.Background()

	_, err := client.New(c.BaseURL, "bad").Whoami(ctx)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Detail != "Unauthorized" || ae.Method != "GET" || ae.Path != "/whoami" {
		t.Fatalf("bad token: %#v", err)
	}
	if got := err.Error(); got != "GET /whoami: 401 Unauthorized: Unauthorized" {
		t.Fatalf("Error() = %q", got)
	}

	// A 422 lists its fields.
	_, err = c.Invite(ctx, wire.InviteRequest{Username: "x", Email: "not-an-email"})
	if !errors.As(err, &ae) || ae.Status != 422 || !strings.HasPrefix(ae.Message(), "body.email: ") {
		t.Fatalf("422: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	_, err = client.New(down, "t").Whoami(ctx)
	var ce *client.ConnError
	if !errors.As(err, &ce) || ce.URL != down || !strings.Contains(err.Error(), "connection refused") || client.StatusOf(err) != 0 {
		t.Fatalf("server down: %v", err)
	}
}

// The server's answers decode into the wire types with no field left
// over: client and server share them.
func TestWireShapes(t *testing.T) {
	t.Parallel()
	c, _ := newAPI(t)
	strict := func(method, path, ctype, body string, v any) {
		t.Helper()
		code, b := testutil.Call(t, method, strings.TrimRight(c.BaseURL, "/")+path, c.Token, ctype, strings.NewReader(body))
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s %s (%d) into %T: %v", method, path, code, v, err)
		}
	}
	strict("POST", "/user/login", "application/x-www-form-urlencoded", "username=admin&password="+adminPassword, &wire.Token{})
	strict("GET", "/users", "", "", &wire.Page[[]model.User]{})
	strict("GET", "/user-groups", "", "", &wire.Page[[]model.Group]{})
	strict("GET", "/user/invite/url", "", "", &wire.InviteURL{})
	strict("POST", "/user/invite", "application/json", `{"username":"bob","email":"bob@example.org","return_token":true}`, &wire.InviteResponse{})
	strict("GET", "/user/000000000000000000000000", "", "", &wire.ErrorResponse{})

	// Updates send only what is set; an empty group list is sent.
	empty := []string{}
	b, _ := json.Marshal(wire.UserUpdate{Groups: &empty})
	if string(b) != `{"groups":[]}` {
		t.Fatalf("UserUpdate = %s", b)
	}
	b, _ = json.Marshal(wire.InviteRequest{Username: "a", Email: "a@b.c"})
	if !strings.Contains(string(b), `"send_email":false`) || !strings.Contains(string(b), `"groups":null`) {
		t.Fatalf("InviteRequest = %s", b)
	}
}
