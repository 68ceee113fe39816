package main

import (
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/wire"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	s.addUser("lab")

	var made wire.APIToken
	s.um(t, "create-token", "--name", "ci", "--scope", "node:write:lava-a,pubsub", "--expires-in", "30d").ok().into(&made)
	if !strings.HasPrefix(made.Token, "kci_") || made.Expires == nil || strings.Join(made.Scopes, ",") != "node:write:lava-a,pubsub,read" {
		t.Fatalf("create-token: %+v", made)
	}
	// The secret alone, for a lab, by the admin.
	r := s.um(t, "create-token", "--name", "lab-a", "--username", "lab", "--scope", "read", "--bare").ok()
	labTok := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(labTok, "kci_") || len(labTok) != 63 {
		t.Fatalf("--bare: %q", r.stdout)
	}
	// The token works as the CLI's credential.
	env := s.env(t)
	env["KCI_API_TOKEN"] = labTok
	if out := runCLI(t, env, "", "whoami").ok().stdout; !strings.Contains(out, `"username": "lab"`) {
		t.Fatalf("whoami with the lab's token: %s", out)
	}
	runCLI(t, env, "", "create-group", "x").fails(1, "403 Forbidden: This API token does not allow POST /user-groups")

	var list []wire.APIToken
	s.um(t, "list-tokens").ok().into(&list)
	if len(list) != 1 || list[0].Name != "ci" || list[0].Token != "" {
		t.Fatalf("list-tokens: %+v", list)
	}
	s.um(t, "list-tokens", "--all").ok().into(&list)
	if len(list) != 2 {
		t.Fatalf("list-tokens --all: %+v", list)
	}
	r = s.um(t, "list-tokens", "--username", "lab", "--output", "table").ok()
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "lab-a") {
		t.Fatalf("table:\n%s", r)
	}
	s.um(t, "create-token", "--name", "x").fails(2, "--name and --scope are required")
	s.um(t, "create-token", "--name", "x", "--scope", "write").fails(1, `400 Bad Request: Invalid scopes: unknown scope "write"`)

	// Revoke by name and by id.
	s.um(t, "revoke-token", "lab-a", "--username", "lab").ok()
	runCLI(t, env, "", "whoami").fails(1, "401 Unauthorized")
	s.um(t, "revoke-token", made.ID).ok()
	s.um(t, "revoke-token", "ci").fails(1, `no API token named "ci"`)
	s.um(t, "list-tokens", "--all").ok().into(&list)
	if len(list) != 0 {
		t.Fatalf("after revoking: %+v", list)
	}
}
