package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// CreateToken creates an API token (POST /user/tokens); the answer's
// Token is the secret, shown this once.
func (c *Client) CreateToken(ctx context.Context, req wire.APITokenRequest) (*wire.APIToken, error) {
	return call[wire.APIToken](ctx, c, http.MethodPost, "/user/tokens", nil, req)
}

// ListTokens lists API tokens (GET /user/tokens): the caller's, or for a
// superuser another user's (username) or everyone's (all).
func (c *Client) ListTokens(ctx context.Context, username string, all bool) ([]wire.APIToken, error) {
	q := url.Values{}
	if username != "" {
		q.Set("username", username)
	}
	if all {
		q.Set("all", "true")
	}
	var out []wire.APIToken
	if err := c.do(ctx, http.MethodGet, "/user/tokens", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeToken revokes an API token (DELETE /user/tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/user/tokens/"+url.PathEscape(id), nil, nil, nil)
}
