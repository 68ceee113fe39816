package main

// Shared plumbing: every test runs the CLI in-process (run) against its
// own API server on a fresh SQLite store in t.TempDir().

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/app"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/email"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

const (
	testSecret    = "usermanager-test-secret"
	adminPassword = "admin-s3cret"
	userPassword  = "user-s3cret"
)

func TestMain(m *testing.M) {
	restore := auth.SetTestParams()
	code := m.Run()
	restore()
	os.Exit(code)
}

// server is one API under test.
type server struct {
	t      *testing.T
	url    string // with the /latest prefix
	store  store.Store
	tokens *auth.Tokens
	admin  *model.User
	token  string // the admin's
	mails  chan email.Message
}

type serverOpt func(*api.Options)

// withMailer records the emails the server sends.
func withMailer(ch chan email.Message) serverOpt {
	return func(o *api.Options) { o.Mailer = recorder(ch) }
}

type recorder chan email.Message

func (r recorder) Send(_ context.Context, m email.Message) error {
	r <- m
	return nil
}

// newServer starts an API with the node:edit:any group and a superuser
// (adminName, default "admin") and its token.
func newServer(t *testing.T, adminName string, opts ...serverOpt) *server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		t.Fatal(err)
	}
	if adminName == "" {
		adminName = "admin"
	}
	admin, err := app.CreateSuperuser(ctx, st, adminName, adminName+"@kernelci.org", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	tokens := &auth.Tokens{Secret: testSecret}
	var o api.Options
	for _, opt := range opts {
		opt(&o)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	srv := httptest.NewServer(api.New(st, tokens, o, log))
	t.Cleanup(srv.Close)
	tok, err := tokens.Issue(admin.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	return &server{t: t, url: srv.URL + "/latest", store: st, tokens: tokens, admin: admin, token: tok}
}

// addUser stores an active, verified user with userPassword in the named
// groups (created when missing).
func (s *server) addUser(name string, groups ...string) *model.User {
	s.t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword(userPassword)
	if err != nil {
		s.t.Fatal(err)
	}
	u := &model.User{Username: name, Email: name + "@example.org", HashedPassword: hash,
		IsActive: true, IsVerified: true, Groups: []model.Group{}}
	for _, g := range groups {
		u.Groups = append(u.Groups, *s.addGroup(g))
	}
	if err := s.store.InsertUser(ctx, u); err != nil {
		s.t.Fatal(err)
	}
	return u
}

func (s *server) addGroup(name string) *model.Group {
	s.t.Helper()
	ctx := context.Background()
	if g, err := s.store.GetGroupByName(ctx, name); err == nil {
		return g
	}
	g := &model.Group{Name: name}
	if err := s.store.InsertGroup(ctx, g); err != nil {
		s.t.Fatal(err)
	}
	return g
}

// tokenFor issues a session token of u's current token generation (a
// token of an older one answers 401, as after a password change).
func (s *server) tokenFor(u *model.User) string {
	s.t.Helper()
	tok, err := s.tokens.IssueSession(u.ID.String(), s.user(u.Username).TokenGeneration)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// user reads a user back from the store.
func (s *server) user(name string) *model.User {
	s.t.Helper()
	u, err := s.store.GetUserByUsername(context.Background(), name)
	if err != nil {
		s.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// env is the environment of the CLI: HOME is always a fresh directory,
// so that no real config file is read.
func (s *server) env(t *testing.T) map[string]string {
	return map[string]string{"HOME": t.TempDir(), "KCI_API_URL": s.url, "KCI_API_TOKEN": s.token}
}

// envAs is env with a session token of u instead of the admin's.
func (s *server) envAs(t *testing.T, u *model.User) map[string]string {
	env := s.env(t)
	env["KCI_API_TOKEN"] = s.tokenFor(u)
	return env
}

// result is one run of the CLI.
type result struct {
	t      *testing.T
	args   []string
	code   int
	stdout string
	stderr string
}

// runCLI runs usermanager with env (unset variables are empty) and stdin.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) *result {
	t.Helper()
	if _, ok := env["HOME"]; !ok {
		t.Fatal("test env without HOME")
	}
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return &result{t: t, args: args, code: code, stdout: out.String(), stderr: errb.String()}
}

// um runs usermanager as the admin of s.
func (s *server) um(t *testing.T, args ...string) *result {
	t.Helper()
	return runCLI(t, s.env(t), "", args...)
}

func (r *result) String() string {
	return "usermanager " + strings.Join(r.args, " ") + ": exit " + itoa(r.code) +
		"\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// ok fails unless the exit status is 0.
func (r *result) ok() *result {
	r.t.Helper()
	return r.exit(0)
}

func (r *result) exit(code int) *result {
	r.t.Helper()
	if r.code != code {
		r.t.Fatalf("want exit %d, got\n%s", code, r)
	}
	return r
}

// fails checks an exit status and that stderr contains each of want.
func (r *result) fails(code int, want ...string) *result {
	r.t.Helper()
	r.exit(code)
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			r.t.Fatalf("stderr does not contain %q:\n%s", w, r)
		}
	}
	if code != 0 && r.stdout != "" {
		r.t.Fatalf("stdout not empty on failure:\n%s", r)
	}
	return r
}

// object decodes stdout as one JSON object.
func (r *result) object() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		r.t.Fatalf("stdout is not a JSON object: %v\n%s", err, r)
	}
	return m
}

// into decodes stdout into v.
func (r *result) into(v any) {
	r.t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		r.t.Fatalf("stdout does not decode into %T: %v\n%s", v, err, r)
	}
}

// userOut decodes stdout as a user.
func (r *result) userOut() *model.User {
	r.t.Helper()
	var u model.User
	r.into(&u)
	return &u
}

// pretty checks that stdout is a JSON object indented by two spaces.
func (r *result) pretty() *result {
	r.t.Helper()
	if !json.Valid([]byte(r.stdout)) || !strings.HasPrefix(r.stdout, "{\n  \"") || !strings.HasSuffix(r.stdout, "}\n") {
		r.t.Fatalf("stdout is not an indented JSON object:\n%s", r)
	}
	return r
}

// jwtRE finds a JWT in a text.
var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// nextMail waits for an email.
func nextMail(t *testing.T, ch chan email.Message) email.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no email sent")
	}
	return email.Message{}
}

// writeFile writes a file (and its directory) with mode 0600.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// groupNamesOf lists the group names of u.
func groupNamesOf(u *model.User) string { return strings.Join(u.GroupNames(), ",") }
