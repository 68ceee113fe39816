package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPITokenSeedCurlExamples replays the authenticated curl examples of
// the user documentation (the seed's walk-through: users, nodes, pub/sub)
// with API tokens where they show a login JWT, headers as written there
// (GET /users sends the token without "Bearer").
func TestAPITokenSeedCurlExamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addGroup("kernelci")
	bob := e.token("bob")
	admin := e.token("admin", superuser)
	tok := secretOf(e.newToken(bob, "walkthrough", "node:write", "pubsub", "account"))
	adminTok := secretOf(e.newToken(admin, "admin", "admin"))

	// Get all existing users; get a user by id.
	e.doHeaders("GET", "/latest/users", map[string]string{"accept": "application/json", "Authorization": tok}, nil).expect(http.StatusOK)
	id := e.do("GET", "/latest/whoami", tok, nil).expect(http.StatusOK).object()["id"].(string)
	e.doHeaders("GET", "/latest/user/"+id, map[string]string{"accept": "application/json", "Content-Type": "application/json",
		"Authorization": "Bearer " + tok}, nil).expect(http.StatusOK)
	// Update own user account.
	e.do("PATCH", "/latest/user/me", tok, `{"email": "bob-new@kernelci.org"}`).expect(http.StatusOK)
	// Update an existing user account (admin only).
	e.do("PATCH", "/latest/user/"+id, adminTok, `{"email": "test-user@kernelci.org", "groups": ["kernelci"]}`).expect(http.StatusOK)

	// Create a node, then update it.
	node := e.do("POST", "/latest/node", tok, `{
"name":"checkout-test",
"kind":"checkout",
"path":["checkout-test"],
"data":{"kernel_revision":{"tree":"mainline","url":"https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
"branch":"master","commit":"2a987e65025e2b79c6d453b78cb5985ac6e5eb26","describe":"v5.16-rc4-31-g2a987e65025e"}}
}`).expect(http.StatusOK).object()
	nid := node["id"].(string)
	e.do("PUT", "/latest/node/"+nid, tok, `{
"name":"checkout-test",
"kind":"checkout",
"path":["checkout-test"],
"data":{"kernel_revision":{"tree":"mainline","url":"https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
"branch":"master","commit":"2a987e65025e2b79c6d453b78cb5985ac6e5eb26","describe":"v5.16-rc4-31-g2a987e65025e"}},
"created":"2022-02-02T11:23:03.157648"
}`).expect(http.StatusOK)

	// Pub/sub: subscribe, publish, listen, unsubscribe.
	sub := e.do("POST", "/latest/subscribe/abc", tok, nil).expect(http.StatusOK).object()
	sid := jsonNumber(sub["id"])
	e.do("POST", "/latest/publish/abc", tok, `{"data": {"sample_key":"sample_value"}}`).expect(http.StatusOK)
	msg := e.do("GET", "/latest/listen/"+sid, tok, nil).expect(http.StatusOK).object()
	if data, _ := msg["data"].(string); msg["channel"] != "abc" || !strings.Contains(data, `"sample_key":"sample_value"`) || !strings.Contains(data, `"owner":"bob"`) {
		t.Fatalf("listen: %v", msg)
	}
	e.do("GET", "/latest/unsubscribe/"+sid, tok, nil).expect(http.StatusOK)
}
