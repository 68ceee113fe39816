package api_test

import (
	"context"
	cryptotls "crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

func mustParseID(t *testing.T, s string) objectid.ID {
	t.Helper()
	id, err := objectid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSeedInviteWalkthrough runs the user documentation's invite-only
// onboarding with the same requests as its curl examples (headers
// included): invite with send_email false and return_token, accept,
// login, whoami, list users, get user, admin update with groups, delete.
func TestSeedInviteWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("admin", superuser)
	ctx := context.Background()
	// > db.usergroup.insertOne({name: "kernelci"})
	kernelci := &model.Group{Name: "kernelci"}
	if err := e.store.InsertGroup(ctx, kernelci); err != nil {
		t.Fatal(err)
	}

	// curl -X POST .../latest/user/login -H 'Content-Type: application/x-www-form-urlencoded' -d 'username=...&password=...'
	login := func(user, pw string) string {
		t.Helper()
		r := e.send(http.MethodPost, "/latest/user/login", map[string]string{
			"accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
		}, strings.NewReader("username="+user+"&password="+strings.ReplaceAll(pw, " ", "+"))).expect(200)
		m := r.object()
		if m["token_type"] != "bearer" {
			t.Fatalf("login: %s", r.body)
		}
		return m["access_token"].(string)
	}
	adminTok := login("admin", testPassword)
	jsonHeaders := func(tok string) map[string]string {
		h := map[string]string{"accept": "application/json", "Content-Type": "application/json"}
		if tok != "" {
			h["Authorization"] = "Bearer " + tok
		}
		return h
	}

	// The first example: user "test", no groups.
	r := e.send(http.MethodPost, "/latest/user/invite", jsonHeaders(adminTok), strings.NewReader(`{
"username": "test",
"email": "test@kernelci.org",
"groups": [],
"is_superuser": false,
"send_email": false,
"return_token": true,
"resend_if_exists": false
}`)).expect(200)
	if inv := r.object(); inv["token"] == nil || inv["email_sent"] != false {
		t.Fatalf("invite test: %s", r.body)
	}

	// Preview the public URL.
	preview := e.doHeaders(http.MethodGet, "/latest/user/invite/url", map[string]string{
		"accept": "application/json", "Authorization": "Bearer " + adminTok}, nil).expect(200).object()
	jsonEqual(t, "invite url preview", preview, map[string]any{
		"public_base_url": e.base, "accept_invite_url": e.base + "/user/accept-invite"})

	// Invite alice, as in the CLI section.
	r = e.send(http.MethodPost, "/latest/user/invite", jsonHeaders(adminTok), strings.NewReader(`{
"username": "alice",
"email": "alice@example.org",
"groups": ["kernelci"],
"is_superuser": false,
"send_email": false,
"return_token": true,
"resend_if_exists": false
}`)).expect(200)
	noHash(t, r.body)
	inv := r.object()
	keys := sortedKeys(inv)
	if want := []string{"accept_invite_url", "email_sent", "invite_url", "public_base_url", "token", "user"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("invite response keys %v, want %v", keys, want)
	}
	token := inv["token"].(string)
	user := inv["user"].(map[string]any)
	checkUserShape(t, user)
	aliceID := user["id"].(string)
	jsonEqual(t, "invite response", inv, map[string]any{
		"user": map[string]any{
			"id": aliceID, "email": "alice@example.org", "is_active": true, "is_superuser": false,
			"is_verified": false, "username": "alice",
			"groups": []map[string]any{{"id": kernelci.ID.String(), "name": "kernelci"}},
		},
		"email_sent":        false,
		"public_base_url":   e.base,
		"accept_invite_url": e.base + "/user/accept-invite",
		"invite_url":        e.base + "/user/accept-invite?token=" + token,
		"token":             token,
	})
	// The token is the reference's invite JWT.
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatalf("invite token: %v", err)
	}
	if claims["sub"] != aliceID || claims["email"] != "alice@example.org" || claims["purpose"] != "invite" || claims["aud"] != nil {
		t.Errorf("invite claims %v", claims)
	}
	exp, _ := claims["exp"].(float64)
	if d := time.Until(time.Unix(int64(exp), 0)); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Errorf("invite token lives %v, want 7 days", d)
	}
	// Invited, not yet able to log in.
	e.loginWith("alice", "").expectDetail(400, "LOGIN_BAD_CREDENTIALS")

	// Accept the invite (no authentication).
	r = e.send(http.MethodPost, "/latest/user/accept-invite", jsonHeaders(""), strings.NewReader(`{
"token": "`+token+`",
"password": "alice's new password"
}`)).expect(200)
	noHash(t, r.body)
	accepted := r.object()
	checkUserShape(t, accepted)
	if accepted["id"] != aliceID || accepted["is_verified"] != true || accepted["username"] != "alice" {
		t.Errorf("accepted user %s", r.body)
	}
	// Single use.
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": token, "password": "again"}).
		expectDetail(400, "Invite already accepted")

	// Login, whoami.
	aliceTok := login("alice", "alice's new password")
	me := e.doHeaders(http.MethodGet, "/latest/whoami", map[string]string{"Authorization": "Bearer " + aliceTok}, nil).expect(200).object()
	if me["username"] != "alice" || me["id"] != aliceID {
		t.Errorf("whoami %v", me)
	}

	// List users, with the raw token as the documentation's example
	// sends it (no "Bearer").
	r = e.doHeaders(http.MethodGet, "/latest/users", map[string]string{"accept": "application/json", "Authorization": aliceTok}, nil).expect(200)
	noHash(t, r.body)
	page := r.object()
	if page["total"] != 3.0 || page["limit"] != 50.0 || page["offset"] != 0.0 {
		t.Errorf("users page %v", page)
	}
	var names []string
	var adminID string
	for _, it := range page["items"].([]any) {
		u := it.(map[string]any)
		checkUserShape(t, u)
		names = append(names, u["username"].(string))
		if u["username"] == "admin" {
			adminID = u["id"].(string)
		}
	}
	if !reflect.DeepEqual(names, []string{"admin", "test", "alice"}) {
		t.Errorf("users %v", names)
	}

	// Get user by id.
	got := e.doHeaders(http.MethodGet, "/latest/user/"+adminID, jsonHeaders(aliceTok), nil).expect(200).object()
	if got["username"] != "admin" || got["is_superuser"] != true {
		t.Errorf("get user %v", got)
	}

	// The admin update of the documentation.
	r = e.send(http.MethodPatch, "/latest/user/"+aliceID, jsonHeaders(adminTok),
		strings.NewReader(`{"email": "test-user@kernelci.org", "groups": ["kernelci"]}`)).expect(200)
	upd := r.object()
	checkUserShape(t, upd)
	if upd["email"] != "test-user@kernelci.org" || !reflect.DeepEqual(groupNames(upd), []string{"kernelci"}) {
		t.Errorf("updated user %s", r.body)
	}
	// As in fastapi-users, a new email makes the account unverified.
	if upd["is_verified"] != false {
		t.Errorf("is_verified %v after an email change", upd["is_verified"])
	}

	// Delete.
	r = e.doHeaders(http.MethodDelete, "/latest/user/658d1edecf0bce203d594f1c", map[string]string{"Authorization": "Bearer " + adminTok}, nil)
	r.expectDetail(404, "Not Found")
	e.doHeaders(http.MethodDelete, "/latest/user/"+aliceID, map[string]string{"Authorization": "Bearer " + adminTok}, nil).expect(204)
	e.do(http.MethodGet, "/latest/whoami", aliceTok, nil).expectDetail(401, "Unauthorized")
}

func TestInviteOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addGroup("kernelci")

	// Without return_token: no link and no token in the answer (null, as
	// the reference's optional fields).
	r := e.do(http.MethodPost, "/latest/user/invite", admin, map[string]any{"username": "bob", "email": "Bob <bob@Example.ORG>", "send_email": false}).expect(200)
	inv := r.object()
	if v, ok := inv["token"]; !ok || v != nil {
		t.Errorf("token %v present %v, want null", v, ok)
	}
	if v, ok := inv["invite_url"]; !ok || v != nil {
		t.Errorf("invite_url %v present %v, want null", v, ok)
	}
	// EmailStr normalises the address.
	if u := inv["user"].(map[string]any); u["email"] != "bob@example.org" {
		t.Errorf("email %v, want bob@example.org", u["email"])
	}
	// send_email defaults to true; without SMTP nothing is sent.
	inv = e.do(http.MethodPost, "/latest/user/invite", admin, map[string]any{"username": "boss", "email": "boss@example.org", "is_superuser": true, "groups": []string{"kernelci"}}).expect(200).object()
	if inv["email_sent"] != false {
		t.Errorf("email_sent %v without SMTP", inv["email_sent"])
	}
	u := inv["user"].(map[string]any)
	if u["is_superuser"] != true || u["is_verified"] != false || u["is_active"] != true {
		t.Errorf("invited superuser %v", u)
	}
	// The invited user's password is unusable until the invite is
	// accepted.
	stored, _ := e.store.GetUserByUsername(context.Background(), "boss")
	if !strings.HasPrefix(stored.HashedPassword, "$argon2id$") {
		t.Errorf("invited user's hash %q", stored.HashedPassword)
	}
	for _, pw := range []string{"", testPassword, "password"} {
		e.loginWith("boss", pw).expectDetail(400, "LOGIN_BAD_CREDENTIALS")
	}

	// Resend: a new token for the same unverified user; both work until
	// one is used, then neither.
	first := e.invite(admin, map[string]any{"username": "carol", "email": "carol@example.org"})
	second := e.invite(admin, map[string]any{"username": "carol", "email": "CAROL@example.org", "resend_if_exists": true})
	if first["user"].(map[string]any)["id"] != second["user"].(map[string]any)["id"] {
		t.Fatal("resend made another user")
	}
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": second["token"].(string), "password": "pw-2"}).expect(200)
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": first["token"].(string), "password": "pw-1"}).
		expectDetail(400, "Invite already accepted")
	e.loginWith("carol", "pw-2").expect(200)
	e.loginWith("carol", "pw-1").expect(400)
	// Accepted: no more resends.
	e.do(http.MethodPost, "/latest/user/invite", admin, map[string]any{"username": "carol", "email": "carol@example.org", "resend_if_exists": true}).
		expectDetail(400, "User already verified")
}

func TestInviteErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addUser("verified")
	e.addGroup("kernelci")
	e.invite(admin, map[string]any{"username": "pending", "email": "pending@example.org"})
	count := func() int64 {
		n, err := e.store.CountUsers(context.Background(), query.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()

	body := func(kv ...any) map[string]any {
		m := map[string]any{"username": "newbie", "email": "newbie@example.org", "send_email": false}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		body   any
		status int
		detail string
		locs   []string
	}{
		{"username exists", body("username", "verified"), 400, "User already exists", nil},
		{"email exists", body("email", "verified@example.org"), 400, "User already exists", nil},
		{"email exists in another case", body("email", "Verified@EXAMPLE.org"), 400, "User already exists", nil},
		{"pending, no resend", body("username", "pending", "email", "pending@example.org"), 400, "User already exists", nil},
		{"resend to a verified user", body("username", "verified", "email", "verified@example.org", "resend_if_exists", true), 400, "User already verified", nil},
		{"resend, other username", body("username", "pending2", "email", "pending@example.org", "resend_if_exists", true), 400, "Existing user has a different username", nil},
		{"resend, other email", body("username", "pending", "email", "other@example.org", "resend_if_exists", true), 400, "Existing user has a different email", nil},
		{"unknown group", body("groups", []string{"kernelci", "nope"}), 400, "User group does not exist with name: nope", nil},
		{"missing username", body("username", nil), 422, "", []string{"body.username"}},
		{"missing email", body("email", nil), 422, "", []string{"body.email"}},
		{"missing both", map[string]any{}, 422, "", []string{"body.username", "body.email"}},
		{"empty username", body("username", ""), 422, "", []string{"body.username"}},
		{"username not a string", body("username", 12), 422, "", []string{"body.username"}},
		{"no @", body("email", "newbie.example.org"), 422, "", []string{"body.email"}},
		{"no domain dot", body("email", "newbie@example"), 422, "", []string{"body.email"}},
		{"special-use domain", body("email", "newbie@example.test"), 422, "", []string{"body.email"}},
		{"space in address", body("email", "new bie@example.org"), 422, "", []string{"body.email"}},
		{"two periods", body("email", "new..bie@example.org"), 422, "", []string{"body.email"}},
		{"email not a string", body("email", true), 422, "", []string{"body.email"}},
		{"groups not a list", body("groups", "kernelci"), 422, "", []string{"body.groups"}},
		{"duplicate groups", body("groups", []string{"kernelci", "kernelci"}), 422, "", []string{"body.groups"}},
		{"bad bool", body("is_superuser", "perhaps"), 422, "", []string{"body.is_superuser"}},
		{"null bool", body("return_token", nil, "send_email", nil, "resend_if_exists", "x"), 422, "", []string{"body.resend_if_exists"}},
		{"not an object", []any{"newbie"}, 422, "", []string{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.do(http.MethodPost, "/latest/user/invite", admin, tc.body)
			r.expectRefusal(tc.status, tc.detail, tc.locs)
		})
	}
	t.Cleanup(func() {
		if after := count(); after != before {
			t.Errorf("refused invites stored users: %d -> %d", before, after)
		}
	})

	// The 422 of an invalid email is pydantic's.
	r := e.do(http.MethodPost, "/latest/user/invite", admin, body("email", "newbie")).expect(422)
	jsonEqual(t, "422", r.value(), map[string]any{"detail": []map[string]any{{
		"type": "value_error", "loc": []any{"body", "email"},
		"msg":   "value is not a valid email address: An email address must have an @-sign.",
		"input": "newbie", "ctx": map[string]any{"reason": "An email address must have an @-sign."},
	}}})
}

func TestAcceptInviteErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	ctx := context.Background()
	tokenOf := func(name string) (string, *model.User) {
		inv := e.invite(admin, map[string]any{"username": name, "email": name + "@example.org"})
		u, err := e.store.GetUserByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return inv["token"].(string), u
	}
	accept := func(tok, pw string) *response {
		return e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": tok, "password": pw})
	}

	// Each case spoils its own invite.
	expired := signed(t, testSecret, jwt.MapClaims{"sub": "0123456789abcdef01234567", "email": "x@example.org", "purpose": "invite",
		"exp": time.Now().Add(-time.Minute).Unix()})
	foreign := signed(t, "another secret", jwt.MapClaims{"sub": "0123456789abcdef01234567", "email": "x@example.org", "purpose": "invite",
		"exp": time.Now().Add(time.Hour).Unix()})
	noPurpose := signed(t, testSecret, jwt.MapClaims{"sub": "0123456789abcdef01234567", "email": "x@example.org",
		"exp": time.Now().Add(time.Hour).Unix()})
	badSub := signed(t, testSecret, jwt.MapClaims{"sub": "alice", "email": "x@example.org", "purpose": "invite",
		"exp": time.Now().Add(time.Hour).Unix()})
	adminUser, _ := e.store.GetUserByUsername(ctx, "admin")
	accessTok, _ := e.tokens.Issue(adminUser.ID.String())

	ghostTok, ghost := tokenOf("ghost")
	if err := e.store.DeleteUser(ctx, ghost.ID); err != nil {
		t.Fatal(err)
	}
	sleepyTok, sleepy := tokenOf("sleepy")
	sleepy.IsActive = false
	if err := e.store.UpdateUser(ctx, sleepy); err != nil {
		t.Fatal(err)
	}
	movedTok, moved := tokenOf("moved")
	moved.Email = "moved-elsewhere@example.org"
	if err := e.store.UpdateUser(ctx, moved); err != nil {
		t.Fatal(err)
	}
	doneTok, _ := tokenOf("done")
	accept(doneTok, "pw").expect(200)
	// The admin set a password meanwhile: the invite is dead although the
	// account is still unverified.
	resetTok, resetUser := tokenOf("reset-by-admin")
	e.do(http.MethodPatch, "/latest/user/"+resetUser.ID.String(), admin, map[string]any{"password": "set by admin"}).expect(200)
	// Accepted, then unverified again by an admin: the old link stays
	// dead (the password it was made for is gone).
	againTok, again := tokenOf("again")
	accept(againTok, "pw").expect(200)
	e.do(http.MethodPatch, "/latest/user/"+again.ID.String(), admin, map[string]any{"is_verified": false}).expect(200)
	okTok, _ := tokenOf("fine")

	tests := []struct {
		name, token, password string
		status                int
		detail                string
	}{
		{"garbage", "not-a-token", "pw", 400, "Invalid or expired invite token"},
		{"expired", expired, "pw", 400, "Invalid or expired invite token"},
		{"other secret", foreign, "pw", 400, "Invalid or expired invite token"},
		{"access token", accessTok, "pw", 400, "Invalid or expired invite token"},
		{"reset token", e.resetToken(adminUser), "pw", 400, "Invalid or expired invite token"},
		{"no purpose", noPurpose, "pw", 400, "Invalid invite token"},
		{"sub not an id", badSub, "pw", 400, "Invalid invite token"},
		{"user deleted", ghostTok, "pw", 404, "User not found"},
		{"user inactive", sleepyTok, "pw", 400, "User is inactive"},
		{"email changed", movedTok, "pw", 400, "Invalid invite token"},
		{"already accepted", doneTok, "pw", 400, "Invite already accepted"},
		{"password changed", resetTok, "pw", 400, "Invalid or expired invite token"},
		{"accepted, then unverified", againTok, "pw", 400, "Invalid or expired invite token"},
		{"empty password", okTok, "", 400, "Password should not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			accept(tc.token, tc.password).expectDetail(tc.status, tc.detail)
		})
	}
	for _, tc := range []struct {
		name string
		body any
		locs []string
	}{
		{"missing password", map[string]any{"token": okTok}, []string{"body.password"}},
		{"missing token", map[string]any{"password": "pw"}, []string{"body.token"}},
		{"missing both", map[string]any{}, []string{"body.token", "body.password"}},
		{"wrong types", map[string]any{"token": 1, "password": []any{}}, []string{"body.token", "body.password"}},
		{"no body", nil, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if locs := e.do(http.MethodPost, "/latest/user/accept-invite", "", tc.body).expect422(); !reflect.DeepEqual(locs, tc.locs) {
				t.Errorf("locs %v, want %v", locs, tc.locs)
			}
		})
	}
	// After all that, the good invite still works, once.
	accept(okTok, "finally").expect(200)
	e.loginWith("fine", "finally").expect(200)
}

// A token the reference server made (no password_fgpt) is accepted.
func TestAcceptReferenceInviteToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.addUser("legacy", unverified)
	tok := signed(t, testSecret, jwt.MapClaims{"sub": u.ID.String(), "email": u.Email, "purpose": "invite",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": tok, "password": "pw"}).expect(200)
	e.loginWith("legacy", "pw").expect(200)
}

func TestInviteTokenLifetime(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, api.Options{InviteTokenLifetime: time.Hour}, nil, nil)
	admin := e.token("admin", superuser)
	inv := e.invite(admin, map[string]any{"username": "bob", "email": "bob@example.org"})
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(inv["token"].(string), claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatal(err)
	}
	exp, iat := claims["exp"].(float64), claims["iat"].(float64)
	if exp-iat != 3600 {
		t.Errorf("exp - iat = %v, want 3600", exp-iat)
	}
}

// The public base of invite links: PUBLIC_BASE_URL, else forwarding
// headers when the client is a proxy (a non-global address), else the
// request itself.
func TestPublicBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("admin", superuser)
	admin := e.login("admin")

	preview := func(opts api.Options, remote, host string, tls bool, headers map[string]string) string {
		t.Helper()
		srv := api.New(e.store, e.tokens, opts, nil)
		req := httptest.NewRequest(http.MethodGet, "/latest/user/invite/url", nil)
		req.Host = host
		req.RemoteAddr = remote
		if tls {
			req.TLS = &cryptotls.ConnectionState{}
		}
		req.Header.Set("Authorization", "Bearer "+admin)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var m map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["accept_invite_url"] != m["public_base_url"]+"/user/accept-invite" {
			t.Errorf("accept_invite_url %q for base %q", m["accept_invite_url"], m["public_base_url"])
		}
		return m["public_base_url"]
	}
	proxy, direct := "10.0.0.5:41000", "8.8.8.8:41000"
	fwd := map[string]string{"X-Forwarded-Host": "api.kernelci.org", "X-Forwarded-Proto": "https"}
	tests := []struct {
		name    string
		opts    api.Options
		remote  string
		host    string
		tls     bool
		headers map[string]string
		want    string
	}{
		{"request host", api.Options{}, direct, "localhost:8001", false, nil, "http://localhost:8001"},
		{"request over TLS", api.Options{}, direct, "api.example.org", true, nil, "https://api.example.org"},
		{"configured", api.Options{PublicBaseURL: "https://kernelci.example/api/"}, proxy, "x", false, fwd, "https://kernelci.example/api"},
		{"X-Forwarded from a proxy", api.Options{}, proxy, "internal:8001", false, fwd, "https://api.kernelci.org"},
		{"X-Forwarded from loopback", api.Options{}, "127.0.0.1:1", "internal:8001", false, fwd, "https://api.kernelci.org"},
		{"X-Forwarded from IPv6 ULA", api.Options{}, "[fd00::1]:1", "internal:8001", false, fwd, "https://api.kernelci.org"},
		{"X-Forwarded from the internet is ignored", api.Options{}, direct, "api.example.org", false, fwd, "http://api.example.org"},
		{"X-Forwarded from a public IPv6 is ignored", api.Options{}, "[2606:4700::1111]:1", "api.example.org", false, fwd, "http://api.example.org"},
		{"several X-Forwarded-Host", api.Options{}, proxy, "internal", false, map[string]string{"X-Forwarded-Host": "front.example, mid.example"}, "http://front.example"},
		{"proto only", api.Options{}, proxy, "internal", false, map[string]string{"X-Forwarded-Proto": "https"}, "https://internal"},
		{"Forwarded", api.Options{}, proxy, "internal", false, map[string]string{"Forwarded": `for=192.0.2.1;host="kci.example:8443";proto=https, for=10.0.0.1;host=inner`}, "https://kci.example:8443"},
		{"Forwarded wins", api.Options{}, proxy, "internal", false, map[string]string{"Forwarded": "host=a.example;proto=http", "X-Forwarded-Host": "b.example", "X-Forwarded-Proto": "https"}, "http://a.example"},
		{"bad forwarded host", api.Options{}, proxy, "internal", false, map[string]string{"X-Forwarded-Host": "evil.example/path?x=<script>"}, "http://internal"},
		{"bad forwarded proto", api.Options{}, proxy, "internal", false, map[string]string{"X-Forwarded-Proto": "javascript"}, "http://internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := preview(tc.opts, tc.remote, tc.host, tc.tls, tc.headers); got != tc.want {
				t.Errorf("public base %q, want %q", got, tc.want)
			}
		})
	}

	// The invite itself uses the same base.
	inv := e.do(http.MethodPost, "/user/invite", admin, map[string]any{"username": "x", "email": "x@example.org", "send_email": false, "return_token": true}).expect(200).object()
	if !strings.HasPrefix(inv["invite_url"].(string), e.base+"/user/accept-invite?token=") {
		t.Errorf("invite_url %v", inv["invite_url"])
	}
}

func TestPasswordResetWithToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser("alice")
	bob := e.addUser("bob")
	sleeper := e.addUser("sleeper")
	ctx := context.Background()
	reset := func(tok, pw string) *response {
		return e.do(http.MethodPost, "/latest/user/reset-password", "", map[string]string{"token": tok, "password": pw})
	}

	tok := e.resetToken(alice)
	r := reset(tok, "reset pw").expect(200)
	if r.value() != nil {
		t.Errorf("body %s, want null", r.body)
	}
	e.loginWith("alice", "reset pw").expect(200)
	e.loginWith("alice", testPassword).expect(400)

	sleeperTok := e.resetToken(sleeper)
	sleeper.IsActive = false
	if err := e.store.UpdateUser(ctx, sleeper); err != nil {
		t.Fatal(err)
	}
	bobOld := e.resetToken(bob)
	e.do(http.MethodPatch, "/latest/user/me", e.login("bob"), map[string]any{"password": "changed"}).expect(200)
	gone := e.addUser("gone")
	goneTok := e.resetToken(gone)
	if err := e.store.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	bobUser := e.storedUser(bob)
	wrongAud, _ := e.tokens.IssueWith(map[string]any{"sub": bob.ID.String(), "password_fgpt": "x", "aud": "fastapi-users:verify"}, time.Hour)
	noFgpt, _ := e.tokens.IssueWith(map[string]any{"sub": bob.ID.String(), "aud": "fastapi-users:reset"}, time.Hour)
	badFgpt, _ := e.tokens.IssueWith(map[string]any{"sub": bob.ID.String(), "password_fgpt": "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQxMjM0NTY$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "aud": "fastapi-users:reset"}, time.Hour)
	expired := signed(t, testSecret, jwt.MapClaims{"sub": bob.ID.String(), "password_fgpt": "x", "aud": "fastapi-users:reset", "exp": time.Now().Add(-time.Second).Unix()})
	invite := signed(t, testSecret, jwt.MapClaims{"sub": bob.ID.String(), "email": bob.Email, "purpose": "invite", "exp": time.Now().Add(time.Hour).Unix()})
	access, _ := e.tokens.Issue(bob.ID.String())

	for _, tc := range []struct{ name, token string }{
		{"used twice", tok},
		{"password changed since", bobOld},
		{"inactive user", sleeperTok},
		{"deleted user", goneTok},
		{"garbage", "garbage"},
		{"wrong audience", wrongAud},
		{"no fingerprint", noFgpt},
		{"wrong fingerprint", badFgpt},
		{"expired", expired},
		{"invite token", invite},
		{"access token", access},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset(tc.token, "whatever").expectDetail(400, "RESET_PASSWORD_BAD_TOKEN")
		})
	}
	if got := e.storedUser(bob); got.HashedPassword != bobUser.HashedPassword {
		t.Error("a refused reset changed bob's password")
	}
	// An empty password is refused without using the token up.
	good := e.resetToken(bob)
	r = reset(good, "").expect(400)
	jsonEqual(t, "body", r.value(), map[string]any{"detail": map[string]any{"code": "RESET_PASSWORD_INVALID_PASSWORD", "reason": "Password should not be empty"}})
	reset(good, "fine").expect(200)
	e.loginWith("bob", "fine").expect(200)

	for _, tc := range []struct {
		name string
		body any
		locs []string
	}{
		{"missing", map[string]any{}, []string{"body.token", "body.password"}},
		{"types", map[string]any{"token": 1, "password": "x"}, []string{"body.token"}},
	} {
		if locs := e.do(http.MethodPost, "/latest/user/reset-password", "", tc.body).expect422(); !reflect.DeepEqual(locs, tc.locs) {
			t.Errorf("%s: locs %v, want %v", tc.name, locs, tc.locs)
		}
	}
}

func TestForgotPasswordRevealsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice")
	e.addUser("sleeper", inactive)
	for _, addr := range []string{"alice@example.org", "ALICE@example.org", "nobody@example.org", "sleeper@example.org"} {
		r := e.do(http.MethodPost, "/latest/user/forgot-password", "", map[string]string{"email": addr}).expect(http.StatusAccepted)
		if r.value() != nil {
			t.Errorf("%s: body %s, want null", addr, r.body)
		}
	}
	for _, tc := range []struct {
		body any
		locs []string
	}{
		{map[string]any{}, []string{"body.email"}},
		{map[string]any{"email": "alice"}, []string{"body.email"}},
		{map[string]any{"email": 5}, []string{"body.email"}},
		{nil, []string{"body"}},
	} {
		if locs := e.do(http.MethodPost, "/latest/user/forgot-password", "", tc.body).expect422(); !reflect.DeepEqual(locs, tc.locs) {
			t.Errorf("%v: locs %v, want %v", tc.body, locs, tc.locs)
		}
	}
}

func TestInvitePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	inv := e.invite(admin, map[string]any{"username": "zoe", "email": "zoe@example.org"})
	done := e.invite(admin, map[string]any{"username": "done", "email": "done@example.org"})
	e.do(http.MethodPost, "/latest/user/accept-invite", "", map[string]string{"token": done["token"].(string), "password": "pw"}).expect(200)

	page := func(path string) (string, http.Header) {
		t.Helper()
		r := e.doHeaders(http.MethodGet, path, map[string]string{"Accept": "text/html"}, nil).expect(200)
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		return string(r.body), r.header
	}
	for _, path := range []string{"/latest/user/invite", "/user/invite", "/v0/user/invite/"} {
		body, h := page(path)
		for _, want := range []string{`<form id="invite-form"`, `id="token"`, `id="username"`, `id="email"`, `id="groups"`,
			`id="is_superuser"`, `id="send_email"`, `id="resend"`, `name="viewport"`, "expires in 7 days"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		// Email is off here: the box is unticked and disabled.
		if !strings.Contains(body, `id="send_email" name="send_email" type="checkbox" disabled>`) || !strings.Contains(body, "Email is not configured") {
			t.Errorf("send_email is not disabled without SMTP")
		}
		checkPageSecurity(t, body, h)
	}

	body, h := page("/latest/user/accept-invite?token=" + inv["token"].(string))
	for _, want := range []string{`<form id="accept-form"`, `value="zoe"`, `id="password"`, `id="password2"`, inv["token"].(string), "valid until"} {
		if !strings.Contains(body, want) {
			t.Errorf("accept page lacks %q", want)
		}
	}
	checkPageSecurity(t, body, h)
	// Opening the page does not use the invite.
	if u := e.storedUser(&model.User{ID: mustParseID(t, inv["user"].(map[string]any)["id"].(string))}); u.IsVerified {
		t.Error("viewing the page verified the user")
	}

	for _, tc := range []struct{ name, query, want string }{
		{"no token", "", "has no invite token"},
		{"bad token", "?token=abc", "not valid or has expired"},
		{"accepted", "?token=" + done["token"].(string), "already been accepted"},
		{"markup in the token", "?token=%3Cscript%3Ealert(1)%3C/script%3E", "not valid or has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := page("/user/accept-invite" + tc.query)
			if !strings.Contains(body, tc.want) || strings.Contains(body, `id="accept-form"`) {
				t.Errorf("page for %s: %.400s", tc.name, body)
			}
			if strings.Contains(body, "<script>alert") {
				t.Error("the token was not escaped")
			}
		})
	}
}

func checkPageSecurity(t *testing.T, body string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	i := strings.Index(csp, "'nonce-")
	if i < 0 {
		t.Fatalf("CSP without a nonce: %q", csp)
	}
	nonce := csp[i+7 : i+7+strings.IndexByte(csp[i+7:], '\'')]
	if !strings.Contains(body, `<script nonce="`+nonce+`">`) || !strings.Contains(body, `<style nonce="`+nonce+`">`) {
		t.Error("script or style without the CSP nonce")
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// No external assets.
	for _, bad := range []string{"http://", "https://", "src=\"//"} {
		if strings.Contains(body, bad) {
			t.Errorf("page refers to an external resource (%q)", bad)
		}
	}
}
