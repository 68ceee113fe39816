package api

// API tokens (docs/tokens.md): persistent, scoped, revocable bearer
// tokens. POST/GET /user/tokens and DELETE /user/tokens/{id}; the check
// of a token on every authenticated request (authenticateAPIToken); the
// scope each route needs (routeScopes) and the runtime limit of
// node:write:RT (checkTokenNode).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

const (
	// tokenTouchEvery is how stale a token's last_used may get before a
	// request made with it writes the new time: one write per token and
	// minute at most, whatever the request rate.
	tokenTouchEvery = time.Minute
	// maxTokenNameLen bounds token names (in characters).
	maxTokenNameLen = 100
	// maxTokenDays bounds expires_in_days (a hundred years).
	maxTokenDays = 36500
)

// routeScopes is the scope an API token needs for each authenticated
// route (by its route pattern). A route not listed needs admin, so that a
// route added later is closed to scoped tokens until it is listed here
// (and in docs/tokens.md).
var routeScopes = map[string]string{
	"GET /whoami":      auth.ScopeRead,
	"GET /user/me":     auth.ScopeRead,
	"GET /users":       auth.ScopeRead,
	"GET /user/{id}":   auth.ScopeRead,
	"GET /user/tokens": auth.ScopeRead,

	"PATCH /user/me":           auth.ScopeAccount,
	"POST /user/logout":        auth.ScopeAccount,
	"POST /user/tokens":        auth.ScopeAccount,
	"DELETE /user/tokens/{id}": auth.ScopeAccount,

	"POST /node":         auth.ScopeNodeWrite,
	"PUT /node/{id}":     auth.ScopeNodeWrite,
	"PATCH /node/{id}":   auth.ScopeNodeWrite,
	"PUT /nodes/{id}":    auth.ScopeNodeWrite,
	"PUT /batch/nodeset": auth.ScopeNodeWrite,
	"POST /telemetry":    auth.ScopeTelemetry,

	"POST /subscribe/{channel}":    auth.ScopePubSub,
	"POST /unsubscribe/{sub_id}":   auth.ScopePubSub,
	"GET /unsubscribe/{sub_id}":    auth.ScopePubSub,
	"GET /listen/{sub_id}":         auth.ScopePubSub,
	"POST /publish/{channel}":      auth.ScopePubSub,
	"POST /push/{list}":            auth.ScopePubSub,
	"GET /pop/{list}":              auth.ScopePubSub,
	"GET /kv/{namespace}/{key}":    auth.ScopePubSub,
	"POST /kv/{namespace}/{key}":   auth.ScopePubSub,
	"DELETE /kv/{namespace}/{key}": auth.ScopePubSub,
}

// RouteScope is the scope an API token needs for the route pattern
// ("METHOD /path" as registered): for docs and tests.
func RouteScope(pattern string) string {
	if sc, ok := routeScopes[pattern]; ok {
		return sc
	}
	return auth.ScopeAdmin
}

const scopesKey ctxKey = 100

// scopesFrom returns the scopes of the request's credentials: auth.Full
// for a JWT.
func scopesFrom(ctx context.Context) auth.Scopes {
	sc, _ := ctx.Value(scopesKey).(auth.Scopes)
	return sc
}

// checkRouteScope answers 403 when the token's scopes do not cover the
// route being served.
func checkRouteScope(r *http.Request, sc auth.Scopes) error {
	if !sc.Limited() {
		return nil
	}
	need := RouteScope(r.Pattern)
	if sc.Allows(need) {
		return nil
	}
	return errorf(http.StatusForbidden, fmt.Sprintf("This API token does not allow %s: it needs the scope %s (it has %s)",
		r.Pattern, need, strings.Join(sc.List(), ", ")))
}

// checkTokenNode answers 403 when the request's token is limited to some
// runtimes (node:write:RT) and n's data.runtime is not one of them.
func checkTokenNode(r *http.Request, n *model.Node) error {
	sc := scopesFrom(r.Context())
	if sc.AllowsNode(n) {
		return nil
	}
	rt, _ := n.Data["runtime"].(string)
	return errorf(http.StatusForbidden, fmt.Sprintf("This API token may only write nodes whose data.runtime is %s; node %q has %q",
		strings.Join(sc.Runtimes(), " or "), n.Name, rt))
}

// authenticateAPIToken resolves an API token to its active user, its
// scopes and its expiry (zero: none); nil when the token is malformed,
// unknown (revoked), expired, or its user is gone or inactive. It reads
// the store; authenticate caches its successes for a short time
// (authcache.go), so a revocation holds at once on this process, at once
// on the others told through Options.OnAuthChange (Redis), and within
// Options.AuthCacheTTL on any other.
func (s *Server) authenticateAPIToken(ctx context.Context, tok string) (*model.User, auth.Scopes, time.Time, error) {
	ts := s.store
	if !auth.WellFormedAPIToken(tok) {
		return nil, auth.Scopes{}, time.Time{}, nil
	}
	t, err := ts.GetAPITokenByHash(ctx, auth.HashAPIToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, auth.Scopes{}, time.Time{}, nil
	}
	if err != nil {
		return nil, auth.Scopes{}, time.Time{}, err
	}
	now := s.now()
	var until time.Time
	if t.Expires != nil {
		if !now.Before(*t.Expires) {
			return nil, auth.Scopes{}, time.Time{}, nil
		}
		until = *t.Expires
	}
	sc, err := auth.ParseScopes(t.Scopes)
	if err != nil {
		s.log.Error("API token with invalid stored scopes refused", "token", t.ID.String(), "err", err)
		return nil, auth.Scopes{}, time.Time{}, nil
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, auth.Scopes{}, time.Time{}, nil
	}
	if err != nil {
		return nil, auth.Scopes{}, time.Time{}, err
	}
	if !u.IsActive {
		return nil, auth.Scopes{}, time.Time{}, nil
	}
	if t.LastUsed == nil || now.Sub(*t.LastUsed) >= tokenTouchEvery {
		if err := ts.TouchAPIToken(context.WithoutCancel(ctx), t.ID, now); err != nil {
			s.log.Warn("could not record the use of an API token", "token", t.ID.String(), "err", err)
		}
	}
	return u, sc, until, nil
}

func tokenJSON(t *store.APIToken, username string) wire.APIToken {
	opt := func(p *time.Time) *model.Time {
		if p == nil {
			return nil
		}
		v := model.T(*p)
		return &v
	}
	return wire.APIToken{ID: t.ID.String(), Name: t.Name, Scopes: t.Scopes, Prefix: t.Prefix,
		UserID: t.UserID.String(), Username: username, Created: model.T(t.Created),
		Expires: opt(t.Expires), LastUsed: opt(t.LastUsed)}
}

// tokenRequest is the body of POST /user/tokens.
type tokenRequest struct {
	Name          string
	Scopes        []string
	Expires       *time.Time
	Username      string // superusers: create the token for this user
	hasUsername   bool
	expiresInDays int
}

func tokenFieldError(field, typ, msg string, input any) error {
	return &model.ValidationError{Errors: []model.FieldError{{Type: typ, Loc: []any{"body", field}, Msg: msg, Input: input}}}
}

func decodeTokenRequest(raw map[string]any) (*tokenRequest, error) {
	var req tokenRequest
	for k := range raw {
		switch k {
		case "name", "scopes", "expires", "expires_in_days", "username":
		default:
			return nil, tokenFieldError(k, "extra_forbidden", "Extra inputs are not permitted", raw[k])
		}
	}
	name, ok := raw["name"].(string)
	if _, has := raw["name"]; !has {
		return nil, tokenFieldError("name", "missing", "Field required", nil)
	}
	if !ok {
		return nil, tokenFieldError("name", "string_type", "Input should be a valid string", raw["name"])
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxTokenNameLen || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return nil, badRequest(fmt.Sprintf("Invalid token name %q: it must be 1 to %d printable characters", name, maxTokenNameLen))
	}
	req.Name = name
	list, has := raw["scopes"]
	if !has {
		return nil, tokenFieldError("scopes", "missing", "Field required", nil)
	}
	items, ok := list.([]any)
	if !ok {
		return nil, tokenFieldError("scopes", "list_type", "Input should be a valid list", list)
	}
	for _, it := range items {
		sc, ok := it.(string)
		if !ok {
			return nil, tokenFieldError("scopes", "string_type", "Input should be a valid string", it)
		}
		req.Scopes = append(req.Scopes, sc)
	}
	if v, has := raw["expires_in_days"]; has && v != nil {
		n, ok := v.(json.Number)
		d, err := n.Int64()
		if !ok || err != nil {
			return nil, tokenFieldError("expires_in_days", "int_type", "Input should be a valid integer", v)
		}
		if d < 1 || d > maxTokenDays {
			return nil, badRequest(fmt.Sprintf("expires_in_days must be from 1 to %d", maxTokenDays))
		}
		req.expiresInDays = int(d)
	}
	if v, has := raw["expires"]; has && v != nil {
		str, ok := v.(string)
		if !ok {
			return nil, tokenFieldError("expires", "datetime_type", "Input should be a valid datetime", v)
		}
		t, err := isotime.Parse(str)
		if err != nil {
			return nil, tokenFieldError("expires", "datetime_from_date_parsing", "Input should be a valid datetime", v)
		}
		if req.expiresInDays > 0 {
			return nil, badRequest("Give expires or expires_in_days, not both")
		}
		req.Expires = &t
	}
	if v, has := raw["username"]; has && v != nil {
		str, ok := v.(string)
		if !ok {
			return nil, tokenFieldError("username", "string_type", "Input should be a valid string", v)
		}
		req.Username, req.hasUsername = str, true
	}
	return &req, nil
}

// postToken creates an API token for the caller (or, for a superuser, for
// the user named in "username") and answers it, secret included, once.
func (s *Server) postToken(w http.ResponseWriter, r *http.Request) error {
	ts := s.store
	raw, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeTokenRequest(raw)
	if err != nil {
		return err
	}
	ctx := r.Context()
	caller, callerScopes := userFrom(ctx), scopesFrom(ctx)
	owner := caller
	if req.hasUsername && req.Username != caller.Username {
		if !caller.IsSuperuser || !callerScopes.Allows(auth.ScopeAdmin) {
			return errorf(http.StatusForbidden, "Only superusers (with a JWT or an admin token) create tokens for other users")
		}
		owner, err = s.store.GetUserByUsername(ctx, req.Username)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("User not found: " + req.Username)
		} else if err != nil {
			return err
		}
		if !owner.IsActive {
			return badRequest("User " + owner.Username + " is inactive")
		}
	}
	scopes, err := auth.ParseScopes(req.Scopes)
	if err != nil {
		return badRequest("Invalid scopes: " + err.Error())
	}
	if scopes.Allows(auth.ScopeAdmin) && !owner.IsSuperuser {
		return errorf(http.StatusForbidden, "The scope admin is for superusers only: a token never does more than its user")
	}
	if !callerScopes.Covers(scopes) {
		return errorf(http.StatusForbidden, fmt.Sprintf("An API token can only create tokens within its own scopes (%s)",
			strings.Join(callerScopes.List(), ", ")))
	}
	now := s.now().UTC()
	expires := req.Expires
	if req.expiresInDays > 0 {
		t := now.Add(time.Duration(req.expiresInDays) * 24 * time.Hour)
		expires = &t
	}
	if expires != nil && !expires.After(now) {
		return badRequest("expires is in the past: " + model.FormatTime(*expires))
	}
	if max := s.opts.MaxAPITokensPerUser; max > 0 {
		have, err := ts.ListAPITokens(ctx, owner.ID)
		if err != nil {
			return err
		}
		if len(have) >= max {
			return badRequest(fmt.Sprintf("User %s already has %d API tokens, the limit (KCI_MAX_API_TOKENS_PER_USER); revoke one first", owner.Username, len(have)))
		}
	}
	secret, hash, err := auth.NewAPIToken()
	if err != nil {
		return err
	}
	t := &store.APIToken{ID: objectid.NewAt(now), UserID: owner.ID, Name: req.Name, Scopes: scopes.List(),
		Prefix: secret[:auth.APITokenDisplayLen], Hash: hash, Created: now, Expires: expires}
	if err := ts.InsertAPIToken(ctx, t); errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, fmt.Sprintf("User %s already has an API token named %q", owner.Username, req.Name))
	} else if err != nil {
		return err
	}
	s.log.Info("API token created", "token", t.ID.String(), "name", t.Name, "user", owner.Username,
		"scopes", strings.Join(t.Scopes, ","), "by", caller.Username)
	out := tokenJSON(t, owner.Username)
	out.Token = secret
	return writeJSON(w, http.StatusCreated, out)
}

// getTokens lists the caller's tokens; superusers may ask for another
// user's (username=) or everyone's (all=true).
func (s *Server) getTokens(w http.ResponseWriter, r *http.Request) error {
	ts := s.store
	ctx := r.Context()
	caller := userFrom(ctx)
	all, err := queryBool(r, "all", false)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("username")
	owner := caller.ID
	if all || (name != "" && name != caller.Username) {
		if !caller.IsSuperuser || !scopesFrom(ctx).Allows(auth.ScopeAdmin) {
			return errorf(http.StatusForbidden, "Only superusers (with a JWT or an admin token) list other users' tokens")
		}
		owner = objectid.ID{}
		if !all {
			u, err := s.store.GetUserByUsername(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				return notFound("User not found: " + name)
			} else if err != nil {
				return err
			}
			owner = u.ID
		}
	}
	list, err := ts.ListAPITokens(ctx, owner)
	if err != nil {
		return err
	}
	names := map[objectid.ID]string{caller.ID: caller.Username}
	out := make([]wire.APIToken, 0, len(list))
	for _, t := range list {
		n, ok := names[t.UserID]
		if !ok {
			if u, err := s.store.GetUser(ctx, t.UserID); err == nil {
				n = u.Username
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			names[t.UserID] = n
		}
		out = append(out, tokenJSON(t, n))
	}
	return writeJSON(w, http.StatusOK, out)
}

// deleteToken revokes one of the caller's tokens, or any token for a
// superuser. Another user's token is 404 to anyone else.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	ts := s.store
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	caller := userFrom(ctx)
	notThere := notFound("API token not found with id: " + id.String())
	t, err := ts.GetAPIToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notThere
	} else if err != nil {
		return err
	}
	if t.UserID != caller.ID && (!caller.IsSuperuser || !scopesFrom(ctx).Allows(auth.ScopeAdmin)) {
		return notThere
	}
	if err := ts.DeleteAPIToken(ctx, id); errors.Is(err, store.ErrNotFound) {
		return notThere
	} else if err != nil {
		return err
	}
	s.log.Info("API token revoked", "token", id.String(), "name", t.Name, "by", caller.Username)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeUserTokens deletes the API tokens of a deleted user.
func (s *Server) revokeUserTokens(ctx context.Context, userID objectid.ID) {
	if _, err := s.store.DeleteUserAPITokens(context.WithoutCancel(ctx), userID); err != nil {
		s.log.Warn("could not delete the API tokens of a deleted user", "user", userID.String(), "err", err)
	}
}
