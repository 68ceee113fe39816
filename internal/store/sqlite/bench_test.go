package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Benchmarks of the document-path conditions (fields without a column)
// on kernelci-like documents of about 1.5 KB, comparing the compiler with
// the reference compiler without the fast path:
//
//	go test ./internal/store/sqlite/ -run '^$' -bench DocCond -benchtime 20x
//
// Each iteration counts the matches among benchDocs rows, so ns/op divided
// by benchDocs is the cost per row. cmd/kernelci-bench measures whole
// requests on millions of nodes.

const benchDocs = 2000

func benchDB(b testing.TB) *sql.DB {
	b.Helper()
	db := openTestDB(b)
	db.SetMaxOpenConns(1) // the pragma below holds for the one connection
	if _, err := db.Exec("PRAGMA synchronous = OFF"); err != nil {
		b.Fatal(err)
	}
	arches := []string{"x86_64", "arm64", "arm", "riscv"}
	for i := 1; i <= benchDocs; i++ {
		arch := arches[i%len(arches)]
		commit := strings.Repeat(fmt.Sprintf("%x", i%16), 40)
		data := map[string]any{
			"kernel_revision": map[string]any{
				"tree": "mainline", "url": "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git",
				"branch": "master", "commit": commit, "describe": "v6.12-rc3-123-g" + commit[:12],
				"version":     map[string]any{"version": 6, "patchlevel": 5 + i%10, "sublevel": nil, "extra": "-rc3-123-g" + commit[:12], "name": nil},
				"commit_tags": []any{}, "commit_message": "Merge tag 'sound-fix-6.12-rc3' of git://git.kernel.org/pub/scm/linux/kernel/git/tiwai/sound\n\nPull sound fixes from Takashi Iwai", "tip_of_branch": true,
			},
			"arch": arch, "defconfig": "defconfig", "config_full": "defconfig+lab-setup+kselftest", "compiler": "gcc-12",
			"platform": "bcm2711-rpi-4-b", "runtime": "lava-collabora", "job_id": fmt.Sprint(10000000 + i), "job_context": nil,
			"kernel_type": "image", "error_code": nil, "error_msg": nil, "regression": nil,
		}
		if i%10 == 0 {
			data["error_code"] = "node_timeout"
		}
		d := testNode(i, "test", fmt.Sprintf("test-%d", i), []string{"checkout", "kbuild-gcc-12-" + arch, "baseline-" + arch, "login"},
			nid(1), "done", "pass", day(1, 0).Add(time.Duration(i)*time.Second), data,
			map[string]any{"artifacts": map[string]any{
				"lava_log":      "https://kciapistagingstorage1.file.core.windows.net/production/baseline-" + arch + "/lava_log.txt.gz?sv=2022-11-02&ss=f&srt=sco&sp=r&se=2026-10-17T19:19:12Z&sig=sIl794kC%2F%2BqVEt7WnkKvvgAx2i2ohv2lMPgSSbY1cPU%3D",
				"callback_data": "https://kciapistagingstorage1.file.core.windows.net/production/baseline-" + arch + "/callback.json?sv=2022-11-02&ss=f&srt=sco&sp=r&se=2026-10-17T19:19:12Z&sig=sIl794kC%2F%2BqVEt7WnkKvvgAx2i2ohv2lMPgSSbY1cPU%3D",
			}, "processed_by_kcidb_bridge": i%7 == 0})
		insertNode(b, db, d)
	}
	return db
}

var benchConds = []query.Cond{
	{Field: "data.arch", Op: query.Eq, Value: "arm64"},
	{Field: "data.error_code", Op: query.Eq, Value: nil},
	{Field: "data.error_code", Op: query.Ne, Value: nil},
	{Field: "data.kernel_revision.version.patchlevel", Op: query.Gt, Value: int64(10)},
	{Field: "data.job_id", Op: query.In, Value: []any{"10000010", "10000020", "x"}},
	{Field: "data.config_full", Op: query.Re, Value: "kselftest"},
	{Field: "processed_by_kcidb_bridge", Op: query.Eq, Value: false},
	{Field: "path", Op: query.Eq, Value: "baseline-arm64"},
	{Field: "data.nothing.here", Op: query.Eq, Value: "x"},
}

func BenchmarkDocCond(b *testing.B) {
	db := benchDB(b)
	for _, c := range benchConds {
		fast, fargs, err := compile(nodeTable, query.Filter{Conds: []query.Cond{c}})
		if err != nil {
			b.Fatal(err)
		}
		ref, rargs := refCond(nodeTable, c)
		name := fmt.Sprintf("%s_%s_%v", c.Field, c.Op, c.Value)
		var nFast, nRef int
		for _, v := range []struct {
			name  string
			where string
			args  []any
			n     *int
		}{{"fast", fast, fargs, &nFast}, {"ref", ref, rargs, &nRef}} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					if err := db.QueryRow("SELECT count(*) FROM node WHERE "+v.where, v.args...).Scan(v.n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchDocs, "ns/row")
			})
		}
		if nFast != nRef {
			b.Fatalf("%s: fast path counts %d, reference %d", name, nFast, nRef)
		}
	}
}
