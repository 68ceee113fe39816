package api_test

// Account hardening (issue 12, items 1 and 2).

import (
	"fmt"
	"net/http"
	"testing"
)

func TestUsernamesThatLookAlikeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	for i, name := range []string{"Admin", "ADMIN", "admin ", " admin", "ad\u0000min", "ad\nmin", "ａｄｍｉｎ", "ad\u200bmin"} {
		r := e.do("POST", "/latest/user/invite", admin, map[string]any{"username": name,
			"email": fmt.Sprintf("x%d@example.org", i), "send_email": false})
		if r.status != http.StatusBadRequest {
			t.Errorf("invite %q: status %d, want 400 (%s)", name, r.status, r.body)
		}
	}
	bob := e.token("bob")
	for _, name := range []string{"ADMIN", "Admin", "bob\t", "bo\u0000b"} {
		if r := e.do("PATCH", "/latest/user/me", bob, map[string]any{"username": name}); r.status != http.StatusBadRequest {
			t.Errorf("rename to %q: status %d, want 400 (%s)", name, r.status, r.body)
		}
	}
	// The case one registered with still logs in; a new distinct name is fine.
	e.do("PATCH", "/latest/user/me", bob, map[string]any{"username": "Bobby"}).expect(http.StatusOK)
	e.login("Bobby")
}

func TestOwnershipDoesNotFollowAReusedName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	node := e.postNode(alice, checkoutBody())
	sub := e.do("POST", "/latest/subscribe/node?subscriber_id=alice-sub", alice, nil).expect(http.StatusOK).object()
	e.do("PATCH", "/latest/user/me", alice, map[string]any{"username": "alice2"}).expect(http.StatusOK)
	bob := e.token("bob")
	// Bob cannot take Alice's old name, in any case.
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		e.do("PATCH", "/latest/user/me", bob, map[string]any{"username": name}).expect(http.StatusBadRequest)
	}
	// So he cannot edit her node nor listen on her subscription.
	n := e.getNode(node["id"])
	n["name"] = "taken"
	if r := e.do("PUT", "/latest/node/"+node["id"].(string), bob, n); r.status == http.StatusOK {
		t.Errorf("bob edited alice's node")
	}
	if r := e.do("GET", fmt.Sprintf("/latest/listen/%d", int64(sub["id"].(float64))), bob, nil); r.status == http.StatusOK {
		t.Errorf("bob listened on alice's subscription")
	}
	// Alice can take her old name back.
	e.do("PATCH", "/latest/user/me", e.login("alice2"), map[string]any{"username": "alice"}).expect(http.StatusOK)
	e.login("alice")
}

func TestDeletedAccountsNamesStayReserved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	carol := e.token("carol")
	e.postNode(carol, checkoutBody())
	e.do("PATCH", "/latest/user/me", carol, map[string]any{"username": "carol2"}).expect(http.StatusOK)
	me := e.do("GET", "/latest/whoami", e.login("carol2"), nil).expect(http.StatusOK).object()
	e.do("DELETE", "/latest/user/"+me["id"].(string), admin, nil).expect(http.StatusNoContent)
	// Neither the deleted account's name nor its earlier one can be taken
	// again, whatever the case: the nodes owned as "carol" stay out of reach.
	bob := e.token("bob")
	for _, name := range []string{"carol", "Carol2", "CAROL2"} {
		if r := e.do("PATCH", "/latest/user/me", bob, map[string]any{"username": name}); r.status != http.StatusBadRequest {
			t.Errorf("rename to %q: status %d, want 400 (%s)", name, r.status, r.body)
		}
		if r := e.do("POST", "/latest/user/invite", admin, map[string]any{"username": name,
			"email": name + "@example.org", "send_email": false}); r.status != http.StatusBadRequest {
			t.Errorf("invite %q: status %d, want 400 (%s)", name, r.status, r.body)
		}
	}
	// A fresh name is still free.
	e.do("PATCH", "/latest/user/me", bob, map[string]any{"username": "carol3"}).expect(http.StatusOK)
}
