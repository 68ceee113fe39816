package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/client"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// TestTokens: an API token made, listed (without its secret, by its user
// and by a superuser), used in place of a JWT within its scope and
// refused outside it (403), revoked (401); and the root probe.
func TestTokens(t *testing.T) {
	t.Parallel()
	c, st := newAPI(t)
	ctx := context.Background()
	root, err := c.Root(ctx)
	if err != nil || root["message"] != "KernelCI API" {
		t.Fatalf("root = %v, %v", root, err)
	}
	bob := &model.User{Username: "bob", Email: "bob@example.org", HashedPassword: "x", IsActive: true, IsVerified: true, Groups: []model.Group{}}
	if err := st.InsertUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	made, err := c.CreateToken(ctx, wire.APITokenRequest{Name: "bob-ci", Scopes: []string{"read"}, Username: "bob"})
	if err != nil || !strings.HasPrefix(made.Token, "kci_") || made.Username != "bob" {
		t.Fatalf("create = %+v, %v", made, err)
	}
	tc := client.New(c.BaseURL, made.Token)
	me, err := tc.Whoami(ctx)
	if err != nil || me.Username != "bob" {
		t.Fatalf("whoami with the token = %+v, %v", me, err)
	}
	own, err := tc.ListTokens(ctx, "", false)
	if err != nil || len(own) != 1 || own[0].ID != made.ID || own[0].Token != "" || own[0].LastUsed == nil {
		t.Fatalf("bob's own tokens = %+v, %v", own, err)
	}
	if _, err := tc.ListTokens(ctx, "", true); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("everyone's tokens with bob's token: %v", err)
	}
	if _, err := tc.CreateNode(ctx, &model.Node{Name: "n", Kind: "job", Path: []string{"n"}}); client.StatusOf(err) != http.StatusForbidden ||
		!strings.Contains(err.(*client.APIError).Message(), "node:write") {
		t.Fatalf("node write with a read token: %v", err)
	}
	for _, q := range []struct {
		user string
		all  bool
	}{{"bob", false}, {"", true}} {
		list, err := c.ListTokens(ctx, q.user, q.all)
		if err != nil || len(list) != 1 || list[0].Username != "bob" || list[0].Token != "" {
			t.Fatalf("admin's list %+v = %+v, %v", q, list, err)
		}
	}
	if err := c.RevokeToken(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Whoami(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("whoami with the revoked token: %v", err)
	}
	if list, err := c.ListTokens(ctx, "", true); err != nil || len(list) != 0 {
		t.Fatalf("tokens after the revocation = %+v, %v", list, err)
	}
}
