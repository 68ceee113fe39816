package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, storetest.Options{WriteRawNode: writeRawNode})
}

// writeRawNode stores doc as the document of node id as it is, with the
// columns of the node it decodes to: a document in a form this version
// does not write, as an older one (or a hand edit) may have left it.
func writeRawNode(st store.Store, id objectid.ID, doc []byte) error {
	var n model.Node
	if err := decodeDoc(doc, &n); err != nil {
		return err
	}
	n.ID = id
	row, err := nodeRow(&n)
	if err != nil {
		return err
	}
	row[11] = string(doc)
	_, err = st.(*Store).w.Exec(insertNodeSQL, row...)
	return err
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ctx := context.Background()
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.w.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opened a database newer than the code")
	}
}

// The writer commits durably (WAL, synchronous FULL: fsync at every
// commit) and keeps statement journals in memory; readers are read-only.
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	var mode string
	var sync, temp, queryOnly int
	if err := st.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	if err := st.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("writer synchronous %d, %v; want 2 (FULL)", sync, err)
	}
	if err := st.w.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp); err != nil || temp != 2 {
		t.Errorf("writer temp_store %d, %v; want 2 (MEMORY)", temp, err)
	}
	if err := st.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil || queryOnly != 1 {
		t.Errorf("reader query_only %d, %v; want 1", queryOnly, err)
	}
}

// TestStoredNodesAreWireForm: the documents WriteNodes stores are in
// wire form, so GET /node/{id} answers them as they are (the fast path
// of GetNodeJSON), not decoded and encoded again.
func TestStoredNodesAreWireForm(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	at := model.T(time.Date(2026, 8, 21, 9, 54, 55, 123456000, time.UTC))
	parent := objectid.New()
	nodes := []*model.Node{
		{ID: objectid.New(), Kind: "checkout", Name: "checkout", Path: []string{"checkout"}, State: model.StateRunning,
			Artifacts: map[string]string{}, Data: map[string]any{}, Debug: map[string]any{}, PlatformFilter: []string{},
			UserGroups: []string{}, Created: at, Updated: at, Timeout: at, Owner: model.Str("admin")},
		{ID: objectid.New(), Kind: "test", Name: "baseline.login", Path: []string{"checkout", "baseline", "login"},
			Group: model.Str("baseline"), Parent: &parent, State: model.StateDone, Result: model.Str("fail"),
			Artifacts: map[string]string{"log": "https://example.org/log?a=1&b=2"},
			Data: map[string]any{"arch": "x86_64", "error_code": nil, "kernel_revision": map[string]any{"tree": "mainline",
				"version": map[string]any{"version": json.Number("6"), "extra": "-rc1 <é>"}}, "list": []any{json.Number("1.5"), true}},
			Debug: map[string]any{}, Jobfilter: []string{"baseline"}, Created: at, Updated: at, Timeout: at, Holdoff: &at,
			Owner: model.Str("admin"), Submitter: model.Str("service:pipeline"), Treeid: model.Str("abc"), RetryCounter: 2},
	}
	if err := st.WriteNodes(ctx, store.NodeWrite{Insert: nodes}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		var doc []byte
		if err := st.r.QueryRowContext(ctx, "SELECT doc FROM node WHERE id = ?", n.ID.String()).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		if !model.IsWireNode(doc) {
			t.Errorf("stored document of %s is not in wire form:\n%s", n.Name, doc)
		}
	}
}
