package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// PageSize is the page length the All* listings ask for.
const PageSize = 100

// NotFoundError is a reference (username, email or group name) that
// matched nothing.
type NotFoundError struct {
	Kind string // "user" or "group"
	Ref  string
}

func (e *NotFoundError) Error() string {
	if e.Kind == "user" {
		return fmt.Sprintf("no user found with username or email %q", e.Ref)
	}
	return fmt.Sprintf("no %s found with name %q", e.Kind, e.Ref)
}

// AmbiguousError is a reference that matched more than one account.
type AmbiguousError struct {
	Kind string
	Ref  string
	IDs  []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q matches %d %ss (%v): use the id", e.Ref, len(e.IDs), e.Kind, e.IDs)
}

// oneID is the only id a reference of the kind matched, else a
// *NotFoundError or an *AmbiguousError.
func oneID(kind, ref string, ids []string) (string, error) {
	switch len(ids) {
	case 0:
		return "", &NotFoundError{Kind: kind, Ref: ref}
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousError{Kind: kind, Ref: ref, IDs: ids}
}

// LooksLikeID reports whether ref is an ObjectId (24 hex characters);
// such a reference is taken as an id, anything else as a name.
func LooksLikeID(ref string) bool { return objectid.Valid(ref) }

// Login exchanges a username and password for a bearer token
// (POST /user/login, form-encoded).
func (c *Client) Login(ctx context.Context, username, password string) (*wire.Token, error) {
	var out wire.Token
	err := c.do(ctx, http.MethodPost, "/user/login", nil,
		formBody(url.Values{wire.FormUsername: {username}, wire.FormPassword: {password}}), &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Whoami answers the account of the token (GET /whoami).
func (c *Client) Whoami(ctx context.Context) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodGet, "/whoami", nil, nil)
}

// Me answers the account of the token (GET /user/me, the same as
// Whoami).
func (c *Client) Me(ctx context.Context) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodGet, "/user/me", nil, nil)
}

// ListUsers answers one page of GET /users. filter holds attribute
// filters (username=..., email=..., groups.name=...); limit 0 takes the
// server's default page length.
func (c *Client) ListUsers(ctx context.Context, filter url.Values, limit, offset int) (*wire.Page[[]model.User], error) {
	return page[model.User](ctx, c, "/users", filter, limit, offset)
}

// AllUsers reads every page of GET /users.
func (c *Client) AllUsers(ctx context.Context, filter url.Values) ([]model.User, error) {
	return all[model.User](ctx, c, "/users", filter)
}

// GetUser answers GET /user/{id}.
func (c *Client) GetUser(ctx context.Context, id string) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodGet, "/user/"+url.PathEscape(id), nil, nil)
}

// ResolveUserID turns an id, username or email into a user id: an
// ObjectId is taken as is, anything else must be the username or the
// email of exactly one account.
func (c *Client) ResolveUserID(ctx context.Context, ref string) (string, error) {
	if LooksLikeID(ref) {
		return ref, nil
	}
	var ids []string
	seen := map[objectid.ID]bool{}
	for _, field := range []string{"username", "email"} {
		users, err := c.AllUsers(ctx, url.Values{field: {ref}})
		if err != nil {
			return "", err
		}
		for _, u := range users {
			if (u.Username == ref || u.Email == ref) && !seen[u.ID] {
				seen[u.ID] = true
				ids = append(ids, u.ID.String())
			}
		}
	}
	return oneID("user", ref, ids)
}

// UpdateUser changes an account (PATCH /user/{id}, admin). body is a
// wire.UserUpdate or any JSON object of its fields.
func (c *Client) UpdateUser(ctx context.Context, id string, body any) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodPatch, "/user/"+url.PathEscape(id), nil, body)
}

// UpdateMe changes the caller's own username, email or password
// (PATCH /user/me).
func (c *Client) UpdateMe(ctx context.Context, body wire.UserUpdate) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodPatch, "/user/me", nil, body)
}

// DeleteUser removes an account (DELETE /user/{id}, admin).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/user/"+url.PathEscape(id), nil, nil, nil)
}

// UpdatePassword changes a password given the current one
// (POST /user/update-password, form-encoded; no token needed).
func (c *Client) UpdatePassword(ctx context.Context, username, password, newPassword string) error {
	return c.do(ctx, http.MethodPost, "/user/update-password", nil, formBody(url.Values{
		wire.FormUsername: {username}, wire.FormPassword: {password}, wire.FormNewPassword: {newPassword},
	}), nil)
}

// ForgotPassword asks for a reset token to be mailed to email
// (POST /user/forgot-password). The server answers the same whether or
// not the address belongs to an account.
func (c *Client) ForgotPassword(ctx context.Context, email string) error {
	in, err := jsonBody(wire.ForgotPasswordRequest{Email: email})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/user/forgot-password", nil, in, nil)
}

// ResetPassword sets a new password with a mailed reset token
// (POST /user/reset-password).
func (c *Client) ResetPassword(ctx context.Context, token, password string) error {
	in, err := jsonBody(wire.ResetPasswordRequest{Token: token, Password: password})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/user/reset-password", nil, in, nil)
}

// Logout ends the caller's sessions (POST /user/logout): the token, and
// every token of the account issued so far, answer 401 from now on; log
// in again for a new one.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/user/logout", nil, nil, nil)
}

// LogoutUser revokes every token issued to a user so far
// (POST /user/{id}/logout, admin); the account stays usable with a new
// login.
func (c *Client) LogoutUser(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/user/"+url.PathEscape(id)+"/logout", nil, nil, nil)
}
