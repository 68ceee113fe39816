package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// ListGroups answers one page of GET /user-groups (admin); filter holds
// attribute filters (name=..., name__re=...).
func (c *Client) ListGroups(ctx context.Context, filter url.Values, limit, offset int) (*wire.Page[[]model.Group], error) {
	return page[model.Group](ctx, c, "/user-groups", filter, limit, offset)
}

// AllGroups reads every page of GET /user-groups.
func (c *Client) AllGroups(ctx context.Context, filter url.Values) ([]model.Group, error) {
	return all[model.Group](ctx, c, "/user-groups", filter)
}

// GetGroup answers GET /user-groups/{id} (admin).
func (c *Client) GetGroup(ctx context.Context, id string) (*model.Group, error) {
	return call[model.Group](ctx, c, http.MethodGet, "/user-groups/"+url.PathEscape(id), nil, nil)
}

// ResolveGroupID turns a group id or name into its id: an ObjectId is
// taken as is, a name is looked up.
func (c *Client) ResolveGroupID(ctx context.Context, ref string) (string, error) {
	if LooksLikeID(ref) {
		return ref, nil
	}
	groups, err := c.AllGroups(ctx, url.Values{"name": {ref}})
	if err != nil {
		return "", err
	}
	var ids []string
	for _, g := range groups {
		if g.Name == ref {
			ids = append(ids, g.ID.String())
		}
	}
	return oneID("group", ref, ids)
}

// ResolveGroupName turns a group id or name into its name: a name is
// taken as is (the server checks it exists when it is assigned), an
// ObjectId is looked up.
func (c *Client) ResolveGroupName(ctx context.Context, ref string) (string, error) {
	if !LooksLikeID(ref) {
		return ref, nil
	}
	g, err := c.GetGroup(ctx, ref)
	if err != nil {
		return "", err
	}
	return g.Name, nil
}

// CreateGroup makes a group (POST /user-groups, admin).
func (c *Client) CreateGroup(ctx context.Context, name string) (*model.Group, error) {
	return call[model.Group](ctx, c, http.MethodPost, "/user-groups", nil, wire.GroupCreateRequest{Name: name})
}

// DeleteGroup removes a group (DELETE /user-groups/{id}, admin); the
// server refuses (409) while any user has it.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/user-groups/"+url.PathEscape(id), nil, nil, nil)
}
