package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// postLogin exchanges form credentials for a bearer token.
func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	parse := r.ParseForm
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		parse = func() error { return r.ParseMultipartForm(s.opts.MaxBodyBytes) }
	}
	if err := parse(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("Invalid form body")
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	var missing []string
	if _, ok := r.PostForm["username"]; !ok {
		missing = append(missing, "username")
	}
	if _, ok := r.PostForm["password"]; !ok {
		missing = append(missing, "password")
	}
	if len(missing) > 0 {
		return formMissing(missing)
	}
	u, err := s.store.GetUserByUsername(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		auth.DummyVerify(password)
		return badRequest("LOGIN_BAD_CREDENTIALS")
	}
	if err != nil {
		return err
	}
	ok, rehash := auth.VerifyPassword(password, u.HashedPassword)
	if !ok || !u.IsActive {
		return badRequest("LOGIN_BAD_CREDENTIALS")
	}
	if !u.IsVerified {
		return badRequest("LOGIN_USER_NOT_VERIFIED")
	}
	if rehash {
		if h, err := auth.HashPassword(password); err == nil {
			u.HashedPassword = h
			if err := s.store.UpdateUser(r.Context(), u); err != nil {
				s.log.Warn("password hash upgrade failed", "user", u.Username, "err", err)
			}
		}
	}
	tok, err := s.tokens.Issue(u.ID.String())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "token_type": "bearer"})
}

// getWhoami answers the authenticated user.
func (s *Server) getWhoami(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, userFrom(r.Context()))
}

// userRoutes registers the user, group and invite endpoints.
func (s *Server) userRoutes() {
}
