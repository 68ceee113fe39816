package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/pubsub"
)

// benchNodeBody is the node kernelci-bench -http creates (a test of a
// job with the usual data fields), as its client sends it.
const benchNodeBody = `{"kind":"test","name":"bench-w","path":["checkout","kbuild-gcc-12-x86","baseline-x86","bench-w"],` +
	`"group":"baseline-x86","state":"running","data":{"kernel_revision":{"tree":"mainline","branch":"master",` +
	`"commit":"2d5404caa8c7bb5c4e0435f94b28834ae5456623","url":"https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",` +
	`"describe":"v6.12-rc3-123-g2d5404caa8c7"},"arch":"x86_64","defconfig":"x86_64_defconfig","compiler":"gcc-12",` +
	`"platform":"qemu-x86","runtime":"lava-collabora","job_id":"12345678","error_code":null}}`

// BenchmarkNodeWrites is the server's side of kernelci-bench -http's
// write figure, in process (handlers called directly, no network): 16
// clients each creating a node (POST /node) and sending it back done
// (PUT /node/{id}), on the SQLite store. An op is one pair (two node
// writes); cpu-µs/write is the process's CPU time per node write
// (handler, validation, JSON, store, commit), steady on a loaded
// machine where wall time is not.
//
//	go test ./internal/api/ -short -run '^$' -bench NodeWrites -benchtime 2000x
func BenchmarkNodeWrites(b *testing.B) {
	ctx := context.Background()
	st := openTestStore(b)
	if err := st.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		b.Fatal(err)
	}
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.InsertUser(ctx, &model.User{Username: "bench", Email: "bench@example.org", HashedPassword: hash,
		IsActive: true, IsVerified: true, Groups: []model.Group{}}); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := pubsub.New(st, pubsub.NewBroker(), pubsub.Options{Log: log})
	h := api.New(st, &auth.Tokens{Secret: testSecret}, api.Options{PubSub: svc}, log)

	call := func(method, path, token string, body []byte) (int, []byte) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	code, out := call(http.MethodPost, "/latest/user/login", "",
		[]byte(url.Values{"username": {"bench"}, "password": {testPassword}}.Encode()))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(out, &tok); code != http.StatusOK || err != nil {
		b.Fatalf("login: %d %s", code, out)
	}
	body := []byte(benchNodeBody)
	var failed atomic.Bool
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	cpu0 := testutil.ProcessCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() && !failed.Load() {
			code, out := call(http.MethodPost, "/latest/node", tok.AccessToken, body)
			if code != http.StatusOK {
				failed.Store(true)
				b.Errorf("POST /node: %d %s", code, out)
				return
			}
			// The client sends the node back done, as a pipeline does.
			id := out[len(`{"id":"`) : len(`{"id":"`)+24]
			put := bytes.Replace(out, []byte(`"state":"running","result":null`), []byte(`"state":"done","result":"pass"`), 1)
			if code, out := call(http.MethodPut, "/latest/node/"+string(id), tok.AccessToken, put); code != http.StatusOK ||
				!strings.Contains(string(out), `"state":"done"`) {
				failed.Store(true)
				b.Errorf("PUT /node: %d %s", code, out)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/1e3/float64(2*b.N), "cpu-µs/write")
}
