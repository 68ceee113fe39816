package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// readBody reads the request body up to limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("Could not read request body")
	}
	return b, nil
}

func bodyError(typ, msg string, input any) error {
	return &model.ValidationError{Errors: []model.FieldError{{Type: typ, Loc: []any{"body"}, Msg: msg, Input: input}}}
}

// decodeObject reads a JSON object body (numbers kept exact) with the
// given size limit. Malformed JSON or a non-object answer 422 like FastAPI.
func decodeObject(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, error) {
	b, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, bodyError("missing", "Field required", nil)
	}
	if err := checkDepth(r, b); err != nil {
		return nil, err
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, bodyError("json_invalid", "JSON decode error: "+err.Error(), nil)
	}
	if d.More() {
		return nil, bodyError("json_invalid", "JSON decode error: trailing data after the JSON value", nil)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, bodyError("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", v)
	}
	return m, nil
}

// decodeFields reads a JSON object body for field-by-field validation.
func (s *Server) decodeFields(w http.ResponseWriter, r *http.Request) (*model.Fields, error) {
	m, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return model.NewFields(m), nil
}

// pathID parses the {name} path value as an ObjectId (400 if malformed).
func pathID(r *http.Request, name string) (objectid.ID, error) {
	s := r.PathValue(name)
	id, err := objectid.Parse(s)
	if err != nil {
		return id, badRequest("'" + s + "' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string")
	}
	return id, nil
}

// queryBool parses a boolean query parameter the way FastAPI does
// (true/false/1/0/yes/no/on/off, any case); absent is def.
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return def, nil
	}
	switch strings.ToLower(v[0]) {
	case "true", "1", "yes", "on", "t", "y":
		return true, nil
	case "false", "0", "no", "off", "f", "n":
		return false, nil
	}
	return false, queryError(name, "bool_parsing", "Input should be a valid boolean, unable to interpret input", v[0])
}

// queryInt parses an integer query parameter; absent is def.
func queryInt(r *http.Request, name string, def int, minimum int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, queryError(name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", v)
	}
	if n < minimum {
		return 0, queryError(name, "greater_than_equal", "Input should be greater than or equal to "+strconv.Itoa(minimum), v)
	}
	return n, nil
}

func queryError(name, typ, msg string, input any) error {
	return &model.ValidationError{Errors: []model.FieldError{{Type: typ, Loc: []any{"query", name}, Msg: msg, Input: input}}}
}

type ctxKey int

const (
	userKey       ctxKey = iota
	optsKey              // *Options, set by ServeHTTP
	requestCtxKey        // the request's context before the query budget (limits.go)
)

// userFrom returns the authenticated user stored by authenticate.
func userFrom(ctx context.Context) *model.User {
	u, _ := ctx.Value(userKey).(*model.User)
	return u
}

// authenticate resolves the bearer token (a JWT or an API token, see
// tokens.go) to an active user and the scopes of the credentials
// (auth.Full for a JWT), or a nil user. Successes are cached for a short
// time (authcache.go).
func (s *Server) authenticate(r *http.Request) (*model.User, auth.Scopes, error) {
	tok := auth.BearerToken(r.Header.Get("Authorization"))
	if tok == "" {
		return nil, auth.Full, nil
	}
	load := func(ctx context.Context) (*model.User, auth.Scopes, time.Time, error) {
		if auth.IsAPIToken(tok) {
			return s.authenticateAPIToken(ctx, tok)
		}
		u, until, err := s.authenticateJWT(ctx, tok)
		return u, auth.Full, until, err
	}
	u, sc, err := s.auth.authenticate(r.Context(), tok, s.now(), load)
	if u == nil {
		if auth.IsAPIToken(tok) {
			sc = auth.Scopes{}
		} else {
			sc = auth.Full
		}
	}
	if u != nil && err == nil {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.User = u.Username // for the access log (RequestInfo)
		}
	}
	return u, sc, err
}

// authenticateJWT resolves a login JWT to its active user, nil when the
// token is invalid or ended or its user gone or inactive; until is the
// token's expiry.
func (s *Server) authenticateJWT(ctx context.Context, tok string) (*model.User, time.Time, error) {
	id, gen, until, err := s.tokens.VerifySessionUntil(tok)
	if err != nil {
		return nil, time.Time{}, nil
	}
	oid, err := objectid.Parse(id)
	if err != nil {
		return nil, time.Time{}, nil
	}
	u, err := s.store.GetUser(ctx, oid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if !u.IsActive {
		return nil, time.Time{}, nil
	}
	// A token of an older generation was issued before the password
	// changed, the account was deactivated, or its sessions were ended.
	if gen < u.TokenGeneration {
		return nil, time.Time{}, nil
	}
	return u, until, nil
}

// authed wraps h so that it runs only for an active user (401 otherwise)
// whose credentials allow the route (403 otherwise: an API token's
// scopes, tokens.go).
func (s *Server) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, sc, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if u == nil {
			return errUnauthorized
		}
		if err := checkRouteScope(r, sc); err != nil {
			return err
		}
		ctx := context.WithValue(context.WithValue(r.Context(), userKey, u), scopesKey, sc)
		return h(w, r.WithContext(ctx))
	}
}

// admin wraps h so that it runs only for an active superuser.
func (s *Server) admin(h handlerFunc) handlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request) error {
		if !userFrom(r.Context()).IsSuperuser {
			return errForbidden
		}
		return h(w, r)
	})
}

func formMissing(fields []string) error {
	ve := &model.ValidationError{}
	for _, f := range fields {
		ve.Errors = append(ve.Errors, model.FieldError{Type: "missing", Loc: []any{"body", f}, Msg: "Field required", Input: nil})
	}
	return ve
}
