package auth

import "testing"

func TestBearerToken(t *testing.T) {
	tests := map[string]string{
		"":                 "",
		"   ":              "",
		"Bearer abc.def.g": "abc.def.g",
		"bearer abc":       "abc",
		"BEARER abc":       "abc",
		"BeArEr   abc  ":   "abc",
		"Bearer\tabc":      "abc",
		"abc.def.g":        "abc.def.g",
		"  abc.def.g  ":    "abc.def.g",
		"Bearer":           "",
		"bearer ":          "",
		"Basic dXNlcjpwdw": "",
		"Token abc":        "",
		"Bearer abc def":   "",
	}
	for in, want := range tests {
		if got := BearerToken(in); got != want {
			t.Errorf("BearerToken(%q) = %q; want %q", in, got, want)
		}
	}
}
