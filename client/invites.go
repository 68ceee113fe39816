package client

import (
	"context"
	"net/http"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// Invite creates (or with ResendIfExists re-sends) an invite
// (POST /user/invite, admin).
func (c *Client) Invite(ctx context.Context, req wire.InviteRequest) (*wire.InviteResponse, error) {
	if req.Groups == nil {
		req.Groups = []string{}
	}
	return call[wire.InviteResponse](ctx, c, http.MethodPost, "/user/invite", nil, req)
}

// InviteURL previews the links invites will carry (GET /user/invite/url,
// admin).
func (c *Client) InviteURL(ctx context.Context) (*wire.InviteURL, error) {
	return call[wire.InviteURL](ctx, c, http.MethodGet, "/user/invite/url", nil, nil)
}

// AcceptInvite sets the password of an invited account and verifies it
// (POST /user/accept-invite; the invite token is the proof, no bearer
// token is needed).
func (c *Client) AcceptInvite(ctx context.Context, token, password string) (*model.User, error) {
	return call[model.User](ctx, c, http.MethodPost, "/user/accept-invite", nil, wire.AcceptInviteRequest{Token: token, Password: password})
}
