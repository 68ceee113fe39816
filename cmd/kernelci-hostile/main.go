// Command kernelci-hostile runs a hostile client mix against a fresh
// kernelci-api server and measures what an ordinary client sees meanwhile
// (docs/security.md has results and how to read them):
//
//   - pathological regular expressions on a 300 KB field (GET /count,
//     at the repetition limit, and past it);
//   - concurrent anonymous logins, each a 64 MiB argon2id hash;
//   - slow bodies: connections declaring 100,000 bytes and sending one
//     byte a second;
//
// all from one client, while a second client reads GET /nodes?limit=1
// every 100 ms. It reports that reader's latencies and the server's
// resident memory (VmRSS sampled, VmHWM at the end, from /proc: Linux).
//
//	go build -o /tmp/kernelci-api ./cmd/kernelci-api
//	go run ./cmd/kernelci-hostile -server /tmp/kernelci-api -duration 60s
//
// The server runs on 127.0.0.1 with a temporary data directory and the
// default limits, except the per-client login limit, turned off so that
// every login hashes (the worst case: an attacker with many addresses).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var (
		server   = flag.String("server", "", "kernelci-api binary to start (required)")
		duration = flag.Duration("duration", 60*time.Second, "how long the hostile mix runs")
		regexes  = flag.Int("regex", 4, "clients looping pathological regex counts")
		logins   = flag.Int("logins", 24, "clients looping anonymous logins")
		slow     = flag.Int("slow", 50, "slow-body connections kept open")
		extra    = flag.String("env", "", "extra server settings, comma-separated KEY=VALUE")
		listen   = flag.String("addr", "", "127.0.0.1:port for the server (default: a free port)")
	)
	flag.Parse()
	if *server == "" {
		fmt.Fprintln(os.Stderr, "kernelci-hostile: -server is required")
		os.Exit(2)
	}
	if err := run(*server, *listen, *duration, *regexes, *logins, *slow, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "kernelci-hostile:", err)
		os.Exit(1)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func run(bin, addr string, d time.Duration, nRegex, nLogin, nSlow int, extra string) error {
	dir, err := os.MkdirTemp("", "kernelci-hostile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if addr == "" {
		if addr, err = freePort(); err != nil {
			return err
		}
	}
	const adminPassword = "hostile-load-admin"
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "KCI_LISTEN_ADDR="+addr, "KCI_DATA_DIR="+dir, "SECRET_KEY=hostile-load",
		"KCI_INITIAL_PASSWORD="+adminPassword, "KCI_LOGIN_MAX_FAILURES_PER_CLIENT=0", "KCI_LOGIN_MAX_FAILURES_PER_USER=0",
		"KCI_LOG_LEVEL=error", "KCI_LIFECYCLE=false")
	for _, kv := range strings.Split(extra, ",") {
		if kv != "" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	if err := waitReady(base); err != nil {
		return err
	}
	tok, err := login(base, "admin", adminPassword)
	if err != nil {
		return err
	}
	if err := seed(base, tok); err != nil {
		return err
	}
	rss0 := procStatus(cmd.Process.Pid, "VmRSS")
	fmt.Printf("server pid %d on %s; RSS before the mix: %d MB\n", cmd.Process.Pid, addr, rss0>>10)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	count := func(kind string, status int) {
		mu.Lock()
		outcomes[fmt.Sprintf("%s %d", kind, status)]++
		mu.Unlock()
	}
	hostile := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	loop := func(kind string, req func() (*http.Request, error)) {
		defer wg.Done()
		for ctx.Err() == nil {
			r, err := req()
			if err != nil {
				return
			}
			resp, err := hostile.Do(r.WithContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					count(kind, 0)
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			count(kind, resp.StatusCode)
		}
	}
	patterns := []string{"[a-z]{1,50}[a-z]{1,50}z", "[a-z]{1,1000}[a-z]{1,1000}b", "(a|b|c|d)+x"}
	for i := 0; i < nRegex; i++ {
		wg.Add(1)
		p := patterns[i%len(patterns)]
		go loop("regex", func() (*http.Request, error) {
			return http.NewRequest("GET", base+"/latest/count?data.blob__re="+url.QueryEscape(p), nil)
		})
	}
	var n atomic.Int64
	for i := 0; i < nLogin; i++ {
		wg.Add(1)
		go loop("login", func() (*http.Request, error) {
			form := url.Values{"username": {fmt.Sprintf("nobody%d", n.Add(1))}, "password": {"guess"}}
			r, err := http.NewRequest("POST", base+"/latest/user/login", strings.NewReader(form.Encode()))
			if err == nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return r, err
		})
	}
	var slowClosed atomic.Int64
	for i := 0; i < nSlow; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				slowBody(ctx, addr, &slowClosed)
			}
		}()
	}

	// The ordinary client and the memory sampler.
	var lat []time.Duration
	probeErrs := 0
	var peak int64
	probe := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	for ctx.Err() == nil {
		<-tick.C
		if v := procStatus(cmd.Process.Pid, "VmRSS"); v > peak {
			peak = v
		}
		t0 := time.Now()
		resp, err := probe.Get(base + "/latest/nodes?limit=1")
		if err != nil {
			probeErrs++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			probeErrs++
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	tick.Stop()
	cancel()
	wg.Wait()
	hwm := procStatus(cmd.Process.Pid, "VmHWM")

	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("mix: %d regex clients, %d login clients, %d slow-body connections, for %s\n", nRegex, nLogin, nSlow, d)
	fmt.Printf("GET /nodes?limit=1 from another client: %d answers, %d failures; p50 %s, p99 %s, max %s\n",
		len(lat), probeErrs, pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	fmt.Printf("server RSS: before %d MB, peak sampled %d MB, high-water mark (VmHWM) %d MB\n", rss0>>10, peak>>10, hwm>>10)
	fmt.Printf("slow-body connections closed by the server: %d\n", slowClosed.Load())
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("  hostile %s: %d\n", k, outcomes[k])
	}
	return nil
}

// slowBody declares a 100,000-byte login body and sends a byte a second
// until the server closes the connection or ctx ends.
func slowBody(ctx context.Context, addr string, closed *atomic.Int64) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /latest/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes
		close(done)
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			closed.Add(1)
			return
		case <-t.C:
			if _, err := c.Write([]byte("u")); err != nil {
				closed.Add(1)
				return
			}
		}
	}
}

func waitReady(base string) error {
	for i := 0; i < 300; i++ {
		resp, err := http.Get(base + "/latest/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server at %s did not come up", base)
}

func login(base, user, password string) (string, error) {
	resp, err := http.PostForm(base+"/latest/user/login", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("login %s: status %d", user, resp.StatusCode)
	}
	return t.AccessToken, nil
}

// seed stores 200 ordinary nodes and one with a 300 KB data.blob.
func seed(base, tok string) error {
	post := func(n map[string]any) error {
		b, _ := json.Marshal(n)
		r, _ := http.NewRequest("POST", base+"/latest/node", bytes.NewReader(b))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("seeding: POST /node answered %d", resp.StatusCode)
		}
		return nil
	}
	for i := 0; i < 200; i++ {
		if err := post(map[string]any{"kind": "checkout", "name": "n" + strconv.Itoa(i), "path": []string{"checkout"}}); err != nil {
			return err
		}
	}
	return post(map[string]any{"kind": "checkout", "name": "big", "path": []string{"checkout"},
		"data": map[string]any{"blob": strings.Repeat("abcdefghij", 30000)}})
}

// procStatus reads a kB field of /proc/pid/status (0 when unavailable).
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
