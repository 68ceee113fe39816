package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/config"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// BenchmarkGetNodeServer is the server's CPU for one GET /node/{id}
// (docs/performance.md, "Point reads"): the whole handler stack of
// Serve (access log as text, metrics, routing, the store on SQLite, the
// answer) called in process, without the network and the connection's
// own costs, which the static-handler floor of kernelci-bench pays too.
//
//	go test ./internal/app/ -run '^$' -bench GetNodeServer -benchtime 20000x -cpuprofile /tmp/cpu.out
func BenchmarkGetNodeServer(b *testing.B) {
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
	if err := a.Store.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}}); err != nil {
		b.Fatal(err)
	}
	h := observe(a.Log, a.Metrics, a.API)
	req := httptest.NewRequest(http.MethodGet, "/latest/node/"+n.ID.String(), nil)
	req.RemoteAddr = "127.0.0.1:40000"
	cpu0 := cpuTime()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.Len() < 500 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	// CPU time rather than wall time: the machine is shared.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time of the process so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadTestConfig(env map[string]string) (*config.Config, error) {
	return config.Load(nil, nil, func(k string) string { return env[k] }, "")
}
