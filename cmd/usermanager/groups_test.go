package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

func TestGroups(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	const name = "runtime:lava-collabora:node-editor"

	var g model.Group
	s.um(t, "create-group", name).ok().pretty().into(&g)
	if g.Name != name || g.ID.IsZero() {
		t.Fatalf("create-group: %+v", g)
	}
	s.um(t, "create-group", name).fails(1, "400 Bad Request: User group already exists with name: "+name)

	var p wire.Page[[]model.Group]
	s.um(t, "list-groups").ok().pretty().into(&p)
	if len(p.Items) != 2 || p.Items[0].Name != model.EditAnyGroup || p.Items[1] != g || p.Total != 2 {
		t.Fatalf("list-groups: %+v", p)
	}
	r := s.um(t, "list-groups", "--output", "table").ok()
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[1] != "NAME" || strings.Fields(lines[2])[0] != g.ID.String() || strings.Fields(lines[2])[1] != name {
		t.Fatalf("table:\n%s", r)
	}
	s.um(t, "list-groups", "--limit", "1", "--offset", "1").ok().into(&p)
	if len(p.Items) != 1 || p.Items[0] != g || p.Limit != 1 || p.Offset != 1 {
		t.Fatalf("one page: %+v", p)
	}

	for _, ref := range []string{name, g.ID.String()} {
		var got model.Group
		s.um(t, "get-group", ref).ok().into(&got)
		if got != g {
			t.Fatalf("get-group %s = %+v", ref, got)
		}
	}
	s.um(t, "get-group", "nope").fails(1, `no group found with name "nope"`)
	s.um(t, "get-group", "0123456789abcdef01234567").fails(1, "404 Not Found: User group not found with id: 0123456789abcdef01234567")

	// A group in use cannot be deleted (409, the server's detail).
	s.addUser("bob", name)
	s.um(t, "delete-group", name).fails(1, "409 Conflict: User group is assigned to users and cannot be deleted")
	s.um(t, "update-user", "bob", "--remove-group", name).ok()
	r = s.um(t, "delete-group", name).ok()
	if r.stdout != "" || !strings.Contains(r.stderr, "Deleted group "+name+" ("+g.ID.String()+")") {
		t.Fatalf("delete-group:\n%s", r)
	}
	if _, err := s.store.GetGroup(context.Background(), g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("group still there: %v", err)
	}
	s.um(t, "delete-group", name).fails(1, `no group found with name "`+name+`"`)
	s.um(t, "delete-group", g.ID.String()).fails(1, "404 Not Found")

	// By id.
	other := s.addGroup("team-a")
	s.um(t, "delete-group", other.ID.String()).ok()

	s.um(t, "create-group").fails(2, "missing NAME")
	s.um(t, "create-group", "").fails(2, "NAME must not be empty")
	s.um(t, "delete-group").fails(2, "missing ID|NAME")

	// Groups are admin business.
	env := s.envAs(t, s.user("bob"))
	runCLI(t, env, "", "list-groups").fails(1, "403 Forbidden: Forbidden", "needs an admin")
	runCLI(t, env, "", "create-group", "x").fails(1, "403 Forbidden")
}

func TestAssignDeassignGroup(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	s.addGroup("a")
	b := s.addGroup("b")
	s.addGroup("c")
	s.addUser("bob", "a")
	u := s.um(t, "assign-group", "bob", "--group", "b,c", "--group", "a").ok().userOut()
	if groupNamesOf(u) != "a,b,c" {
		t.Fatalf("assign-group: %s", groupNamesOf(u))
	}
	u = s.um(t, "deassign-group", "bob@example.org", "--group", b.ID.String()).ok().userOut()
	if groupNamesOf(u) != "a,c" {
		t.Fatalf("deassign-group: %s", groupNamesOf(u))
	}
	s.um(t, "assign-group", "bob").fails(2, "no groups specified: use --group")
	s.um(t, "assign-group", "bob", "--group", "zzz").fails(1, "User group does not exist with name: zzz")
}
