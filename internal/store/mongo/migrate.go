package mongo

// Versioned migrations of a MongoDB database ("kernelci-api migrate").
//
// Each applied migration is a document of the "kernelci_api_migrations"
// collection (ours; the reference ignores it):
//
//	{_id: "0002_legacy_events_aside", version: 2, name: "legacy_events_aside",
//	 applied: ISODate(...), by: "kernelci-api dev"}
//
// written once the migration's up step has succeeded and deleted once its
// down step has. A database whose collection holds a version this code
// does not know was migrated by a newer kernelci-api: migrate refuses to
// touch it and serve refuses to start on it.
//
// The reference migrates with pymongo-migrate, which records its
// migrations in "pymongo_migrate" as {name, applied} (applied null once
// downgraded). Those records are read, never written: status lists them,
// and our first migration checks that the database has the layout the
// reference's last migration gives (its migrations applied, or no
// document in an older layout), so that ours build on it.
//
// Migrations are written to be re-run safely after an interruption (each
// step is idempotent), since a standalone server has no transactions.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collections of the migrations.
const (
	colMigrations    = "kernelci_api_migrations"
	colRefMigrations = "pymongo_migrate"
	// colLegacyEvents holds the events moved aside by migration 2.
	colLegacyEvents = "eventhistory_legacy"
	// migrationLockID is the _id of the lock document in colMigrations.
	migrationLockID = "lock"
)

// ReferenceMigrations are the reference's migrations (its migrations/
// directory), oldest first: a database it set up has them all applied.
var ReferenceMigrations = []string{"20231102101356_user", "20231215122000_node_models"}

// ErrNewerDatabase is returned for a database migrated by a newer
// kernelci-api than this one.
var ErrNewerDatabase = errors.New("the database was migrated by a newer kernelci-api")

// Migration is one versioned change of the database.
type Migration struct {
	Version int
	Name    string
	// Summary says what Up does, in one line.
	Summary string
	// Down says what Down does, in one line.
	DownSummary string
	Up, Down    func(ctx context.Context, s *Store, log func(string)) error
}

// ID is the _id of the migration's record: "0002_legacy_events_aside".
func (m Migration) ID() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// Migrations are this server's migrations, in order; Version is the index
// plus one.
var Migrations = []Migration{
	{
		Version: 1, Name: "reference_baseline",
		Summary:     "check that the database has the layout of the reference's last migration (users and nodes of its current models)",
		DownSummary: "nothing to undo (a check)",
		Up:          upReferenceBaseline,
		Down:        func(context.Context, *Store, func(string)) error { return nil },
	},
	{
		Version: 2, Name: "legacy_events_aside",
		Summary:     "move events without a sequence_id (written before the reference numbered events) from eventhistory to eventhistory_legacy",
		DownSummary: "move them back to eventhistory",
		Up: func(ctx context.Context, s *Store, log func(string)) error {
			return s.moveEvents(ctx, colEvent, colLegacyEvents, bson.D{{Key: "sequence_id", Value: nil}}, log)
		},
		Down: func(ctx context.Context, s *Store, log func(string)) error {
			return s.moveEvents(ctx, colLegacyEvents, colEvent, bson.D{}, log)
		},
	},
	{
		Version: 3, Name: "event_sequence_counter",
		Summary:     "start the durable event sequence counter above every stored sequence_id and every subscriber's last_event_id (the reference counted in Redis)",
		DownSummary: "nothing to undo: the counter must never go back, and the reference does not read it",
		Up:          upSequenceCounter,
		Down:        func(context.Context, *Store, func(string)) error { return nil },
	},
	{
		Version: 4, Name: "declared_indexes",
		Summary:     "create the indexes the queries need (as 'serve' does at start-up, but ahead of time: builds can be long on a big database)",
		DownSummary: "nothing to undo: the indexes stay (the reference ignores them, and 'serve' would create them again)",
		Up: func(ctx context.Context, s *Store, log func(string)) error {
			rep, err := s.EnsureIndexes(ctx)
			if err != nil {
				return err
			}
			for _, st := range rep.Declared {
				switch st.State {
				case IndexCreated:
					log(fmt.Sprintf("created index %s on %s", st.Name, st.Collection))
				case IndexDifferent:
					log(fmt.Sprintf("index %s on %s: an index %s with other options is in the way (%s); left as is",
						st.Name, st.Collection, st.Existing, st.Note))
				}
			}
			return nil
		},
		Down: func(context.Context, *Store, func(string)) error { return nil },
	},
}

// ReferenceMigration is a record of pymongo_migrate.
type ReferenceMigration struct {
	Name string
	// Applied is nil when the migration was downgraded.
	Applied *time.Time
	// Known says whether it is one of ReferenceMigrations.
	Known bool
}

// MigrationState is one of our migrations and whether it is applied.
type MigrationState struct {
	Migration
	Applied *time.Time
	By      string
}

// MigrationReport is the migration state of a database.
type MigrationReport struct {
	Database string
	// Reference lists the pymongo_migrate records; RefCollection says
	// whether that collection exists at all.
	Reference     []ReferenceMigration
	RefCollection bool
	// Ours has every migration of this code, applied or not.
	Ours []MigrationState
	// Unknown lists the records of migrations this code does not know
	// (the database is newer).
	Unknown []MigrationState
	// Version is the highest applied version (0: none).
	Version int
}

// Pending lists the migrations not applied yet.
func (r *MigrationReport) Pending() []Migration {
	var out []Migration
	for _, m := range r.Ours {
		if m.Applied == nil {
			out = append(out, m.Migration)
		}
	}
	return out
}

// Latest is the version of the last migration of this code.
func Latest() int { return len(Migrations) }

// MigrationStatus reads the migration records.
func (s *Store) MigrationStatus(ctx context.Context) (*MigrationReport, error) {
	rep := &MigrationReport{Database: s.db.Name()}
	var err error
	if rep.Reference, rep.RefCollection, err = s.referenceMigrations(ctx); err != nil {
		return nil, err
	}
	applied := map[string]MigrationState{}
	err = s.findRaw(ctx, s.db.Collection(colMigrations), bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "version", Value: 1}}, 0, 0, func(raw bson.Raw) error {
			id, err := rawString("_id", raw.Lookup("_id"))
			if err != nil {
				return err
			}
			v, err := rawInt("version", raw.Lookup("version"))
			if err != nil {
				return err
			}
			st := MigrationState{Migration: Migration{Version: int(v)}}
			st.Name, _ = rawString("name", raw.Lookup("name"))
			st.By, _ = rawString("by", raw.Lookup("by"))
			if t, err := rawTime("applied", raw.Lookup("applied")); err == nil {
				st.Applied = &t
			} else {
				now := time.Time{}
				st.Applied = &now
			}
			applied[id] = st
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, m := range Migrations {
		st := MigrationState{Migration: m}
		if a, ok := applied[m.ID()]; ok {
			st.Applied, st.By = a.Applied, a.By
			delete(applied, m.ID())
			rep.Version = max(rep.Version, m.Version)
		}
		rep.Ours = append(rep.Ours, st)
	}
	for _, a := range applied {
		rep.Unknown = append(rep.Unknown, a)
		rep.Version = max(rep.Version, a.Version)
	}
	slices.SortFunc(rep.Unknown, func(a, b MigrationState) int { return a.Version - b.Version })
	return rep, nil
}

// referenceMigrations reads pymongo_migrate; exists is false when there
// is no such collection.
func (s *Store) referenceMigrations(ctx context.Context) (recs []ReferenceMigration, exists bool, err error) {
	cctx, cancel := s.opCtx(ctx)
	names, err := s.db.ListCollectionNames(cctx, bson.D{{Key: "name", Value: colRefMigrations}})
	cancel()
	if err != nil {
		return nil, false, mapErr("list collections", err)
	}
	if len(names) == 0 {
		return nil, false, nil
	}
	err = s.findRaw(ctx, s.db.Collection(colRefMigrations), bson.D{}, bson.D{{Key: "name", Value: 1}}, 0, 0, func(raw bson.Raw) error {
		name, err := rawString("name", raw.Lookup("name"))
		if err != nil {
			return err
		}
		rm := ReferenceMigration{Name: name, Known: slices.Contains(ReferenceMigrations, name)}
		if rv := raw.Lookup("applied"); rv.Type != 0 && !isNull(rv) {
			t, err := rawTime("applied", rv)
			if err != nil {
				return err
			}
			rm.Applied = &t
		}
		recs = append(recs, rm)
		return nil
	})
	return recs, true, err
}

// CheckMigrations fails with ErrNewerDatabase when the database was
// migrated by a newer kernelci-api, and otherwise returns the migrations
// not applied yet.
func (s *Store) CheckMigrations(ctx context.Context) ([]Migration, error) {
	rep, err := s.MigrationStatus(ctx)
	if err != nil {
		return nil, err
	}
	if err := rep.newer(); err != nil {
		return nil, err
	}
	return rep.Pending(), nil
}

func (r *MigrationReport) newer() error {
	if len(r.Unknown) == 0 {
		return nil
	}
	var ids []string
	for _, u := range r.Unknown {
		ids = append(ids, fmt.Sprintf("%04d_%s", u.Version, u.Name))
	}
	return fmt.Errorf("%w: it has migration %s, which this version (migrations 1 to %d) does not know; upgrade kernelci-api",
		ErrNewerDatabase, strings.Join(ids, ", "), Latest())
}

// lock takes the migration lock (a document of colMigrations), so that
// two "migrate" runs never interleave; a lock older than an hour is
// taken as left by a crashed run.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	host, _ := os.Hostname()
	col := s.db.Collection(colMigrations)
	doc := bson.D{{Key: "_id", Value: migrationLockID}, {Key: "at", Value: dateOf(time.Now())},
		{Key: "holder", Value: fmt.Sprintf("%s pid %d", host, os.Getpid())}}
	for range 2 {
		cctx, cancel := s.opCtx(ctx)
		_, err = col.InsertOne(cctx, doc)
		cancel()
		if err == nil {
			return func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.maxTime)
				defer cancel()
				if _, err := col.DeleteOne(cctx, bson.D{{Key: "_id", Value: migrationLockID}}); err != nil {
					s.log.Error("mongo: could not release the migration lock; delete it by hand",
						"collection", colMigrations, "_id", migrationLockID, "err", err)
				}
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, mapErr("take the migration lock", err)
		}
		cctx, cancel = s.opCtx(ctx)
		raw, ferr := col.FindOne(cctx, bson.D{{Key: "_id", Value: migrationLockID}}).Raw()
		cancel()
		if ferr != nil {
			continue // released meanwhile
		}
		at, _ := rawTime("at", raw.Lookup("at"))
		holder, _ := rawString("holder", raw.Lookup("holder"))
		if time.Since(at) < time.Hour {
			return nil, fmt.Errorf("mongo: another migration is running (%s, since %s); if it is not, delete the document {_id: %q} of %s",
				holder, at.Format(time.RFC3339), migrationLockID, colMigrations)
		}
		s.log.Warn("mongo: taking over a stale migration lock", "holder", holder, "since", at)
		cctx, cancel = s.opCtx(ctx)
		_, _ = col.DeleteOne(cctx, bson.D{{Key: "_id", Value: migrationLockID}, {Key: "at", Value: raw.Lookup("at")}})
		cancel()
	}
	return nil, fmt.Errorf("mongo: could not take the migration lock: %w", err)
}

// lockedStatus takes the migration lock and reads the migration status,
// refusing a database newer than the code; unlock releases the lock.
func (s *Store) lockedStatus(ctx context.Context) (rep *MigrationReport, unlock func(), err error) {
	unlock, err = s.lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	if rep, err = s.MigrationStatus(ctx); err == nil {
		err = rep.newer()
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return rep, unlock, nil
}

// MigrateUp applies the pending migrations up to version target (0: all),
// in order, recording each one as it succeeds. by names the program in
// the records.
func (s *Store) MigrateUp(ctx context.Context, target int, by string, log func(string)) ([]Migration, error) {
	if target <= 0 || target > Latest() {
		target = Latest()
	}
	rep, unlock, err := s.lockedStatus(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var done []Migration
	for _, st := range rep.Ours {
		if st.Applied != nil || st.Version > target {
			continue
		}
		m := st.Migration
		log(fmt.Sprintf("applying %s: %s", m.ID(), m.Summary))
		start := time.Now()
		if err := m.Up(ctx, s, log); err != nil {
			return done, fmt.Errorf("migration %s: %w", m.ID(), err)
		}
		cctx, cancel := s.opCtx(ctx)
		_, err := s.db.Collection(colMigrations).ReplaceOne(cctx, bson.D{{Key: "_id", Value: m.ID()}}, bson.D{
			{Key: "_id", Value: m.ID()}, {Key: "version", Value: int32(m.Version)}, {Key: "name", Value: m.Name},
			{Key: "applied", Value: dateOf(time.Now())}, {Key: "by", Value: by},
		}, options.Replace().SetUpsert(true))
		cancel()
		if err != nil {
			return done, fmt.Errorf("migration %s applied but not recorded: %w", m.ID(), mapErr("record migration", err))
		}
		log(fmt.Sprintf("applied %s in %s", m.ID(), time.Since(start).Round(time.Millisecond)))
		done = append(done, m)
	}
	return done, nil
}

// MigrateDown reverts the applied migrations above version target (>= 0),
// newest first, deleting each record as its down step succeeds.
func (s *Store) MigrateDown(ctx context.Context, target int, log func(string)) ([]Migration, error) {
	rep, unlock, err := s.lockedStatus(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var done []Migration
	for i := len(rep.Ours) - 1; i >= 0; i-- {
		st := rep.Ours[i]
		if st.Applied == nil || st.Version <= target {
			continue
		}
		m := st.Migration
		log(fmt.Sprintf("reverting %s: %s", m.ID(), m.DownSummary))
		if err := m.Down(ctx, s, log); err != nil {
			return done, fmt.Errorf("reverting migration %s: %w", m.ID(), err)
		}
		cctx, cancel := s.opCtx(ctx)
		_, err := s.db.Collection(colMigrations).DeleteOne(cctx, bson.D{{Key: "_id", Value: m.ID()}})
		cancel()
		if err != nil {
			return done, fmt.Errorf("migration %s reverted but still recorded: %w", m.ID(), mapErr("delete migration record", err))
		}
		log(fmt.Sprintf("reverted %s", m.ID()))
		done = append(done, m)
	}
	return done, nil
}

// upReferenceBaseline checks that the database has the reference's
// current layout: with pymongo_migrate, every reference migration
// applied; without it (a database the reference created at its current
// version, or a new one), no user or node in the layout older than those
// migrations and no "regression" collection left with documents.
func upReferenceBaseline(ctx context.Context, s *Store, log func(string)) error {
	refs, exists, err := s.referenceMigrations(ctx)
	if err != nil {
		return err
	}
	if exists {
		var missing []string
		for _, name := range ReferenceMigrations {
			i := slices.IndexFunc(refs, func(r ReferenceMigration) bool { return r.Name == name })
			switch {
			case i < 0:
				missing = append(missing, name+" (never applied)")
			case refs[i].Applied == nil:
				missing = append(missing, name+" (downgraded)")
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("the reference's migrations are not all applied: %s; apply them first with the reference's tools (pymongo-migrate migrate -u <MONGO_SERVICE> -m migrations)",
				strings.Join(missing, ", "))
		}
		log(fmt.Sprintf("the reference's migrations are applied (%s)", strings.Join(ReferenceMigrations, ", ")))
		return nil
	}
	var old []string
	for _, c := range []struct{ col, field, what string }{
		{colUser, "profile", "users in the layout before fastapi-users (a 'profile' field; reference migration 20231102101356_user)"},
		{colNode, "revision", "nodes with a top-level 'revision' (reference migration 20231215122000_node_models)"},
	} {
		n := 0
		err := s.findRaw(ctx, s.db.Collection(c.col), bson.D{{Key: c.field, Value: bson.D{{Key: "$exists", Value: true}}}}, nil, 0, 1,
			func(bson.Raw) error { n++; return nil })
		if err != nil {
			return err
		}
		if n > 0 {
			old = append(old, c.what)
		}
	}
	cctx, cancel := s.opCtx(ctx)
	n, err := s.db.Collection("regression").CountDocuments(cctx, bson.D{}, options.Count().SetLimit(1))
	cancel()
	if err != nil {
		return mapErr("count regression", err)
	}
	if n > 0 {
		old = append(old, "documents in the old 'regression' collection (reference migration 20231215122000_node_models)")
	}
	if len(old) > 0 {
		return fmt.Errorf("the database has data in a layout older than the reference's migrations: %s; apply them first with the reference's tools (pymongo-migrate migrate -u <MONGO_SERVICE> -m migrations)",
			strings.Join(old, "; "))
	}
	log("no pymongo_migrate records, and no document in a layout older than the reference's migrations")
	return nil
}

// upSequenceCounter raises the durable sequence counter above every
// stored sequence_id and every durable subscriber's last_event_id: the
// reference took sequence ids from Redis, where its counter may be ahead
// of what eventhistory still holds (events expire), and a counter below a
// subscriber's position would make that subscriber skip new events.
func upSequenceCounter(ctx context.Context, s *Store, log func(string)) error {
	top, subTop, err := s.sequenceTops(ctx)
	if err != nil {
		return err
	}
	before, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if err := s.RaiseSequence(ctx, max(top, subTop)); err != nil {
		return err
	}
	s.seqReady.Store(true)
	after, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	log(fmt.Sprintf("sequence counter at %d (was %d; highest stored sequence_id %d, highest subscriber last_event_id %d)",
		after, before, top, subTop))
	return nil
}

// sequenceTops returns the highest stored sequence_id and the highest
// last_event_id of the durable subscribers (0 where there is none).
func (s *Store) sequenceTops(ctx context.Context) (stored, subscribed int64, err error) {
	if stored, err = s.maxStoredSequence(ctx); err != nil {
		return 0, 0, err
	}
	err = s.findRaw(ctx, s.db.Collection(colSubState), bson.D{{Key: "last_event_id", Value: bson.D{{Key: "$type", Value: "number"}}}},
		bson.D{{Key: "last_event_id", Value: -1}}, 0, 1, func(raw bson.Raw) (err error) {
			subscribed, err = rawInt("last_event_id", raw.Lookup("last_event_id"))
			return err
		})
	return stored, subscribed, err
}

// moveEvents moves the documents of from matching filter to to, in
// batches: insert into to (a document already there from an interrupted
// run is kept), then delete from from.
func (s *Store) moveEvents(ctx context.Context, from, to string, filter bson.D, log func(string)) error {
	src, dst := s.db.Collection(from), s.db.Collection(to)
	moved := 0
	for {
		var docs []any
		var ids bson.A
		err := s.findRaw(ctx, src, filter, bson.D{{Key: "_id", Value: 1}}, 0, transferBatch, func(raw bson.Raw) error {
			docs = append(docs, append(bson.Raw(nil), raw...))
			ids = append(ids, raw.Lookup("_id"))
			return nil
		})
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			break
		}
		cctx, cancel := s.opCtx(ctx)
		_, err = dst.InsertMany(cctx, docs, options.InsertMany().SetOrdered(false))
		cancel()
		if err != nil && !isOnlyDuplicates(err) {
			return mapErr("insert into "+to, err)
		}
		cctx, cancel = s.opCtx(ctx)
		_, err = src.DeleteMany(cctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		cancel()
		if err != nil {
			return mapErr("delete from "+from, err)
		}
		moved += len(docs)
	}
	log(fmt.Sprintf("moved %d events from %s to %s", moved, from, to))
	return nil
}

// StartupCheck is what the server runs once connected: it refuses a
// database migrated by a newer kernelci-api (ErrNewerDatabase), applies
// the migrations itself to a new database (nothing in it yet: they only
// record the version there), and logs a warning when migrations are
// pending on one that holds data (an operator runs those, 'kernelci-api
// migrate up', since they may take long or refuse the data).
func (s *Store) StartupCheck(ctx context.Context) error {
	pending, err := s.CheckMigrations(ctx)
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	empty, err := s.isNew(ctx)
	if err != nil {
		return err
	}
	if empty {
		done, err := s.MigrateUp(ctx, 0, "kernelci-api serve (new database)", func(string) {})
		if err == nil {
			s.log.Info("mongo: new database; migrations recorded", "database", s.db.Name(), "applied", len(done), "version", Latest())
			return nil
		}
		// Another replica starting at the same moment holds the lock, or
		// the database stopped being new: say so, and go on.
		s.log.Warn("mongo: could not apply the migrations of a new database", "database", s.db.Name(), "err", err)
	}
	pending, err = s.CheckMigrations(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		ids := make([]string, len(pending))
		for i, m := range pending {
			ids[i] = m.ID()
		}
		s.log.Warn("mongo: database migrations are pending; run 'kernelci-api migrate up'",
			"database", s.db.Name(), "pending", strings.Join(ids, ","))
	}
	return nil
}

// isNew reports whether the database holds nothing yet: no document in
// the reference's collections, no pymongo_migrate, no migration record of
// ours.
func (s *Store) isNew(ctx context.Context) (bool, error) {
	for _, col := range []string{colNode, colUser, colGroup, colEvent, colSubState, colTelemetry, colLegacyEvents, colMigrations, colRefMigrations} {
		cctx, cancel := s.opCtx(ctx)
		n, err := s.db.Collection(col).CountDocuments(cctx, bson.D{}, options.Count().SetLimit(1))
		cancel()
		if err != nil {
			return false, mapErr("count "+col, err)
		}
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}
