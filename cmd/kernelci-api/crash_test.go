package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	srv := startServing(t, "crash-test")
	base := srv.base
	client := &http.Client{Timeout: 60 * time.Second}
	token := loginAdmin(t, client, base, "pw")

	// call answers the decoded body of a 200, or nil when the request
	// failed in any way (not acknowledged).
	call := func(method, path string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
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
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	stop.Store(true)
	wg.Wait()

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(srv.data, "kernelci.db"))
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
