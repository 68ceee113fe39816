package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/ratelimit"
)

// TestUserEndpointPermissions is the anonymous / user / admin matrix of
// every user, group and invite endpoint, plus tokens that died: a
// deactivated user's, a deactivated admin's and a deleted user's.
func TestUserEndpointPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("root", superuser)
	user := e.token("alice")
	someone := e.addUser("someone", inGroups("team-a"))
	idle := e.addGroup("idle")

	// Tokens that must stop working at once.
	e.addUser("sleeper")
	sleeperTok := e.login("sleeper")
	fallen := e.addUser("fallen-admin", superuser)
	fallenTok := e.login("fallen-admin")
	gone := e.addUser("gone", superuser)
	goneTok := e.login("gone")
	ctx := context.Background()
	sl, _ := e.store.GetUserByUsername(ctx, "sleeper")
	sl.IsActive = false
	fallen.IsActive = false
	for _, u := range []*model.User{sl, fallen} {
		if err := e.store.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}

	type role struct {
		name, token string
	}
	roles := []role{{"anonymous", ""}, {"user", user}, {"admin", admin},
		{"deactivated user", sleeperTok}, {"deactivated admin", fallenTok}, {"deleted admin", goneTok}}

	// want gives the status per role: anonymous, user, admin; the three
	// dead tokens get what anonymous gets.
	type endpoint struct {
		method, path string
		body         func(role string) any
		want         [3]int
	}
	someonePath := "/latest/user/" + someone.ID.String()
	noBody := func(string) any { return nil }
	body := func(v any) func(string) any { return func(string) any { return v } }
	endpoints := []endpoint{
		{"GET", "/latest/whoami", noBody, [3]int{401, 200, 200}},
		{"GET", "/latest/user/me", noBody, [3]int{401, 200, 200}},
		{"PATCH", "/latest/user/me", body(map[string]any{}), [3]int{401, 200, 200}},
		{"GET", "/latest/users", noBody, [3]int{401, 200, 200}},
		{"GET", someonePath, noBody, [3]int{401, 200, 200}},
		{"PATCH", someonePath, body(map[string]any{"is_active": true}), [3]int{401, 403, 200}},
		{"DELETE", "/latest/user/{victim}", noBody, [3]int{401, 403, 204}},
		{"POST", "/latest/user/register", body(map[string]any{"username": "x", "email": "x@example.org", "password": "p"}), [3]int{401, 403, 404}},
		{"POST", "/latest/user/invite", func(r string) any {
			n := strings.ReplaceAll(r, " ", "-")
			return map[string]any{"username": "new-" + n, "email": "new-" + n + "@example.org", "send_email": false}
		}, [3]int{401, 403, 200}},
		{"GET", "/latest/user/invite/url", noBody, [3]int{401, 403, 200}},
		{"GET", "/latest/user/invite", noBody, [3]int{200, 200, 200}},
		{"GET", "/latest/user/accept-invite?token=x", noBody, [3]int{200, 200, 200}},
		{"POST", "/latest/user/accept-invite", body(map[string]any{"token": "x", "password": "p"}), [3]int{400, 400, 400}},
		{"POST", "/latest/user/forgot-password", body(map[string]any{"email": "alice@example.org"}), [3]int{202, 202, 202}},
		{"POST", "/latest/user/reset-password", body(map[string]any{"token": "x", "password": "p"}), [3]int{400, 400, 400}},
		{"GET", "/latest/user-groups", noBody, [3]int{401, 403, 200}},
		{"GET", "/latest/user-groups/" + idle.ID.String(), noBody, [3]int{401, 403, 200}},
		{"POST", "/latest/user-groups", func(r string) any { return map[string]any{"name": "group-of-" + r} }, [3]int{401, 403, 200}},
		{"DELETE", "/latest/user-groups/{group}", noBody, [3]int{401, 403, 204}},
	}
	for _, ep := range endpoints {
		for _, rl := range roles {
			want := ep.want[0]
			switch rl.name {
			case "user":
				want = ep.want[1]
			case "admin":
				want = ep.want[2]
			}
			t.Run(ep.method+" "+ep.path+" as "+rl.name, func(t *testing.T) {
				e := e.with(t)
				path := ep.path
				var victim *model.User
				var group model.Group
				switch {
				case strings.Contains(path, "{victim}"):
					victim = e.addUser("victim-" + strings.ReplaceAll(rl.name, " ", "-"))
					path = strings.Replace(path, "{victim}", victim.ID.String(), 1)
				case strings.Contains(path, "{group}"):
					group = e.addGroup("doomed-" + rl.name)
					path = strings.Replace(path, "{group}", group.ID.String(), 1)
				}
				r := e.do(ep.method, path, rl.token, ep.body(rl.name)).expect(want)
				switch want {
				case 401:
					r.expectDetail(401, "Unauthorized")
					if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
						t.Errorf("WWW-Authenticate = %q", got)
					}
				case 403:
					r.expectDetail(403, "Forbidden")
				}
				noHash(t, r.body)
				// A refused delete deleted nothing.
				if victim != nil && want != 204 {
					if _, err := e.store.GetUser(ctx, victim.ID); err != nil {
						t.Errorf("victim gone after a refused delete: %v", err)
					}
				}
				if group.Name != "" && want != 204 {
					if _, err := e.store.GetGroup(ctx, group.ID); err != nil {
						t.Errorf("group gone after a refused delete: %v", err)
					}
				}
			})
		}
	}
}

func TestGetUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addUser("bob", inGroups("kernelci"))
	e.addUser("carol", inGroups("kernelci", "lab"))
	e.addUser("dave", unverified)
	user := e.login("bob")

	list := func(q string) map[string]any {
		t.Helper()
		r := e.do(http.MethodGet, "/latest/users?"+q, user, nil).expect(http.StatusOK)
		noHash(t, r.body)
		return r.object()
	}
	names := func(p map[string]any) []string {
		var out []string
		for _, it := range p["items"].([]any) {
			u := it.(map[string]any)
			checkUserShape(t, u)
			out = append(out, u["username"].(string))
		}
		return out
	}
	p := list("")
	if got := names(p); !reflect.DeepEqual(got, []string{"admin", "bob", "carol", "dave"}) {
		t.Errorf("users %v", got)
	}
	if p["total"] != 4.0 || p["limit"] != 50.0 || p["offset"] != 0.0 {
		t.Errorf("envelope %v", p)
	}
	for _, tc := range []struct {
		q     string
		want  []string
		total float64
	}{
		{"username=carol", []string{"carol"}, 1},
		{"groups.name=kernelci", []string{"bob", "carol"}, 2},
		{"groups.name=lab", []string{"carol"}, 1},
		{"is_superuser=true", []string{"admin"}, 1},
		{"is_verified=false", []string{"dave"}, 1},
		{"email=dave@example.org", []string{"dave"}, 1},
		{"username__re=^[bc]", []string{"bob", "carol"}, 2},
		{"username__in=bob,dave", []string{"bob", "dave"}, 2},
		{"limit=2", []string{"admin", "bob"}, 4},
		{"limit=2&offset=2", []string{"carol", "dave"}, 4},
		{"offset=10", nil, 4},
		{"username=nobody", nil, 0},
	} {
		t.Run(tc.q, func(t *testing.T) {
			p := list(tc.q)
			if got := names(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("users %v, want %v", got, tc.want)
			}
			if p["total"] != tc.total {
				t.Errorf("total %v, want %v", p["total"], tc.total)
			}
		})
	}
	// Errors.
	for _, tc := range []struct {
		q      string
		status int
	}{
		{"hashed_password__re=^%5C$argon2", 400},
		{"hashed_password=x", 400},
		{"password=x", 400},
		{"limit=0", 422},
		{"offset=-1", 422},
		{"limit=many", 422},
		{"id=not-an-id", 400},
		{"username__bogus=1", 400},
	} {
		t.Run("error "+tc.q, func(t *testing.T) {
			r := e.do(http.MethodGet, "/latest/users?"+tc.q, admin, nil).expect(tc.status)
			if tc.status == 400 {
				r.expectDetailPrefix(400, "Invalid query parameter")
			}
		})
	}
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.addUser("bob", inGroups("kernelci"))
	tok := e.token("alice")
	r := e.do(http.MethodGet, "/latest/user/"+bob.ID.String(), tok, nil).expect(http.StatusOK)
	noHash(t, r.body)
	u := r.object()
	checkUserShape(t, u)
	if u["id"] != bob.ID.String() || u["username"] != "bob" || u["email"] != "bob@example.org" || !reflect.DeepEqual(groupNames(u), []string{"kernelci"}) {
		t.Errorf("user %s", r.body)
	}
	for _, id := range []string{"0123456789abcdef01234567", "not-an-id", "me2"} {
		e.do(http.MethodGet, "/latest/user/"+id, tok, nil).expectDetail(http.StatusNotFound, "Not Found")
	}
	// /user/me is the caller.
	if me := e.do(http.MethodGet, "/latest/user/me", tok, nil).expect(200).object(); me["username"] != "alice" {
		t.Errorf("/user/me = %v", me)
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	bob := e.addUser("bob")
	bobTok := e.login("bob")
	r := e.do(http.MethodDelete, "/latest/user/"+bob.ID.String(), admin, nil).expect(http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
	// The token died with the user; the user is gone.
	e.do(http.MethodGet, "/latest/whoami", bobTok, nil).expectDetail(401, "Unauthorized")
	e.do(http.MethodGet, "/latest/user/"+bob.ID.String(), admin, nil).expectDetail(404, "Not Found")
	e.loginWith("bob", testPassword).expectDetail(400, "LOGIN_BAD_CREDENTIALS")
	for _, id := range []string{bob.ID.String(), "0123456789abcdef01234567", "nope"} {
		e.do(http.MethodDelete, "/latest/user/"+id, admin, nil).expectDetail(http.StatusNotFound, "Not Found")
	}
}

func TestRegisterIsDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	for _, body := range []any{
		map[string]any{"username": "x", "email": "x@example.org", "password": "secret"},
		map[string]any{},
	} {
		e.do(http.MethodPost, "/latest/user/register", admin, body).
			expectDetail(http.StatusNotFound, "User registration is disabled; use /user/invite instead.")
	}
	if n, _ := e.store.CountUsers(context.Background(), query.Filter{}); n != 1 {
		t.Errorf("%d users after register calls", n)
	}
}

func TestPatchUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addGroup("kernelci")
	e.addGroup("lab")
	e.addUser("taken")

	t.Run("fields", func(t *testing.T) {
		e := e.with(t)
		bob := e.addUser("bob", inGroups("lab"))
		path := "/latest/user/" + bob.ID.String()
		r := e.do(http.MethodPatch, path, admin, map[string]any{
			"username": "robert", "is_superuser": true, "groups": []string{"kernelci", "node:edit:any"},
		}).expect(200)
		noHash(t, r.body)
		u := r.object()
		checkUserShape(t, u)
		if u["username"] != "robert" || u["is_superuser"] != true || u["is_verified"] != true || u["email"] != "bob@example.org" ||
			!reflect.DeepEqual(groupNames(u), []string{"kernelci", "node:edit:any"}) {
			t.Errorf("after patch: %s", r.body)
		}
		// Groups replace; an empty list removes them all.
		u = e.do(http.MethodPatch, path, admin, map[string]any{"groups": []string{"lab"}}).expect(200).object()
		if !reflect.DeepEqual(groupNames(u), []string{"lab"}) {
			t.Errorf("groups %v", groupNames(u))
		}
		u = e.do(http.MethodPatch, path, admin, map[string]any{"groups": []string{}}).expect(200).object()
		if len(groupNames(u)) != 0 {
			t.Errorf("groups %v after []", groupNames(u))
		}
		// Absent and null leave fields alone.
		u = e.do(http.MethodPatch, path, admin, map[string]any{"email": nil, "username": nil, "is_active": nil, "password": nil}).expect(200).object()
		if u["username"] != "robert" || u["email"] != "bob@example.org" || u["is_active"] != true {
			t.Errorf("null fields changed the user: %v", u)
		}
		// A new email unverifies the account (fastapi-users), unless the
		// admin says otherwise in the same request.
		u = e.do(http.MethodPatch, path, admin, map[string]any{"email": "Robert@Example.ORG"}).expect(200).object()
		if u["email"] != "Robert@example.org" || u["is_verified"] != false {
			t.Errorf("after email change: %v", u)
		}
		u = e.do(http.MethodPatch, path, admin, map[string]any{"email": "rob@example.org", "is_verified": true}).expect(200).object()
		if u["email"] != "rob@example.org" || u["is_verified"] != true {
			t.Errorf("after email change with is_verified: %v", u)
		}
		// Password: the old one stops working, the new one logs in.
		e.do(http.MethodPatch, path, admin, map[string]any{"password": "n3w pass"}).expect(200)
		e.loginWith("robert", testPassword).expectDetail(400, "LOGIN_BAD_CREDENTIALS")
		tok := e.loginWith("robert", "n3w pass").expect(200).object()["access_token"].(string)
		// Deactivation kills the token at once.
		e.do(http.MethodPatch, path, admin, map[string]any{"is_active": false}).expect(200)
		e.do(http.MethodGet, "/latest/whoami", tok, nil).expectDetail(401, "Unauthorized")
		e.loginWith("robert", "n3w pass").expectDetail(400, "LOGIN_BAD_CREDENTIALS")
		stored := e.storedUser(bob)
		if stored.IsActive || !stored.IsSuperuser || stored.Username != "robert" {
			t.Errorf("stored %+v", stored)
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := e.with(t)
		carol := e.addUser("carol")
		path := "/latest/user/" + carol.ID.String()
		tests := []struct {
			name   string
			path   string
			body   any
			status int
			detail any      // string or map for 400/404
			locs   []string // for 422
		}{
			{"bad id", "/latest/user/xyz", map[string]any{}, 400, "'xyz' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string", nil},
			{"unknown id", "/latest/user/0123456789abcdef01234567", map[string]any{}, 404, "User not found with id: 0123456789abcdef01234567", nil},
			{"username taken", path, map[string]any{"username": "taken"}, 400, "Username already exists: taken", nil},
			{"unknown group", path, map[string]any{"groups": []string{"lab", "nope"}}, 400, "User group does not exist with name: nope", nil},
			{"email taken", path, map[string]any{"email": "taken@example.org"}, 400, "UPDATE_USER_EMAIL_ALREADY_EXISTS", nil},
			{"email taken, other case", path, map[string]any{"email": "TAKEN@example.org"}, 400, "UPDATE_USER_EMAIL_ALREADY_EXISTS", nil},
			{"empty password", path, map[string]any{"password": ""}, 400, map[string]any{"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "Password should not be empty"}, nil},
			{"invalid email", path, map[string]any{"email": "carol"}, 422, nil, []string{"body.email"}},
			{"bool not a bool", path, map[string]any{"is_active": "maybe"}, 422, nil, []string{"body.is_active"}},
			{"username not a string", path, map[string]any{"username": 5}, 422, nil, []string{"body.username"}},
			{"empty username", path, map[string]any{"username": ""}, 422, nil, []string{"body.username"}},
			{"groups not a list", path, map[string]any{"groups": "lab"}, 422, nil, []string{"body.groups"}},
			{"groups null", path, map[string]any{"groups": nil}, 422, nil, []string{"body.groups"}},
			{"group not a string", path, map[string]any{"groups": []any{"lab", 3}}, 422, nil, []string{"body.groups.1"}},
			{"duplicate groups", path, map[string]any{"groups": []string{"lab", "lab"}}, 422, nil, []string{"body.groups"}},
			{"several errors", path, map[string]any{"email": 1, "is_superuser": []any{}}, 422, nil, []string{"body.email", "body.is_superuser"}},
			{"not an object", path, []any{}, 422, nil, []string{"body"}},
			{"no body", path, nil, 422, nil, []string{"body"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := e.with(t)
				r := e.do(http.MethodPatch, tc.path, admin, tc.body)
				r.expectRefusal(tc.status, tc.detail, tc.locs)
				if got := e.storedUser(carol); !reflect.DeepEqual(got, carol) {
					t.Errorf("a refused patch changed the user: %+v", got)
				}
			})
		}
	})
}

func TestPatchMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("taken")
	alice := e.addUser("alice", inGroups("lab"))
	tok := e.login("alice")

	// Privileged fields are ignored; groups may be sent empty.
	r := e.do(http.MethodPatch, "/latest/user/me", tok, map[string]any{
		"is_superuser": true, "is_active": false, "is_verified": false, "groups": []string{},
	}).expect(200)
	u := r.object()
	checkUserShape(t, u)
	if u["is_superuser"] != false || u["is_active"] != true || u["is_verified"] != true || !reflect.DeepEqual(groupNames(u), []string{"lab"}) {
		t.Errorf("privileged fields changed: %s", r.body)
	}

	tests := []struct {
		name   string
		body   any
		status int
		detail any
		locs   []string
	}{
		{"groups", map[string]any{"groups": []string{"lab"}}, 400, "User groups can only be updated by an admin user", nil},
		{"other groups", map[string]any{"groups": []string{"node:edit:any"}}, 400, "User groups can only be updated by an admin user", nil},
		{"username taken", map[string]any{"username": "taken"}, 400, "Username already exists: taken", nil},
		{"email taken", map[string]any{"email": "taken@example.org"}, 400, "UPDATE_USER_EMAIL_ALREADY_EXISTS", nil},
		{"empty password", map[string]any{"password": ""}, 400, map[string]any{"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "Password should not be empty"}, nil},
		{"invalid email", map[string]any{"email": "a@b"}, 422, nil, []string{"body.email"}},
		{"password not a string", map[string]any{"password": 1234}, 422, nil, []string{"body.password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(http.MethodPatch, "/latest/user/me", tok, tc.body)
			r.expectRefusal(tc.status, tc.detail, tc.locs)
			if got := e.storedUser(alice); !reflect.DeepEqual(got, alice) {
				t.Errorf("a refused patch changed the user: %+v", got)
			}
		})
	}

	// Own username and password: the password change ends the tokens
	// issued before it (issue 12); a new login gives a working one.
	u = e.do(http.MethodPatch, "/latest/user/me", tok, map[string]any{"username": "alice2", "password": "fresh pw"}).expect(200).object()
	if u["username"] != "alice2" {
		t.Errorf("username %v", u["username"])
	}
	e.do(http.MethodGet, "/latest/whoami", tok, nil).expect(401)
	tok, _ = e.loginWith("alice2", "fresh pw").expect(200).object()["access_token"].(string)
	e.do(http.MethodGet, "/latest/whoami", tok, nil).expect(200)
	// Own email: the account is unverified again, as fastapi-users does.
	u = e.do(http.MethodPatch, "/latest/user/me", tok, map[string]any{"email": "alice@new.example.org"}).expect(200).object()
	if u["email"] != "alice@new.example.org" || u["is_verified"] != false {
		t.Errorf("after own email change: %v", u)
	}
	e.loginWith("alice2", "fresh pw").expectDetail(400, "LOGIN_USER_NOT_VERIFIED")
}

func TestUpdatePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice")
	e.addUser("sleeper", inactive)
	form := formOf
	tests := []struct {
		name   string
		form   url.Values
		status int
		detail any
		locs   []string
	}{
		{"wrong password", form("username", "alice", "password", "nope", "new_password", "x"), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"unknown user", form("username", "mallory", "password", testPassword, "new_password", "x"), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"inactive user", form("username", "sleeper", "password", testPassword, "new_password", "x"), 400, "LOGIN_BAD_CREDENTIALS", nil},
		{"empty new password", form("username", "alice", "password", testPassword, "new_password", ""), 400,
			map[string]any{"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "Password should not be empty"}, nil},
		{"missing new password", form("username", "alice", "password", testPassword), 422, nil, []string{"body.new_password"}},
		{"missing everything", form(), 422, nil, []string{"body.username", "body.password", "body.new_password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.postForm("/latest/user/update-password", tc.form)
			r.expectRefusal(tc.status, tc.detail, tc.locs)
		})
	}
	// The refusals changed nothing.
	e.login("alice")

	r := e.postForm("/latest/user/update-password", form("username", "alice", "password", testPassword, "new_password", "brand new")).expect(200)
	if v := r.value(); v != nil {
		t.Errorf("body %s, want null", r.body)
	}
	e.loginWith("alice", testPassword).expectDetail(400, "LOGIN_BAD_CREDENTIALS")
	e.loginWith("alice", "brand new").expect(200)
}

// A user stored by the reference server logs in with its password
// unchanged: a bcrypt hash (passlib, the reference's older accounts) is
// upgraded to argon2id on the way; an argon2id hash made by argon2-cffi
// with fastapi-users' parameters is kept.
func TestReferenceHashesLogIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name, password, hash string
		upgraded             bool
	}{
		// Vectors of internal/auth/password_test.go.
		{"bcrypt", "hello kernelci", "$2b$12$s1.w4nFbWymLCNpaYfbU/.OoBRBuToTWge3PLHex2kt1DuvnmuhYC", true},
		{"bcrypt-2a", "hello kernelci", "$2a$04$OSiN1GHCth0H1SQe9etGtOxB7C7ZLac6EVxTwEISaVRL9OvRlCYwW", true},
		{"argon2id", "kernelci s3cret pässword", "$argon2id$v=19$m=65536,t=3,p=4$OuEWo5HLbf+RVCOo9vFQkg$MMkl0EE4tSWV/jqVlYRa0AA/fna1WupUxRVermMxkdU", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			u := &model.User{Username: "py-" + tc.name, Email: "py-" + tc.name + "@kernelci.org", HashedPassword: tc.hash,
				IsActive: true, IsVerified: true, Groups: []model.Group{}}
			if err := e.store.InsertUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			e.loginWith(u.Username, tc.password+"x").expectDetail(400, "LOGIN_BAD_CREDENTIALS")
			tok := e.loginWith(u.Username, tc.password).expect(200).object()["access_token"].(string)
			e.do(http.MethodGet, "/latest/whoami", tok, nil).expect(200)
			after := e.storedUser(u).HashedPassword
			if tc.upgraded {
				if !strings.HasPrefix(after, "$argon2id$v=19$") {
					t.Fatalf("hash not upgraded to argon2id: %s", after)
				}
			} else if after != tc.hash {
				t.Fatalf("hash changed: %s", after)
			}
			// And again, with the upgraded hash.
			e.loginWith(u.Username, tc.password).expect(200)
			if again := e.storedUser(u).HashedPassword; again != after {
				t.Errorf("hash changed on the second login")
			}
		})
	}
}

// limitedEnv is a server whose login limiter runs on a fake clock.
func limitedEnv(t *testing.T, cfg ratelimit.LoginConfig) (*env, *fakeClock) {
	clk := newFakeClock()
	return newEnvWith(t, api.Options{LoginLimiter: ratelimit.NewLogin(cfg, clk.Now)}, nil, nil), clk
}

func TestLoginRateLimitPerUser(t *testing.T) {
	t.Parallel()
	e, clk := limitedEnv(t, ratelimit.LoginConfig{MaxPerUser: 3, MaxPerClient: 100, Window: 10 * time.Minute})
	e.addUser("alice")
	e.addUser("bob")
	for i := range 3 {
		e.loginWith("alice", fmt.Sprint("guess-", i)).expectDetail(400, "LOGIN_BAD_CREDENTIALS")
		clk.Advance(time.Minute)
	}
	// Blocked, even with the right password; the others are not.
	for _, pw := range []string{"guess-4", testPassword} {
		r := e.loginWith("alice", pw)
		r.expectDetail(http.StatusTooManyRequests, "LOGIN_TOO_MANY_ATTEMPTS")
		if got := r.header.Get("Retry-After"); got != "420" {
			t.Errorf("Retry-After %q, want 420 (7 minutes)", got)
		}
	}
	// The password change form is limited the same way.
	e.postForm("/latest/user/update-password", url.Values{"username": {"alice"}, "password": {testPassword}, "new_password": {"x"}}).
		expectDetail(http.StatusTooManyRequests, "LOGIN_TOO_MANY_ATTEMPTS")
	e.login("bob")

	clk.Advance(7*time.Minute - time.Second)
	if r := e.loginWith("alice", testPassword).expect(429); r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	clk.Advance(time.Second)
	e.login("alice")

	// A success clears the username's failures.
	e.loginWith("alice", "a").expect(400)
	e.loginWith("alice", "b").expect(400)
	e.login("alice")
	e.loginWith("alice", "c").expect(400)
	e.loginWith("alice", "d").expect(400)
	e.login("alice")

	// Unknown usernames count too.
	for range 3 {
		e.loginWith("mallory", testPassword).expect(400)
	}
	e.loginWith("mallory", testPassword).expect(429)
}

func TestLoginRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e, clk := limitedEnv(t, ratelimit.LoginConfig{MaxPerUser: 100, MaxPerClient: 4, Window: time.Minute})
	e.addUser("alice")
	for i := range 4 {
		e.loginWith(fmt.Sprint("user", i), "x").expect(400)
	}
	r := e.loginWith("alice", testPassword)
	r.expectDetail(http.StatusTooManyRequests, "LOGIN_TOO_MANY_ATTEMPTS")
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n != 60 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	clk.Advance(time.Minute)
	e.login("alice")
}

func TestLoginRateLimitDefaultAndOff(t *testing.T) {
	t.Parallel()
	t.Run("on by default", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.addUser("alice")
		n := ratelimit.DefaultLoginConfig.MaxPerUser
		for i := range n {
			e.loginWith("alice", fmt.Sprint("guess-", i)).expect(400)
		}
		r := e.loginWith("alice", testPassword).expect(429)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		e, _ := limitedEnv(t, ratelimit.LoginConfig{})
		e.addUser("alice")
		for i := range 30 {
			e.loginWith("alice", fmt.Sprint("guess-", i)).expect(400)
		}
		e.login("alice")
	})
}

// limitedLogins is a server holding the user alice, with the login
// limiter cfg (on a clock that stands still) and the trusted proxies,
// for loginFrom.
func limitedLogins(t *testing.T, cfg ratelimit.LoginConfig, trusted ...netip.Prefix) http.Handler {
	t.Helper()
	e := newEnv(t)
	e.addUser("alice")
	return api.New(e.store, e.tokens, api.Options{LoginLimiter: ratelimit.NewLogin(cfg, newFakeClock().Now), TrustedProxies: trusted}, nil)
}

// loginFrom logs in through h as a client at remote sending headers, and
// answers the status.
func loginFrom(h http.Handler, remote string, headers map[string]string, user, pw string) int {
	form := url.Values{"username": {user}, "password": {pw}}
	req, _ := http.NewRequest(http.MethodPost, "/latest/user/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Behind a proxy (a client on a non-global address) the per-client limit
// counts the address the proxy forwards for, so that one client cannot
// lock out everyone behind the same proxy.
func TestLoginRateLimitBehindProxy(t *testing.T) {
	t.Parallel()
	srv := limitedLogins(t, ratelimit.LoginConfig{MaxPerUser: 100, MaxPerClient: 2, Window: time.Minute},
		netip.MustParsePrefix("10.0.0.0/8"))
	login := func(remote string, headers map[string]string, user, pw string) int {
		return loginFrom(srv, remote, headers, user, pw)
	}
	proxy := "10.1.2.3:5555"
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	// Two failures of the client the proxy forwards for; the last
	// X-Forwarded-For entry is the one the proxy appended.
	login(proxy, xff("8.8.8.8"), "u1", "x")
	login(proxy, xff("spoofed, 8.8.8.8"), "u2", "x")
	if c := login(proxy, xff("8.8.8.8"), "alice", testPassword); c != 429 {
		t.Fatalf("client behind the proxy not limited: %d", c)
	}
	if c := login(proxy, xff("9.9.9.9"), "alice", testPassword); c != 200 {
		t.Fatalf("another client behind the proxy limited: %d", c)
	}
	if c := login(proxy, map[string]string{"Forwarded": `for="[2001:db8:cafe::17]:4711"`}, "u3", "x"); c != 400 {
		t.Fatal(c)
	}
	login(proxy, map[string]string{"Forwarded": "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::99]\""}, "u4", "x")
	if c := login(proxy, xff("2001:db8:cafe::1"), "alice", testPassword); c != 429 {
		t.Fatalf("the /64 behind the proxy is not limited: %d", c)
	}
	// A client on a global address is itself; its headers are ignored.
	login("8.8.4.4:1", xff("1.1.1.1"), "u5", "x")
	login("8.8.4.4:1", xff("1.1.1.2"), "u6", "x")
	if c := login("8.8.4.4:1", xff("1.1.1.3"), "alice", testPassword); c != 429 {
		t.Fatalf("a direct client escaped the limit with X-Forwarded-For: %d", c)
	}
	if c := login(proxy, xff("1.1.1.1"), "alice", testPassword); c != 200 {
		t.Fatalf("%d", c)
	}
	// A chain of trusted proxies is walked past; an untrusted private
	// peer is itself, whatever it forwards.
	login(proxy, xff("7.7.7.7, 10.9.9.9"), "u7", "x")
	login(proxy, xff("7.7.7.7"), "u8", "x")
	if c := login(proxy, xff("7.7.7.7, 10.0.0.2"), "alice", testPassword); c != 429 {
		t.Fatalf("client behind two trusted proxies not limited: %d", c)
	}
}

// Forwarding headers are believed only from the proxies named in
// KCI_TRUSTED_PROXIES: a client on loopback or a private network
// rotating X-Forwarded-For stays one client (issue 12, item 4).
func TestLoginLimitIgnoresForwardedHeadersFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	srv := limitedLogins(t, ratelimit.LoginConfig{MaxPerUser: 1000, MaxPerClient: 5, Window: time.Minute})
	for _, peer := range []string{"127.0.0.1:4000", "10.1.2.3:5555", "[::1]:80"} {
		limited := false
		for i := 0; i < 55 && !limited; i++ {
			headers := map[string]string{
				"X-Forwarded-For": fmt.Sprintf("203.0.%d.%d", i/250, i%250+1),
				"Forwarded":       fmt.Sprintf("for=198.51.100.%d", i%250+1),
			}
			limited = loginFrom(srv, peer, headers, fmt.Sprint("u", i), "x") == http.StatusTooManyRequests
		}
		if !limited {
			t.Errorf("peer %s escaped the per-client limit by rotating forwarding headers", peer)
		}
	}
}
