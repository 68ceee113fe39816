package auth

import (
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

func user(name string, superuser bool, groups ...string) *model.User {
	u := &model.User{Username: name, IsSuperuser: superuser, IsActive: true}
	for _, g := range groups {
		u.Groups = append(u.Groups, model.Group{Name: g})
	}
	return u
}

func node(owner *string, runtime any, userGroups ...string) *model.Node {
	n := &model.Node{Owner: owner, UserGroups: userGroups, Data: map[string]any{}}
	if runtime != nil {
		n.Data["runtime"] = runtime
	}
	return n
}

func TestCanEditNode(t *testing.T) {
	alice := model.Str("alice")
	tests := []struct {
		name string
		u    *model.User
		n    *model.Node
		want bool
	}{
		{"nil user", nil, node(alice, nil), false},
		{"nil node", user("alice", true), nil, false},

		{"superuser, someone else's node", user("root", true), node(alice, nil), true},
		{"superuser, ownerless node", user("root", true), node(nil, nil), true},

		{"owner", user("alice", false), node(alice, nil), true},
		{"owner, case differs", user("Alice", false), node(alice, nil), false},
		{"not owner", user("bob", false), node(alice, nil), false},
		{"ownerless node", user("bob", false), node(nil, nil), false},
		{"empty username vs empty owner", user("", false), node(model.Str(""), nil), false},

		{"edit-any group", user("bob", false, "node:edit:any"), node(alice, nil), true},
		{"edit-any constant", user("bob", false, model.EditAnyGroup), node(nil, nil), true},
		{"similar group name", user("bob", false, "node:edit"), node(alice, nil), false},

		{"member of a node user group", user("bob", false, "kernelci", "lab-x"), node(alice, nil, "lab-y", "lab-x"), true},
		{"no common user group", user("bob", false, "lab-z"), node(alice, nil, "lab-y", "lab-x"), false},
		{"node user groups but user has none", user("bob", false), node(alice, nil, "lab-x"), false},

		{"runtime node-editor", user("bob", false, "runtime:lava-collabora:node-editor"), node(alice, "lava-collabora"), true},
		{"runtime node-admin", user("bob", false, "runtime:lava-collabora:node-admin"), node(alice, "lava-collabora"), true},
		{"runtime other role", user("bob", false, "runtime:lava-collabora:viewer"), node(alice, "lava-collabora"), false},
		{"runtime editor of another runtime", user("bob", false, "runtime:k8s:node-editor"), node(alice, "lava-collabora"), false},
		{"runtime group, node without runtime", user("bob", false, "runtime:lava-collabora:node-editor"), node(alice, nil), false},
		{"runtime not a string", user("bob", false, "runtime:1:node-editor"), node(alice, 1), false},
		{"empty runtime", user("bob", false, "runtime::node-editor"), node(alice, ""), false},
		{"runtime group alone does not match user_groups", user("bob", false, "runtime:k8s:node-editor"), node(alice, nil, "runtime:k8s"), false},

		{"nil data map", user("bob", false, "x"), &model.Node{Owner: alice}, false},
		{"no rule", user("bob", false, "kernelci"), node(alice, "k8s", "lab"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanEditNode(tc.u, tc.n); got != tc.want {
				t.Errorf("CanEditNode = %v; want %v", got, tc.want)
			}
		})
	}
}
