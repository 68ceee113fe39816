package wire

import "github.com/kernelci/kernelci-api-go/internal/model"

// APIToken is an API token as GET /user/tokens lists it (docs/tokens.md);
// Token, the secret, is set only in the answer of POST /user/tokens.
type APIToken struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Scopes   []string    `json:"scopes"`
	Prefix   string      `json:"prefix"`
	UserID   string      `json:"user_id"`
	Username string      `json:"username"`
	Created  model.Time  `json:"created"`
	Expires  *model.Time `json:"expires"`
	LastUsed *model.Time `json:"last_used"`
	Token    string      `json:"token,omitempty"`
}

// APITokenRequest is the body of POST /user/tokens.
type APITokenRequest struct {
	Name          string      `json:"name"`
	Scopes        []string    `json:"scopes"`
	ExpiresInDays int         `json:"expires_in_days,omitempty"`
	Expires       *model.Time `json:"expires,omitempty"`
	Username      string      `json:"username,omitempty"` // superusers: for this user
}
