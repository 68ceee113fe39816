package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo"
	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
)

// One embedded FerretDB for the package (KCI_TEST_MONGO_URI: a real
// MongoDB instead).
func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

func openMongo(t *testing.T, db string) *mongo.Store {
	t.Helper()
	st, err := mongo.Open(context.Background(), mongo.Options{URI: mongotest.URI(t), Database: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// base has microseconds, which MongoDB does not keep.
var base = time.Date(2025, 6, 7, 8, 9, 10, 123456000, time.UTC)

func at(d time.Duration) model.Time { return model.T(base.Add(d)) }

// fill stores a bit of everything, through the ordinary store methods.
func fill(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	editAny, lab := &model.Group{Name: model.EditAnyGroup}, &model.Group{Name: "runtime:lava-collabora:node-editor"}
	must(st.InsertGroup(ctx, editAny))
	must(st.InsertGroup(ctx, lab))
	must(st.InsertUser(ctx, &model.User{Username: "admin", Email: "admin@kernelci.org", IsActive: true, IsSuperuser: true,
		IsVerified: true, HashedPassword: "$2b$12$abcdefghijklmnopqrstuuVDLhK0aQ6XMqRU/1qQ3SBRsyq1Kd9Tm", Groups: []model.Group{}}))
	must(st.InsertUser(ctx, &model.User{Username: "lab", Email: "lab@example.org", IsActive: true, IsVerified: false,
		HashedPassword: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Groups: []model.Group{*editAny, *lab}}))
	must(st.InsertUser(ctx, &model.User{Username: "gone", Email: "gone@example.org", IsActive: false,
		HashedPassword: "x", Groups: []model.Group{}}))

	checkout := &model.Node{ID: objectid.New(), Kind: "checkout", Name: "checkout", Path: []string{"checkout"},
		State: model.StateAvailable, Artifacts: map[string]string{"tarball": "https://example.org/linux.tar.gz"},
		Data: map[string]any{"kernel_revision": map[string]any{"tree": "mainline", "branch": "master", "commit": "2a987e65",
			"version": map[string]any{"version": json.Number("6"), "patchlevel": json.Number("16"), "extra": "-rc4"}}},
		Debug: map[string]any{}, PlatformFilter: []string{}, UserGroups: []string{},
		Created: at(0), Updated: at(time.Second), Timeout: at(6 * time.Hour), Holdoff: &model.Time{Time: base.Add(time.Hour)},
		Owner: model.Str("admin"), Treeid: model.Str("tree-1")}
	var nodes []*model.Node
	nodes = append(nodes, checkout)
	for i := range 30 {
		n := &model.Node{ID: objectid.New(), Kind: "kbuild", Name: fmt.Sprintf("kbuild-%d", i), Path: []string{"checkout", "kbuild"},
			Parent: &checkout.ID, State: model.StateDone, Result: model.Str("pass"), Group: model.Str("kbuild-gcc-12-x86"),
			Artifacts: map[string]string{}, Data: map[string]any{"arch": "x86_64", "n": json.Number(fmt.Sprint(i)),
				"ratio": json.Number("1.5"), "one": json.Number("1.0"), "neg": json.Number("-9007199254740993"),
				"list": []any{"a", json.Number("2"), nil, true, map[string]any{"k": "v"}}, "empty": map[string]any{}},
			Debug: map[string]any{"trace": "x"}, Jobfilter: []string{"baseline"}, PlatformFilter: []string{"qemu"},
			UserGroups: []string{"runtime:lava-collabora:node-editor"}, ProcessedByKCIDBBridge: i%2 == 0, RetryCounter: int64(i % 3),
			Created: at(time.Duration(i) * time.Millisecond), Updated: at(time.Minute), Timeout: at(6 * time.Hour),
			Owner: model.Str("lab"), Submitter: model.Str("d41d8cd98f00b204e9800998ecf8427e")}
		nodes = append(nodes, n)
	}
	var evs []*model.Event
	for _, n := range nodes {
		evs = append(evs, &model.Event{Channel: "node", Owner: n.Owner, Timestamp: n.Created,
			Data: model.NodeEventData("created", n, false, nil)})
	}
	must(st.WriteNodes(ctx, store.NodeWrite{Insert: nodes, Events: evs}))
	must(st.AppendEvents(ctx, &model.Event{Channel: "my-channel", Owner: model.Str("lab"), Timestamp: at(2 * time.Minute),
		Data:       map[string]any{"msg": "hello", "n": json.Number("3")},
		Attributes: map[string]any{"type": "api.kernelci.org", "source": "https://lab.example.org", "ext": json.Number("1")}}))
	// The first events expire: the sequence counter stays above them.
	if n, err := st.DeleteEventsBefore(ctx, base.Add(5*time.Millisecond), 0); err != nil || n == 0 {
		t.Fatalf("DeleteEventsBefore = %d, %v", n, err)
	}
	var tels []*model.TelemetryEvent
	for i := range 25 {
		tels = append(tels, &model.TelemetryEvent{Ts: at(time.Duration(i) * time.Second), Kind: "job_result", Runtime: "lava-collabora",
			DeviceType: model.Str("rk3588"), JobName: model.Str("baseline-arm64"), Result: model.Str([]string{"pass", "fail", "incomplete"}[i%3]),
			IsInfraError: i%5 == 0, ErrorType: model.Str("Infrastructure"), ErrorMsg: model.Str("device offline"), Retry: int64(i % 2),
			Extra: map[string]any{"i": json.Number(fmt.Sprint(i))}})
	}
	must(st.InsertTelemetry(ctx, tels))
	poll := base.Add(3 * time.Minute)
	must(st.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: "scheduler-1", Channel: "node", User: "lab",
		LastEventID: 20, Created: base, LastPoll: &poll}))
	must(st.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: "all", Channel: "node", User: "admin", Promiscuous: true,
		Created: base}))
	for i := range 3 {
		sub := &store.Subscription{Channel: "node", User: "lab", Cursor: int64(10 + i), Created: base}
		if i == 1 {
			sub.SubscriberID, sub.LastPoll = "scheduler-1", &poll
		}
		must(st.CreateSubscription(ctx, sub))
		if i == 0 {
			must(st.DeleteSubscription(ctx, sub.ID)) // ids are never reused
		}
	}
	must(st.SetKV(ctx, "bisect", "state", `{"step":3}`))
	must(st.SetKV(ctx, "bisect", "empty", ""))
	must(st.SetKV(ctx, "other", "ünïcode", "välue"))
	for i := range 4 {
		must(st.PushList(ctx, "jobs", []byte(fmt.Sprintf(`{"specversion":"1.0","data":{"i":%d}}`, i))))
	}
	if _, err := st.PopList(ctx, "jobs"); err != nil {
		t.Fatal(err)
	}
	must(st.PushList(ctx, "binary", []byte{0, 1, 2, 0xff}))

	// API tokens, with their hashes (docs/tokens.md).
	labUser, err := st.GetUserByUsername(ctx, "lab")
	must(err)
	ts := st
	exp, used := base.Add(24*time.Hour), base.Add(time.Hour)
	must(ts.InsertAPIToken(ctx, &store.APIToken{UserID: labUser.ID, Name: "lava", Scopes: []string{"node:write:lava-collabora", "read"},
		Prefix: "kci_abcdefgh", Hash: "0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978", Created: base, Expires: &exp, LastUsed: &used}))
}

func export(t *testing.T, st store.Store, source string) (string, *Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Export(context.Background(), st, &buf, source, nil)
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), sum
}

func importInto(t *testing.T, st store.Store, data string, o ImportOptions) *Summary {
	t.Helper()
	sum, err := Import(context.Background(), st, strings.NewReader(data), o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// records are the lines of a file but the header, which names the source
// and the time of the export.
func records(t *testing.T, data string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if !strings.HasPrefix(lines[0], `{"header":`) {
		t.Fatalf("first line is not the header: %.200s", lines[0])
	}
	return strings.Join(lines[1:], "\n")
}

var microTime = regexp.MustCompile(`"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d{3}"`)

// millis truncates every wire datetime of a file to the millisecond.
func millis(s string) string { return microTime.ReplaceAllString(s, `"${1}000"`) }

// TestRoundTrip moves a store SQLite -> file -> MongoDB -> file -> SQLite
// and checks that nothing changed but the sub-millisecond part of the
// datetimes, which MongoDB does not keep.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := sqlitetest.Open(t)
	fill(t, a)
	lastA, _ := a.LastSequence(ctx)
	file1, sum1 := export(t, a, "sqlite")
	if sum1.LastSequence != lastA || sum1.Counts[store.CollNode] != 31 || sum1.Counts[store.CollEvent] != 26 ||
		sum1.Counts[store.CollList] != 4 || sum1.Counts[store.CollSubscription] != 2 || sum1.Counts[store.CollAPIToken] != 1 {
		t.Fatalf("export summary %+v (last sequence %d)", sum1, lastA)
	}
	if lastA != 32 {
		t.Fatalf("fixture: last sequence %d, want 32", lastA)
	}

	m := openMongo(t, mongotest.NewDatabase())
	if sum := importInto(t, m, file1, ImportOptions{}); sum.LastSequence != lastA {
		t.Fatalf("MongoDB's last sequence %d after import, want %d", sum.LastSequence, lastA)
	}
	file2, _ := export(t, m, "mongo")
	if got, want := records(t, file2), millis(records(t, file1)); got != want {
		diffLines(t, "SQLite export (to the ms) vs MongoDB export", want, got)
	}

	b := sqlitetest.Open(t)
	importInto(t, b, file2, ImportOptions{})
	file3, _ := export(t, b, "sqlite")
	if got, want := records(t, file3), records(t, file2); got != want {
		diffLines(t, "MongoDB export vs SQLite export", want, got)
	}

	// What the API reads is the same too (to the ms), and the
	// destination goes on from where the source was.
	for _, st := range []store.Store{m, b} {
		u, err := st.GetUserByUsername(ctx, "lab")
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := a.GetUserByUsername(ctx, "lab")
		if u.ID != orig.ID || u.HashedPassword != orig.HashedPassword || len(u.Groups) != 2 || u.Groups[1] != orig.Groups[1] {
			t.Errorf("%T: user %+v, want %+v", st, u, orig)
		}
		ev := &model.Event{Channel: "node", Data: map[string]any{}}
		if err := st.AppendEvents(ctx, ev); err != nil || ev.SequenceID != lastA+1 {
			t.Errorf("%T: next event sequence %d (%v), want %d", st, ev.SequenceID, err, lastA+1)
		}
		sub := &store.Subscription{Channel: "node", User: "x", Created: base}
		if err := st.CreateSubscription(ctx, sub); err != nil || sub.ID != 4 {
			t.Errorf("%T: next subscription id %d (%v), want 4", st, sub.ID, err)
		}
		v, err := st.PopList(ctx, "jobs")
		if err != nil || string(v) != `{"specversion":"1.0","data":{"i":1}}` {
			t.Errorf("%T: head of jobs = %s, %v", st, v, err)
		}
		if v, _ := st.PopList(ctx, "binary"); !bytes.Equal(v, []byte{0, 1, 2, 0xff}) {
			t.Errorf("%T: binary list item = %v", st, v)
		}
		if v, _ := st.GetKV(ctx, "other", "ünïcode"); v != "välue" {
			t.Errorf("%T: kv = %q", st, v)
		}
		tok, err := st.GetAPITokenByHash(ctx, "0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978")
		if err != nil || tok.UserID != orig.ID || tok.Name != "lava" || tok.Expires == nil || tok.LastUsed == nil {
			t.Errorf("%T: API token %+v, %v", st, tok, err)
		}
	}
}

func diffLines(t *testing.T, what, want, got string) {
	t.Helper()
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s: first difference at record %d:\nwant %s\n got %s", what, i+1, w, g)
		}
	}
	t.Fatalf("%s: differ", what)
}

func TestImportRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	src := sqlitetest.Open(t)
	fill(t, src)
	file, _ := export(t, src, "sqlite")

	dst := sqlitetest.Open(t)
	if err := dst.InsertGroup(ctx, &model.Group{Name: model.EditAnyGroup}); err != nil {
		t.Fatal(err)
	}
	if err := dst.InsertUser(ctx, &model.User{Username: "admin", Email: "admin@kernelci.org", HashedPassword: "h", Groups: []model.Group{}}); err != nil {
		t.Fatal(err)
	}
	for range 40 { // the destination's counter is ahead of the source's
		if err := dst.AppendEvents(ctx, &model.Event{Channel: "node", Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Import(ctx, dst, strings.NewReader(file), ImportOptions{})
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "usergroup: 1") {
		t.Fatalf("import into a non-empty store = %v, want ErrNotEmpty naming what it holds", err)
	}
	// A file that is not an export deletes nothing, even with Force.
	if _, err := Import(ctx, dst, strings.NewReader(`{"node":{}}`+"\n"), ImportOptions{Force: true}); err == nil {
		t.Fatal("imported a file without a header")
	}
	if c, _ := dst.Counts(ctx); c[store.CollUser] != 1 {
		t.Fatalf("a refused file changed the destination: %v", c)
	}
	var notes []string
	sum, err := Import(ctx, dst, strings.NewReader(file), ImportOptions{Force: true, Log: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "deleting") {
		t.Errorf("no notice of the deletion: %q", notes)
	}
	if sum.LastSequence != 40 {
		t.Errorf("last sequence %d after a forced import, want 40 (the destination's, never back)", sum.LastSequence)
	}
	// The same records; only the end line's last_sequence differs.
	again, _ := export(t, dst, "sqlite")
	strip := func(s string) string { return s[:strings.LastIndex(s, "\n")] }
	if strip(records(t, again)) != strip(records(t, file)) {
		diffLines(t, "after a forced import", strip(records(t, file)), strip(records(t, again)))
	}
}

func TestImportBadFiles(t *testing.T) {
	src := sqlitetest.Open(t)
	fill(t, src)
	file, _ := export(t, src, "sqlite")
	lines := strings.Split(strings.TrimSuffix(file, "\n"), "\n")
	join := func(l []string) string { return strings.Join(l, "\n") + "\n" }
	cases := []struct {
		name, data, want string
	}{
		{"empty", "", "empty input"},
		{"no header", join(lines[1:]), "no header line"},
		{"other format", `{"header":{"format":"something","version":1}}` + "\n", `format "something"`},
		{"newer version", `{"header":{"format":"kernelci-api-export","version":2}}` + "\n", "file version 2"},
		{"truncated", join(lines[:len(lines)-1]), "truncated"},
		{"a record missing", join(append(append([]string{}, lines[:5]...), lines[6:]...)), "the file says"},
		{"not JSON", join([]string{lines[0], "{oops"}), "line 2: not a JSON object"},
		{"two members", join([]string{lines[0], `{"node":{},"user":{}}`}), "line 2: want an object with one member"},
		{"unknown type", join([]string{lines[0], `{"nodes":{}}`}), `unknown record type "nodes"`},
		{"after the end", file + lines[1] + "\n", "data after the end line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(context.Background(), sqlitetest.Open(t), strings.NewReader(tc.data), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestRenumbered exports MongoDB data of the reference with events that
// have no sequence id, or one another event has: they come last with
// sequence_id 0 and the import numbers them above the source's counter.
func TestRenumbered(t *testing.T) {
	ctx := context.Background()
	dbName := mongotest.NewDatabase()
	cl, err := mdriver.Connect(options.Client().ApplyURI(mongotest.URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	ts := bson.NewDateTimeFromTime(base)
	var docs []any
	for _, seq := range []any{int32(1), int32(2), int32(2), "none", int32(3), nil} {
		d := bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: ts}, {Key: "channel", Value: "node"},
			{Key: "owner", Value: "admin"}, {Key: "data", Value: bson.D{{Key: "op", Value: "created"}}}}
		if seq != "none" {
			d = append(d, bson.E{Key: "sequence_id", Value: seq})
		}
		docs = append(docs, d)
	}
	if _, err := cl.Database(dbName).Collection("eventhistory").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	m := openMongo(t, dbName)
	if err := m.RaiseSequence(ctx, 10); err != nil {
		t.Fatal(err)
	}
	file, sum := export(t, m, "mongo")
	if sum.Renumbered != 3 || sum.Counts[store.CollEvent] != 6 {
		t.Fatalf("export summary %+v", sum)
	}
	dst := sqlitetest.Open(t)
	isum := importInto(t, dst, file, ImportOptions{})
	if isum.Renumbered != 3 || isum.LastSequence != 13 {
		t.Fatalf("import summary %+v, want 3 renumbered and last sequence 13", isum)
	}
	var got []int64
	if err := dst.EachEvent(ctx, func(ev *model.Event) error { got = append(got, ev.SequenceID); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1 2 3 11 12 13]" {
		t.Fatalf("sequence ids %v", got)
	}
}

func TestProgress(t *testing.T) {
	src := sqlitetest.Open(t)
	fill(t, src)
	var plain bytes.Buffer
	if _, err := Export(context.Background(), src, io.Discard, "sqlite", NewProgress(&plain, false, "export")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export: 99 records to move\n", "export: node                       31 records\n", "export: 99 records in "} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain progress lacks %q:\n%s", want, plain.String())
		}
	}
	// On a terminal the bar is redrawn in place (\r), here forced by a
	// clock that runs 200 ms per record.
	var tty bytes.Buffer
	p := NewProgress(&tty, true, "import")
	clock := time.Unix(0, 0)
	p.now = func() time.Time { clock = clock.Add(200 * time.Millisecond); return clock }
	file, _ := export(t, src, "sqlite")
	if _, err := Import(context.Background(), sqlitetest.Open(t), strings.NewReader(file), ImportOptions{Progress: p, Batch: 7}); err != nil {
		t.Fatal(err)
	}
	out := tty.String()
	if !strings.Contains(out, "\rimport [") || !strings.Contains(out, "%") || !strings.Contains(out, "import: telemetry                  25 records\n") {
		t.Errorf("terminal progress:\n%q", out)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
