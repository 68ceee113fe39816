package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// TestSIGTERM runs the real binary, holds an open listen and a write in
// flight, and sends SIGTERM: the listen is answered at once with a
// keep-alive, new connections are refused, the write still completes and
// is stored, and the process exits with status 0 within 10 s.
func TestSIGTERM(t *testing.T) {
	srv := startServing(t, "sigterm-test")
	client := &http.Client{Timeout: 60 * time.Second}
	base := srv.base
	token := loginAdmin(t, client, base, "pw")

	call := func(method, path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := call("POST", "/subscribe/node", token)
	if code != 200 {
		t.Fatalf("subscribe: %d %s", code, b)
	}
	var sub struct{ ID int64 }
	json.Unmarshal(b, &sub)

	// An open listen (the keep-alive period is 45 s).
	type answer struct {
		code int
		body []byte
		err  error
		at   time.Time
	}
	send := func(req *http.Request, to chan<- answer) {
		resp, err := client.Do(req)
		if err != nil {
			to <- answer{err: err, at: time.Now()}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		to <- answer{code: resp.StatusCode, body: b, err: err, at: time.Now()}
	}
	listenc := make(chan answer, 1)
	lreq, _ := http.NewRequest("GET", base+"/listen/"+strconv.FormatInt(sub.ID, 10), nil)
	lreq.Header.Set("Authorization", "Bearer "+token)
	go send(lreq, listenc)

	// A write in flight: its body arrives in two parts, the second after
	// the signal.
	const first = `{"name": "written-during-shutdown", "kind": "checkout",`
	const rest = ` "path": ["written-during-shutdown"]}`
	pr, pw := io.Pipe()
	wreq, _ := http.NewRequest("POST", base+"/node", pr)
	wreq.Header.Set("Authorization", "Bearer "+token)
	wreq.Header.Set("Content-Type", "application/json")
	writec := make(chan answer, 1)
	go send(wreq, writec)
	if _, err := pw.Write([]byte(first)); err != nil {
		t.Fatal(err)
	}

	// Wait until the server holds both: the listen is waiting, and three
	// requests are in flight (the listen, the write, the scrape itself).
	testutil.WaitFor(t, 20*time.Second, "the listen and the write in flight", func() bool {
		code, b := call("GET", "/metrics", "")
		return code == 200 && metricValue(string(b), "kernelci_listeners_open") == 1 &&
			metricValue(string(b), "http_requests_in_flight") >= 3
	})

	signalled := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// The listen is answered with a keep-alive, at once.
	select {
	case a := <-listenc:
		if a.err != nil || a.code != 200 {
			t.Fatalf("listen during shutdown: %d %v %s", a.code, a.err, a.body)
		}
		var msg struct{ Type, Channel, Data string }
		if err := json.Unmarshal(a.body, &msg); err != nil || msg.Type != "message" || msg.Channel != "node" {
			t.Fatalf("listen answer %s", a.body)
		}
		var ce struct{ Data any }
		if err := json.Unmarshal([]byte(msg.Data), &ce); err != nil || ce.Data != "BEEP" {
			t.Fatalf("listen answer is not a keep-alive: %s", a.body)
		}
		if d := a.at.Sub(signalled); d > 5*time.Second {
			t.Errorf("the keep-alive came %v after the signal", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the open listen was not answered within 10 s of SIGTERM")
	}

	// No new connection is accepted, while the write is still running.
	testutil.WaitFor(t, 5*time.Second, "new connections refused", func() bool {
		c, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-srv.exited:
		t.Fatalf("the server exited before the write in flight finished: %v", err)
	default:
	}

	// The write completes and is answered.
	if _, err := pw.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case a := <-writec:
		if a.err != nil || a.code != 200 || !strings.Contains(string(a.body), `"name":"written-during-shutdown"`) {
			t.Fatalf("write in flight: %d %v %s", a.code, a.err, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write in flight was not answered")
	}

	// The process exits with status 0 within 10 s of the signal.
	select {
	case err := <-srv.exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		d := time.Since(signalled)
		if d > 10*time.Second {
			t.Errorf("exited %v after SIGTERM", d)
		}
		t.Logf("exited with status 0 %v after SIGTERM", d.Round(time.Millisecond))
	case <-time.After(time.Until(signalled.Add(10 * time.Second))):
		t.Fatal("still running 10 s after SIGTERM")
	}
	log := srv.log()
	for _, want := range []string{`"msg":"shutting down`, `"msg":"kernelci-api stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}

	// The write is in the store.
	st, err := sqlite.Open(context.Background(), filepath.Join(srv.data, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountNodes(context.Background(), query.Where("name", "written-during-shutdown"))
	if err != nil || n != 1 {
		t.Fatalf("stored nodes named written-during-shutdown: %d %v", n, err)
	}
}

// metricValue reads an unlabelled sample of the Prometheus text format
// (-1 when absent).
func metricValue(text, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// serving is one "kernelci-api serve" process of this binary on the
// embedded store (startServing).
type serving struct {
	cmd    *exec.Cmd
	data   string     // its data directory
	addr   string     // the host:port it listens on
	base   string     // http://addr/latest
	exited chan error // the end of the process (once)

	mu    sync.Mutex
	lines []string // its log so far (JSON lines)
}

// startServing builds this binary and runs "serve" on the embedded store
// in a temporary directory (a random port, JSON logs, no .env from the
// source tree, the admin's password "pw"), and waits until it serves.
// The process is killed at the end of the test, and its log shown if the
// test failed. It skips in -short runs and without the go tool.
func startServing(t *testing.T, secret string) *serving {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not in PATH")
	}
	dir := t.TempDir()
	s := &serving{data: filepath.Join(dir, "data"), exited: make(chan error, 1)}
	s.cmd = exec.Command(buildServer(t, dir), "serve", "--addr", "127.0.0.1:0", "--data-dir", s.data, "--log-format", "json")
	s.cmd.Dir = dir
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SECRET_KEY=" + secret, "KCI_INITIAL_PASSWORD=pw"}
	s.cmd.Stdout = io.Discard
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.lines = append(s.lines, line)
			s.mu.Unlock()
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "kernelci-api serving" {
				addrc <- m.Addr
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log())
		}
	})
	select {
	case s.addr = <-addrc:
	case err := <-s.exited:
		t.Fatalf("the server exited at start-up: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start within 60 s")
	}
	s.base = "http://" + s.addr + "/latest"
	return s
}

// log is the process's log so far.
func (s *serving) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// loginAdmin logs in as the admin at base and answers the access token.
func loginAdmin(t *testing.T, hc *http.Client, base, password string) string {
	t.Helper()
	resp, err := hc.PostForm(base+"/user/login", url.Values{"username": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}
