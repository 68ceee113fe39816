package api_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

var updateListingGolden = flag.Bool("update-listing-golden", false, "rewrite testdata/listing_golden.txt from the server's answers")

// goldenFixture stores nodes and events with fixed ids, times and
// contents (times in milliseconds, which both backends keep exactly).
func goldenFixture(t *testing.T, e *env) {
	t.Helper()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	kinds := []string{"checkout", "kbuild", "test", "test", "job"}
	results := []*string{nil, model.Str("pass"), model.Str("fail")}
	var nodes []*model.Node
	var evs []*model.Event
	for i := range 12 {
		id, _ := objectid.Parse(fmt.Sprintf("65e1a8%018x", i+1))
		created := base.Add(time.Duration(i%5) * 1500 * time.Millisecond)
		n := &model.Node{
			ID: id, Kind: kinds[i%len(kinds)], Name: fmt.Sprintf("node-%02d", 11-i), Path: []string{"checkout", fmt.Sprintf("n%d", i)},
			State: []string{"running", "done", "available"}[i%3], Result: results[i%3],
			Artifacts: map[string]string{"log": "https://example.org/log<&>"}, Data: map[string]any{"platform": "qemu", "i": int64(i)},
			Debug: map[string]any{}, PlatformFilter: []string{}, UserGroups: []string{}, Jobfilter: nil,
			Created: model.T(created), Updated: model.T(created.Add(time.Second)), Timeout: model.T(created.Add(6 * time.Hour)),
			Owner: model.Str("admin"),
		}
		nodes = append(nodes, n)
		eid, _ := objectid.Parse(fmt.Sprintf("65e1a9%018x", i+1))
		evs = append(evs, &model.Event{ID: eid, Timestamp: model.T(created), Channel: "node", Owner: model.Str("admin"),
			Data: model.NodeEventData("created", n, false, nil)})
	}
	ctx := context.Background()
	for _, n := range nodes { // one by one: insertion order is id order
		if err := e.store.WriteNodes(ctx, store.NodeWrite{Insert: []*model.Node{n}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range evs {
		if err := e.store.AppendEvents(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// The answers of the listing endpoints without sort=, after= and
// fields= are byte for byte those of the server before these parameters
// existed (testdata/listing_golden.txt was written by it, with
// -update-listing-golden), on both backends: bodies, status, and no new
// headers.
func TestListingAnswersUnchanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	goldenFixture(t, e)
	var got strings.Builder
	for _, path := range []string{
		"/latest/nodes",
		"/latest/nodes?limit=3&offset=2",
		"/latest/nodes?kind=test",
		"/latest/nodes?kind=test&limit=1",
		"/latest/nodes?created__gte=2026-03-01T10:00:03&state=done",
		"/latest/nodes?result=null&limit=2&offset=1",
		"/latest/nodes?data.platform=qemu&limit=4&offset=8",
		"/latest/nodes?offset=100",
		"/latest/nodes/fast",
		"/latest/nodes/fast?limit=2&offset=3",
		"/latest/nodes/fast?name__re=node-0&kind__ne=job",
		"/latest/count?kind=test",
		"/latest/events",
		"/latest/events?limit=2",
		"/latest/events?kind=kbuild&limit=5",
		"/latest/events?from=2026-03-01T10:00:02&limit=3",
		"/latest/nodes?limit=abc",
		"/latest/nodes?kind__foo=1",
		"/latest/events?limit=-1",
	} {
		r := e.do(http.MethodGet, path, "", nil)
		fmt.Fprintf(&got, "GET %s\n%d %s", path, r.status, r.header.Get("Content-Type"))
		for _, h := range []string{"X-Next-Cursor", "Link"} {
			if v := r.header.Get(h); v != "" {
				fmt.Fprintf(&got, " %s=%s", h, v)
			}
		}
		fmt.Fprintf(&got, "\n%s\n\n", r.body)
	}
	file := filepath.Join("testdata", "listing_golden.txt")
	if *updateListingGolden {
		if onMongo(t) {
			return
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("answer differs at line %d:\n got %s\nwant %s", i+1, truncate([]byte(gl[i])), truncate([]byte(wl[i])))
			}
		}
		t.Fatalf("answers differ in length: %d lines, want %d", len(gl), len(wl))
	}
}
