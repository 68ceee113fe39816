package app

import (
	"context"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// BenchmarkReadsServer is the server's CPU for one GET /node/{id}, a
// page of 50 of GET /nodes and 500 nodes of GET /nodes/fast
// (docs/performance.md, "Point reads"): the whole handler stack of
// Serve (access log as text, metrics, routing, the store on SQLite, the
// answer) called in process, without the network and the connection's
// own costs, which the static-handler floor of kernelci-bench pays too.
//
//	go test ./internal/app/ -run '^$' -bench ReadsServer/node -benchtime 20000x -cpuprofile /tmp/cpu.out
func BenchmarkReadsServer(b *testing.B) {
	ctx := context.Background()
	cfg, err := loadTestConfig(map[string]string{"KCI_DATA_DIR": b.TempDir(), "KCI_LIFECYCLE": "false"})
	if err != nil {
		b.Fatal(err)
	}
	a, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	at := model.T(time.Now())
	n := &model.Node{ID: objectid.New(), Kind: "test", Name: "baseline.login", Path: []string{"checkout", "kbuild", "baseline", "login"},
		Group: model.Str("baseline"), State: model.StateDone, Result: model.Str("pass"),
		Artifacts: map[string]string{"log": "https://storage.kernelci.org/log.txt"},
		Data: map[string]any{"arch": "x86_64", "defconfig": "defconfig", "compiler": "gcc-12", "platform": "qemu-x86",
			"runtime": "lava-collabora", "kernel_revision": map[string]any{"tree": "mainline", "branch": "master",
				"commit": "0123456789abcdef0123456789abcdef01234567", "url": "https://git.kernel.org/linux.git",
				"describe": "v6.12-rc1-123-g0123456789ab"}},
		Debug: map[string]any{}, PlatformFilter: []string{}, UserGroups: []string{},
		Created: at, Updated: at, Timeout: at, Owner: model.Str("admin"), Submitter: model.Str("service:pipeline"), Treeid: model.Str("abc")}
	nodes := []*model.Node{n}
	for range 499 {
		c := *n
		c.ID = objectid.New()
		nodes = append(nodes, &c)
	}
	if err := a.Store.WriteNodes(ctx, store.NodeWrite{Insert: nodes}); err != nil {
		b.Fatal(err)
	}
	h := observe(a.Log, a.Metrics, a.API)
	for _, c := range []struct{ name, path string }{
		{"node", "/latest/node/" + n.ID.String()},
		{"nodes50", "/latest/nodes?kind=test&limit=50"},
		{"fast500", "/latest/nodes/fast?kind=test&limit=500"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || w.Body.Len() < 500 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			// CPU time rather than wall time: the machine is shared.
			b.ReportMetric(float64((testutil.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time of the process so far (user and system).
func loadTestConfig(env map[string]string) (*config.Config, error) {
	return config.Load(nil, nil, func(k string) string { return env[k] }, "")
}
