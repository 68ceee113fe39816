package mongo

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

// A passlib bcrypt hash of "hello kernelci" (internal/auth's vectors), as
// the reference stores it.
const (
	refPassword = "hello kernelci"
	refHash     = "$2b$04$pvQFKAJCbH/GS.wi9p4FROkQBhQUoQw4gK475X34BbAc//dkbVSEG"
)

func rawClient(t *testing.T) *mongo.Client {
	t.Helper()
	cl, err := mongo.Connect(options.Client().ApplyURI(mongotest.URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Disconnect(context.Background()) })
	return cl
}

func mustInsert(t *testing.T, c *mongo.Collection, docs ...any) {
	t.Helper()
	if _, err := c.InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("insert into %s: %v", c.Name(), err)
	}
}

// TestReferenceFixtures writes documents with the driver exactly as the
// reference (pydantic + pymongo + Beanie) writes them, then opens the store
// on that database and reads them through it.
func TestReferenceFixtures(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t)
	o.EventTTL = 0 // the fixtures are old: keep them
	db := rawClient(t).Database(o.Database)

	// pymongo stores datetime.utcnow() to the millisecond and small ints
	// as int32.
	t0 := time.Date(2024, 3, 4, 5, 6, 7, 891000000, time.UTC)
	date := func(d time.Duration) bson.DateTime { return bson.NewDateTimeFromTime(t0.Add(d)) }

	groupID, userID := bson.NewObjectID(), bson.NewObjectID()
	mustInsert(t, db.Collection("usergroup"), bson.D{{Key: "_id", Value: groupID}, {Key: "name", Value: "kernelci"}})
	mustInsert(t, db.Collection("user"), bson.D{
		{Key: "_id", Value: userID},
		{Key: "email", Value: "alice@kernelci.org"},
		{Key: "hashed_password", Value: refHash},
		{Key: "is_active", Value: true},
		{Key: "is_superuser", Value: false},
		{Key: "is_verified", Value: true},
		{Key: "username", Value: "alice"},
		{Key: "groups", Value: bson.A{bson.D{{Key: "_id", Value: groupID}, {Key: "name", Value: "kernelci"}}}},
		{Key: "revision_id", Value: nil}, // Beanie's, unknown to us
	})

	checkoutID, kbuildID, legacyID, regID := bson.NewObjectID(), bson.NewObjectID(), bson.NewObjectID(), bson.NewObjectID()
	mustInsert(t, db.Collection("node"),
		bson.D{
			{Key: "_id", Value: checkoutID}, {Key: "kind", Value: "checkout"}, {Key: "name", Value: "checkout"},
			{Key: "path", Value: bson.A{"checkout"}}, {Key: "group", Value: nil}, {Key: "parent", Value: nil},
			{Key: "state", Value: "available"}, {Key: "result", Value: nil},
			{Key: "artifacts", Value: bson.D{{Key: "tarball", Value: "https://storage.kernelci.org/linux.tar.gz"}}},
			{Key: "data", Value: bson.D{{Key: "kernel_revision", Value: bson.D{
				{Key: "tree", Value: "mainline"}, {Key: "branch", Value: "master"}, {Key: "commit", Value: "abc123"},
				{Key: "version", Value: bson.D{{Key: "version", Value: int32(6)}, {Key: "patchlevel", Value: int32(8)}}},
			}}}},
			{Key: "debug", Value: bson.D{}}, {Key: "jobfilter", Value: nil}, {Key: "platform_filter", Value: bson.A{}},
			{Key: "created", Value: date(0)}, {Key: "updated", Value: date(time.Minute)}, {Key: "timeout", Value: date(6 * time.Hour)},
			{Key: "holdoff", Value: date(time.Hour)}, {Key: "owner", Value: "alice"}, {Key: "submitter", Value: "d41d8cd98f00b204e9800998ecf8427e"},
			{Key: "treeid", Value: "tree1"}, {Key: "user_groups", Value: bson.A{}},
			{Key: "processed_by_kcidb_bridge", Value: false}, {Key: "retry_counter", Value: int32(0)},
		},
		bson.D{
			{Key: "_id", Value: kbuildID}, {Key: "kind", Value: "kbuild"}, {Key: "name", Value: "kbuild-gcc-12-x86"},
			{Key: "path", Value: bson.A{"checkout", "kbuild-gcc-12-x86"}}, {Key: "group", Value: "kbuild-gcc-12-x86"},
			{Key: "parent", Value: checkoutID}, {Key: "state", Value: "done"}, {Key: "result", Value: "pass"},
			{Key: "artifacts", Value: bson.D{}},
			{Key: "data", Value: bson.D{{Key: "arch", Value: "x86_64"}, {Key: "duration", Value: 12.5},
				{Key: "big", Value: int64(5000000000)}, {Key: "runtime", Value: "k8s-gke-eu-west4"}}},
			{Key: "debug", Value: bson.D{}}, {Key: "jobfilter", Value: bson.A{"baseline"}}, {Key: "platform_filter", Value: bson.A{}},
			{Key: "created", Value: date(time.Hour)}, {Key: "updated", Value: date(2 * time.Hour)}, {Key: "timeout", Value: date(7 * time.Hour)},
			{Key: "holdoff", Value: nil}, {Key: "owner", Value: "alice"}, {Key: "submitter", Value: nil},
			{Key: "treeid", Value: nil}, {Key: "user_groups", Value: bson.A{"kernelci"}},
			{Key: "processed_by_kcidb_bridge", Value: true}, {Key: "retry_counter", Value: int32(2)},
		},
		// An old node: fields added to the model since are missing.
		bson.D{
			{Key: "_id", Value: legacyID}, {Key: "kind", Value: "test"}, {Key: "name", Value: "baseline"},
			{Key: "path", Value: bson.A{"checkout", "baseline"}}, {Key: "parent", Value: kbuildID},
			{Key: "state", Value: "done"}, {Key: "result", Value: "fail"},
			{Key: "created", Value: date(3 * time.Hour)}, {Key: "updated", Value: date(3 * time.Hour)}, {Key: "timeout", Value: date(9 * time.Hour)},
			{Key: "owner", Value: "alice"},
		},
		// A regression as the reference's 20231215122000 migration made it:
		// ObjectIds inside data.
		bson.D{
			{Key: "_id", Value: regID}, {Key: "kind", Value: "regression"}, {Key: "name", Value: "baseline"},
			{Key: "path", Value: bson.A{"checkout", "baseline"}}, {Key: "group", Value: nil}, {Key: "state", Value: "done"},
			{Key: "data", Value: bson.D{{Key: "pass_node", Value: kbuildID}, {Key: "fail_node", Value: legacyID}}},
			{Key: "artifacts", Value: nil},
			{Key: "created", Value: date(4 * time.Hour)}, {Key: "updated", Value: date(4 * time.Hour)}, {Key: "timeout", Value: date(10 * time.Hour)},
			{Key: "owner", Value: "alice"},
		},
	)
	ev41, ev7 := bson.NewObjectID(), bson.NewObjectID()
	mustInsert(t, db.Collection("eventhistory"),
		bson.D{{Key: "_id", Value: ev7}, {Key: "timestamp", Value: date(time.Minute)}, {Key: "sequence_id", Value: int32(7)},
			{Key: "channel", Value: "test_channel"}, {Key: "owner", Value: "alice"}, {Key: "data", Value: bson.D{{Key: "msg", Value: "hi"}}}},
		bson.D{{Key: "_id", Value: ev41}, {Key: "timestamp", Value: date(2 * time.Hour)}, {Key: "sequence_id", Value: int32(41)},
			{Key: "channel", Value: "node"}, {Key: "owner", Value: "alice"}, {Key: "data", Value: bson.D{
				{Key: "op", Value: "updated"}, {Key: "id", Value: kbuildID.Hex()}, {Key: "kind", Value: "kbuild"},
				{Key: "name", Value: "kbuild-gcc-12-x86"}, {Key: "path", Value: bson.A{"checkout", "kbuild-gcc-12-x86"}},
				{Key: "group", Value: "kbuild-gcc-12-x86"}, {Key: "state", Value: "done"}, {Key: "result", Value: "pass"},
				{Key: "owner", Value: "alice"}, {Key: "data", Value: bson.D{{Key: "arch", Value: "x86_64"}}},
				{Key: "is_hierarchy", Value: false},
			}}},
		// An event from before sequence ids existed.
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: date(0)},
			{Key: "data", Value: bson.D{{Key: "op", Value: "created"}}}},
	)
	// Indexes the reference made, one of them under another name.
	for col, ims := range map[string][]mongo.IndexModel{
		"user":         {{Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetUnique(true)}, {Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true)}},
		"usergroup":    {{Keys: bson.D{{Key: "name", Value: 1}}, Options: options.Index().SetUnique(true)}},
		"eventhistory": {{Keys: bson.D{{Key: "channel", Value: 1}, {Key: "sequence_id", Value: 1}}}, {Keys: bson.D{{Key: "data.kind", Value: 1}, {Key: "timestamp", Value: 1}}, Options: options.Index().SetName("kind_timestamp")}},
		"node":         {{Keys: bson.D{{Key: "owner", Value: 1.0}}, Options: options.Index().SetName("by_owner")}},
	} {
		if _, err := db.Collection(col).Indexes().CreateMany(ctx, ims); err != nil {
			t.Fatal(err)
		}
	}

	st := openTest(t, o)

	// Users.
	u, err := st.GetUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != objectid.ID(userID) || u.Email != "alice@kernelci.org" || !u.IsActive || u.IsSuperuser || !u.IsVerified ||
		len(u.Groups) != 1 || u.Groups[0].ID != objectid.ID(groupID) || u.Groups[0].Name != "kernelci" {
		t.Fatalf("user = %+v", u)
	}
	if ok, _ := auth.VerifyPassword(refPassword, u.HashedPassword); !ok {
		t.Fatalf("the reference's bcrypt hash does not verify: %q", u.HashedPassword)
	}
	if us, _ := st.FindUsers(ctx, query.Where("groups.name", "kernelci"), store.Page{}); len(us) != 1 {
		t.Fatalf("FindUsers(groups.name) = %v", us)
	}
	if g, err := st.GetGroupByName(ctx, "kernelci"); err != nil || g.ID != objectid.ID(groupID) {
		t.Fatalf("group = %v, %v", g, err)
	}

	// Nodes.
	n, err := st.GetNode(ctx, objectid.ID(checkoutID))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(n)
	want := `{"id":"` + checkoutID.Hex() + `","kind":"checkout","name":"checkout","path":["checkout"],"group":null,"parent":null,` +
		`"state":"available","result":null,"artifacts":{"tarball":"https://storage.kernelci.org/linux.tar.gz"},` +
		`"data":{"kernel_revision":{"branch":"master","commit":"abc123","tree":"mainline","version":{"patchlevel":8,"version":6}}},` +
		`"debug":{},"jobfilter":null,"platform_filter":[],"created":"2024-03-04T05:06:07.891000","updated":"2024-03-04T05:07:07.891000",` +
		`"timeout":"2024-03-04T11:06:07.891000","holdoff":"2024-03-04T06:06:07.891000","owner":"alice",` +
		`"submitter":"d41d8cd98f00b204e9800998ecf8427e","treeid":"tree1","user_groups":[],"processed_by_kcidb_bridge":false,"retry_counter":0}`
	if string(got) != want {
		t.Fatalf("checkout\n got: %s\nwant: %s", got, want)
	}
	kb, err := st.GetNode(ctx, objectid.ID(kbuildID))
	if err != nil {
		t.Fatal(err)
	}
	if kb.Parent == nil || *kb.Parent != objectid.ID(checkoutID) || kb.RetryCounter != 2 || !kb.ProcessedByKCIDBBridge ||
		kb.Data["duration"] != json.Number("12.5") || kb.Data["big"] != json.Number("5000000000") || !slices.Equal(kb.Jobfilter, []string{"baseline"}) {
		t.Fatalf("kbuild = %+v", kb)
	}
	legacy, err := st.GetNode(ctx, objectid.ID(legacyID))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = json.Marshal(legacy)
	want = `{"id":"` + legacyID.Hex() + `","kind":"test","name":"baseline","path":["checkout","baseline"],"group":null,"parent":"` + kbuildID.Hex() + `",` +
		`"state":"done","result":"fail","artifacts":{},"data":{},"debug":{},"jobfilter":null,"platform_filter":[],` +
		`"created":"2024-03-04T08:06:07.891000","updated":"2024-03-04T08:06:07.891000","timeout":"2024-03-04T14:06:07.891000",` +
		`"holdoff":null,"owner":"alice","submitter":null,"treeid":null,"user_groups":[],"processed_by_kcidb_bridge":false,"retry_counter":0}`
	if string(got) != want {
		t.Fatalf("legacy node (model defaults)\n got: %s\nwant: %s", got, want)
	}
	reg, err := st.GetNode(ctx, objectid.ID(regID))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Data["pass_node"] != kbuildID.Hex() || reg.Artifacts != nil {
		t.Fatalf("regression = %+v", reg)
	}
	// GET /node/{id} answers what the handler encoded from GetNode.
	for _, id := range []bson.ObjectID{checkoutID, kbuildID, legacyID, regID} {
		n, _ := st.GetNode(ctx, objectid.ID(id))
		want, _ := json.Marshal(n)
		if got, err := st.GetNodeJSON(ctx, objectid.ID(id)); err != nil || string(got) != string(want) {
			t.Fatalf("GetNodeJSON(%s) = %s, %v\nwant %s", id.Hex(), got, err, want)
		}
	}

	// Queries over the reference's types.
	for _, tc := range []struct {
		f    query.Filter
		want []objectid.ID
	}{
		{query.Where("parent", objectid.ID(checkoutID)), []objectid.ID{objectid.ID(kbuildID)}},
		{query.Where("id", objectid.ID(legacyID)), []objectid.ID{objectid.ID(legacyID)}},
		{query.Where("data.kernel_revision.tree", "mainline"), []objectid.ID{objectid.ID(checkoutID)}},
		{query.Where("data.kernel_revision.version.version", int64(6)), []objectid.ID{objectid.ID(checkoutID)}},
		{query.Where("retry_counter", int64(2)), []objectid.ID{objectid.ID(kbuildID)}},
		{query.Filter{Conds: []query.Cond{{Field: "created", Op: query.Gte, Value: t0.Add(time.Hour)},
			{Field: "created", Op: query.Lt, Value: t0.Add(4 * time.Hour)}}}, []objectid.ID{objectid.ID(kbuildID), objectid.ID(legacyID)}},
		{query.Filter{Conds: []query.Cond{{Field: "holdoff", Op: query.Lte, Value: t0.Add(time.Hour)}}}, []objectid.ID{objectid.ID(checkoutID)}},
		{query.Where("user_groups", "kernelci"), []objectid.ID{objectid.ID(kbuildID)}},
		{query.Filter{Conds: []query.Cond{{Field: "data.duration", Op: query.Gt, Value: int64(12)}}}, []objectid.ID{objectid.ID(kbuildID)}},
	} {
		ns, err := st.FindNodes(ctx, tc.f, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []objectid.ID
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		slices.SortFunc(ids, func(a, b objectid.ID) int { return compareIDs(a, b) })
		slices.SortFunc(tc.want, func(a, b objectid.ID) int { return compareIDs(a, b) })
		if !slices.Equal(ids, tc.want) {
			t.Errorf("FindNodes(%+v) = %v, want %v", tc.f, ids, tc.want)
		}
	}

	// Events: the counter continues above the reference's sequence ids.
	if last, err := st.LastSequence(ctx); err != nil || last != 41 {
		t.Fatalf("LastSequence = %d, %v; want 41", last, err)
	}
	evs, err := st.FindEvents(ctx, query.Filter{Conds: []query.Cond{{Field: "sequence_id", Op: query.Gt, Value: int64(7)}}}, store.Page{})
	if err != nil || len(evs) != 1 || evs[0].ID != objectid.ID(ev41) || evs[0].SequenceID != 41 || evs[0].Channel != "node" {
		t.Fatalf("FindEvents = %+v, %v", evs, err)
	}
	if d := evs[0].Data.(map[string]any); d["id"] != kbuildID.Hex() || d["is_hierarchy"] != false {
		t.Fatalf("event data = %v", d)
	}
	if evs, _ := st.FindEvents(ctx, query.Where("data.id", kbuildID.Hex()), store.Page{}); len(evs) != 1 {
		t.Fatalf("FindEvents(data.id) = %v", evs)
	}
	ev := &model.Event{Channel: "node", Data: map[string]any{"op": "created"}}
	if err := st.AppendEvents(ctx, ev); err != nil || ev.SequenceID != 42 {
		t.Fatalf("AppendEvents: seq %d, %v; want 42", ev.SequenceID, err)
	}

	// The equivalent index under another name was reused, not doubled.
	rep, err := st.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range rep.Declared {
		if ds.Collection == "node" && ds.Name == "owner_1" && (ds.State != IndexPresent || ds.Existing != "by_owner") {
			t.Fatalf("node owner index: %+v", ds)
		}
	}
	for _, ix := range rep.Present {
		if ix.Collection == "node" && ix.Name == "owner_1" {
			t.Fatal("an index equivalent to by_owner was created")
		}
	}

	// What we write stays readable by the reference: updating a user keeps
	// the fields we do not know; the types are the reference's.
	u.IsSuperuser = true
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	raw, err := db.Collection("user").FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.LookupErr("revision_id"); err != nil {
		t.Fatal("UpdateUser dropped a field of the reference")
	}
	if raw.Lookup("groups", "0", "_id").Type != bson.TypeObjectID || raw.Lookup("hashed_password").StringValue() != refHash ||
		!raw.Lookup("is_superuser").Boolean() {
		t.Fatalf("user document: %s", raw)
	}
	kb.State = model.StateDone
	kb.Data["extra"] = json.Number("1")
	if err := st.WriteNodes(ctx, store.NodeWrite{Replace: []*model.Node{kb}}); err != nil {
		t.Fatal(err)
	}
	raw, err = db.Collection("node").FindOne(ctx, bson.D{{Key: "_id", Value: kbuildID}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for field, typ := range map[string]bson.Type{"parent": bson.TypeObjectID, "created": bson.TypeDateTime,
		"retry_counter": bson.TypeInt32, "holdoff": bson.TypeNull} {
		if got := raw.Lookup(field).Type; got != typ {
			t.Errorf("node %s: BSON %s, want %s", field, got, typ)
		}
	}
	if raw.Lookup("data", "duration").Double() != 12.5 || raw.Lookup("data", "big").Int64() != 5000000000 ||
		raw.Lookup("data", "extra").Int32() != 1 {
		t.Errorf("node data: %s", raw.Lookup("data"))
	}
}

func compareIDs(a, b objectid.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}
