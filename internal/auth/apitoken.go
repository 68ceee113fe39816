package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// APITokenPrefix starts every API token, so that secret scanners (and
// the server) tell them from JWTs. The whole format is
//
//	kci_ + 52 characters of lower-case base32 (32 random bytes)
//	     + 7 characters of lower-case base32 (their CRC-32, big-endian)
//
// 63 characters matching ^kci_[a-z2-7]{59}$; the checksum lets a scanner
// drop look-alikes without asking the server.
const APITokenPrefix = "kci_"

// APITokenDisplayLen is how many leading characters of a token listings
// show (the prefix and 8 random characters).
const APITokenDisplayLen = len(APITokenPrefix) + 8

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const (
	tokenRandomBytes = 32
	tokenBodyLen     = 52 // base32 of 32 bytes
	tokenSumLen      = 7  // base32 of 4 bytes
	// APITokenLen is the length of every API token.
	APITokenLen = len(APITokenPrefix) + tokenBodyLen + tokenSumLen
)

// NewAPIToken returns a new random API token and its hash (what the store
// keeps).
func NewAPIToken() (token, hash string, err error) {
	b := make([]byte, tokenRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: random token: %w", err)
	}
	body := tokenEncoding.EncodeToString(b)
	token = APITokenPrefix + body + checksum(body)
	return token, HashAPIToken(token), nil
}

func checksum(body string) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE([]byte(body)))
	return tokenEncoding.EncodeToString(sum[:])
}

// IsAPIToken reports whether s has the API token prefix: such a bearer
// value is checked as an API token, never as a JWT.
func IsAPIToken(s string) bool { return strings.HasPrefix(s, APITokenPrefix) }

// WellFormedAPIToken reports whether s is exactly of the API token format,
// checksum included.
func WellFormedAPIToken(s string) bool {
	if len(s) != APITokenLen || !IsAPIToken(s) {
		return false
	}
	body := s[len(APITokenPrefix) : len(APITokenPrefix)+tokenBodyLen]
	if _, err := tokenEncoding.DecodeString(body); err != nil {
		return false
	}
	return s[len(APITokenPrefix)+tokenBodyLen:] == checksum(body)
}

// HashAPIToken is the stored form of a token: hex SHA-256. The token has
// 256 random bits, so a fast hash is safe (no dictionary to try).
func HashAPIToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// The scopes of API tokens (docs/tokens.md has the permission table).
const (
	// ScopeRead: the authenticated reads (whoami, users, own tokens).
	// Every token has it.
	ScopeRead = "read"
	// ScopeNodeWrite: create and update nodes; "node:write:RT" limits it
	// to nodes whose data.runtime is RT.
	ScopeNodeWrite = "node:write"
	// ScopeTelemetry: POST /telemetry.
	ScopeTelemetry = "telemetry:write"
	// ScopePubSub: subscribe, listen, publish, lists and key-value.
	ScopePubSub = "pubsub"
	// ScopeAccount: change the own account (PATCH /user/me) and manage
	// the own API tokens.
	ScopeAccount = "account"
	// ScopeAdmin: everything the user may do; for superusers only.
	ScopeAdmin = "admin"
)

// Scopes is a validated set of token scopes. The zero value (no token,
// a JWT) allows everything: Full.
type Scopes struct {
	list     []string // normalised: sorted, no duplicates
	limited  bool     // false: no restriction (a JWT, or ScopeAdmin)
	set      map[string]bool
	runtimes []string // node:write:RT values; empty with set[node:write] = any runtime
}

// Full is the scope set of a JWT: no restriction.
var Full = Scopes{}

// ParseScopes validates a list of scopes. Unknown ones, an empty
// runtime, an empty list and duplicates after normalisation are errors
// that name the culprit; "node:write" next to "node:write:RT" keeps the
// wider "node:write".
func ParseScopes(in []string) (Scopes, error) {
	if len(in) == 0 {
		return Scopes{}, fmt.Errorf("at least one scope is needed, from: %s", strings.Join(ScopeNames(), ", "))
	}
	s := Scopes{limited: true, set: map[string]bool{ScopeRead: true}}
	rts := map[string]bool{}
	for _, sc := range in {
		switch {
		case sc == ScopeRead, sc == ScopeNodeWrite, sc == ScopeTelemetry, sc == ScopePubSub, sc == ScopeAccount, sc == ScopeAdmin:
			s.set[sc] = true
		case strings.HasPrefix(sc, ScopeNodeWrite+":"):
			rt := strings.TrimPrefix(sc, ScopeNodeWrite+":")
			if rt == "" || strings.ContainsAny(rt, " \t\n") {
				return Scopes{}, fmt.Errorf("scope %q: the runtime after %s: must be a non-empty name without spaces", sc, ScopeNodeWrite)
			}
			rts[rt] = true
		default:
			return Scopes{}, fmt.Errorf("unknown scope %q: the scopes are %s", sc, strings.Join(ScopeNames(), ", "))
		}
	}
	if s.set[ScopeAdmin] {
		s.limited = false
	}
	if !s.set[ScopeNodeWrite] && len(rts) > 0 {
		s.set[ScopeNodeWrite] = true
		for rt := range rts {
			s.runtimes = append(s.runtimes, rt)
		}
		slices.Sort(s.runtimes)
	}
	for sc := range s.set {
		if sc == ScopeNodeWrite && len(s.runtimes) > 0 {
			continue
		}
		s.list = append(s.list, sc)
	}
	for _, rt := range s.runtimes {
		s.list = append(s.list, ScopeNodeWrite+":"+rt)
	}
	slices.Sort(s.list)
	return s, nil
}

// ScopeNames lists the scopes for messages and documentation.
func ScopeNames() []string {
	return []string{ScopeRead, ScopeNodeWrite, ScopeNodeWrite + ":<runtime>", ScopeTelemetry, ScopePubSub, ScopeAccount, ScopeAdmin}
}

// List is the normalised list of scopes (nil for Full).
func (s Scopes) List() []string { return slices.Clone(s.list) }

// Limited reports whether s restricts anything (a token without admin).
func (s Scopes) Limited() bool { return s.limited }

// Allows reports whether s allows the scope sc (one of the Scope
// constants; for ScopeNodeWrite, on some runtime at least).
func (s Scopes) Allows(sc string) bool { return !s.limited || s.set[sc] }

// AllowsNode reports whether s allows writing n: node:write on any
// runtime, or n.Data["runtime"] is one of its node:write:RT runtimes.
func (s Scopes) AllowsNode(n *model.Node) bool {
	if !s.Allows(ScopeNodeWrite) {
		return false
	}
	if !s.limited || len(s.runtimes) == 0 {
		return true
	}
	rt, _ := n.Data["runtime"].(string)
	return slices.Contains(s.runtimes, rt)
}

// Runtimes lists the runtimes node writes are limited to (none: any).
func (s Scopes) Runtimes() []string { return slices.Clone(s.runtimes) }

// Covers reports whether everything o allows, s allows too: a token may
// only create tokens its own scopes cover.
func (s Scopes) Covers(o Scopes) bool {
	if !s.limited {
		return true
	}
	if !o.limited {
		return false
	}
	for sc := range o.set {
		if !s.set[sc] {
			return false
		}
	}
	if len(s.runtimes) == 0 {
		return true
	}
	if o.set[ScopeNodeWrite] && len(o.runtimes) == 0 {
		return false
	}
	for _, rt := range o.runtimes {
		if !slices.Contains(s.runtimes, rt) {
			return false
		}
	}
	return true
}
