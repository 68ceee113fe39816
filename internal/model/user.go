package model

import "github.com/kernelci/kernelci-api-go/internal/objectid"

// User is an API account. HashedPassword never leaves the server.
type User struct {
	ID             objectid.ID `json:"id"`
	Email          string      `json:"email"`
	HashedPassword string      `json:"-"`
	IsActive       bool        `json:"is_active"`
	IsSuperuser    bool        `json:"is_superuser"`
	IsVerified     bool        `json:"is_verified"`
	Username       string      `json:"username"`
	Groups         []Group     `json:"groups"`
	// TokenGeneration is the generation of the user's access tokens: a
	// token carrying an older one (no generation counts as 0) is refused.
	// Changing the password, deactivating the account, logging out and
	// an administrator's revocation move it on (EndSessions). Stored,
	// never on the wire.
	TokenGeneration int64 `json:"-"`
	// PastUsernames are the names the user had before renaming: they
	// stay reserved to this account, so that nobody else takes a name
	// nodes and subscriptions still carry as their owner. Stored, never
	// on the wire.
	PastUsernames []string `json:"-"`
}

// EndSessions makes every access token issued to u so far invalid.
func (u *User) EndSessions() { u.TokenGeneration++ }

// Group is a named user group (collection "usergroup").
type Group struct {
	ID   objectid.ID `json:"id"`
	Name string      `json:"name"`
}

// GroupNames lists the names of u's groups.
func (u *User) GroupNames() []string {
	names := make([]string, len(u.Groups))
	for i, g := range u.Groups {
		names[i] = g.Name
	}
	return names
}

// InGroup reports whether u belongs to the group called name.
func (u *User) InGroup(name string) bool {
	for _, g := range u.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

// EditAnyGroup is the group whose members may update any node.
const EditAnyGroup = "node:edit:any"
