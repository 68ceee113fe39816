package mongo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/testutil"
)

func TestDeclaredIndexes(t *testing.T) {
	decl := DeclaredIndexes(7*24*time.Hour, 14*24*time.Hour)
	names := map[string]IndexSpec{}
	for _, sp := range decl {
		key := sp.Collection + "." + sp.Name
		if _, dup := names[key]; dup {
			t.Fatalf("index %s declared twice", key)
		}
		names[key] = sp
	}
	for _, want := range []string{
		"node.kind_1__id_1", "node.name_1__id_1", "node.state_1__id_1", "node.result_1__id_1", "node.parent_1", "node.owner_1",
		"node.created_1__id_1", "node.updated_1__id_1", "node.timeout_1", "node.holdoff_1", "node.state_1_timeout_1",
		"node.state_1_holdoff_1", "node.data.kernel_revision.commit_1", "node.data.kernel_revision.tree_1",
		"node.data.kernel_revision.branch_1", "node.data.runtime_1", "node.data.platform_1",
		"node.data.arch_1", "node.data.defconfig_1", "node.data.compiler_1", "node.data.error_code_1",
		"node.data.kernel_revision.tree_1_data.kernel_revision.branch_1_kind_1_created_1",
		"node.kind_1_result_1_created_1", "node.created_1_kind_1_result_1",
		"eventhistory.sequence_id_1", "eventhistory.channel_1_sequence_id_1", "eventhistory.timestamp_1",
		"eventhistory.data.id_1", "eventhistory.kind_timestamp",
		"user.username_1", "user.email_1", "usergroup.name_1",
		"telemetry.ts_1", "telemetry.kind_1_ts_-1", "telemetry.runtime_1_device_type_1_ts_-1",
		"telemetry.job_name_1_ts_-1", "telemetry.result_1_is_infra_error_1_ts_-1",
		"subscriber_state.unique_subscriber_id",
	} {
		if _, ok := names[want]; !ok {
			t.Errorf("index %s not declared", want)
		}
	}
	if sp := names["eventhistory.timestamp_1"]; sp.ExpireAfter != 7*24*time.Hour {
		t.Errorf("event TTL %v", sp.ExpireAfter)
	}
	for _, u := range []string{"user.username_1", "user.email_1", "usergroup.name_1"} {
		if !names[u].Unique {
			t.Errorf("%s not unique", u)
		}
	}
}

func TestCompareIndexes(t *testing.T) {
	sp := IndexSpec{Collection: "c", Name: "a_1_b_1", Keys: asc("a", "b")}
	for _, tc := range []struct {
		name       string
		ix         ExistingIndex
		keys, opts bool
	}{
		{"same", ExistingIndex{Name: "x", Keys: bson.D{{Key: "a", Value: "1"}, {Key: "b", Value: "1"}}, ExpireAfter: -1}, true, true},
		{"double direction", ExistingIndex{Name: "x", Keys: bson.D{{Key: "a", Value: 1.0}, {Key: "b", Value: int64(1)}}, ExpireAfter: -1}, true, true},
		{"order", ExistingIndex{Keys: bson.D{{Key: "b", Value: 1}, {Key: "a", Value: 1}}, ExpireAfter: -1}, false, false},
		{"direction", ExistingIndex{Keys: bson.D{{Key: "a", Value: 1}, {Key: "b", Value: -1}}, ExpireAfter: -1}, false, false},
		{"prefix", ExistingIndex{Keys: bson.D{{Key: "a", Value: 1}}, ExpireAfter: -1}, false, false},
		{"unique", ExistingIndex{Keys: asc("a", "b"), Unique: true, ExpireAfter: -1}, true, false},
		{"sparse", ExistingIndex{Keys: asc("a", "b"), Sparse: true, ExpireAfter: -1}, true, false},
		{"partial", ExistingIndex{Keys: asc("a", "b"), Partial: bson.Raw{5, 0, 0, 0, 0}, ExpireAfter: -1}, true, false},
		{"ttl", ExistingIndex{Keys: asc("a", "b"), ExpireAfter: time.Hour}, true, false},
	} {
		keys, opts, _ := compare(sp, tc.ix)
		if keys != tc.keys || opts != tc.opts {
			t.Errorf("%s: keys %v opts %v, want %v %v", tc.name, keys, opts, tc.keys, tc.opts)
		}
	}

	// A partial index is satisfied by the same filter, or by a full
	// index on its keys (which holds every document it would).
	part := IndexSpec{Keys: asc("e"), Partial: bson.D{{Key: "e", Value: bson.D{{Key: "$gt", Value: ""}}}}}
	raw := func(d bson.D) bson.Raw {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		ix   ExistingIndex
		opts bool
	}{
		{"same filter", ExistingIndex{Keys: asc("e"), Partial: raw(part.Partial), ExpireAfter: -1}, true},
		{"full index", ExistingIndex{Keys: asc("e"), ExpireAfter: -1}, true},
		{"other filter", ExistingIndex{Keys: asc("e"), Partial: raw(bson.D{{Key: "e", Value: bson.D{{Key: "$exists", Value: true}}}}), ExpireAfter: -1}, false},
		{"sparse", ExistingIndex{Keys: asc("e"), Sparse: true, ExpireAfter: -1}, false},
		{"unique", ExistingIndex{Keys: asc("e"), Unique: true, ExpireAfter: -1}, false},
	} {
		if _, opts, why := compare(part, tc.ix); opts != tc.opts {
			t.Errorf("partial, %s: same options %v (%s), want %v", tc.name, opts, why, tc.opts)
		}
	}
	if _, opts, _ := compare(IndexSpec{Keys: asc("e")}, ExistingIndex{Keys: asc("e"), Partial: raw(part.Partial), ExpireAfter: -1}); opts {
		t.Error("a partial index satisfies a full one")
	}
	ttl := IndexSpec{Keys: asc("t"), ExpireAfter: time.Hour}
	if _, same, _ := compare(ttl, ExistingIndex{Keys: asc("t"), ExpireAfter: time.Hour}); !same {
		t.Error("same TTL not equivalent")
	}
	if _, same, why := compare(ttl, ExistingIndex{Keys: asc("t"), ExpireAfter: 2 * time.Hour}); same || !strings.Contains(why, "7200") {
		t.Errorf("other TTL: same %v, %q", same, why)
	}
}

func TestEnsureIndexes(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	db := rawClient(t).Database(o.Database)
	// An equivalent index under another name, and one with the declared
	// keys but other options.
	if _, err := db.Collection("node").Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "timeout", Value: 1}}, Options: options.Index().SetName("state_timeout")},
		{Keys: bson.D{{Key: "owner", Value: 1}}, Options: options.Index().SetUnique(true)},
	}); err != nil {
		t.Fatal(err)
	}

	// Read-only: nothing created.
	o.SkipIndexes = true
	ro := openTest(t, o)
	rep, err := ro.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	decl := DeclaredIndexes(o.EventTTL, o.TelemetryTTL)
	if got, want := len(rep.Missing()), len(decl)-1; got != want {
		t.Fatalf("%d missing before creation, want %d", got, want)
	}

	o.SkipIndexes = false
	st := openTest(t, o)
	rep, err = st.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]IndexStatus{}
	for _, ds := range rep.Declared {
		state[ds.Collection+"."+ds.Name] = ds
	}
	if ds := state["node.state_1_timeout_1"]; ds.State != IndexPresent || ds.Existing != "state_timeout" {
		t.Errorf("equivalent index not reused: %+v", ds)
	}
	if ds := state["node.owner_1"]; ds.State != IndexDifferent || ds.Existing != "owner_1" {
		t.Errorf("index with other options: %+v", ds)
	}
	ts := state["eventhistory.timestamp_1"]
	if mongotest.External() {
		if ts.State != IndexPresent || !st.ttlEnabled {
			t.Errorf("TTL index: %+v", ts)
		}
	} else if ts.State != IndexDifferent || !strings.Contains(ts.Note, "no TTL") || st.ttlEnabled {
		// FerretDB 1.x: "Index option expireAfterSeconds is not
		// implemented yet": a plain index, and the store purges.
		t.Errorf("TTL index on FerretDB: %+v (ttl enabled %v)", ts, st.ttlEnabled)
	}
	for key, ds := range state {
		if key != "node.owner_1" && key != "eventhistory.timestamp_1" && key != "telemetry.ts_1" && ds.State != IndexPresent {
			t.Errorf("%s: %+v", key, ds)
		}
	}
	for _, ix := range rep.Present {
		if ix.Collection == "node" && ix.Name == "state_1_timeout_1" {
			t.Error("a duplicate of state_timeout was created")
		}
	}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Declared indexes:", "Present indexes:", `present (as "state_timeout")`,
		`index "owner_1" has these keys with other options`, "{data.kind: 1, timestamp: 1}", "unique"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	// A second start (another replica) finds everything in place.
	again := openTest(t, o)
	rep2, err := again.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep2.Missing()) != len(rep.Missing()) || len(rep2.Present) != len(rep.Present) {
		t.Fatalf("second start changed the indexes: %d/%d missing, %d/%d present",
			len(rep2.Missing()), len(rep.Missing()), len(rep2.Present), len(rep.Present))
	}

	// The unique indexes make duplicates conflicts.
	if err := st.InsertGroup(ctx, &model.Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertGroup(ctx, &model.Group{Name: "g"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate group = %v", err)
	}
}

// TestRetention: without TTL indexes (FerretDB) the store deletes expired
// events itself.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.EventTTL = time.Hour
	o.RetentionInterval = 50 * time.Millisecond
	st := openTest(t, o)
	old := &model.Event{Channel: "c", Timestamp: model.T(time.Now().Add(-2 * time.Hour)), Data: map[string]any{"old": true}}
	fresh := &model.Event{Channel: "c", Data: map[string]any{"old": false}}
	if err := st.AppendEvents(ctx, old, fresh); err != nil {
		t.Fatal(err)
	}
	if st.ttlEnabled {
		// MongoDB's TTL monitor runs once a minute: check the purge
		// itself.
		if n, err := st.PurgeEvents(ctx, time.Now().Add(-o.EventTTL)); err != nil || n != 1 {
			t.Fatalf("PurgeEvents = %d, %v", n, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := eventCount(t, st)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events after the retention interval, want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last, _ := st.LastSequence(ctx); last != fresh.SequenceID {
		t.Fatalf("LastSequence = %d after purge, want %d", last, fresh.SequenceID)
	}
}

// TestBackgroundIndexBuild: on a collection above BackgroundIndexMin,
// Open returns before the missing indexes are built, reports them as
// building, and the builds then complete in the background.
func TestBackgroundIndexBuild(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	db := rawClient(t).Database(o.Database)
	mustInsert(t, db.Collection("node"), bson.D{{Key: "kind", Value: "checkout"}}, bson.D{{Key: "kind", Value: "kbuild"}})
	o.BackgroundIndexMin = 1 // node (2 documents) in the background, the empty collections now
	release := make(chan struct{})
	var mu sync.Mutex
	var built []string
	o.indexBuildHook = func(sp IndexSpec) {
		<-release
		mu.Lock()
		built = append(built, sp.Name)
		mu.Unlock()
	}
	st := openTest(t, o)

	// Open has returned while every node index waits for the hook.
	rep, err := st.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var nodeMissing, otherMissing int
	for _, ds := range rep.Missing() {
		if ds.Collection == colNode {
			nodeMissing++
		} else if ds.State == IndexMissing {
			otherMissing++
		}
	}
	wantNode := 0
	for _, sp := range DeclaredIndexes(o.EventTTL, o.TelemetryTTL) {
		if sp.Collection == colNode {
			wantNode++
		}
	}
	if nodeMissing != wantNode || otherMissing != 0 {
		t.Fatalf("after Open: %d node indexes missing (want all %d), %d others missing (want 0)", nodeMissing, wantNode, otherMissing)
	}
	// Queries work meanwhile.
	if n, err := st.CountNodes(ctx, query.Where("kind", "kbuild")); err != nil || n != 1 {
		t.Fatalf("count during the build = %d, %v", n, err)
	}

	close(release)
	testutil.WaitFor(t, 60*time.Second, "the background index builds", func() bool {
		rep, err := st.Indexes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ds := range rep.Declared {
			if ds.Collection == colNode && ds.State != IndexPresent {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if len(built) != wantNode {
		t.Errorf("%d background builds, want %d", len(built), wantNode)
	}
}
