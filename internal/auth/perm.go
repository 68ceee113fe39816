package auth

import "github.com/kernelci/kernelci-api-go/internal/model"

// CanEditNode reports whether u may update n, with the rules of the
// reference's _user_can_edit_node, in order:
//
//   - u is a superuser;
//   - u owns n (n.Owner equals u.Username);
//   - u is in the group "node:edit:any" (model.EditAnyGroup);
//   - u is in one of the groups listed in n.UserGroups;
//   - n.Data["runtime"] is a non-empty string RT and u is in the group
//     "runtime:RT:node-editor" or "runtime:RT:node-admin".
//
// A nil user or node, and an empty username, never match the owner rule
// (the reference cannot have such users).
func CanEditNode(u *model.User, n *model.Node) bool {
	if u == nil || n == nil {
		return false
	}
	if u.IsSuperuser {
		return true
	}
	if n.Owner != nil && u.Username != "" && *n.Owner == u.Username {
		return true
	}
	if len(u.Groups) == 0 {
		return false
	}
	groups := make(map[string]struct{}, len(u.Groups))
	for _, g := range u.Groups {
		groups[g.Name] = struct{}{}
	}
	in := func(name string) bool { _, ok := groups[name]; return ok }
	if in(model.EditAnyGroup) {
		return true
	}
	for _, g := range n.UserGroups {
		if in(g) {
			return true
		}
	}
	if rt, _ := n.Data["runtime"].(string); rt != "" {
		if in("runtime:"+rt+":node-editor") || in("runtime:"+rt+":node-admin") {
			return true
		}
	}
	return false
}
