package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Password reset tokens are fastapi-users' (so that either server takes
// the other's): a JWT with sub, password_fgpt (a hash of the password
// hash) and aud "fastapi-users:reset", valid one hour. Setting a new
// password changes the hash, which kills the token and any other
// outstanding one.

const (
	resetAudience = "fastapi-users:reset"
	resetLifetime = time.Hour
)

var errResetBadToken = badRequest("RESET_PASSWORD_BAD_TOKEN")

// postForgotPassword always answers 202 with no body, whether or not the
// address belongs to an (active) account. The token is made and mailed
// in the background, so the response time tells nothing either.
func (s *Server) postForgotPassword(w http.ResponseWriter, r *http.Request) error {
	f, err := s.decodeFields(w, r)
	if err != nil {
		return err
	}
	addr := f.Email("email")
	if err := f.Err(); err != nil {
		return err
	}
	u, err := s.userByEmail(r.Context(), addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case !u.IsActive:
	case s.opts.Mailer == nil:
		s.log.Warn("password reset requested, but email is not configured", "user", u.Username)
	case !s.opts.LoginLimiter.ResetEmail(u.Email):
		s.log.Warn("password reset email not sent: too many for this address", "user", u.Username)
	default:
		resetURL := ""
		if s.opts.PublicBaseURL != "" {
			// Never a link built from request headers: anyone can send
			// this request, with any Host.
			resetURL = s.publicBaseURL(r) + "/user/reset-password"
		}
		ctx := context.WithoutCancel(r.Context())
		go s.mailResetToken(ctx, u, resetURL)
	}
	return writeJSON(w, http.StatusAccepted, nil)
}

func (s *Server) mailResetToken(ctx context.Context, u *model.User, resetURL string) {
	fp, err := fingerprint(u)
	if err != nil {
		s.log.Error("password reset token", "user", u.Username, "err", err)
		return
	}
	tok, err := s.tokens.IssueWith(map[string]any{
		"sub":            u.ID.String(),
		fingerprintClaim: fp,
		"aud":            resetAudience,
	}, resetLifetime)
	if err != nil {
		s.log.Error("password reset token", "user", u.Username, "err", err)
		return
	}
	msg, err := email.ResetPassword(u.Email, u.Username, tok, resetURL, s.now().Add(resetLifetime))
	if err == nil {
		err = s.sendEmail(ctx, msg)
	}
	if err != nil {
		s.log.Warn("password reset email not sent", "user", u.Username, "err", err)
		return
	}
	s.log.Info("password reset token sent", "user", u.Username)
}

// postResetPassword sets a new password with a reset token.
func (s *Server) postResetPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := s.useToken(w, r, s.resetPassword)
	if err != nil {
		return err
	}
	s.log.Info("password reset", "user", u.Username)
	msg, merr := email.ResetPasswordDone(u.Email, u.Username)
	s.notify(r.Context(), "password reset done", u, msg, merr)
	return writeJSON(w, http.StatusOK, nil)
}

func (s *Server) resetPassword(ctx context.Context, token, password string) (*model.User, error) {
	claims, err := s.tokens.VerifyWith(token, resetAudience)
	if err != nil {
		return nil, errResetBadToken
	}
	sub, _ := claims["sub"].(string)
	fp, _ := claims[fingerprintClaim].(string)
	id, err := objectid.Parse(sub)
	if err != nil || fp == "" {
		return nil, errResetBadToken
	}
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errResetBadToken
	}
	if err != nil {
		return nil, err
	}
	if !fingerprintOK(u, fp) || !u.IsActive {
		return nil, errResetBadToken
	}
	if password == "" {
		return nil, invalidPassword("RESET_PASSWORD_INVALID_PASSWORD", "Password should not be empty")
	}
	if u.HashedPassword, err = auth.HashPassword(password); err != nil {
		return nil, err
	}
	u.EndSessions()
	if err := s.store.UpdateUser(ctx, u); errors.Is(err, store.ErrNotFound) {
		return nil, errResetBadToken
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

// useToken decodes a {"token", "password"} body and runs use with them,
// one token use at a time (tokenUseMu), so that a token is used once.
func (s *Server) useToken(w http.ResponseWriter, r *http.Request,
	use func(ctx context.Context, token, password string) (*model.User, error)) (*model.User, error) {
	f, err := s.decodeFields(w, r)
	if err != nil {
		return nil, err
	}
	token, password := f.Str("token"), f.Str("password")
	if err := f.Err(); err != nil {
		return nil, err
	}
	tokenUseMu.Lock()
	defer tokenUseMu.Unlock()
	return use(r.Context(), token, password)
}

// invalidPassword is fastapi-users' answer to a refused new password.
func invalidPassword(code, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Detail: map[string]string{"code": code, "reason": reason}}
}
