// Package wire holds the JSON bodies of the API that have no type in
// internal/model: one definition, used by the server (internal/api) to
// answer and by the Go client (client/, the public Go client) to send and decode.
// Accounts and groups themselves are model.User and model.Group.
package wire

import "github.com/kernelci/kernelci-api-go/internal/model"

// Page is the envelope of the paginated lists (GET /nodes, /users,
// /user-groups, ...). Items is the list type: the server answers a
// Page[any], a client decodes a Page[[]model.User].
type Page[Items any] struct {
	Items  Items `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// ErrorResponse is the body of every error answer. Detail is a string,
// or for a 422 a list of {type, loc, msg, input} objects.
type ErrorResponse struct {
	Detail any `json:"detail"`
}

// Token is the answer of POST /user/login.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
}

// InviteRequest is the body of POST /user/invite (the reference's
// UserInviteRequest). The server reads it field by field, so a member left
// out takes its default (send_email: true, the others false); the client
// always sends every member.
type InviteRequest struct {
	Username       string   `json:"username"`
	Email          string   `json:"email"`
	Groups         []string `json:"groups"`
	IsSuperuser    bool     `json:"is_superuser"`
	SendEmail      bool     `json:"send_email"`
	ReturnToken    bool     `json:"return_token"`
	ResendIfExists bool     `json:"resend_if_exists"`
}

// InviteResponse is the answer of POST /user/invite (the reference's
// UserInviteResponse); invite_url and token are null unless return_token
// was set.
type InviteResponse struct {
	User            *model.User `json:"user"`
	EmailSent       bool        `json:"email_sent"`
	PublicBaseURL   string      `json:"public_base_url"`
	AcceptInviteURL string      `json:"accept_invite_url"`
	InviteURL       *string     `json:"invite_url"`
	Token           *string     `json:"token"`
}

// InviteURL is the answer of GET /user/invite/url: the links invites
// will carry.
type InviteURL struct {
	PublicBaseURL   string `json:"public_base_url"`
	AcceptInviteURL string `json:"accept_invite_url"`
}

// AcceptInviteRequest is the body of POST /user/accept-invite.
type AcceptInviteRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// ForgotPasswordRequest is the body of POST /user/forgot-password.
type ForgotPasswordRequest struct {
	Email string `json:"email"`
}

// ResetPasswordRequest is the body of POST /user/reset-password.
type ResetPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// GroupCreateRequest is the body of POST /user-groups.
type GroupCreateRequest struct {
	Name string `json:"name"`
}

// UserUpdate is the body of PATCH /user/{id} (admin) and PATCH /user/me
// (the reference's UserUpdateRequest): a nil member is left out and the
// field left as is. Groups, when sent, replaces the whole list (an empty
// list removes every group). Only an admin's update changes is_active,
// is_superuser, is_verified and groups.
type UserUpdate struct {
	Username    *string   `json:"username,omitempty"`
	Email       *string   `json:"email,omitempty"`
	Password    *string   `json:"password,omitempty"`
	IsActive    *bool     `json:"is_active,omitempty"`
	IsSuperuser *bool     `json:"is_superuser,omitempty"`
	IsVerified  *bool     `json:"is_verified,omitempty"`
	Groups      *[]string `json:"groups,omitempty"`
}

// Form fields of the two form-encoded endpoints, POST /user/login
// (username, password) and POST /user/update-password (username,
// password, new_password).
const (
	FormUsername    = "username"
	FormPassword    = "password"
	FormNewPassword = "new_password"
)
