package auth

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

func TestAPITokenFormat(t *testing.T) {
	re := regexp.MustCompile(`^kci_[a-z2-7]{59}$`)
	seen := map[string]bool{}
	for range 50 {
		tok, hash, err := NewAPIToken()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(tok) || len(tok) != APITokenLen {
			t.Fatalf("token %q does not match %s", tok, re)
		}
		if !WellFormedAPIToken(tok) || !IsAPIToken(tok) {
			t.Fatalf("token %q not recognised", tok)
		}
		if hash != HashAPIToken(tok) || len(hash) != 64 || strings.Contains(hash, tok) {
			t.Fatalf("hash %q of %q", hash, tok)
		}
		if seen[tok] {
			t.Fatal("repeated token")
		}
		seen[tok] = true
		// One changed character breaks the checksum.
		b := []byte(tok)
		if b[10] == 'a' {
			b[10] = 'b'
		} else {
			b[10] = 'a'
		}
		if WellFormedAPIToken(string(b)) {
			t.Fatalf("altered token %q passes the checksum", b)
		}
	}
	for _, s := range []string{"", "kci_", "kci_abc", "eyJhbGciOiJIUzI1NiJ9.e30.x"} {
		if WellFormedAPIToken(s) {
			t.Errorf("%q taken as a token", s)
		}
	}
}

func TestParseScopes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		err  string
	}{
		{in: []string{"read"}, want: []string{"read"}},
		{in: []string{"pubsub", "read", "pubsub"}, want: []string{"pubsub", "read"}},
		{in: []string{"node:write:lava-b", "node:write:lava-a"}, want: []string{"node:write:lava-a", "node:write:lava-b", "read"}},
		{in: []string{"node:write:lava-a", "node:write"}, want: []string{"node:write", "read"}},
		{in: []string{"admin"}, want: []string{"admin", "read"}},
		{in: nil, err: "at least one scope"},
		{in: []string{"write"}, err: `unknown scope "write"`},
		{in: []string{"node:write:"}, err: "runtime"},
	} {
		s, err := ParseScopes(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if !slices.Equal(s.List(), tc.want) {
			t.Errorf("%v: %v, want %v", tc.in, s.List(), tc.want)
		}
	}
}

func TestScopesAllow(t *testing.T) {
	must := func(sc ...string) Scopes {
		s, err := ParseScopes(sc)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	node := func(rt any) *model.Node { return &model.Node{Data: map[string]any{"runtime": rt}} }
	read := must("read")
	lava := must("node:write:lava-a")
	anyRT := must("node:write", "pubsub")
	admin := must("admin")
	if read.Allows(ScopeNodeWrite) || read.AllowsNode(node("lava-a")) || read.Allows(ScopePubSub) || !read.Allows(ScopeRead) {
		t.Error("read-only token allows a write")
	}
	if !lava.AllowsNode(node("lava-a")) || lava.AllowsNode(node("lava-b")) || lava.AllowsNode(node(nil)) || lava.AllowsNode(node(7)) {
		t.Error("node:write:lava-a: wrong runtimes")
	}
	if !anyRT.AllowsNode(node("x")) || !anyRT.Allows(ScopePubSub) || anyRT.Allows(ScopeAdmin) || anyRT.Allows(ScopeAccount) {
		t.Error("node:write + pubsub")
	}
	if !admin.Allows(ScopeAdmin) || !admin.AllowsNode(node("x")) || !Full.Allows(ScopeAdmin) || Full.Limited() {
		t.Error("admin and Full allow everything")
	}
	for _, tc := range []struct {
		s, o Scopes
		want bool
	}{
		{anyRT, lava, true}, {lava, anyRT, false}, {lava, must("node:write:lava-a", "read"), true},
		{lava, must("node:write:lava-c"), false}, {read, must("pubsub"), false}, {admin, anyRT, true},
		{anyRT, admin, false}, {Full, admin, true},
	} {
		if got := tc.s.Covers(tc.o); got != tc.want {
			t.Errorf("%v covers %v: %v, want %v", tc.s.List(), tc.o.List(), got, tc.want)
		}
	}
}
