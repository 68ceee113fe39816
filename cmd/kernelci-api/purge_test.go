package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

func purgeNode(name, kind string, created time.Time) *model.Node {
	return &model.Node{ID: objectid.New(), Kind: kind, Name: name, Path: []string{name}, State: model.StateDone,
		Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{},
		Created: model.T(created), Updated: model.T(created), Timeout: model.T(created.Add(time.Hour))}
}

func storedNames(t *testing.T, path string) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nodes, err := st.FindNodes(context.Background(), query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

func TestPurgeCommand(t *testing.T) {
	t.Setenv("MONGO_SERVICE", "")
	dir := t.TempDir()
	path := filepath.Join(dir, "kernelci.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := now.Add(-200 * 24 * time.Hour)
	var nodes []*model.Node
	for i := range 3 {
		nodes = append(nodes, purgeNode(fmt.Sprintf("old-job-%d", i), "job", old.Add(time.Duration(i)*time.Hour)))
	}
	nodes = append(nodes,
		purgeNode("old-kbuild", "kbuild", old),
		purgeNode("old-checkout", "checkout", old),
		purgeNode("new-job", "job", now.Add(-24*time.Hour)),
	)
	if err := st.WriteNodes(context.Background(), store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	all := []string{"new-job", "old-checkout", "old-job-0", "old-job-1", "old-job-2", "old-kbuild"}

	var out, errOut bytes.Buffer
	if code := run([]string{"purge", "--dry-run", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("purge --dry-run = %d: %s", code, errOut.String())
	}
	for _, re := range []string{`older than 180 days`, `(?m)^  job +3$`, `(?m)^  kbuild +1$`, `(?m)^  total +4$`, `Dry run: nothing was deleted`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("dry run output lacks %q:\n%s", re, out.String())
		}
	}
	if regexp.MustCompile(`checkout +\d`).MatchString(out.String()) {
		t.Errorf("dry run counts checkouts:\n%s", out.String())
	}
	if got := storedNames(t, path); !slices.Equal(got, all) {
		t.Fatalf("the dry run deleted nodes: %v", got)
	}

	// With a longer age, nothing is old enough.
	out.Reset()
	if code := run([]string{"purge", "--dry-run", "--data-dir", dir, "--node-purge-age-days", "365"}, &out, &errOut); code != 0 {
		t.Fatalf("purge --dry-run (365 days) = %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`(?m)^  total +0$`).MatchString(out.String()) {
		t.Errorf("365-day dry run:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"purge", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("purge = %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`Deleted 4 nodes`).MatchString(out.String()) {
		t.Errorf("purge output:\n%s", out.String())
	}
	if got := storedNames(t, path); !slices.Equal(got, []string{"new-job", "old-checkout"}) {
		t.Fatalf("after purge: %v", got)
	}

	// No database: an error, and none is created.
	errOut.Reset()
	empty := t.TempDir()
	if code := run([]string{"purge", "--dry-run", "--data-dir", empty}, &out, &errOut); code != 1 {
		t.Fatalf("purge on an empty data dir = %d", code)
	}
	if m, _ := filepath.Glob(filepath.Join(empty, "*")); len(m) != 0 {
		t.Fatalf("purge created %v", m)
	}
}
