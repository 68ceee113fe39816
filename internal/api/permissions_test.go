package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice")
	e.addUser("nobody-verified", unverified)
	e.addUser("sleeper", inactive)
	e.addUser("ghost", inactive, unverified)

	form := formOf
	tests := []struct {
		name   string
		form   url.Values
		status int
		detail string   // for 400
		locs   []string // for 422
	}{
		{"good credentials", form("username", "alice", "password", testPassword), 200, "", nil},
		{"wrong password", form("username", "alice", "password", "nope"), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"empty password", form("username", "alice", "password", ""), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"unknown user", form("username", "mallory", "password", testPassword), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"username is case sensitive", form("username", "Alice", "password", testPassword), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"unverified", form("username", "nobody-verified", "password", testPassword), 400, "LOGIN_USER_NOT_VERIFIED", nil},
		{"unverified, wrong password", form("username", "nobody-verified", "password", "nope"), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"inactive", form("username", "sleeper", "password", testPassword), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"inactive and unverified", form("username", "ghost", "password", testPassword), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"missing password", form("username", "alice"), 422, "", []string{"body.password"}},
		{"missing username", form("password", testPassword), 422, "", []string{"body.username"}},
		{"missing both", form(), 422, "", []string{"body.username", "body.password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.postForm("/latest/user/login", tc.form)
			switch tc.status {
			case 200:
				m := r.expect(200).object()
				if len(m) != 2 || m["token_type"] != "bearer" {
					t.Fatalf("body %s, want access_token and token_type bearer", r.body)
				}
				tok, _ := m["access_token"].(string)
				if tok == "" {
					t.Fatalf("empty access_token: %s", r.body)
				}
				e.do(http.MethodGet, "/latest/whoami", tok, nil).expect(http.StatusOK)
			default:
				r.expectRefusal(tc.status, tc.detail, tc.locs)
			}
		})
	}

	t.Run("JSON body is not a form", func(t *testing.T) {
		t.Parallel()
		r := e.with(t).do(http.MethodPost, "/latest/user/login", "", map[string]string{"username": "alice", "password": testPassword})
		if locs := r.expect422(); !reflect.DeepEqual(locs, []string{"body.username", "body.password"}) {
			t.Errorf("locs %v", locs)
		}
	})
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.addUser("alice", inGroups("lab-x", "team-a"))
	tok := e.login("alice")

	for _, header := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, tok, "  Bearer   " + tok + "  "} {
		r := e.doHeaders(http.MethodGet, "/latest/whoami", map[string]string{"Authorization": header}, nil).expect(http.StatusOK)
		m := r.object()
		keys := sortedKeys(m)
		want := []string{"email", "groups", "id", "is_active", "is_superuser", "is_verified", "username"}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("Authorization %q: whoami fields %v, want %v (no password hash)", header, keys, want)
		}
		if m["id"] != u.ID.String() || m["username"] != "alice" || m["email"] != "alice@example.org" ||
			m["is_active"] != true || m["is_superuser"] != false || m["is_verified"] != true {
			t.Errorf("whoami = %s", r.body)
		}
		groups := m["groups"].([]any)
		if len(groups) != 2 || groups[0].(map[string]any)["name"] != "lab-x" || groups[1].(map[string]any)["name"] != "team-a" {
			t.Errorf("groups = %v", groups)
		}
		for _, g := range groups {
			if id, _ := g.(map[string]any)["id"].(string); !hexID.MatchString(id) {
				t.Errorf("group id %v", g)
			}
		}
	}
	e.do(http.MethodGet, "/latest/user/me", tok, nil).expect(http.StatusOK)
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner")
	node := e.postNode(owner, checkoutBody())
	nodeURL := "/latest/node/" + node["id"].(string)

	// A token of a user who is then deactivated, one of a deleted user,
	// and one signed with another key.
	sleeper := e.addUser("sleeper")
	sleeperTok := e.login("sleeper")
	sleeper.IsActive = false
	if err := e.store.UpdateUser(context.Background(), sleeper); err != nil {
		t.Fatal(err)
	}
	gone := e.addUser("gone")
	goneTok := e.login("gone")
	if err := e.store.DeleteUser(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	owner2 := e.addUser("owner2")
	foreign, err := (&auth.Tokens{Secret: "another-secret"}).Issue(owner2.ID.String())
	if err != nil {
		t.Fatal(err)
	}

	headers := map[string]string{
		"garbage":          "Bearer not-a-jwt",
		"raw garbage":      "abc.def.ghi",
		"basic scheme":     "Basic YWxpY2U6c2VjcmV0",
		"lone bearer":      "Bearer",
		"foreign key":      "Bearer " + foreign,
		"deactivated user": "Bearer " + sleeperTok,
		"deleted user":     "Bearer " + goneTok,
		"two tokens":       "Bearer a b",
		"no header":        "",
	}
	protected := []struct{ method, path string }{
		{http.MethodGet, "/latest/whoami"},
		{http.MethodGet, "/latest/user/me"},
		{http.MethodPost, "/latest/node"},
		{http.MethodPut, nodeURL},
		{http.MethodPatch, nodeURL},
		{http.MethodPut, "/latest/nodes/" + node["id"].(string)},
		{http.MethodPut, "/latest/batch/nodeset"},
	}
	public := []string{
		"/latest/nodes", "/latest/nodes?kind=checkout", "/latest/nodes/fast", nodeURL,
		"/latest/count", "/latest/count?kind=checkout", "/latest/events", "/",
	}
	before := e.snapshot()
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			hdr := func() map[string]string {
				if h == "" {
					return map[string]string{}
				}
				return map[string]string{"Authorization": h}
			}
			for _, p := range protected {
				r := e.doHeaders(p.method, p.path, hdr(), map[string]any{"name": "x", "path": []string{"x"}, "kind": "checkout"})
				r.expectDetail(http.StatusUnauthorized, "Unauthorized")
				if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("%s %s: WWW-Authenticate %q, want Bearer", p.method, p.path, got)
				}
			}
			// Read endpoints ignore whatever Authorization comes along.
			for _, p := range public {
				e.doHeaders(http.MethodGet, p, hdr(), nil).expect(http.StatusOK)
			}
			e.expectUnchanged(before, "requests with a bad token")
		})
	}
}

// permNode creates, as owner, a node that the actors of the permission
// matrix may or may not edit: a kbuild or job node with data.runtime,
// visible to members of user group lab-x.
func permNode(e *env, ownerTok, kind string) map[string]any {
	e.t.Helper()
	e.addGroup("lab-x")
	return e.postNode(ownerTok, nodeBody(kind, kind+"-node", map[string]any{
		"data":        map[string]any{"runtime": "lava-collabora", "arch": "x86_64"},
		"user_groups": []any{"lab-x"},
	}))
}

func TestEditPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerTok := e.token("owner")
	actors := []struct {
		name    string
		opts    []userOpt
		kind    string // node kind to edit
		allowed bool
	}{
		{"superuser", []userOpt{superuser}, "kbuild", true},
		{"owner", nil, "kbuild", true},
		{"node:edit:any member", []userOpt{inGroups("node:edit:any")}, "kbuild", true},
		{"member of a node user group", []userOpt{inGroups("team-z", "lab-x")}, "kbuild", true},
		{"runtime node-editor, kbuild", []userOpt{inGroups("runtime:lava-collabora:node-editor")}, "kbuild", true},
		{"runtime node-admin, kbuild", []userOpt{inGroups("runtime:lava-collabora:node-admin")}, "kbuild", true},
		{"runtime node-editor, job", []userOpt{inGroups("runtime:lava-collabora:node-editor")}, "job", true},
		{"runtime node-admin, job", []userOpt{inGroups("runtime:lava-collabora:node-admin")}, "job", true},
		{"runtime node-editor of another runtime", []userOpt{inGroups("runtime:k8s:node-editor")}, "job", false},
		{"runtime viewer", []userOpt{inGroups("runtime:lava-collabora:viewer")}, "job", false},
		{"member of an unrelated group", []userOpt{inGroups("lab-y")}, "kbuild", false},
		{"unrelated user", nil, "kbuild", false},
	}
	type op struct {
		name   string
		method string
		path   func(id string) string
		body   func(n map[string]any) any
	}
	replacement := func(n map[string]any) map[string]any {
		return nodeBody(n["kind"].(string), n["name"].(string), map[string]any{
			"path": n["path"], "data": n["data"], "state": "available", "result": "pass",
		})
	}
	ops := []op{
		{"PUT node", http.MethodPut, func(id string) string { return "/latest/node/" + id }, func(n map[string]any) any { return replacement(n) }},
		{"PATCH node", http.MethodPatch, func(id string) string { return "/latest/node/" + id }, func(map[string]any) any {
			return map[string]any{"state": "available", "result": "pass"}
		}},
		{"PUT hierarchy", http.MethodPut, func(id string) string { return "/latest/nodes/" + id }, func(n map[string]any) any {
			return map[string]any{"node": replacement(n), "child_nodes": []any{
				map[string]any{"node": nodeBody("test", "child", nil), "child_nodes": []any{}},
			}}
		}},
	}
	for i, a := range actors {
		for j, o := range ops {
			t.Run(a.name+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				e := e.with(t)
				tok := ownerTok
				if a.name != "owner" {
					name := fmt.Sprintf("actor-%d-%d", i, j)
					tok = e.token(name, a.opts...)
				}
				n := permNode(e, ownerTok, a.kind)
				id := n["id"].(string)
				eventsBefore := len(e.nodeEvents(id))
				children := "parent=" + id
				r := e.do(o.method, o.path(id), tok, o.body(n))
				if !a.allowed {
					r.expectDetail(http.StatusUnauthorized, "Unauthorized to complete the operation")
					got := e.getNode(id)
					jsonEqual(t, "node after a refused edit", got, n)
					if k := len(e.nodeEvents(id)); k != eventsBefore {
						t.Errorf("refused edit added %d events", k-eventsBefore)
					}
					if c := e.count(children); c != 0 {
						t.Errorf("refused edit stored %d child nodes", c)
					}
					return
				}
				r.expect(http.StatusOK)
				got := e.getNode(id)
				if got["state"] != "available" || got["result"] != "pass" {
					t.Errorf("node not updated: %v %v", got["state"], got["result"])
				}
				if got["owner"] != "owner" {
					t.Errorf("owner %v, want it kept as owner", got["owner"])
				}
				if k := len(e.nodeEvents(id)); k != eventsBefore+1 {
					t.Errorf("edit added %d events, want 1", k-eventsBefore)
				}
			})
		}
	}
}

func TestHierarchyChildPermission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	bob := e.token("bob")
	root := e.postNode(bob, checkoutBody())
	foreign := e.postNode(alice, nodeBody("test", "alice-test", map[string]any{"parent": root["id"]}))
	before := e.snapshot()

	body := map[string]any{
		"node": checkoutBody(),
		"child_nodes": []any{
			map[string]any{"node": nodeBody("test", "new-child", nil), "child_nodes": []any{}},
			map[string]any{"node": nodeBody("test", "hijack", map[string]any{"id": foreign["id"], "result": "fail"}), "child_nodes": []any{}},
		},
	}
	e.do(http.MethodPut, "/latest/nodes/"+root["id"].(string), bob, body).
		expectDetail(http.StatusUnauthorized, "Unauthorized to complete the operation")
	e.expectUnchanged(before, "a hierarchy with a child bob may not edit")
	jsonEqual(t, "alice's node", e.getNode(foreign["id"]), foreign)
	jsonEqual(t, "bob's root", e.getNode(root["id"]), root)

	// Alice may not touch bob's root at all, and the 404 comes first.
	e.do(http.MethodPut, "/latest/nodes/"+root["id"].(string), alice, body).
		expectDetail(http.StatusUnauthorized, "Unauthorized to complete the operation")
	e.do(http.MethodPut, "/latest/nodes/0123456789abcdef01234567", alice, body).
		expectDetail(http.StatusNotFound, "Node not found with id: 0123456789abcdef01234567")
	e.expectUnchanged(before, "refused hierarchies")
}

func TestBatchNodesetPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	bob := e.token("bob")
	admin := e.token("admin", superuser)
	a1 := e.postNode(alice, checkoutBody())
	a2 := e.postNode(alice, checkoutBody())
	b1 := e.postNode(bob, checkoutBody())
	before := e.snapshot()

	set := func(tok string, value string, nodes ...map[string]any) float64 {
		t.Helper()
		var list []any
		for _, n := range nodes {
			list = append(list, n["id"])
		}
		v := e.do(http.MethodPut, "/latest/batch/nodeset", tok, map[string]any{
			"nodes": list, "field": "processed_by_kcidb_bridge", "value": value,
		}).expect(http.StatusOK).value()
		return v.(float64)
	}
	flag := func(n map[string]any) any { return e.getNode(n["id"])["processed_by_kcidb_bridge"] }

	// Bob's request skips alice's nodes silently.
	if got := set(bob, "true", a1, b1, a2); got != 1 {
		t.Errorf("bob updated %v nodes, want 1", got)
	}
	if flag(a1) != false || flag(a2) != false || flag(b1) != true {
		t.Errorf("flags a1=%v a2=%v b1=%v", flag(a1), flag(a2), flag(b1))
	}
	if got := set(alice, "True", a1, a2, b1); got != 2 {
		t.Errorf("alice updated %v nodes, want 2", got)
	}
	if flag(a1) != true || flag(a2) != true || flag(b1) != true {
		t.Errorf("flags a1=%v a2=%v b1=%v", flag(a1), flag(a2), flag(b1))
	}
	if got := set(admin, "false", a1, a2, b1); got != 3 {
		t.Errorf("admin updated %v nodes, want 3", got)
	}
	if flag(a1) != false || flag(a2) != false || flag(b1) != false {
		t.Errorf("flags a1=%v a2=%v b1=%v", flag(a1), flag(a2), flag(b1))
	}
	// No events at all.
	e.expectUnchanged(before, "batch nodeset")
}
