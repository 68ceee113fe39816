package auth

import (
	"strings"
	"testing"
)

// Vectors made by the Python libraries the reference server uses
// (argon2-cffi 21.1 with the parameters pwdlib/fastapi-users use, passlib
// 1.7.4 bcrypt), so that accounts move between the two servers.
const (
	pyArgon2Password = "kernelci s3cret pässword"
	// argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4,
	// hash_len=32, salt_len=16, type=Type.ID).hash(pyArgon2Password)
	pyArgon2Hash = "$argon2id$v=19$m=65536,t=3,p=4$OuEWo5HLbf+RVCOo9vFQkg$MMkl0EE4tSWV/jqVlYRa0AA/fna1WupUxRVermMxkdU"

	pyBcryptPassword = "hello kernelci"
	// CryptContext(schemes=["bcrypt"]).hash(pyBcryptPassword), the reference's
	// Authentication.get_password_hash.
	pyBcryptDefault = "$2b$12$s1.w4nFbWymLCNpaYfbU/.OoBRBuToTWge3PLHex2kt1DuvnmuhYC"
	// passlib.hash.bcrypt.using(rounds=4, ident=...).hash(pyBcryptPassword)
	pyBcrypt2a = "$2a$04$OSiN1GHCth0H1SQe9etGtOxB7C7ZLac6EVxTwEISaVRL9OvRlCYwW"
	pyBcrypt2b = "$2b$04$pvQFKAJCbH/GS.wi9p4FROkQBhQUoQw4gK475X34BbAc//dkbVSEG"
	pyBcrypt2y = "$2y$04$uAXtpjImevg6lxaZbaqnUefiotBQFBuz4s.OG97MhyRdnM3KlWAr2"
	// bcrypt.using(rounds=4).hash("x"*72 + "EXTRA-IGNORED"): passlib
	// truncates to 72 bytes.
	pyBcryptLong = "$2b$04$VCTE3G3BrTjJsnL8JsnaeOZjqYxdVQROVB./xnsTt7pb1QMnvT14e"
)

func TestVerifyKnownVectors(t *testing.T) {
	tests := []struct {
		name, pw, hash string
		ok, rehash     bool
	}{
		{"argon2-cffi default", pyArgon2Password, pyArgon2Hash, true, false},
		{"argon2-cffi wrong password", "kernelci s3cret password", pyArgon2Hash, false, false},

		// phc-winner-argon2 src/test.c (the argon2 reference
		// implementation), all with password "password".
		{"ref m=65536 t=2 p=1", "password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", true, true},
		{"ref m=256 t=2 p=1", "password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", true, true},
		{"ref m=256 t=2 p=2", "password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc", true, true},
		{"ref m=65536 t=1 p=1", "password", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg", true, true},
		{"ref differentpassword", "differentpassword", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94", true, true},
		{"ref diffsalt", "password", "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw", true, true},
		{"ref argon2i", "password", "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E", true, true},
		{"ref wrong password", "passwore", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", false, false},
		// The reference argon2 CLI: echo -n password | argon2 randomsaltishard -id -t 3 -m 12 -p 1 -l 32 -e
		{"argon2 cli", "password", "$argon2id$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$DYojYpnUWSMmTtrkVXyaNWVGxLmGe1n8VJBPDdFkbjU", true, true},

		{"passlib bcrypt default", pyBcryptPassword, pyBcryptDefault, true, true},
		{"passlib bcrypt wrong", "hello kernelcj", pyBcrypt2b, false, false},
		{"passlib 2a", pyBcryptPassword, pyBcrypt2a, true, true},
		{"passlib 2b", pyBcryptPassword, pyBcrypt2b, true, true},
		{"passlib 2y", pyBcryptPassword, pyBcrypt2y, true, true},
		{"passlib long password, same 72 bytes", strings.Repeat("x", 72) + "something else", pyBcryptLong, true, true},
		{"passlib long password, 72 bytes only", strings.Repeat("x", 72), pyBcryptLong, true, true},
		{"passlib long password, 71 bytes", strings.Repeat("x", 71), pyBcryptLong, false, false},
		// John the Ripper vectors from passlib's own test suite.
		{"jtr U*U*U*U*", "U*U*U*U*", "$2a$05$c92SVSfjeiCD6F2nAD6y0uBpJDjdRkt0EgeC4/31Rf2LUZbDRDE.O", true, true},
		{"jtr U*U***U", "U*U***U", "$2a$05$WY62Xk2TXZ7EvVDQ5fmjNu7b0GEzSzUXUh2cllxJwhtOeMtWV3Ujq", true, true},
	}
	h, err := NewHasher(DefaultArgon2Params)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash := h.Verify(tc.pw, tc.hash)
			if ok != tc.ok || rehash != tc.rehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tc.ok, tc.rehash)
			}
		})
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	h, _ := NewHasher(TestArgon2Params)
	good, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.Verify("pw", good); !ok {
		t.Fatal("control hash does not verify")
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=8,t=1,p=1, salt, hash
	join := func(p ...string) string { return strings.Join(p, "$") }
	bad := []string{
		"",
		"pw",
		"$argon2id$",
		"$argon2d$" + strings.Join(parts[2:], "$"),                 // argon2d unsupported
		join("", "argon2id", "v=16", parts[3], parts[4], parts[5]), // old version
		join("", "argon2id", parts[3], parts[4], parts[5]),         // no version
		join("", "argon2id", "v=19", "t=1,m=8,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=08,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=8,t=0,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=8,t=1,p=0", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=8,t=1,p=2", parts[4], parts[5]), // m < 8p
		join("", "argon2id", "v=19", "m=99999999999,t=1,p=1", parts[4], parts[5]),
		join("", "argon2id", "v=19", "m=8,t=1,p=1,keyid=abc", parts[4], parts[5]),
		join("", "argon2id", "v=19", parts[3], "c2FsdA", parts[5]), // 4-byte salt
		join("", "argon2id", "v=19", parts[3], parts[4], "!!!"),
		join("", "argon2id", "v=19", parts[3], parts[4], parts[5][:10]), // truncated hash
		good + "$",
		"$2x$04$uAXtpjImevg6lxaZbaqnUefiotBQFBuz4s.OG97MhyRdnM3KlWAr2", // buggy crypt_blowfish variant
		"$2b$04$pvQFKAJCbH/GS.wi9p4FR",
		"$1$abc$def",
	}
	for _, enc := range bad {
		if ok, rehash := h.Verify("pw", enc); ok || rehash {
			t.Errorf("Verify(%q) = %v, %v; want false, false", enc, ok, rehash)
		}
	}
	// Padding is tolerated.
	if ok, _ := h.Verify("pw", join("", "argon2id", "v=19", parts[3], parts[4]+"==", parts[5]+"=")); !ok {
		t.Error("padded base64 rejected")
	}
}

func TestHashFormat(t *testing.T) {
	h, _ := NewHasher(DefaultArgon2Params)
	enc, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %q has not the argon2-cffi prefix", enc)
	}
	p, err := parseArgon2(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.salt) != 16 || len(p.key) != 32 {
		t.Errorf("salt %d bytes, hash %d bytes; want 16 and 32", len(p.salt), len(p.key))
	}
	if strings.Count(enc, "=") != 4 { // v=, m=, t=, p=: no base64 padding
		t.Errorf("hash %q is padded", enc)
	}
	if ok, rehash := h.Verify("correct horse", enc); !ok || rehash {
		t.Errorf("Verify own hash = %v, %v; want true, false", ok, rehash)
	}

	cheap, _ := NewHasher(TestArgon2Params)
	enc, _ = cheap.Hash("correct horse")
	if ok, _ := cheap.Verify("correct horsE", enc); ok {
		t.Error("wrong password accepted")
	}
	if ok, _ := cheap.Verify("", enc); ok {
		t.Error("empty password accepted")
	}
	if enc2, _ := cheap.Hash("correct horse"); enc == enc2 {
		t.Error("two hashes of the same password are equal: salt not random")
	}
}

func TestNeedsRehash(t *testing.T) {
	weak, _ := NewHasher(TestArgon2Params)
	strongParams := Argon2Params{Memory: 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}
	strong, _ := NewHasher(strongParams)
	enc, _ := weak.Hash("pw")
	if ok, rehash := strong.Verify("pw", enc); !ok || !rehash {
		t.Errorf("weak hash under strong params = %v, %v; want true, true", ok, rehash)
	}
	enc, _ = strong.Hash("pw")
	if ok, rehash := weak.Verify("pw", enc); !ok || rehash {
		t.Errorf("strong hash under weak params = %v, %v; want true, false", ok, rehash)
	}
	if ok, rehash := weak.Verify("pW", enc); ok || rehash {
		t.Errorf("wrong password = %v, %v; want false, false", ok, rehash)
	}
	for name, mod := range map[string]func(*Argon2Params){
		"fewer passes":     func(p *Argon2Params) { p.Time = 1 },
		"less memory":      func(p *Argon2Params) { p.Memory = 512 },
		"shorter hash":     func(p *Argon2Params) { p.KeyLen = 16 },
		"shorter salt":     func(p *Argon2Params) { p.SaltLen = 8 },
		"p=1 (not weaker)": func(p *Argon2Params) { p.Threads = 1 },
		"stronger":         func(p *Argon2Params) { p.Time = 3; p.Memory = 2048 },
	} {
		p := strongParams
		mod(&p)
		h, err := NewHasher(p)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := h.Hash("pw")
		wantRehash := !strings.Contains(name, "not weaker") && name != "stronger"
		if ok, rehash := strong.Verify("pw", enc); !ok || rehash != wantRehash {
			t.Errorf("%s: Verify = %v, %v; want true, %v", name, ok, rehash, wantRehash)
		}
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	for _, p := range []Argon2Params{
		{},
		{Memory: 8, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 2},
	} {
		if _, err := NewHasher(p); err == nil {
			t.Errorf("NewHasher(%+v) accepted", p)
		}
	}
}

func TestPackageLevelAndTestParams(t *testing.T) {
	if DefaultHasher().Params() != DefaultArgon2Params {
		t.Fatalf("default params = %+v", DefaultHasher().Params())
	}
	restore := SetTestParams()
	enc, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Errorf("test params hash = %q", enc)
	}
	if ok, rehash := VerifyPassword("pw", enc); !ok || rehash {
		t.Errorf("VerifyPassword = %v, %v", ok, rehash)
	}
	DummyVerify("pw")
	restore()
	if DefaultHasher().Params() != DefaultArgon2Params {
		t.Fatalf("restore left params = %+v", DefaultHasher().Params())
	}
	if ok, rehash := VerifyPassword("pw", enc); !ok || !rehash {
		t.Errorf("cheap hash after restore = %v, %v; want true, true", ok, rehash)
	}
	prev, err := SetParams(Argon2Params{})
	if err == nil || prev != DefaultArgon2Params {
		t.Errorf("SetParams(bad) = %+v, %v", prev, err)
	}
}

// DummyVerify must cost about as much as a real verification; a generous
// bound keeps the test stable on a loaded machine.
// TestDummyVerifyCostsLikeARealOne checks that the dummy hash is made with
// the hasher's own parameters (so verifying it costs what a real
// verification costs) and that it never accepts a password.
func TestDummyVerifyCostsLikeARealOne(t *testing.T) {
	p := Argon2Params{Memory: 8192, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}
	h, _ := NewHasher(p)
	h.DummyVerify("warm up")
	real, _ := h.Hash("pw")
	wantPrefix := real[:strings.LastIndex(real[:strings.LastIndex(real, "$")], "$")]
	gotPrefix := h.dummy[:strings.LastIndex(h.dummy[:strings.LastIndex(h.dummy, "$")], "$")]
	if gotPrefix != wantPrefix {
		t.Fatalf("dummy hash parameters %q, want %q", gotPrefix, wantPrefix)
	}
	if ok, _ := h.Verify("warm up", h.dummy); ok {
		t.Fatal("the dummy hash accepted a caller's password")
	}
}
