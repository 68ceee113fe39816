package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	s.addUser("bob", "kernelci")
	s.addUser("carol")

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var p wire.Page[[]model.User]
		s.um(t, "list-users").ok().pretty().into(&p)
		var names []string
		for _, u := range p.Items {
			names = append(names, u.Username)
		}
		if !slices.Equal(names, []string{"admin", "bob", "carol"}) || p.Total != 3 || p.Offset != 0 {
			t.Fatalf("list-users = %v total %d", names, p.Total)
		}
		if g := p.Items[1].Groups; len(g) != 1 || g[0].Name != "kernelci" {
			t.Fatalf("bob's groups %v", g)
		}
	})
	t.Run("table", func(t *testing.T) {
		t.Parallel()
		r := s.um(t, "list-users", "--output", "table").ok()
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "USERNAME") {
			t.Fatalf("table:\n%s", r)
		}
		bob := strings.Fields(lines[2])
		if len(bob) != 7 || bob[1] != "bob" || bob[2] != "bob@example.org" || bob[3] != "yes" || bob[4] != "no" || bob[6] != "kernelci" {
			t.Fatalf("bob's row %q", lines[2])
		}
	})
	t.Run("global output flag before the command", func(t *testing.T) {
		t.Parallel()
		r := s.um(t, "--output", "table", "list-users").ok()
		if !strings.HasPrefix(r.stdout, "ID ") {
			t.Fatalf("table:\n%s", r)
		}
	})
	t.Run("one page", func(t *testing.T) {
		t.Parallel()
		var p wire.Page[[]model.User]
		s.um(t, "list-users", "--limit", "1", "--offset", "1").ok().into(&p)
		if len(p.Items) != 1 || p.Items[0].Username != "bob" || p.Limit != 1 || p.Offset != 1 || p.Total != 3 {
			t.Fatalf("page %+v", p)
		}
	})
	t.Run("bad output", func(t *testing.T) {
		t.Parallel()
		s.um(t, "list-users", "--output", "yaml").fails(2, `--output "yaml": want json or table`)
		s.um(t, "whoami", "--output", "table").fails(2, "--output table is only for list-users and list-groups")
		s.um(t, "list-users", "--limit", "x").fails(2, `invalid value "x" for flag -limit`)
		s.um(t, "list-users", "--limit", "-1").fails(2, "must not be negative")
	})
}

// list-users reads every page, not only the server's first 50.
func TestListUsersPaginates(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	ctx := context.Background()
	for i := range 230 {
		u := &model.User{Username: fmt.Sprintf("u%03d", i), Email: fmt.Sprintf("u%03d@example.org", i),
			HashedPassword: "x", IsActive: true, Groups: []model.Group{}}
		if err := s.store.InsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var p wire.Page[[]model.User]
	s.um(t, "list-users").ok().into(&p)
	if len(p.Items) != 231 || p.Total != 231 {
		t.Fatalf("%d users, total %d", len(p.Items), p.Total)
	}
	seen := map[string]bool{}
	for _, u := range p.Items {
		if seen[u.Username] {
			t.Fatalf("%s twice", u.Username)
		}
		seen[u.Username] = true
	}
	// A name on a late page resolves too.
	if u := s.um(t, "get-user", "u229").ok().userOut(); u.Email != "u229@example.org" {
		t.Fatalf("get-user u229: %+v", u)
	}
	r := s.um(t, "list-users", "--output", "table").ok()
	if n := strings.Count(r.stdout, "\n"); n != 232 {
		t.Fatalf("%d table lines", n)
	}
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	bob := s.addUser("bob")
	// A username that is another account's email makes the reference
	// ambiguous.
	s.addUser("dave")
	ctx := context.Background()
	odd := &model.User{Username: "dave@example.org", Email: "odd@example.org", HashedPassword: "x", IsActive: true, Groups: []model.Group{}}
	if err := s.store.InsertUser(ctx, odd); err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{bob.ID.String(), "bob", "bob@example.org"} {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			u := s.um(t, "get-user", ref).ok().pretty().userOut()
			if u.ID != bob.ID || u.Username != "bob" || u.Groups == nil {
				t.Fatalf("get-user %s = %+v", ref, u)
			}
		})
	}
	t.Run("unknown name", func(t *testing.T) {
		t.Parallel()
		s.um(t, "get-user", "nobody").fails(1, `no user found with username or email "nobody"`)
	})
	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		s.um(t, "get-user", "0123456789abcdef01234567").fails(1, "404 Not Found: Not Found")
	})
	t.Run("ambiguous", func(t *testing.T) {
		t.Parallel()
		s.um(t, "get-user", "dave@example.org").fails(1, `"dave@example.org" matches 2 users`, "use the id")
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		s.um(t, "get-user").fails(2, "missing ID|USERNAME|EMAIL")
		s.um(t, "get-user", "a", "b").fails(2, `unexpected argument "b"`)
		s.um(t, "get-user", "").fails(2, "ID|USERNAME|EMAIL must not be empty")
	})
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	bob := s.addUser("bob")
	env := s.envAs(t, bob)
	if u := runCLI(t, env, "", "whoami").ok().pretty().userOut(); u.Username != "bob" {
		t.Fatalf("whoami %s", u.Username)
	}
	env["KCI_API_TOKEN"] = "not-a-token"
	r := runCLI(t, env, "", "whoami").fails(1, "401 Unauthorized: Unauthorized", "refused the token from KCI_API_TOKEN")
	if strings.Contains(r.stderr, "not-a-token") {
		t.Fatalf("the token is printed:\n%s", r)
	}
}

// Every update-user flag of the seed, alone and combined.
func TestUpdateUserFlags(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	s.addGroup("runtime:pull-labs-demo:node-editor")
	s.addGroup("team-a")
	s.addGroup("runtime:lava-collabora:node-editor")

	type check func(t *testing.T, u *model.User)
	flags := func(active, super, verified bool) check {
		return func(t *testing.T, u *model.User) {
			t.Helper()
			if u.IsActive != active || u.IsSuperuser != super || u.IsVerified != verified {
				t.Fatalf("active %v superuser %v verified %v, want %v %v %v", u.IsActive, u.IsSuperuser, u.IsVerified, active, super, verified)
			}
		}
	}
	groups := func(want string) check {
		return func(t *testing.T, u *model.User) {
			t.Helper()
			if got := groupNamesOf(u); got != want {
				t.Fatalf("groups %q, want %q", got, want)
			}
		}
	}
	cases := []struct {
		name   string
		start  []string // groups of the user before
		args   []string
		checks []check
	}{
		{"inactive", nil, []string{"--inactive"}, []check{flags(false, false, true)}},
		{"active", nil, []string{"--inactive", "--active"}, []check{flags(true, false, true)}},
		{"superuser", nil, []string{"--superuser"}, []check{flags(true, true, true)}},
		{"no-superuser", nil, []string{"--superuser", "--no-superuser"}, []check{flags(true, false, true)}},
		{"unverified", nil, []string{"--unverified"}, []check{flags(true, false, false)}},
		{"verified", nil, []string{"--unverified", "--verified"}, []check{flags(true, false, true)}},
		{"all three", nil, []string{"--inactive", "--superuser", "--unverified"}, []check{flags(false, true, false)}},
		{"add-group keeps the others", []string{"team-a"}, []string{"--add-group", "runtime:pull-labs-demo:node-editor"},
			[]check{groups("team-a,runtime:pull-labs-demo:node-editor")}},
		{"add-group already there", []string{"team-a"}, []string{"--add-group", "team-a"}, []check{groups("team-a")}},
		{"add-group repeated and comma-separated", nil,
			[]string{"--add-group", "team-a", "--add-group", "runtime:pull-labs-demo:node-editor, runtime:lava-collabora:node-editor"},
			[]check{groups("team-a,runtime:pull-labs-demo:node-editor,runtime:lava-collabora:node-editor")}},
		{"remove-group keeps the others", []string{"team-a", "runtime:pull-labs-demo:node-editor"},
			[]string{"--remove-group", "runtime:pull-labs-demo:node-editor"}, []check{groups("team-a")}},
		{"remove-group not there", []string{"team-a"}, []string{"--remove-group", "runtime:pull-labs-demo:node-editor"}, []check{groups("team-a")}},
		{"set-groups", []string{"runtime:lava-collabora:node-editor"}, []string{"--set-groups", "runtime:pull-labs-demo:node-editor,team-a"},
			[]check{groups("runtime:pull-labs-demo:node-editor,team-a")}},
		{"set-groups empty clears", []string{"team-a"}, []string{"--set-groups", ""}, []check{groups("")}},
		{"set then add and remove", []string{"runtime:lava-collabora:node-editor"},
			[]string{"--set-groups", "team-a,runtime:pull-labs-demo:node-editor", "--add-group", "runtime:lava-collabora:node-editor", "--remove-group", "team-a"},
			[]check{groups("runtime:pull-labs-demo:node-editor,runtime:lava-collabora:node-editor")}},
		{"add and remove the same group removes it", []string{"team-a"},
			[]string{"--add-group", "runtime:pull-labs-demo:node-editor", "--remove-group", "runtime:pull-labs-demo:node-editor"}, []check{groups("team-a")}},
		{"data groups (the seed's)", []string{"team-a"}, []string{"--data", `{"groups": ["runtime:lava-collabora:node-editor"]}`},
			[]check{groups("runtime:lava-collabora:node-editor")}},
		{"data groups empty", []string{"team-a"}, []string{"--data", `{"groups": []}`}, []check{groups("")}},
		{"data fields with flags over them", nil,
			[]string{"--data", `{"is_active": false, "is_superuser": true, "email": "x@example.org"}`, "--active", "--email", "y@example.org"},
			[]check{flags(true, true, false), func(t *testing.T, u *model.User) {
				if u.Email != "y@example.org" {
					t.Fatalf("email %s", u.Email)
				}
			}}},
		{"email and verified together", nil, []string{"--email", "new@example.org", "--verified"}, []check{flags(true, false, true)}},
		{"username", nil, []string{"--username", "renamed-%s"}, []check{func(t *testing.T, u *model.User) {
			if !strings.HasPrefix(u.Username, "renamed-") {
				t.Fatalf("username %s", u.Username)
			}
		}}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("user%02d", i)
			u := s.addUser(name, tc.start...)
			args := []string{"update-user", name}
			for _, a := range tc.args {
				if strings.Contains(a, "%s") {
					a = fmt.Sprintf(a, name)
				}
				args = append(args, a)
			}
			out := s.um(t, args...).ok().pretty().userOut()
			if out.ID != u.ID {
				t.Fatalf("updated %s, want %s", out.ID, u.ID)
			}
			stored, err := s.store.GetUser(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.checks {
				c(t, out)
				c(t, stored)
			}
		})
	}
}

func TestUpdateUserRefsAndErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	team := s.addGroup("team-a")
	bob := s.addUser("bob")

	t.Run("by id, email, with a group id", func(t *testing.T) {
		s.um(t, "update-user", bob.ID.String(), "--add-group", team.ID.String()).ok()
		u := s.um(t, "update-user", "bob@example.org", "--inactive").ok().userOut()
		if groupNamesOf(u) != "team-a" || u.IsActive {
			t.Fatalf("%+v", u)
		}
		s.um(t, "update-user", "bob", "--remove-group", team.ID.String(), "--active").ok()
		if u := s.user("bob"); len(u.Groups) != 0 || !u.IsActive {
			t.Fatalf("%+v", u)
		}
	})
	t.Run("password", func(t *testing.T) {
		r := s.um(t, "update-user", "bob", "--password", "n3w-pass")
		r.ok()
		if strings.Contains(r.stdout+r.stderr, "n3w-pass") {
			t.Fatalf("the password is printed:\n%s", r)
		}
		if ok, _ := auth.VerifyPassword("n3w-pass", s.user("bob").HashedPassword); !ok {
			t.Fatal("password not set")
		}
		s.um(t, "login", "--username", "bob", "--password", "n3w-pass").ok()
	})
	t.Run("unknown group", func(t *testing.T) {
		s.um(t, "update-user", "bob", "--add-group", "nope").fails(1, "400 Bad Request: User group does not exist with name: nope")
		s.um(t, "update-user", "bob", "--set-groups", "team-a,nope").fails(1, "User group does not exist with name: nope")
		s.um(t, "update-user", "bob", "--add-group", "0123456789abcdef01234567").fails(1, "404 Not Found: User group not found with id")
	})
	t.Run("unknown user", func(t *testing.T) {
		s.um(t, "update-user", "nobody", "--active").fails(1, `no user found with username or email "nobody"`)
		s.um(t, "update-user", "0123456789abcdef01234567", "--active").fails(1, "404 Not Found: User not found with id: 0123456789abcdef01234567")
	})
	t.Run("server validation", func(t *testing.T) {
		s.um(t, "update-user", "bob", "--email", "not-an-email").fails(1, "422 Unprocessable Entity: body.email:")
		s.addUser("carol")
		s.um(t, "update-user", "bob", "--username", "carol").fails(1, "Username already exists: carol")
	})
	t.Run("usage", func(t *testing.T) {
		s.um(t, "update-user", "bob").fails(2, "no updates specified: use --data or flags")
		s.um(t, "update-user", "bob", "--data", "{").fails(2, "--data must be a JSON object")
		s.um(t, "update-user", "bob", "--data", `["x"]`).fails(2, "--data must be a JSON object")
		s.um(t, "update-user", "bob", "--data", "null").fails(2, "--data must be a JSON object")
		s.um(t, "update-user", "bob", "--data", `{"is_activ": true}`).fails(2, `unknown field "is_activ"`)
		s.um(t, "update-user", "bob", "--data", `{"is_active": "yes"}`).fails(2, "--data:")
		s.um(t, "update-user", "--inactive").fails(2, "missing ID|USERNAME|EMAIL")
		s.um(t, "update-user", "bob", "--active=maybe").fails(2, "invalid boolean value")
	})
	t.Run("not an admin", func(t *testing.T) {
		env := s.envAs(t, s.user("carol"))
		runCLI(t, env, "", "update-user", "bob", "--inactive").fails(1, "403 Forbidden", "needs an admin")
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	for _, name := range []string{"bob", "carol", "dave"} {
		s.addUser(name)
	}
	dave := s.user("dave")
	for _, ref := range []string{"bob", "carol@example.org", dave.ID.String()} {
		r := s.um(t, "delete-user", ref).ok()
		if r.stdout != "" || !strings.Contains(r.stderr, "Deleted user "+ref) {
			t.Fatalf("delete-user %s:\n%s", ref, r)
		}
	}
	var p wire.Page[[]model.User]
	s.um(t, "list-users").ok().into(&p)
	if len(p.Items) != 1 || p.Items[0].Username != "admin" {
		t.Fatalf("left: %+v", p.Items)
	}
	s.um(t, "delete-user", "bob").fails(1, `no user found with username or email "bob"`)
	s.um(t, "delete-user", dave.ID.String()).fails(1, "404 Not Found")
}

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	bob := s.addUser("bob")
	env := s.envAs(t, bob)
	u := runCLI(t, env, "", "update-me", "--email", "bob2@example.org", "--password", "p2").ok().userOut()
	if u.Email != "bob2@example.org" || u.IsVerified {
		t.Fatalf("%+v", u)
	}
	if ok, _ := auth.VerifyPassword("p2", s.user("bob").HashedPassword); !ok {
		t.Fatal("password not changed")
	}
	runCLI(t, env, "", "update-me").fails(2, "no updates specified")
}
