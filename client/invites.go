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
	in, err := jsonBody(req)
	if err != nil {
		return nil, err
	}
	var out wire.InviteResponse
	if err := c.do(ctx, http.MethodPost, "/user/invite", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InviteURL previews the links invites will carry (GET /user/invite/url,
// admin).
func (c *Client) InviteURL(ctx context.Context) (*wire.InviteURL, error) {
	var out wire.InviteURL
	if err := c.do(ctx, http.MethodGet, "/user/invite/url", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AcceptInvite sets the password of an invited account and verifies it
// (POST /user/accept-invite; the invite token is the proof, no bearer
// token is needed).
func (c *Client) AcceptInvite(ctx context.Context, token, password string) (*model.User, error) {
	in, err := jsonBody(wire.AcceptInviteRequest{Token: token, Password: password})
	if err != nil {
		return nil, err
	}
	var out model.User
	if err := c.do(ctx, http.MethodPost, "/user/accept-invite", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
