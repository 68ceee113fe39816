package main

// The seed documentation's usermanager examples, run verbatim by a shell
// with the usermanager binary against a real kernelci-api serve process.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

const (
	seedScript      = "./scripts/usermanager.py"
	wfAdminPassword = "wf-admin-s3cret"
	wfAlicePassword = "alice-first-pass"
	wfNewPassword   = "alice-second-pass"
)

// seedExamples reads testdata/seed-examples.txt: the example commands,
// without their "$ " prompt.
func seedExamples(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed-examples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(b), "\n\n") {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
			if !strings.HasPrefix(l, "#") && l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		ex := strings.Join(lines, "\n")
		if !strings.HasPrefix(ex, "$ "+seedScript+" ") {
			t.Fatalf("not an example: %q", ex)
		}
		out = append(out, strings.TrimPrefix(ex, "$ "))
	}
	return out
}

// buildBinaries builds kernelci-api and usermanager into a directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binaries with")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-o", dir,
		"github.com/kernelci/kernelci-api-go/cmd/kernelci-api",
		"github.com/kernelci/kernelci-api-go/cmd/usermanager")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer is a bytes.Buffer written by a process and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs kernelci-api serve on a fresh data directory (or the
// MongoDB database mongoURI names, when not empty) and waits until GET
// /latest/ answers 200. It returns the API URL.
func startServe(t *testing.T, bin, mongoURI string) (string, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	work := t.TempDir()
	logs := &syncBuffer{}
	cmd := exec.Command(filepath.Join(bin, "kernelci-api"), "serve", "--addr", addr, "--data-dir", filepath.Join(work, "data"))
	cmd.Dir = work // no stray .env
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work,
		"SECRET_KEY=workflow-test-secret", "KCI_INITIAL_PASSWORD=" + wfAdminPassword}
	if mongoURI != "" {
		cmd.Env = append(cmd.Env, "MONGO_SERVICE="+mongoURI)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr + "/latest"
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("kernelci-api serve exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := hc.Get(base + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernelci-api serve not ready at %s after 60s\n%s", base, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wfStep is one command: a seed example (verbatim, placeholders and
// all) or, when setup is set, a command of the test's own.
type wfStep struct {
	example string
	setup   bool
	stdin   string
	check   func(t *testing.T, stdout string)
}

func decodeUser(t *testing.T, stdout string) *model.User {
	t.Helper()
	var u model.User
	if err := json.Unmarshal([]byte(stdout), &u); err != nil {
		t.Fatalf("not a user: %v\n%s", err, stdout)
	}
	return &u
}

// TestSeedWorkflows runs the seed's usermanager examples against a real
// server on each backend: the embedded store, and MongoDB (the embedded
// FerretDB of mongotest).
func TestSeedWorkflows(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a server")
	}
	t.Parallel()
	bin := buildBinaries(t)
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		seedWorkflows(t, bin, "")
	})
	t.Run("mongo", func(t *testing.T) {
		t.Parallel()
		srv := mongotest.StartT(t)
		seedWorkflows(t, bin, srv.URI()+mongotest.NewDatabase())
	})
}

func seedWorkflows(t *testing.T, bin, mongoURI string) {
	base, logs := startServe(t, bin, mongoURI)
	if mongoURI != "" && !strings.Contains(logs.String(), "mongo: connected") {
		t.Fatalf("the server did not start on MongoDB:\n%s", logs.String())
	}

	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the examples with")
	}
	work, home := t.TempDir(), t.TempDir()
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home}
	vars := map[string]string{"<new-password>": wfNewPassword}

	// runSh runs a command line (backslash continuations and quotes as
	// written) in the work directory, where ./usermanager.toml is.
	runSh := func(t *testing.T, line, stdin string) (string, string, error) {
		t.Helper()
		line = strings.ReplaceAll(line, seedScript, "usermanager")
		for k, v := range vars {
			line = strings.ReplaceAll(line, k, v)
		}
		cmd := exec.CommandContext(context.Background(), sh, "-c", line)
		cmd.Dir, cmd.Env = work, env
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	// The admin logs in and keeps the token in ./usermanager.toml, the
	// first default config file (as the seed says).
	out, stderr, err := runSh(t, "usermanager --api-url "+base+" generate-api-token --username admin", wfAdminPassword+"\n")
	if err != nil {
		t.Fatalf("admin login: %v\n%s%s", err, stderr, logs.String())
	}
	writeFile(t, filepath.Join(work, "usermanager.toml"), fmt.Sprintf(
		"default_instance = \"local\"\n\n[instances.local]\nurl = %q\ntoken = %q\n", base, strings.TrimSpace(out)))

	var aliceID string
	groupsAre := func(want ...string) func(t *testing.T, stdout string) {
		return func(t *testing.T, stdout string) {
			t.Helper()
			if got := decodeUser(t, stdout).GroupNames(); !slices.Equal(got, want) {
				t.Fatalf("groups %v, want %v", got, want)
			}
		}
	}
	flagsAre := func(active, super, verified bool) func(t *testing.T, stdout string) {
		return func(t *testing.T, stdout string) {
			t.Helper()
			u := decodeUser(t, stdout)
			if u.IsActive != active || u.IsSuperuser != super || u.IsVerified != verified {
				t.Fatalf("active/superuser/verified %v/%v/%v, want %v/%v/%v", u.IsActive, u.IsSuperuser, u.IsVerified, active, super, verified)
			}
		}
	}
	loggedIn := func(t *testing.T, stdout string) {
		t.Helper()
		var tok wire.Token
		if err := json.Unmarshal([]byte(stdout), &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "bearer" {
			t.Fatalf("not a token: %v\n%s", err, stdout)
		}
	}
	listHas := func(want ...string) func(t *testing.T, stdout string) {
		return func(t *testing.T, stdout string) {
			t.Helper()
			var p wire.Page[[]map[string]any]
			if err := json.Unmarshal([]byte(stdout), &p); err != nil {
				t.Fatalf("not a page: %v\n%s", err, stdout)
			}
			var names []string
			for _, it := range p.Items {
				n, _ := it["username"].(string)
				if n == "" {
					n, _ = it["name"].(string)
				}
				names = append(names, n)
			}
			for _, w := range want {
				if !slices.Contains(names, w) {
					t.Fatalf("%q not in %v", w, names)
				}
			}
		}
	}

	steps := []wfStep{
		// Groups first: invites and updates name existing groups only.
		{example: seedScript + " list-users", check: listHas("admin")},
		{example: seedScript + " list-groups", check: listHas(model.EditAnyGroup)},
		{example: seedScript + " create-group runtime:lava-collabora:node-editor"},
		{example: seedScript + " create-group runtime:pull-labs-demo:node-editor"},
		{example: "usermanager create-group team-a", setup: true},
		{example: seedScript + " invite \\\n--username alice \\\n--email alice@example.org \\\n--groups runtime:pull-labs-demo:node-editor \\\n--return-token",
			check: func(t *testing.T, stdout string) {
				var inv wire.InviteResponse
				if err := json.Unmarshal([]byte(stdout), &inv); err != nil || inv.Token == nil || inv.User == nil {
					t.Fatalf("invite answer: %v\n%s", err, stdout)
				}
				aliceID = inv.User.ID.String()
				vars["<USER-ID>"], vars["615f30020eb7c3c6616e5ac3"], vars["<INVITE-TOKEN>"] = aliceID, aliceID, *inv.Token
				if inv.User.Username != "alice" || inv.User.IsVerified {
					t.Fatalf("invited %+v", inv.User)
				}
			}},
		{example: seedScript + " list-users", check: listHas("admin", "alice")},
		{example: seedScript + " get-user <USER-ID>", check: groupsAre("runtime:pull-labs-demo:node-editor")},
		{example: seedScript + " update-user 615f30020eb7c3c6616e5ac3 \\\n--data '{\"groups\": [\"runtime:lava-collabora:node-editor\"]}'",
			check: groupsAre("runtime:lava-collabora:node-editor")},
		{example: seedScript + " accept-invite --token \"<INVITE-TOKEN>\"", stdin: wfAlicePassword + "\n", check: flagsAre(true, false, true)},
		{example: seedScript + " login --username alice", stdin: wfAlicePassword + "\n", check: loggedIn},
		{example: seedScript + " update-user <USER-ID> --inactive", check: flagsAre(false, false, true)},
		{example: seedScript + " update-user <USER-ID> --active", check: flagsAre(true, false, true)},
		{example: seedScript + " update-user <USER-ID> --superuser", check: flagsAre(true, true, true)},
		{example: seedScript + " update-user <USER-ID> --no-superuser", check: flagsAre(true, false, true)},
		{example: seedScript + " update-user <USER-ID> --unverified", check: flagsAre(true, false, false)},
		{example: seedScript + " update-user <USER-ID> --verified", check: flagsAre(true, false, true)},
		{example: seedScript + " update-user <USER-ID> \\\n--add-group runtime:pull-labs-demo:node-editor",
			check: groupsAre("runtime:lava-collabora:node-editor", "runtime:pull-labs-demo:node-editor")},
		{example: seedScript + " update-user <USER-ID> \\\n--remove-group runtime:pull-labs-demo:node-editor",
			check: groupsAre("runtime:lava-collabora:node-editor")},
		{example: seedScript + " update-user <USER-ID> \\\n--set-groups runtime:pull-labs-demo:node-editor,team-a",
			check: groupsAre("runtime:pull-labs-demo:node-editor", "team-a")},
		{example: seedScript + " update-user <USER-ID> --password \"<new-password>\"", check: func(t *testing.T, stdout string) {
			if strings.Contains(stdout, wfNewPassword) {
				t.Fatalf("the password is printed:\n%s", stdout)
			}
		}},
		{example: seedScript + " login --username alice", stdin: wfNewPassword + "\n", check: loggedIn},
		{example: seedScript + " list-groups", check: listHas("runtime:pull-labs-demo:node-editor", "team-a", "runtime:lava-collabora:node-editor")},
		{example: seedScript + " delete-user <USER-ID>", check: func(t *testing.T, stdout string) {
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
		}},
		// No user has the group any more, so it can go.
		{example: seedScript + " delete-group runtime:pull-labs-demo:node-editor"},
		{example: seedScript + " list-groups", check: func(t *testing.T, stdout string) {
			if strings.Contains(stdout, "runtime:pull-labs-demo:node-editor") {
				t.Fatalf("group still listed:\n%s", stdout)
			}
		}},
	}

	// Every example of the seed is among the steps.
	var covered []string
	for _, s := range steps {
		if !s.setup {
			covered = append(covered, s.example)
		}
	}
	examples := seedExamples(t)
	if len(examples) < 20 {
		t.Fatalf("only %d seed examples read", len(examples))
	}
	for _, ex := range examples {
		if !slices.Contains(covered, ex) {
			t.Errorf("seed example not run:\n%s", ex)
		}
	}

	for i, s := range steps {
		out, stderr, err := runSh(t, s.example, s.stdin)
		if err != nil {
			t.Fatalf("step %d: %s\n%v\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", i, s.example, err, out, stderr, logs.String())
		}
		if s.check != nil && !t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			t.Logf("%s", s.example)
			s.check(t, out)
		}) {
			t.FailNow() // later steps depend on this one
		}
	}

}
