package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// publicUser is the user as clients see it (UserRead): never the
// password hash (model.User leaves it out of JSON), groups always a list.
func publicUser(u *model.User) *model.User {
	if u.Groups == nil {
		c := *u
		c.Groups = []model.Group{}
		return &c
	}
	return u
}

// readForm parses an urlencoded or multipart form body within the body
// limit and checks that the required fields are present (422 otherwise).
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, required ...string) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	parse := r.ParseForm
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		parse = func() error { return r.ParseMultipartForm(s.opts.MaxBodyBytes) }
	}
	if err := parse(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("Invalid form body")
	}
	var missing []string
	for _, f := range required {
		if _, ok := r.PostForm[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, formMissing(missing)
	}
	return r.PostForm, nil
}

var errBadCredentials = badRequest("LOGIN_BAD_CREDENTIALS")

// tooManyAttempts is the 429 of the login limiter.
func tooManyAttempts(wait time.Duration) *Error {
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &Error{Status: http.StatusTooManyRequests, Detail: "LOGIN_TOO_MANY_ATTEMPTS",
		Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
}

// checkCredentials is fastapi-users' authenticate with the login
// limiter around it: it answers the active user whose password matches,
// else LOGIN_BAD_CREDENTIALS (or 429 while the username or the client is
// blocked). An unknown username costs a dummy hash comparison, so that
// timing does not tell whether it exists. A bcrypt or weaker argon2 hash
// is upgraded to the current argon2id parameters.
func (s *Server) checkCredentials(r *http.Request, username, password string) (*model.User, error) {
	client := s.clientAddr(r)
	wait, attempt := s.opts.LoginLimiter.Begin(client, username)
	if wait > 0 {
		return nil, tooManyAttempts(wait)
	}
	u, err := s.store.GetUserByUsername(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		auth.DummyVerify(password)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, rehash := auth.VerifyPassword(password, u.HashedPassword)
	if !ok || !u.IsActive {
		return nil, errBadCredentials
	}
	attempt.Succeed()
	if rehash {
		if h, err := auth.HashPassword(password); err == nil {
			u.HashedPassword = h
			if err := s.store.UpdateUser(r.Context(), u); err != nil {
				s.log.Warn("password hash upgrade failed", "user", u.Username, "err", err)
			}
		}
	}
	return u, nil
}

// postLogin exchanges form credentials for a bearer token.
func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := s.readForm(w, r, "username", "password")
	if err != nil {
		return err
	}
	u, err := s.checkCredentials(r, form.Get("username"), form.Get("password"))
	if err != nil {
		return err
	}
	if !u.IsVerified {
		return badRequest("LOGIN_USER_NOT_VERIFIED")
	}
	tok, err := s.tokens.IssueSession(u.ID.String(), u.TokenGeneration)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.Token{AccessToken: tok, TokenType: "bearer"})
}

// postLogout ends the caller's tokens (fastapi-users' POST /auth/logout,
// 204): every token of the account up to now shares its generation.
func (s *Server) postLogout(w http.ResponseWriter, r *http.Request) error {
	return s.endSessions(w, r, userFrom(r.Context()).ID)
}

// postUserLogout is an administrator's revocation of a user's tokens.
func (s *Server) postUserLogout(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userByPath(r)
	if err != nil {
		return err
	}
	return s.endSessions(w, r, u.ID)
}

// endSessions moves the user's token generation on (re-read, so that a
// concurrent change of the account is not undone), answering 204.
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request, id objectid.ID) error {
	u, err := s.store.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("User not found")
	}
	if err != nil {
		return err
	}
	u.EndSessions()
	if err := s.store.UpdateUser(r.Context(), u); errors.Is(err, store.ErrNotFound) {
		return notFound("User not found")
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getWhoami answers the authenticated user.
func (s *Server) getWhoami(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, publicUser(userFrom(r.Context())))
}

// postRegister: self-service registration is off; accounts come from
// invites. Like the reference, only an admin gets as far as the 404.
func (s *Server) postRegister(w http.ResponseWriter, r *http.Request) error {
	return notFound("User registration is disabled; use /user/invite instead.")
}

// userSchema types the filterable user fields for GET /users.
var userSchema = query.Schema{
	Types: map[string]query.FieldType{
		"id":          query.TypeObjectID,
		"username":    query.TypeString,
		"email":       query.TypeString,
		"groups.name": query.TypeString,
	},
	Skip: []string{"limit", "offset"},
}

// getUsers lists users (any active user), filtered by attributes.
// Filters on the password hash are refused: they would be an oracle.
func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) error {
	for key := range r.URL.Query() {
		field, _, _ := strings.Cut(key, "__")
		if field == "hashed_password" || strings.HasPrefix(field, "hashed_password.") || field == "password" {
			return &query.Error{Param: key, Msg: "password fields cannot be queried"}
		}
	}
	f, err := query.Parse(r.URL.Query(), userSchema)
	if err != nil {
		return err
	}
	p, err := pageParams(r, 50, 1)
	if err != nil {
		return err
	}
	return writePage(w, r, f, p, s.store.FindUsers, s.store.CountUsers, func(u *model.User) any { return publicUser(u) })
}

// userByPath loads the {id} user the way fastapi-users' get_user_or_404
// does: a malformed id is as unknown as a missing one.
func (s *Server) userByPath(r *http.Request) (*model.User, error) {
	id, err := objectid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, notFound("Not Found")
	}
	u, err := s.store.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Not Found")
	}
	return u, err
}

// getUser answers one user (any active user).
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userByPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, publicUser(u))
}

// deleteUser removes a user (admin); the user's tokens die with it.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userByPath(r)
	if err != nil {
		return err
	}
	// The names stay reserved after the account is gone (checkNewUsername):
	// reserved first, so that a failure leaves the account, not a free name.
	for _, name := range append([]string{u.Username}, u.PastUsernames...) {
		if err := s.store.SetKV(r.Context(), reservedUsernames, model.UsernameKey(name), u.ID.String()); err != nil {
			return err
		}
	}
	if err := s.store.DeleteUser(r.Context(), u.ID); errors.Is(err, store.ErrNotFound) {
		return notFound("Not Found")
	} else if err != nil {
		return err
	}
	s.revokeUserTokens(r.Context(), u.ID)
	s.log.Info("user deleted", "user", u.Username, "id", u.ID.String(), "by", userFrom(r.Context()).Username)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userPatch is the reference's UserUpdateRequest: every field optional,
// null meaning "leave as is"; groups present replaces the list.
type userPatch struct {
	password, email, username         *string
	isActive, isSuperuser, isVerified *bool
	groups                            []string
	groupsSet                         bool
}

func (s *Server) decodeUserPatch(w http.ResponseWriter, r *http.Request) (*userPatch, error) {
	f, err := s.decodeFields(w, r)
	if err != nil {
		return nil, err
	}
	p := &userPatch{
		password:    f.OptStr("password"),
		email:       f.OptEmail("email"),
		isActive:    f.OptBool("is_active"),
		isSuperuser: f.OptBool("is_superuser"),
		isVerified:  f.OptBool("is_verified"),
		username:    f.OptStr("username"),
	}
	f.NonEmpty("username")
	p.groups, p.groupsSet = f.Groups("groups")
	return p, f.Err()
}

// applyPatch changes u as fastapi-users' update does, in memory: a new
// username must be free; a new email must be free and makes the account
// unverified again (unless an admin sets is_verified in the same
// request); a password is hashed. Only an admin changes is_active,
// is_superuser, is_verified and groups.
func (s *Server) applyPatch(ctx context.Context, u *model.User, p *userPatch, admin bool) error {
	if p.username != nil && *p.username != u.Username {
		if err := s.checkNewUsername(ctx, *p.username, u.ID); err != nil {
			return err
		}
		// The old name stays reserved to this account.
		if !slices.Contains(u.PastUsernames, u.Username) {
			u.PastUsernames = append(u.PastUsernames, u.Username)
		}
		u.Username = *p.username
	}
	if admin && p.groupsSet {
		groups, err := s.resolveGroups(ctx, p.groups)
		if err != nil {
			return err
		}
		u.Groups = groups
	}
	if p.password != nil {
		if *p.password == "" {
			return invalidPassword("UPDATE_USER_INVALID_PASSWORD", "Password should not be empty")
		}
		h, err := auth.HashPassword(*p.password)
		if err != nil {
			return err
		}
		u.HashedPassword = h
		u.EndSessions() // tokens issued under the old password end
	}
	if p.email != nil && *p.email != u.Email {
		other, err := s.userByEmail(ctx, *p.email)
		if err == nil && other.ID != u.ID {
			return badRequest("UPDATE_USER_EMAIL_ALREADY_EXISTS")
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u.Email = *p.email
		u.IsVerified = false
	}
	if admin {
		if p.isActive != nil {
			if u.IsActive && !*p.isActive {
				u.EndSessions() // reactivation does not revive old tokens
			}
			u.IsActive = *p.isActive
		}
		if p.isVerified != nil {
			u.IsVerified = *p.isVerified
		}
		if p.isSuperuser != nil {
			u.IsSuperuser = *p.isSuperuser
		}
	}
	return nil
}

// checkNewUsername answers 400 when name may not become the username of
// the account self (zero: a new account): a name that looks like another
// (model.CheckUsername), or one that another account holds or held,
// compared Unicode-normalised and case-folded (model.UsernameKey). Names
// once used stay with their account, so that no account can gain the
// nodes and subscriptions another owned under that name.
func (s *Server) checkNewUsername(ctx context.Context, name string, self objectid.ID) error {
	if err := model.CheckUsername(name); err != nil {
		return badRequest("Invalid username: " + err.Error())
	}
	key := model.UsernameKey(name)
	users, err := s.store.FindUsers(ctx, query.Filter{}, store.Page{})
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.ID != self && o.HoldsUsername(key) {
			return badRequest("Username already exists: " + name)
		}
	}
	// Names of deleted accounts stay reserved too.
	switch _, err := s.store.GetKV(ctx, reservedUsernames, key); {
	case err == nil:
		return badRequest("Username already exists: " + name + " (it belonged to a deleted account)")
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}

// reservedUsernames is the store key-value namespace that keeps the names
// of deleted accounts (the key is model.UsernameKey of the name, the value
// the deleted account's id). The '/' keeps it out of reach of the
// /kv/{namespace}/{key} routes, whose namespace is one path segment;
// export and import carry it with the other key-value pairs.
const reservedUsernames = "kernelci/reserved-usernames"

// saveUser stores u; a unique key taken meanwhile answers 400.
func (s *Server) saveUser(ctx context.Context, u *model.User, emailChanged bool) error {
	err := s.store.UpdateUser(ctx, u)
	switch {
	case errors.Is(err, store.ErrConflict) && emailChanged:
		return badRequest("UPDATE_USER_EMAIL_ALREADY_EXISTS")
	case errors.Is(err, store.ErrConflict):
		return badRequest("Username already exists: " + u.Username)
	case errors.Is(err, store.ErrNotFound):
		return notFound("Not Found")
	}
	return err
}

// patchMe updates the caller's own email, username and password. Groups
// are for admins only (400); is_superuser, is_active and is_verified are
// ignored.
func (s *Server) patchMe(w http.ResponseWriter, r *http.Request) error {
	p, err := s.decodeUserPatch(w, r)
	if err != nil {
		return err
	}
	if len(p.groups) > 0 {
		return badRequest("User groups can only be updated by an admin user")
	}
	u := *userFrom(r.Context())
	oldEmail := u.Email
	if err := s.applyPatch(r.Context(), &u, p, false); err != nil {
		return err
	}
	if err := s.saveUser(r.Context(), &u, u.Email != oldEmail); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, publicUser(&u))
}

// patchUser is the admin update of any user.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	p, err := s.decodeUserPatch(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("User not found with id: " + id.String())
	}
	if err != nil {
		return err
	}
	oldEmail := u.Email
	if err := s.applyPatch(r.Context(), u, p, true); err != nil {
		return err
	}
	if err := s.saveUser(r.Context(), u, u.Email != oldEmail); err != nil {
		return err
	}
	s.log.Info("user updated", "user", u.Username, "id", u.ID.String(), "by", userFrom(r.Context()).Username)
	return writeJSON(w, http.StatusOK, publicUser(u))
}

// postUpdatePassword changes a password given the current one (form
// username, password, new_password); no token needed. Failures count
// against the login limits.
func (s *Server) postUpdatePassword(w http.ResponseWriter, r *http.Request) error {
	form, err := s.readForm(w, r, "username", "password", "new_password")
	if err != nil {
		return err
	}
	u, err := s.checkCredentials(r, form.Get("username"), form.Get("password"))
	if err != nil {
		return err
	}
	np := form.Get("new_password")
	if np == "" {
		return invalidPassword("UPDATE_USER_INVALID_PASSWORD", "Password should not be empty")
	}
	if u.HashedPassword, err = auth.HashPassword(np); err != nil {
		return err
	}
	u.EndSessions()
	if err := s.saveUser(r.Context(), u, false); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nil)
}

// userByEmail finds the user with this email, ignoring case as
// fastapi-users' Beanie adapter does (exact match first).
func (s *Server) userByEmail(ctx context.Context, email string) (*model.User, error) {
	u, err := s.store.GetUserByEmail(ctx, email)
	if !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	users, err := s.store.FindUsers(ctx, query.Filter{Conds: []query.Cond{
		{Field: "email", Op: query.Re, Value: "(?i)^" + regexp.QuoteMeta(email) + "$"},
	}}, store.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, store.ErrNotFound
	}
	return users[0], nil
}

// randomSecret is a random URL-safe string of n bytes of entropy.
func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
