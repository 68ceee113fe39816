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
	cmd, dir := serveCommand(t, "sigterm-test")
	data := filepath.Join(dir, "data")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var logLines []string
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logLines = append(logLines, line)
			logMu.Unlock()
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "kernelci-api serving" {
				addrc <- m.Addr
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("server log:\n%s", strings.Join(logLines, "\n"))
			logMu.Unlock()
		}
	})
	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		t.Fatalf("the server exited at start-up: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start within 60 s")
	}
	base := "http://" + addr + "/latest"
	client := &http.Client{Timeout: 60 * time.Second}

	call := func(method, path, token, ctype string, body io.Reader) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := call("POST", "/user/login", "", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"username": {"admin"}, "password": {"pw"}}.Encode()))
	if code != 200 {
		t.Fatalf("login: %d %s", code, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(b, &tok)
	code, b = call("POST", "/subscribe/node", tok.AccessToken, "", nil)
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
	lreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	go send(lreq, listenc)

	// A write in flight: its body arrives in two parts, the second after
	// the signal.
	const first = `{"name": "written-during-shutdown", "kind": "checkout",`
	const rest = ` "path": ["written-during-shutdown"]}`
	pr, pw := io.Pipe()
	wreq, _ := http.NewRequest("POST", base+"/node", pr)
	wreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	wreq.Header.Set("Content-Type", "application/json")
	writec := make(chan answer, 1)
	go send(wreq, writec)
	if _, err := pw.Write([]byte(first)); err != nil {
		t.Fatal(err)
	}

	// Wait until the server holds both: the listen is waiting, and three
	// requests are in flight (the listen, the write, the scrape itself).
	testutil.WaitFor(t, 20*time.Second, "the listen and the write in flight", func() bool {
		code, b := call("GET", "/metrics", "", "", nil)
		return code == 200 && metricValue(string(b), "kernelci_listeners_open") == 1 &&
			metricValue(string(b), "http_requests_in_flight") >= 3
	})

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
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
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-exited:
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
	case err := <-exited:
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
	logMu.Lock()
	log := strings.Join(logLines, "\n")
	logMu.Unlock()
	for _, want := range []string{`"msg":"shutting down`, `"msg":"kernelci-api stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}

	// The write is in the store.
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "kernelci.db"))
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

// serveCommand builds this binary into a temporary directory and returns
// its "serve" command on the embedded store in that directory (a random
// port, JSON logs, no .env from the source tree), with the directory. It
// skips in -short runs and without the go tool.
func serveCommand(t *testing.T, secret string) (*exec.Cmd, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not in PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kernelci-api")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SECRET_KEY=" + secret, "KCI_INITIAL_PASSWORD=pw"}
	return cmd, dir
}
