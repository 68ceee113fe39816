package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

// TestKillDuringWrites runs the real binary on the embedded store, has 16
// clients create and update nodes as fast as they can (so that the
// writes share group commits, internal/store/sqlite/group.go), kills the
// process with SIGKILL in the middle, and opens the database afterwards:
// every write the server acknowledged (answered 200) is there.
func TestKillDuringWrites(t *testing.T) {
	cmd, dir := serveCommand(t, "crash-test")
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
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "kernelci-api serving" {
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
	resp, err := client.PostForm(base+"/user/login", url.Values{"username": {"admin"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}

	// call answers the decoded body of a 200, or nil when the request
	// failed in any way (not acknowledged).
	call := func(method, path string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return nil
		}
		return out
	}

	const writers = 16
	var (
		mu      sync.Mutex
		created []string // ids of acknowledged creations
		updated []string // ids of acknowledged updates (data.step = 1)
		acks    atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				name := fmt.Sprintf("crash-%d-%d", w, i)
				n := call("POST", "/node", map[string]any{"kind": "checkout", "name": name, "path": []string{name}})
				if n == nil {
					continue
				}
				id, _ := n["id"].(string)
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
				acks.Add(1)
				n["data"] = map[string]any{"step": 1}
				if call("PUT", "/node/"+id, n) == nil {
					continue
				}
				mu.Lock()
				updated = append(updated, id)
				mu.Unlock()
				acks.Add(1)
			}
		}()
	}
	testutil.WaitFor(t, 120*time.Second, "300 acknowledged writes", func() bool { return acks.Load() >= 300 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	stop.Store(true)
	wg.Wait()

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, id := range created {
		oid, err := objectid.Parse(id)
		if err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		if _, err := st.GetNode(ctx, oid); err != nil {
			t.Errorf("acknowledged node %s: %v", id, err)
		}
	}
	for _, id := range updated {
		oid, _ := objectid.Parse(id)
		n, err := st.GetNode(ctx, oid)
		if err != nil {
			t.Errorf("acknowledged update of %s: %v", id, err)
			continue
		}
		if step, _ := n.Data["step"].(json.Number); step.String() != "1" {
			t.Errorf("acknowledged update of %s lost: data %v", id, n.Data)
		}
	}
	t.Logf("%d creations and %d updates acknowledged before SIGKILL", len(created), len(updated))
}
