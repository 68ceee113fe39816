package mongo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// migrateOptions open a store as "kernelci-api migrate" does: nothing is
// created at Open.
func migrateOptions(t *testing.T) Options {
	o := testOptions(t)
	o.SkipIndexes = true
	o.EventTTL, o.TelemetryTTL = 0, 0 // FerretDB has no TTL indexes
	return o
}

func nolog(string) {}

// wantEvents checks how many events eventhistory and the legacy
// collection hold.
func wantEvents(t *testing.T, s *Store, when string, history, legacy int64) {
	t.Helper()
	if n := countDocs(t, s, colEvent, bson.D{}); n != history {
		t.Errorf("%s: %d events in %s, want %d", when, n, colEvent, history)
	}
	if n := countDocs(t, s, colLegacyEvents, bson.D{}); n != legacy {
		t.Errorf("%s: %d events in %s, want %d", when, n, colLegacyEvents, legacy)
	}
}

func countDocs(t *testing.T, s *Store, col string, filter bson.D) int64 {
	t.Helper()
	n, err := s.db.Collection(col).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateFreshDatabase(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, migrateOptions(t))
	rep, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != 0 || len(rep.Pending()) != Latest() || rep.RefCollection || len(rep.Unknown) != 0 {
		t.Fatalf("fresh database: %+v", rep)
	}
	var lines []string
	done, err := s.MigrateUp(ctx, 0, "kernelci-api test", func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != Latest() {
		t.Fatalf("applied %d migrations, want %d", len(done), Latest())
	}
	if !strings.Contains(strings.Join(lines, "\n"), "applying 0001_reference_baseline") {
		t.Errorf("log lines: %q", lines)
	}
	rep, _ = s.MigrationStatus(ctx)
	if rep.Version != Latest() || len(rep.Pending()) != 0 {
		t.Fatalf("after up: version %d, pending %v", rep.Version, rep.Pending())
	}
	for _, m := range rep.Ours {
		if m.Applied == nil || m.By != "kernelci-api test" || time.Since(*m.Applied) > time.Minute {
			t.Errorf("record of %s: applied %v by %q", m.ID(), m.Applied, m.By)
		}
	}
	// Indexes exist now (migration 4), and up again does nothing.
	ix, err := s.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := ix.Missing(); len(m) != 0 {
		t.Errorf("missing indexes after migrate up: %v", m)
	}
	if done, err := s.MigrateUp(ctx, 0, "again", nolog); err != nil || len(done) != 0 {
		t.Fatalf("second up: %v, %v", done, err)
	}
	if p, err := s.CheckMigrations(ctx); err != nil || len(p) != 0 {
		t.Fatalf("CheckMigrations = %v, %v", p, err)
	}
	// Down one step, then to the start, recording each.
	if done, err := s.MigrateDown(ctx, Latest()-1, nolog); err != nil || len(done) != 1 || done[0].Version != Latest() {
		t.Fatalf("down one: %v, %v", done, err)
	}
	if p, _ := s.CheckMigrations(ctx); len(p) != 1 {
		t.Fatalf("pending after one down: %v", p)
	}
	if done, err := s.MigrateDown(ctx, 0, nolog); err != nil || len(done) != Latest()-1 {
		t.Fatalf("down to 0: %v, %v", done, err)
	}
	if n := countDocs(t, s, colMigrations, bson.D{}); n != 0 {
		t.Fatalf("%d migration records (or a lock) left after down to 0", n)
	}
	// Up to a target version only.
	if done, err := s.MigrateUp(ctx, 2, "t", nolog); err != nil || len(done) != 2 {
		t.Fatalf("up to 2: %v, %v", done, err)
	}
	if rep, _ := s.MigrationStatus(ctx); rep.Version != 2 {
		t.Fatalf("version %d after up to 2", rep.Version)
	}
}

// TestMigrateReferenceDatabase runs the migrations over a database the
// reference wrote: pymongo_migrate records, events from before sequence
// ids, a subscriber ahead of the stored events.
func TestMigrateReferenceDatabase(t *testing.T) {
	ctx := context.Background()
	o := migrateOptions(t)
	db := rawClient(t).Database(o.Database)
	applied := bson.NewDateTimeFromTime(time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC))
	mustInsert(t, db.Collection(colRefMigrations),
		bson.D{{Key: "name", Value: "20231102101356_user"}, {Key: "applied", Value: applied}},
		bson.D{{Key: "name", Value: "20231215122000_node_models"}, {Key: "applied", Value: applied}})
	ts := bson.NewDateTimeFromTime(time.Now().Add(-time.Hour))
	legacy := []any{
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: ts}, {Key: "data", Value: bson.D{{Key: "op", Value: "created"}}}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: ts}, {Key: "sequence_id", Value: nil}, {Key: "data", Value: bson.D{}}},
	}
	mustInsert(t, db.Collection(colEvent), legacy...)
	mustInsert(t, db.Collection(colEvent),
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "timestamp", Value: ts}, {Key: "sequence_id", Value: int32(7)},
			{Key: "channel", Value: "node"}, {Key: "owner", Value: "admin"}, {Key: "data", Value: bson.D{}}})
	mustInsert(t, db.Collection(colSubState), bson.D{{Key: "subscriber_id", Value: "sched"}, {Key: "channel", Value: "node"},
		{Key: "user", Value: "admin"}, {Key: "promiscuous", Value: false}, {Key: "last_event_id", Value: int32(40)},
		{Key: "created_at", Value: ts}, {Key: "last_poll", Value: ts}})

	s := openTest(t, o)
	rep, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.RefCollection || len(rep.Reference) != 2 || !rep.Reference[0].Known || rep.Reference[0].Applied == nil {
		t.Fatalf("reference migrations: %+v", rep.Reference)
	}
	if _, err := s.MigrateUp(ctx, 0, "t", nolog); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, "after up", 1, 2) // the numbered one stays
	if last, _ := s.LastSequence(ctx); last != 40 {
		t.Errorf("sequence counter %d, want 40 (the subscriber's position)", last)
	}
	// The next event continues above the subscriber.
	if seq, err := s.reserveSequence(ctx, 1); err != nil || seq != 41 {
		t.Errorf("next sequence id %d, %v; want 41", seq, err)
	}
	// Down moves the legacy events back; the counter stays.
	if _, err := s.MigrateDown(ctx, 1, nolog); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, "after down", 3, 0)
	if last, _ := s.LastSequence(ctx); last != 41 {
		t.Errorf("sequence counter %d after down, want 41 (never back)", last)
	}
	if rep, _ := s.MigrationStatus(ctx); rep.Version != 1 {
		t.Errorf("version %d after down to 1", rep.Version)
	}
}

func TestMigrateRefusesOldLayout(t *testing.T) {
	ctx := context.Background()
	t.Run("downgraded reference migration", func(t *testing.T) {
		o := migrateOptions(t)
		db := rawClient(t).Database(o.Database)
		mustInsert(t, db.Collection(colRefMigrations),
			bson.D{{Key: "name", Value: "20231102101356_user"}, {Key: "applied", Value: bson.NewDateTimeFromTime(time.Now())}},
			bson.D{{Key: "name", Value: "20231215122000_node_models"}, {Key: "applied", Value: nil}})
		s := openTest(t, o)
		_, err := s.MigrateUp(ctx, 0, "t", nolog)
		if err == nil || !strings.Contains(err.Error(), "20231215122000_node_models (downgraded)") {
			t.Fatalf("up = %v, want a refusal naming the downgraded migration", err)
		}
		if rep, _ := s.MigrationStatus(ctx); rep.Version != 0 {
			t.Fatalf("version %d after a failed baseline", rep.Version)
		}
	})
	t.Run("pre-migration users", func(t *testing.T) {
		o := migrateOptions(t)
		db := rawClient(t).Database(o.Database)
		mustInsert(t, db.Collection(colUser), bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "active", Value: true},
			{Key: "profile", Value: bson.D{{Key: "username", Value: "old"}}}})
		s := openTest(t, o)
		_, err := s.MigrateUp(ctx, 0, "t", nolog)
		if err == nil || !strings.Contains(err.Error(), "20231102101356_user") {
			t.Fatalf("up = %v, want a refusal naming the user migration", err)
		}
	})
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	ctx := context.Background()
	o := migrateOptions(t)
	db := rawClient(t).Database(o.Database)
	mustInsert(t, db.Collection(colMigrations), bson.D{{Key: "_id", Value: "0099_from_the_future"}, {Key: "version", Value: int32(99)},
		{Key: "name", Value: "from_the_future"}, {Key: "applied", Value: bson.NewDateTimeFromTime(time.Now())}})
	s := openTest(t, o)
	if _, err := s.CheckMigrations(ctx); !errors.Is(err, ErrNewerDatabase) {
		t.Fatalf("CheckMigrations = %v, want ErrNewerDatabase", err)
	}
	if _, err := s.MigrateUp(ctx, 0, "t", nolog); !errors.Is(err, ErrNewerDatabase) {
		t.Fatalf("MigrateUp = %v, want ErrNewerDatabase", err)
	}
	if _, err := s.MigrateDown(ctx, 0, nolog); !errors.Is(err, ErrNewerDatabase) {
		t.Fatalf("MigrateDown = %v, want ErrNewerDatabase", err)
	}
	rep, _ := s.MigrationStatus(ctx)
	if len(rep.Unknown) != 1 || rep.Unknown[0].Version != 99 || rep.Version != 99 {
		t.Fatalf("status: unknown %+v, version %d", rep.Unknown, rep.Version)
	}
}

func TestMigrateLock(t *testing.T) {
	ctx := context.Background()
	o := migrateOptions(t)
	db := rawClient(t).Database(o.Database)
	mustInsert(t, db.Collection(colMigrations), bson.D{{Key: "_id", Value: migrationLockID},
		{Key: "at", Value: bson.NewDateTimeFromTime(time.Now())}, {Key: "holder", Value: "elsewhere pid 1"}})
	s := openTest(t, o)
	if _, err := s.MigrateUp(ctx, 0, "t", nolog); err == nil || !strings.Contains(err.Error(), "another migration is running (elsewhere pid 1") {
		t.Fatalf("up while locked = %v", err)
	}
	// A stale lock is taken over.
	if _, err := db.Collection(colMigrations).UpdateOne(ctx, bson.D{{Key: "_id", Value: migrationLockID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: bson.NewDateTimeFromTime(time.Now().Add(-2 * time.Hour))}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MigrateUp(ctx, 0, "t", nolog); err != nil {
		t.Fatalf("up over a stale lock: %v", err)
	}
	if n := countDocs(t, s, colMigrations, bson.D{{Key: "_id", Value: migrationLockID}}); n != 0 {
		t.Fatal("lock not released")
	}
}

// The server records the migrations of a new database itself, but leaves
// those of a database with data to the operator.
func TestStartupCheck(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, migrateOptions(t))
	if err := s.StartupCheck(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Version != Latest() || len(rep.Pending()) != 0 {
		t.Fatalf("new database after the start-up check: version %d, pending %v", rep.Version, rep.Pending())
	}
	if rep.Ours[0].By != "kernelci-api serve (new database)" {
		t.Errorf("recorded by %q", rep.Ours[0].By)
	}

	o := migrateOptions(t)
	mustInsert(t, rawClient(t).Database(o.Database).Collection(colNode),
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "kind", Value: "checkout"}, {Key: "name", Value: "checkout"}})
	s = openTest(t, o)
	if err := s.StartupCheck(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := s.CheckMigrations(ctx); err != nil || len(p) != Latest() {
		t.Fatalf("a database with data: pending %v, %v; want every migration left to the operator", p, err)
	}
}

// Without 'migrate up', the first event written to a database the
// reference used still continues above its durable subscribers.
func TestSequenceStartsAboveSubscribersWithoutMigrate(t *testing.T) {
	ctx := context.Background()
	o := migrateOptions(t)
	ts := bson.NewDateTimeFromTime(time.Now().Add(-time.Hour))
	mustInsert(t, rawClient(t).Database(o.Database).Collection(colSubState), bson.D{{Key: "subscriber_id", Value: "sched"},
		{Key: "channel", Value: "node"}, {Key: "user", Value: "admin"}, {Key: "promiscuous", Value: false},
		{Key: "last_event_id", Value: int64(900)}, {Key: "created_at", Value: ts}, {Key: "last_poll", Value: ts}})
	s := openTest(t, o)
	if seq, err := s.reserveSequence(ctx, 1); err != nil || seq != 901 {
		t.Fatalf("first sequence id %d, %v; want 901", seq, err)
	}
}
