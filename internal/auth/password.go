// Package auth holds the authentication building blocks of the API:
// password hashing compatible with the Python server (fastapi-users /
// pwdlib / argon2-cffi, and passlib bcrypt for older accounts), JWT access
// tokens compatible with fastapi-users, node edit permissions and the
// Authorization header parser.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are the argon2id cost parameters used to hash new passwords.
type Argon2Params struct {
	Memory  uint32 // memory cost in KiB (PHC "m")
	Time    uint32 // number of passes (PHC "t")
	Threads uint8  // degree of parallelism (PHC "p")
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // hash length in bytes
}

// DefaultArgon2Params are the argon2-cffi PasswordHasher defaults (RFC 9106
// low-memory profile), which pwdlib's Argon2Hasher and therefore
// fastapi-users use: m=65536 KiB, t=3, p=4, 16-byte salt, 32-byte hash.
var DefaultArgon2Params = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// TestArgon2Params are deliberately weak parameters that make hashing take
// microseconds instead of tens of milliseconds. For tests only: see
// SetTestParams.
var TestArgon2Params = Argon2Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters read from stored hashes, so that a corrupt or hostile
// hash cannot make a verification allocate or compute without bound.
const (
	maxArgon2Memory = 4 * 1024 * 1024 // KiB, i.e. 4 GiB
	maxArgon2Time   = 1 << 16
	minArgon2Salt   = 8
	minArgon2Key    = 4
	maxArgon2Key    = 1024
	argon2Version   = argon2.Version // 0x13 = 19, the only one x/crypto implements
	bcryptMaxBytes  = 72             // bcrypt only looks at the first 72 bytes
)

// ErrBadParams is returned by NewHasher for unusable parameters.
var ErrBadParams = errors.New("auth: invalid argon2 parameters")

// Hasher hashes passwords with argon2id and verifies argon2id, argon2i and
// bcrypt hashes. The zero value is not usable: build one with NewHasher.
// A Hasher is safe for concurrent use.
type Hasher struct {
	params Argon2Params

	dummyOnce sync.Once
	dummy     string
}

// NewHasher returns a Hasher writing argon2id hashes with p.
func NewHasher(p Argon2Params) (*Hasher, error) {
	if p.Time < 1 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory ||
		p.SaltLen < minArgon2Salt || p.KeyLen < minArgon2Key || p.KeyLen > maxArgon2Key {
		return nil, fmt.Errorf("%w: %+v", ErrBadParams, p)
	}
	return &Hasher{params: p}, nil
}

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Argon2Params { return h.params }

// Hash returns the argon2id PHC string of pw with a fresh random salt, in
// the exact format argon2-cffi writes:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
//
// where salt and hash are standard base64 without padding.
func (h *Hasher) Hash(pw string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading salt: %w", err)
	}
	return h.encode(pw, salt), nil
}

func (h *Hasher) encode(pw string, salt []byte) string {
	p := h.params
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether pw matches encoded, and whether the stored hash
// should be replaced by a fresh Hash(pw) (only meaningful when ok is true).
//
// Accepted formats: argon2id and argon2i PHC strings with version 19 and
// any cost parameters (read from the string), and bcrypt hashes with the
// $2a$, $2b$ or $2y$ prefix (passlib and the Python bcrypt package write
// $2b$; the three only differ in how historic buggy implementations
// treated 8-bit characters, which does not concern correct hashes). As in
// every bcrypt implementation only the first 72 bytes of pw count.
//
// needsRehash is true for bcrypt hashes, argon2i hashes, and argon2id
// hashes weaker than h's parameters (less memory, fewer passes, a shorter
// salt or a shorter hash). Parallelism alone does not trigger a rehash.
// This mirrors fastapi-users' verify_and_update, which moves bcrypt users
// to argon2id on their next login.
//
// Anything unparsable yields ok == false. The hash comparison is constant
// time.
func (h *Hasher) Verify(pw, encoded string) (ok, needsRehash bool) {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		return h.verifyArgon2(pw, encoded)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		b := []byte(pw)
		if len(b) > bcryptMaxBytes {
			b = b[:bcryptMaxBytes]
		}
		// x/crypto/bcrypt accepts every minor version letter and compares
		// in constant time; the prefix is checked above.
		if bcrypt.CompareHashAndPassword([]byte(encoded), b) != nil {
			return false, false
		}
		return true, true
	default:
		return false, false
	}
}

// DummyVerify spends the time of a successful Verify against a hash made
// with h's parameters, and discards the result. Call it when a login names
// an unknown user, so that response time does not tell whether the user
// exists (fastapi-users hashes the password in that case for the same
// reason).
func (h *Hasher) DummyVerify(pw string) {
	h.dummyOnce.Do(func() {
		// A fixed salt is fine: the hash protects no secret.
		salt := make([]byte, h.params.SaltLen)
		copy(salt, "kernelci-api-dummy-salt")
		h.dummy = h.encode("kernelci-api dummy password", salt)
	})
	h.Verify(pw, h.dummy)
}

// phcArgon2 is a parsed argon2 PHC string.
type phcArgon2 struct {
	variant string // "argon2id" or "argon2i"
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2 parses $argon2{id,i}$v=19$m=..,t=..,p=..$salt$hash.
// The order m, t, p is the one the reference implementation writes and
// requires; an optional ",keyid=" or ",data=" parameter is rejected, as
// x/crypto cannot compute those.
func parseArgon2(encoded string) (*phcArgon2, error) {
	parts := strings.Split(encoded, "$")
	// "", variant, v=19, params, salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New("not a 6-field PHC string")
	}
	var h phcArgon2
	h.variant = parts[1]
	if h.variant != "argon2id" && h.variant != "argon2i" {
		return nil, fmt.Errorf("unsupported variant %q", h.variant)
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return nil, errors.New("missing version")
	}
	ver, err := parseDecimal(v, 1<<8)
	if err != nil || ver != argon2Version {
		return nil, fmt.Errorf("unsupported version %q", v)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return nil, errors.New("want exactly m, t and p parameters")
	}
	var vals [3]uint64
	limits := [3]uint64{maxArgon2Memory, maxArgon2Time, 255}
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(kv[i], name)
		if !ok {
			return nil, fmt.Errorf("parameter %d is not %s", i, name)
		}
		if vals[i], err = parseDecimal(s, limits[i]); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
	}
	h.memory, h.time, h.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if h.time < 1 || h.threads < 1 || h.memory < 8*uint32(h.threads) {
		return nil, errors.New("parameters out of range")
	}
	if h.salt, err = decodeB64(parts[4]); err != nil || len(h.salt) < minArgon2Salt {
		return nil, errors.New("bad salt")
	}
	if h.key, err = decodeB64(parts[5]); err != nil || len(h.key) < minArgon2Key || len(h.key) > maxArgon2Key {
		return nil, errors.New("bad hash")
	}
	return &h, nil
}

// parseDecimal parses a canonical unsigned decimal (no sign, no leading
// zeros) not above limit.
func parseDecimal(s string, limit uint64) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > limit {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return n, nil
}

// decodeB64 reads standard base64, tolerating padding although the PHC
// format omits it.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

func (h *Hasher) verifyArgon2(pw, encoded string) (ok, needsRehash bool) {
	p, err := parseArgon2(encoded)
	if err != nil {
		return false, false
	}
	var key []byte
	if p.variant == "argon2id" {
		key = argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	} else {
		key = argon2.Key([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	}
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return false, false
	}
	cur := h.params
	weaker := p.variant != "argon2id" || p.memory < cur.Memory || p.time < cur.Time ||
		uint32(len(p.salt)) < cur.SaltLen || uint32(len(p.key)) < cur.KeyLen
	return true, weaker
}

// The package-level functions use a process-wide default Hasher, which
// starts with DefaultArgon2Params.
var defaultHasher atomic.Pointer[Hasher]

func init() {
	defaultHasher.Store(mustHasher(DefaultArgon2Params))
}

func mustHasher(p Argon2Params) *Hasher {
	h, err := NewHasher(p)
	if err != nil {
		panic(err)
	}
	return h
}

// DefaultHasher returns the Hasher behind HashPassword, VerifyPassword and
// DummyVerify.
func DefaultHasher() *Hasher { return defaultHasher.Load() }

// SetParams replaces the parameters of the package-level functions and
// returns the previous ones. It returns an error, leaving them unchanged,
// if p is unusable.
func SetParams(p Argon2Params) (previous Argon2Params, err error) {
	h, err := NewHasher(p)
	if err != nil {
		return defaultHasher.Load().params, err
	}
	return defaultHasher.Swap(h).params, nil
}

// SetTestParams switches the package-level functions to TestArgon2Params so
// that tests creating many users stay fast, and returns a function that
// restores the previous parameters. Typical use, in a test or TestMain:
//
//	t.Cleanup(auth.SetTestParams())
//
// Never call it in production code: the hashes it writes are cheap to
// crack (they still verify, and are flagged for rehash once the default
// parameters are back).
func SetTestParams() (restore func()) {
	prev := defaultHasher.Swap(mustHasher(TestArgon2Params))
	return func() { defaultHasher.Store(prev) }
}

// HashPassword hashes pw with argon2id and the current default parameters
// (see Hasher.Hash).
func HashPassword(pw string) (string, error) { return defaultHasher.Load().Hash(pw) }

// VerifyPassword checks pw against a stored argon2 or bcrypt hash with the
// current default parameters (see Hasher.Verify).
func VerifyPassword(pw, encoded string) (ok bool, needsRehash bool) {
	return defaultHasher.Load().Verify(pw, encoded)
}

// DummyVerify burns the time of one verification with the current default
// parameters (see Hasher.DummyVerify).
func DummyVerify(pw string) { defaultHasher.Load().DummyVerify(pw) }
