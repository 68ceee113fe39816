package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testUserID  = "65265305c74695807499037f"
	testPrimary = "primary-secret-key"
	testUnified = "unified-secret-key"
)

// Tokens made by PyJWT 2.6 the way fastapi-users' generate_jwt does:
// jwt.encode({"sub": testUserID, "aud": ["fastapi-users:auth"],
// "exp": 4102444800}, secret, algorithm=...).
const (
	pyTokenHS256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTI2NTMwNWM3NDY5NTgwNzQ5OTAzN2YiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6NDEwMjQ0NDgwMH0.km928vlQhAuOirsCgL8y8FYGF7QlkxDvKsEEsq7ZJ-g"
	pyTokenHS512 = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTI2NTMwNWM3NDY5NTgwNzQ5OTAzN2YiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6NDEwMjQ0NDgwMH0.HRAcjYlLoxUMzX9i7Qv7aT1UsgoJK0-hkpyqbL2A4cLkz0U3LLmtXsaW167nGUoCZgUDZ0eB1irm5GKtAkjKWQ"
	// A unified token (extra claims) signed with testUnified.
	pyTokenUnified = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTI2NTMwNWM3NDY5NTgwNzQ5OTAzN2YiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6NDEwMjQ0NDgwMCwiZW1haWwiOiJ0ZXN0QGtlcm5lbGNpLm9yZyIsIm9yaWdpbiI6Imtlcm5lbGNpLXBpcGVsaW5lIiwicGVybWlzc2lvbnMiOlsiY2hlY2tvdXQiXX0.JbdIO41kTiwaNBoLPC3SYDHQqUIDOFqpmkHTYXrXwV4"
	// aud as a plain string instead of a list.
	pyTokenStringAud = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTI2NTMwNWM3NDY5NTgwNzQ5OTAzN2YiLCJhdWQiOiJmYXN0YXBpLXVzZXJzOmF1dGgiLCJleHAiOjQxMDI0NDQ4MDB9.4p4wA3JAe6-7qoicBx_TeuqQinkiaOy7qedypcg0m-0"
)

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok := &Tokens{Secret: testPrimary, now: func() time.Time { return now }}
	s, err := tok.Issue(testUserID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") { // {"alg":"HS256","typ":"JWT"}
		t.Errorf("unexpected header in %q", s)
	}
	got, _ := json.Marshal(payload(t, s))
	want := `{"aud":["fastapi-users:auth"],"exp":2015360000,"sub":"65265305c74695807499037f"}`
	if string(got) != want {
		t.Errorf("payload = %s; want %s", got, want)
	}
	tok.Lifetime = time.Hour
	s, _ = tok.Issue(testUserID)
	if exp := payload(t, s)["exp"]; exp != float64(now.Unix()+3600) {
		t.Errorf("exp = %v", exp)
	}
	if id, err := tok.Verify(s); err != nil || id != testUserID {
		t.Errorf("Verify(own token) = %q, %v", id, err)
	}
	if _, err := tok.Issue(""); err == nil {
		t.Error("Issue(\"\") succeeded")
	}
}

func TestVerifyPythonTokens(t *testing.T) {
	tests := []struct {
		name  string
		tok   Tokens
		token string
		ok    bool
	}{
		{"HS256", Tokens{Secret: testPrimary}, pyTokenHS256, true},
		{"HS256 string aud", Tokens{Secret: testPrimary}, pyTokenStringAud, true},
		{"HS512", Tokens{Secret: testPrimary, Algorithm: "HS512"}, pyTokenHS512, true},
		{"HS512 token, HS256 configured", Tokens{Secret: testPrimary}, pyTokenHS512, false},
		{"HS256 token, HS512 configured", Tokens{Secret: testPrimary, Algorithm: "HS512"}, pyTokenHS256, false},
		{"unified", Tokens{Secret: testPrimary, UnifiedSecret: testUnified}, pyTokenUnified, true},
		{"unified not configured", Tokens{Secret: testPrimary}, pyTokenUnified, false},
		{"primary as unified", Tokens{Secret: "other", UnifiedSecret: testPrimary}, pyTokenHS256, true},
		{"wrong secrets", Tokens{Secret: "a", UnifiedSecret: "b"}, pyTokenHS256, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.tok.Verify(tc.token)
			if tc.ok {
				if err != nil || id != testUserID {
					t.Errorf("Verify = %q, %v", id, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify = %q, %v; want ErrInvalidToken", id, err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	tok := &Tokens{Secret: testPrimary, UnifiedSecret: testUnified}
	future := time.Now().Add(time.Hour).Unix()
	aud := []string{AuthAudience}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": testUserID, "aud": aud, "exp": future}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"empty":           "",
		"garbage":         "not.a.jwt",
		"alg none":        none,
		"expired primary": sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "aud": aud, "exp": time.Now().Add(-time.Hour).Unix()}, testPrimary),
		"expired unified": sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "aud": aud, "exp": time.Now().Add(-time.Hour).Unix()}, testUnified),
		"no exp":          sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "aud": aud}, testPrimary),
		"no aud":          sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "exp": future}, testPrimary),
		"wrong aud":       sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "aud": []string{"wrong-audience"}, "exp": future}, testUnified),
		"reset aud":       sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": testUserID, "aud": "fastapi-users:reset", "exp": future}, testPrimary),
		"no sub":          sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"aud": aud, "exp": future}, testUnified),
		"numeric sub":     sign(t, jwt.SigningMethodHS256, jwt.MapClaims{"sub": 42, "aud": aud, "exp": future}, testPrimary),
		"HS384":           sign(t, jwt.SigningMethodHS384, jwt.MapClaims{"sub": testUserID, "aud": aud, "exp": future}, testPrimary),
		"tampered":        pyTokenHS256[:len(pyTokenHS256)-2] + "AA",
	}
	for name, s := range cases {
		if id, err := tok.Verify(s); err == nil || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify = %q, %v; want ErrInvalidToken", name, id, err)
		}
	}
}

func TestUnifiedNeverSigns(t *testing.T) {
	tok := &Tokens{Secret: testPrimary, UnifiedSecret: testUnified}
	s, err := tok.Issue(testUserID)
	if err != nil {
		t.Fatal(err)
	}
	onlyUnified := &Tokens{Secret: testUnified}
	if _, err := onlyUnified.Verify(s); err == nil {
		t.Error("token verified with the unified secret alone")
	}
	s, _ = tok.IssueWith(map[string]any{"sub": testUserID, "purpose": "invite"}, time.Hour)
	if _, err := onlyUnified.VerifyWith(s, ""); err == nil {
		t.Error("IssueWith token verified with the unified secret alone")
	}
}

func TestIssueWithVerifyWith(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok := &Tokens{Secret: testPrimary, UnifiedSecret: testUnified, Algorithm: "HS384", now: func() time.Time { return now }}
	in := map[string]any{"sub": testUserID, "email": "a@b.c", "purpose": "invite", "iat": now.Unix(), "exp": 1}
	s, err := tok.IssueWith(in, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if in["exp"] != 1 {
		t.Error("IssueWith modified its argument")
	}
	claims, err := tok.VerifyWith(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if claims["purpose"] != "invite" || claims["sub"] != testUserID || claims["exp"] != float64(now.Unix()+7*24*3600) {
		t.Errorf("claims = %v", claims)
	}
	if _, err := tok.Verify(s); err == nil {
		t.Error("invite token (no aud) accepted as an access token")
	}
	// An audience-less check refuses tokens that carry an audience.
	access, _ := tok.Issue(testUserID)
	if _, err := tok.VerifyWith(access, ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("access token accepted as audience-less token: %v", err)
	}
	if c, err := tok.VerifyWith(access, AuthAudience); err != nil || c["sub"] != testUserID {
		t.Errorf("VerifyWith(access, auth aud) = %v, %v", c, err)
	}
	reset, _ := tok.IssueWith(map[string]any{"sub": testUserID, "aud": "fastapi-users:reset"}, 0)
	if _, err := tok.VerifyWith(reset, "fastapi-users:reset"); err != nil {
		t.Errorf("reset token: %v", err)
	}
	if _, err := tok.VerifyWith(reset, "fastapi-users:verify"); err == nil {
		t.Error("reset token accepted for another audience")
	}
	if exp := payload(t, reset)["exp"]; exp != float64(now.Add(DefaultTokenLifetime).Unix()) {
		t.Errorf("lifetime 0: exp = %v", exp)
	}
	// Expired at the verification time.
	later := &Tokens{Secret: testPrimary, Algorithm: "HS384", now: func() time.Time { return now.Add(8 * 24 * time.Hour) }}
	if _, err := later.VerifyWith(s, ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired invite token: %v", err)
	}
}

func TestAlgorithmAndSecretErrors(t *testing.T) {
	for _, alg := range []string{"", "HS256", "HS384", "HS512"} {
		if err := CheckAlgorithm(alg); err != nil {
			t.Errorf("CheckAlgorithm(%q) = %v", alg, err)
		}
	}
	for _, alg := range []string{"hs256", "RS256", "none", "ES256"} {
		if err := CheckAlgorithm(alg); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("CheckAlgorithm(%q) = %v", alg, err)
		}
		tok := &Tokens{Secret: "s", Algorithm: alg}
		if _, err := tok.Issue(testUserID); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("Issue with %q: %v", alg, err)
		}
		if _, err := tok.Verify(pyTokenHS256); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("Verify with %q: %v", alg, err)
		}
	}
	empty := &Tokens{}
	if _, err := empty.Issue(testUserID); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Issue without secret: %v", err)
	}
	if _, err := empty.Verify(pyTokenHS256); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Verify without secret: %v", err)
	}
}
