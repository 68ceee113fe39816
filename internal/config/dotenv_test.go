package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	in := "\uFEFF# comment\n" +
		"\n" +
		"PLAIN=value\n" +
		"  SPACED  =  spaced value  \n" +
		"export EXPORTED=yes\n" +
		"export\tTABBED=tab\n" +
		"EMPTY=\n" +
		"HASH=abc#def\n" +
		"COMMENTED=abc # trailing comment\n" +
		"DQ=\"double # not a comment\"\n" +
		"SQ='single \\n raw'\n" +
		"ESC=\"a\\nb\\t\\\"q\\\" \\\\ \\x\"\n" +
		"DQC=\"v\" # comment\n" +
		"EQ=a=b=c\n" +
		"secret_key=lower\n" +
		"DUP=first\n" +
		"DUP=second\n" +
		"EMPTYQ=\"\"\n" +
		"CRLF=x\r\n" +
		"exportNOT=1\n"
	got, err := parseDotenv("test.env", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PLAIN":      "value",
		"SPACED":     "spaced value",
		"EXPORTED":   "yes",
		"TABBED":     "tab",
		"EMPTY":      "",
		"HASH":       "abc#def",
		"COMMENTED":  "abc",
		"DQ":         "double # not a comment",
		"SQ":         `single \n raw`,
		"ESC":        "a\nb\t\"q\" \\ \\x",
		"DQC":        "v",
		"EQ":         "a=b=c",
		"SECRET_KEY": "lower",
		"DUP":        "second",
		"EMPTYQ":     "",
		"CRLF":       "x",
		"EXPORTNOT":  "1",
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %q (present %v); want %q", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(got), len(want), got)
	}
}

func TestParseDotenvErrors(t *testing.T) {
	for _, in := range []string{
		"NOEQUALS",
		"=value",
		"1ABC=x",
		"BAD KEY=x",
		"Q=\"unterminated",
		"Q='unterminated",
		"Q=\"v\" junk",
	} {
		_, err := parseDotenv("bad.env", []byte("OK=1\n"+in+"\n"))
		if err == nil {
			t.Errorf("%q accepted", in)
		} else if !strings.Contains(err.Error(), "bad.env:2") {
			t.Errorf("%q: error %q lacks the position", in, err)
		}
	}
}

func TestReadDotenvFile(t *testing.T) {
	dir := t.TempDir()
	m, err := ReadDotenv(filepath.Join(dir, "absent"))
	if err != nil || len(m) != 0 {
		t.Errorf("missing file: %v, %v", m, err)
	}
	if _, err := ReadDotenv(dir); err == nil {
		t.Error("reading a directory succeeded")
	}
	p := filepath.Join(dir, ".env")
	if err := os.WriteFile(p, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadDotenv(p); err != nil || m["A"] != "1" {
		t.Errorf("ReadDotenv = %v, %v", m, err)
	}
	// A broken .env fails Load.
	if err := os.WriteFile(p, []byte("oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(newFS(), nil, env(nil), p); err == nil {
		t.Error("Load accepted a broken .env")
	}
}

// The reference's env.sample, copied as .env, loads and keeps the defaults
// for its empty entries.
func TestReferenceEnvSample(t *testing.T) {
	sample := `SECRET_KEY=
# Optional second HS256 key accepted as a fallback on token verification.
UNIFIED_SECRET=
MONGO_SERVICE=mongodb://db:27017
#algorithm=
#access_token_expire_minutes=
PUBLIC_BASE_URL=
SMTP_HOST=
SMTP_PORT=
EMAIL_SENDER=
EMAIL_PASSWORD=
KCI_INITIAL_PASSWORD=
KCI_INITIAL_ADMIN_USERNAME=
KCI_INITIAL_ADMIN_EMAIL=
`
	c, err := Load(newFS(), nil, env(nil), writeDotenv(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	if c.MongoService != "mongodb://db:27017" || c.InitialAdminUsername != "admin" || c.Algorithm != "HS256" {
		t.Errorf("config = %+v", c)
	}
}
