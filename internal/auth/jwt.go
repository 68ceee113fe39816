package auth

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthAudience is the audience fastapi-users puts in access tokens.
const AuthAudience = "fastapi-users:auth"

// DefaultTokenLifetime is the reference default access token lifetime
// (ACCESS_TOKEN_EXPIRE_SECONDS = 315360000, i.e. ten years).
const DefaultTokenLifetime = 315360000 * time.Second

// Errors returned by Tokens. Verification failures all wrap ErrInvalidToken
// so that callers can answer 401 without looking further.
var (
	ErrInvalidToken         = errors.New("auth: invalid token")
	ErrNoSecret             = errors.New("auth: SECRET_KEY is not set")
	ErrUnsupportedAlgorithm = errors.New("auth: unsupported ALGORITHM")
	errMissingSubject       = errors.New("token has no string sub claim")
	errUnexpectedAud        = errors.New("token has an aud claim but none is expected")
)

// Tokens issues and verifies HMAC-signed JWTs the way fastapi-users'
// JWTStrategy does (and the reference's DualSecretJWTStrategy on top of
// it). The zero value of the optional fields selects the reference
// defaults. Tokens is safe for concurrent use once configured.
type Tokens struct {
	Secret        string        // SECRET_KEY: signs and verifies
	UnifiedSecret string        // UNIFIED_SECRET: accepted as a second verification key, never used to sign
	Algorithm     string        // ALGORITHM: HS256 (default), HS384 or HS512
	Lifetime      time.Duration // 0 = the reference default of 315360000 s

	now func() time.Time // for tests; nil = time.Now
}

// CheckAlgorithm reports whether alg is a supported ALGORITHM value ("" is
// taken as the default HS256).
func CheckAlgorithm(alg string) error {
	_, err := signingMethod(alg)
	return err
}

func signingMethod(alg string) (*jwt.SigningMethodHMAC, error) {
	switch alg {
	case "", "HS256":
		return jwt.SigningMethodHS256, nil
	case "HS384":
		return jwt.SigningMethodHS384, nil
	case "HS512":
		return jwt.SigningMethodHS512, nil
	}
	return nil, fmt.Errorf("%w %q: want HS256, HS384 or HS512", ErrUnsupportedAlgorithm, alg)
}

func (t *Tokens) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func (t *Tokens) lifetime() time.Duration {
	if t.Lifetime > 0 {
		return t.Lifetime
	}
	return DefaultTokenLifetime
}

// Issue returns an access token for userID (the user's ObjectId in hex)
// with exactly the claims fastapi-users writes: sub, aud
// ["fastapi-users:auth"] and exp (integer seconds), signed with Secret.
func (t *Tokens) Issue(userID string) (string, error) {
	if userID == "" {
		return "", errors.New("auth: empty user id")
	}
	return t.IssueWith(map[string]any{
		"sub": userID,
		"aud": []string{AuthAudience},
	}, t.Lifetime)
}

// IssueSession is Issue for a user whose token generation is gen
// (model.User.TokenGeneration): a generation above 0 goes into the
// token's "gen" claim, which VerifySession returns. Generation 0 leaves
// the token exactly as Issue makes it.
func (t *Tokens) IssueSession(userID string, gen int64) (string, error) {
	if gen == 0 {
		return t.Issue(userID)
	}
	if userID == "" {
		return "", errors.New("auth: empty user id")
	}
	return t.IssueWith(map[string]any{
		"sub": userID,
		"aud": []string{AuthAudience},
		"gen": gen,
	}, t.Lifetime)
}

// VerifySession is Verify that also returns the token's generation (0
// when it has none, as in tokens of the reference or of Issue).
func (t *Tokens) VerifySession(token string) (userID string, gen int64, err error) {
	userID, gen, _, err = t.VerifySessionUntil(token)
	return userID, gen, err
}

// VerifySessionUntil is VerifySession that also returns the token's
// expiry (its exp claim), past which it is refused: what a cache of
// verified tokens must not outlive.
func (t *Tokens) VerifySessionUntil(token string) (userID string, gen int64, expires time.Time, err error) {
	claims, err := t.parse(token, AuthAudience, true)
	if err != nil {
		return "", 0, time.Time{}, err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", 0, time.Time{}, fmt.Errorf("%w: %v", ErrInvalidToken, errMissingSubject)
	}
	if g, ok := claims["gen"]; ok {
		f, isNum := g.(float64)
		if !isNum || f < 0 || f != float64(int64(f)) {
			return "", 0, time.Time{}, fmt.Errorf("%w: malformed gen claim", ErrInvalidToken)
		}
		gen = int64(f)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil { // the parser requires exp: not reached
		return "", 0, time.Time{}, fmt.Errorf("%w: no exp claim", ErrInvalidToken)
	}
	return sub, gen, exp.Time, nil
}

// IssueWith signs claims with Secret after setting exp to now + lifetime
// (lifetime <= 0 means the Tokens lifetime). claims is not modified; any exp
// in it is overridden. It is meant for invite and password-reset tokens:
// the caller sets sub, purpose, aud and so on.
func (t *Tokens) IssueWith(claims map[string]any, lifetime time.Duration) (string, error) {
	m, err := signingMethod(t.Algorithm)
	if err != nil {
		return "", err
	}
	if t.Secret == "" {
		return "", ErrNoSecret
	}
	if lifetime <= 0 {
		lifetime = t.lifetime()
	}
	c := make(jwt.MapClaims, len(claims)+1)
	maps.Copy(c, claims)
	c["exp"] = t.clock().Add(lifetime).Unix()
	s, err := jwt.NewWithClaims(m, c).SignedString([]byte(t.Secret))
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return s, nil
}

// Verify checks an access token and returns its sub claim. The token must
// use the configured algorithm (anything else, "none" included, is
// refused), carry the audience "fastapi-users:auth" (as a string or in a
// list) and an exp in the future, and be signed with Secret or, failing
// that, with UnifiedSecret when one is configured. The caller still has to
// parse the id (objectid.Parse) and look the user up, treating an invalid
// id or an unknown or inactive user as a failure, as the reference does.
//
// Unlike PyJWT, which the reference uses, a token without exp is refused:
// every token fastapi-users issues has one.
func (t *Tokens) Verify(token string) (userID string, err error) {
	claims, err := t.parse(token, AuthAudience, true)
	if err != nil {
		return "", err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", fmt.Errorf("%w: %v", ErrInvalidToken, errMissingSubject)
	}
	return sub, nil
}

// VerifyWith checks a token made by IssueWith and returns its claims
// (numbers decoded as float64). The algorithm is pinned and exp is
// required and must be in the future. When audience is non-empty the aud
// claim must contain it; when it is empty the token must have no aud claim
// at all, as PyJWT and python-jose do, so an access token can never pass
// for an invite token.
//
// Only Secret is tried, never UnifiedSecret: invite and reset tokens are
// made by this server alone, and other services knowing the unified secret
// must not be able to mint them.
func (t *Tokens) VerifyWith(token, audience string) (map[string]any, error) {
	return t.parse(token, audience, false)
}

func (t *Tokens) parse(token, audience string, tryUnified bool) (jwt.MapClaims, error) {
	m, err := signingMethod(t.Algorithm)
	if err != nil {
		return nil, err
	}
	if t.Secret == "" {
		return nil, ErrNoSecret
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{m.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.clock),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	parser := jwt.NewParser(opts...)
	try := func(secret string) (jwt.MapClaims, error) {
		claims := jwt.MapClaims{}
		_, err := parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
			return []byte(secret), nil
		})
		if err != nil {
			return nil, err
		}
		if _, has := claims["aud"]; audience == "" && has {
			return nil, errUnexpectedAud
		}
		return claims, nil
	}
	claims, err := try(t.Secret)
	if err != nil && tryUnified && t.UnifiedSecret != "" {
		// Like the reference, retry on any failure: claim checks fail the
		// same way again, so only a signature mismatch can change the
		// outcome.
		if c, err2 := try(t.UnifiedSecret); err2 == nil {
			return c, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return claims, nil
}
