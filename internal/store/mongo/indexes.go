package mongo

// Indexes, declared in code and created at start-up: before Open
// returns for small collections, in the background for collections over
// Options.BackgroundIndexMin documents (ensureIndexesAtOpen), so that a
// big existing database is served at once.
//
// An existing index satisfies a declared one when it has the same keys
// (fields, order and directions) and the same relevant options (unique,
// sparse, hidden, expireAfterSeconds, partialFilterExpression,
// collation); its name does not matter, so an equivalent index made by
// the reference or by hand under another name is reused (with a log
// line) rather than failing start-up. Names are MongoDB's defaults
// (field_1_other_1), or the reference's where it chose one, so both
// servers converge on the same indexes.
//
// An index with the declared keys but other options cannot coexist with
// the declared one: it is reported as "different" and left alone, except
// for the TTL of eventhistory.timestamp, which is changed in place with
// collMod (EVENT_HISTORY_TTL_SECONDS wins). Servers without TTL indexes
// (FerretDB) get a plain timestamp index, and the store deletes expired
// events itself (retention.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// IndexSpec is a declared index.
type IndexSpec struct {
	Collection string
	Name       string
	Keys       bson.D // field -> 1 (ascending) or -1
	Unique     bool
	// ExpireAfter is the TTL (expireAfterSeconds); 0 for none.
	ExpireAfter time.Duration
	// Partial is the partialFilterExpression, nil for a full index. A
	// full index on the same keys (made by hand, or by a server without
	// partial indexes such as FerretDB) satisfies it.
	Partial bson.D
}

func asc(fields ...string) bson.D {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		d[i] = bson.E{Key: f, Value: int32(1)}
	}
	return d
}

// defaultName is MongoDB's name for an index on keys.
func defaultName(keys bson.D) string {
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k.Key, fmt.Sprint(k.Value))
	}
	return strings.Join(parts, "_")
}

// DeclaredIndexes lists the indexes the store needs, for given event and
// telemetry TTLs (0: no TTL).
func DeclaredIndexes(eventTTL, telemetryTTL time.Duration) []IndexSpec {
	var out []IndexSpec
	add := func(col string, keys bson.D, mod ...func(*IndexSpec)) {
		sp := IndexSpec{Collection: col, Name: defaultName(keys), Keys: keys}
		for _, m := range mod {
			m(&sp)
		}
		out = append(out, sp)
	}
	unique := func(sp *IndexSpec) { sp.Unique = true }
	named := func(n string) func(*IndexSpec) { return func(sp *IndexSpec) { sp.Name = n } }

	for _, f := range []string{"group", "parent", "owner", "timeout", "holdoff"} {
		add(colNode, asc(f))
	}
	// The sort fields (query.NodeSort, order.go): {f: 1, _id: 1} gives
	// sort=f and sort=-f with their id tie-break from the index, in
	// either direction, and serves every query {f: 1} served (an
	// equality on f then walks the matches in _id order, the default
	// order of /nodes). A database made by the reference keeps its
	// {f: 1} as well, which the planner may still use; it can be dropped.
	for _, f := range []string{"kind", "name", "state", "result", "created", "updated"} {
		add(colNode, asc(f, "_id"))
	}
	add(colNode, asc("state", "timeout"))
	add(colNode, asc("state", "holdoff"))
	// The data.* fields pipelines and dashboards filter on by equality.
	// arch, defconfig, compiler, platform and runtime are set (or null)
	// on nearly every build, job and test node, so a partial index would
	// leave little out: they are full indexes.
	for _, f := range []string{"data.kernel_revision.commit", "data.kernel_revision.tree",
		"data.kernel_revision.branch", "data.runtime", "data.platform",
		"data.arch", "data.defconfig", "data.compiler"} {
		add(colNode, asc(f))
	}
	// data.error_code is null on nearly every node: index the nodes that
	// have one. The filter is a string comparison, which an equality (or
	// $in) on a non-empty string implies, so the planner uses the index
	// for data.error_code=X; a query for null or $ne cannot use it.
	add(colNode, asc("data.error_code"), func(sp *IndexSpec) {
		sp.Partial = bson.D{{Key: "data.error_code", Value: bson.D{{Key: "$gt", Value: ""}}}}
	})
	// The dashboard grid: tree and branch equalities, kind equality or
	// $in, a created window (equality, then sort/range fields).
	add(colNode, asc("data.kernel_revision.tree", "data.kernel_revision.branch", "kind", "created"))
	// kind=K&result=R&created__gt=T (failures of a window: the query of
	// issue 14's cliff), and kind=K&created window alone (the planner
	// steps over the few result values of the index).
	add(colNode, asc("kind", "result", "created"))
	// GET /stats/nodes?group_by=kind,result&created__gt=T (the /stats
	// page): the window's keys hold both grouped fields, so the $group
	// reads the index only (a covered plan).
	add(colNode, asc("created", "kind", "result"))

	add(colEvent, asc("timestamp"), func(sp *IndexSpec) { sp.ExpireAfter = eventTTL })
	add(colEvent, asc("channel", "sequence_id"))
	// Unique: two writers handed the same id by a counter that is not
	// atomic cannot both store it; the second retries (events.go).
	add(colEvent, asc("sequence_id"), unique)
	add(colEvent, asc("data.id"))
	add(colEvent, asc("data.kind", "timestamp"), named("kind_timestamp"))
	// The pull labs' poll: kind=job&state=done&from=T.
	add(colEvent, asc("data.kind", "data.state", "timestamp"), named("kind_state_timestamp"))
	// A kind without from: its first page in sequence order, unsorted.
	add(colEvent, asc("data.kind", "sequence_id"), named("kind_sequence"))

	add(colSubState, asc("subscriber_id"), unique, named("unique_subscriber_id"))
	add(colSubState, asc("last_poll"), named("last_poll"))
	add(colSubscription, asc("last_poll"))
	// The POST /subscribe cap counts one user's subscriptions.
	add(colSubscription, asc("user"))
	add(colList, asc("list", "seq"))

	desc := func(fields ...string) bson.D {
		d := asc(fields...)
		d[len(d)-1].Value = int32(-1)
		return d
	}
	add(colTelemetry, asc("ts"), func(sp *IndexSpec) { sp.ExpireAfter = telemetryTTL })
	add(colTelemetry, desc("kind", "ts"))
	add(colTelemetry, desc("runtime", "device_type", "ts"))
	add(colTelemetry, desc("job_name", "ts"))
	add(colTelemetry, desc("result", "is_infra_error", "ts"))

	add(colUser, asc("username"), unique)
	add(colUser, asc("email"), unique)
	add(colGroup, asc("name"), unique)
	add(colAPIToken, asc("hash"), unique)
	add(colAPIToken, asc("user_id", "name"), unique)
	return out
}

// ExistingIndex is an index found on the server.
type ExistingIndex struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
	Sparse     bool
	Hidden     bool
	// ExpireAfter is the TTL, -1 when the index has none.
	ExpireAfter time.Duration
	// Partial and Collation hold those options, nil when absent.
	Partial   bson.Raw
	Collation bson.Raw
}

// IndexState says how a declared index stands on the server.
type IndexState string

// The states of a declared index.
const (
	IndexPresent   IndexState = "present"   // an equivalent index exists
	IndexMissing   IndexState = "missing"   // nothing on these keys
	IndexCreated   IndexState = "created"   // was missing, created now
	IndexDifferent IndexState = "different" // same keys, other options
	IndexBuilding  IndexState = "building"  // missing, being built in the background
)

// IndexStatus is the state of one declared index.
type IndexStatus struct {
	IndexSpec
	State IndexState
	// Existing names the equivalent (present) or conflicting (different)
	// index on the server.
	Existing string
	// Note explains anything unusual (TTL unsupported, options differ).
	Note string
}

// IndexReport is what EnsureIndexes and Indexes return.
type IndexReport struct {
	Declared []IndexStatus
	// Present lists every index on the store's collections.
	Present []ExistingIndex
}

// Missing returns the declared indexes that are not satisfied.
func (r *IndexReport) Missing() []IndexStatus {
	var out []IndexStatus
	for _, st := range r.Declared {
		if st.State == IndexMissing || st.State == IndexDifferent || st.State == IndexBuilding {
			out = append(out, st)
		}
	}
	return out
}

// KeysString renders index keys as {a: 1, b: -1}.
func KeysString(keys bson.D) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %v", k.Key, k.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// OptionsString renders the options of a declared index.
func (sp IndexSpec) OptionsString() string {
	var o []string
	if sp.Unique {
		o = append(o, "unique")
	}
	if sp.ExpireAfter > 0 {
		o = append(o, fmt.Sprintf("expireAfterSeconds=%d", int64(sp.ExpireAfter/time.Second)))
	}
	if sp.Partial != nil {
		o = append(o, "partialFilterExpression="+partialString(sp.Partial))
	}
	return strings.Join(o, ", ")
}

// partialString renders a partial filter as relaxed extended JSON.
func partialString(d bson.D) string {
	b, err := bson.MarshalExtJSON(d, false, false)
	if err != nil {
		return fmt.Sprint(d)
	}
	return string(b)
}

// samePartial reports whether an existing partialFilterExpression is the
// declared one (compared as relaxed extended JSON: same fields, order
// and values).
func samePartial(want bson.D, got bson.Raw) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	b, err := bson.MarshalExtJSON(got, false, false)
	return err == nil && string(b) == partialString(want)
}

// OptionsString renders the options of an existing index.
func (ix ExistingIndex) OptionsString() string {
	var o []string
	if ix.Unique {
		o = append(o, "unique")
	}
	if ix.Sparse {
		o = append(o, "sparse")
	}
	if ix.Hidden {
		o = append(o, "hidden")
	}
	if ix.ExpireAfter >= 0 {
		o = append(o, fmt.Sprintf("expireAfterSeconds=%d", int64(ix.ExpireAfter/time.Second)))
	}
	if ix.Partial != nil {
		o = append(o, "partialFilterExpression="+ix.Partial.String())
	}
	if ix.Collation != nil {
		o = append(o, "collation="+ix.Collation.String())
	}
	return strings.Join(o, ", ")
}

// keyValue normalises an index direction: numbers compare by value
// (1, 1.0 and int64(1) are the same), special kinds ("text") as text.
func keyValue(v any) string {
	switch x := v.(type) {
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bson.RawValue:
		switch x.Type {
		case bson.TypeInt32, bson.TypeInt64:
			return strconv.FormatInt(x.AsInt64(), 10)
		case bson.TypeDouble:
			return strconv.FormatFloat(x.Double(), 'g', -1, 64)
		case bson.TypeString:
			return x.StringValue()
		}
		return x.String()
	}
	return fmt.Sprint(v)
}

func sameKeys(a, b bson.D) bool {
	return slices.EqualFunc(a, b, func(x, y bson.E) bool {
		return x.Key == y.Key && keyValue(x.Value) == keyValue(y.Value)
	})
}

// compare says whether ix satisfies sp: same keys, and then whether the
// options agree (and if not, how).
func compare(sp IndexSpec, ix ExistingIndex) (sameKeys_, sameOpts bool, why string) {
	if !sameKeys(sp.Keys, ix.Keys) {
		return false, false, ""
	}
	var diffs []string
	if sp.Unique != ix.Unique {
		diffs = append(diffs, fmt.Sprintf("unique %v", ix.Unique))
	}
	if ix.Sparse {
		diffs = append(diffs, "sparse")
	}
	if ix.Hidden {
		diffs = append(diffs, "hidden")
	}
	switch {
	case sp.Partial != nil && ix.Partial == nil && !ix.Sparse && !ix.Unique && ix.ExpireAfter < 0:
		// A full index holds every document the partial one would:
		// it serves the same queries (at a higher cost in space).
	case !samePartial(sp.Partial, ix.Partial):
		if ix.Partial == nil {
			diffs = append(diffs, "no partialFilterExpression")
		} else {
			diffs = append(diffs, "partialFilterExpression "+ix.Partial.String())
		}
	}
	if ix.Collation != nil {
		diffs = append(diffs, "collation")
	}
	want := time.Duration(-1)
	if sp.ExpireAfter > 0 {
		want = sp.ExpireAfter.Truncate(time.Second)
	}
	if want != ix.ExpireAfter {
		if ix.ExpireAfter < 0 {
			diffs = append(diffs, "no TTL")
		} else {
			diffs = append(diffs, fmt.Sprintf("expireAfterSeconds=%d", int64(ix.ExpireAfter/time.Second)))
		}
	}
	if len(diffs) > 0 {
		return true, false, "existing index has " + strings.Join(diffs, ", ")
	}
	return true, true, ""
}

// listIndexes returns the indexes of a collection (none when it does not
// exist).
func (s *Store) listIndexes(ctx context.Context, col string) ([]ExistingIndex, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.db.Collection(col).Indexes().List(ctx)
	if hasCode(err, 26) { // NamespaceNotFound
		return nil, nil
	}
	if err != nil {
		return nil, mapErr("list indexes of "+col, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []ExistingIndex
	for cur.Next(ctx) {
		raw := cur.Current
		ix := ExistingIndex{Collection: col, ExpireAfter: -1}
		ix.Name, _ = raw.Lookup("name").StringValueOK()
		if kd, ok := raw.Lookup("key").DocumentOK(); ok {
			elems, err := kd.Elements()
			if err != nil {
				return nil, fmt.Errorf("mongo: index %s.%s: %w", col, ix.Name, err)
			}
			for _, el := range elems {
				ix.Keys = append(ix.Keys, bson.E{Key: el.Key(), Value: keyValue(el.Value())})
			}
		}
		ix.Unique = truthy(raw.Lookup("unique"))
		ix.Sparse = truthy(raw.Lookup("sparse"))
		ix.Hidden = truthy(raw.Lookup("hidden"))
		if v := raw.Lookup("expireAfterSeconds"); v.Type != 0 {
			if n, ok := v.AsInt64OK(); ok {
				ix.ExpireAfter = time.Duration(n) * time.Second
			} else if f, ok := v.DoubleOK(); ok {
				ix.ExpireAfter = time.Duration(f) * time.Second
			}
		}
		if d, ok := raw.Lookup("partialFilterExpression").DocumentOK(); ok {
			ix.Partial = append(bson.Raw(nil), d...)
		}
		if d, ok := raw.Lookup("collation").DocumentOK(); ok {
			ix.Collation = append(bson.Raw(nil), d...)
		}
		out = append(out, ix)
	}
	return out, mapErr("list indexes of "+col, cur.Err())
}

func truthy(rv bson.RawValue) bool {
	switch rv.Type {
	case bson.TypeBoolean:
		return rv.Boolean()
	case bson.TypeInt32, bson.TypeInt64:
		return rv.AsInt64() != 0
	case bson.TypeDouble:
		return rv.Double() != 0
	}
	return false
}

// Indexes reports the declared indexes and those on the server, without
// changing anything.
func (s *Store) Indexes(ctx context.Context) (*IndexReport, error) {
	return s.indexes(ctx, false, nil)
}

// EnsureIndexes creates the missing declared indexes (and brings the
// event TTL in line) and reports the result.
func (s *Store) EnsureIndexes(ctx context.Context) (*IndexReport, error) {
	return s.indexes(ctx, true, nil)
}

// ensureIndexesAtOpen is EnsureIndexes as Open runs it: a missing index
// of a collection holding more than Options.BackgroundIndexMin documents
// is built in the background (backgroundBuild) rather than before Open
// returns, so that a server started on a big existing database (36 M
// nodes) serves at once instead of after the builds (minutes each).
// Meanwhile its queries run without it, as before it was declared.
func (s *Store) ensureIndexesAtOpen(ctx context.Context) (*IndexReport, error) {
	counts := map[string]int64{}
	later := func(sp IndexSpec) bool {
		n, ok := counts[sp.Collection]
		if !ok {
			// MongoDB answers from the collection's metadata at once;
			// FerretDB counts, which takes long on a big collection.
			// Without an answer in time, take the collection as big.
			cctx, cancel := context.WithTimeout(ctx, min(s.maxTime, 10*time.Second))
			var err error
			n, err = s.db.Collection(sp.Collection).EstimatedDocumentCount(cctx)
			cancel()
			if err != nil {
				s.log.Info("mongo: no document count; building the collection's missing indexes in the background",
					"collection", sp.Collection, "err", err)
				n = s.opts.BackgroundIndexMin + 1
			}
			counts[sp.Collection] = n
		}
		return n > s.opts.BackgroundIndexMin
	}
	rep, err := s.indexes(ctx, true, later)
	if err != nil {
		return nil, err
	}
	var queue []IndexSpec
	for _, st := range rep.Declared {
		if st.State == IndexBuilding {
			queue = append(queue, st.IndexSpec)
		}
	}
	if len(queue) > 0 {
		s.wg.Add(1)
		go s.backgroundBuild(queue)
	}
	return rep, nil
}

// backgroundBuild creates the queued indexes one at a time, logging each
// start and end. On MongoDB (4.2 and later) a build holds an exclusive
// lock on the collection only at its start and end, so reads and writes
// go on meanwhile. Close stops waiting for a build, but the server
// finishes it; a build that fails (its time limit, IndexTimeout) is
// logged and made again by the next start or by "kernelci-api indexes
// --create".
func (s *Store) backgroundBuild(queue []IndexSpec) {
	defer s.wg.Done()
	ctx, cancel := s.untilClose()
	defer cancel()
	for _, sp := range queue {
		if s.opts.indexBuildHook != nil {
			s.opts.indexBuildHook(sp)
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Info("mongo: building an index in the background; queries it serves scan meanwhile",
			"collection", sp.Collection, "index", sp.Name, "keys", KeysString(sp.Keys))
		start := time.Now()
		existing := map[string][]ExistingIndex{}
		l, err := s.listIndexes(ctx, sp.Collection)
		if err == nil {
			existing[sp.Collection] = l
			var st IndexStatus
			st, err = s.ensure(ctx, sp, s.match(sp, l), existing)
			if err == nil && st.State == IndexCreated {
				s.log.Info("mongo: built an index in the background", "collection", sp.Collection,
					"index", sp.Name, "took", time.Since(start).Round(time.Millisecond))
			}
		}
		if err != nil {
			s.log.Warn("mongo: background index build failed; the next start or \"kernelci-api indexes --create\" makes it again",
				"collection", sp.Collection, "index", sp.Name, "err", err)
		}
	}
}

// indexes lists the declared indexes and, with create, creates the
// missing ones, except those later selects: they are reported as
// IndexBuilding for the caller to build.
func (s *Store) indexes(ctx context.Context, create bool, later func(IndexSpec) bool) (*IndexReport, error) {
	declared := DeclaredIndexes(s.opts.EventTTL, s.opts.TelemetryTTL)
	var cols []string
	for _, sp := range declared {
		if !slices.Contains(cols, sp.Collection) {
			cols = append(cols, sp.Collection)
		}
	}
	existing := map[string][]ExistingIndex{}
	rep := &IndexReport{}
	for _, c := range cols {
		l, err := s.listIndexes(ctx, c)
		if err != nil {
			return nil, err
		}
		existing[c] = l
	}
	s.ttlEnabled = false
	for _, sp := range declared {
		st := s.match(sp, existing[sp.Collection])
		if create && st.State == IndexMissing && later != nil && later(sp) {
			st.State, st.Note = IndexBuilding, "being built in the background"
		} else if create {
			var err error
			if st, err = s.ensure(ctx, sp, st, existing); err != nil {
				return nil, err
			}
		}
		if sp.Collection == colEvent && sp.ExpireAfter > 0 && st.State == IndexPresent {
			s.ttlEnabled = true
		}
		rep.Declared = append(rep.Declared, st)
	}
	for _, c := range cols {
		if create { // list again: creation may have changed it
			l, err := s.listIndexes(ctx, c)
			if err != nil {
				return nil, err
			}
			existing[c] = l
		}
		rep.Present = append(rep.Present, existing[c]...)
	}
	return rep, nil
}

// match finds the state of sp among the existing indexes.
func (s *Store) match(sp IndexSpec, existing []ExistingIndex) IndexStatus {
	st := IndexStatus{IndexSpec: sp, State: IndexMissing}
	for _, ix := range existing {
		keys, opts, why := compare(sp, ix)
		switch {
		case keys && opts:
			return IndexStatus{IndexSpec: sp, State: IndexPresent, Existing: ix.Name}
		case keys:
			st = IndexStatus{IndexSpec: sp, State: IndexDifferent, Existing: ix.Name, Note: why}
		}
	}
	return st
}

// ensure creates a missing index, or adjusts the TTL of a different one.
func (s *Store) ensure(ctx context.Context, sp IndexSpec, st IndexStatus, existing map[string][]ExistingIndex) (IndexStatus, error) {
	switch st.State {
	case IndexPresent:
		if st.Existing != sp.Name {
			s.log.Info("mongo: reusing an equivalent index under another name", "collection", sp.Collection,
				"index", st.Existing, "declared", sp.Name, "keys", KeysString(sp.Keys))
		}
		return st, nil
	case IndexDifferent:
		if sp.ExpireAfter > 0 && onlyTTLDiffers(sp, existing[sp.Collection], st.Existing) {
			err := s.setTTL(ctx, sp, st.Existing)
			if err == nil {
				s.log.Info("mongo: changed the TTL of an index", "collection", sp.Collection, "index", st.Existing,
					"expireAfterSeconds", int64(sp.ExpireAfter/time.Second), "was", st.Note)
				return IndexStatus{IndexSpec: sp, State: IndexPresent, Existing: st.Existing}, nil
			}
			if isNotImplemented(err) {
				st.Note += "; this server has no TTL indexes, expired documents are deleted by the API server"
			} else {
				s.log.Warn("mongo: could not change the TTL of an index; expired documents are deleted by the API server",
					"collection", sp.Collection, "index", st.Existing, "err", err)
				st.Note += "; collMod failed (" + err.Error() + "), expired documents are deleted by the API server"
			}
			return st, nil
		}
		s.log.Warn("mongo: an index with the declared keys has other options; leaving it alone",
			"collection", sp.Collection, "index", st.Existing, "keys", KeysString(sp.Keys),
			"declared_options", sp.OptionsString(), "note", st.Note)
		return st, nil
	}
	err := s.createIndex(ctx, sp, sp.ExpireAfter)
	if err != nil && sp.ExpireAfter > 0 && isNotImplemented(err) {
		// FerretDB: no TTL indexes. Index the field anyway.
		if err = s.createIndex(ctx, sp, 0); err == nil {
			s.log.Warn("mongo: this server has no TTL indexes; created a plain index and expired documents are deleted by the API server",
				"collection", sp.Collection, "keys", KeysString(sp.Keys))
			return IndexStatus{IndexSpec: sp, State: IndexDifferent, Existing: sp.Name,
				Note: "created without TTL: this server has no TTL indexes, expired documents are deleted by the API server"}, nil
		}
	}
	if err != nil && (hasCode(err, 85) || hasCode(err, 86)) {
		// IndexOptionsConflict / IndexKeySpecsConflict: someone (another
		// replica) created an equivalent index meanwhile.
		l, lerr := s.listIndexes(ctx, sp.Collection)
		if lerr == nil {
			existing[sp.Collection] = l
			if again := s.match(sp, l); again.State == IndexPresent {
				s.log.Info("mongo: reusing a concurrently created index", "collection", sp.Collection, "index", again.Existing)
				return again, nil
			}
		}
	}
	if err != nil && sp.Unique && (mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed")) {
		// Values are already duplicated (a reference database whose
		// Redis counter restarted): serve without the index, as before
		// it was declared, and say so.
		s.log.Warn("mongo: a unique index cannot be created: the collection already holds duplicate values; serving without it",
			"collection", sp.Collection, "keys", KeysString(sp.Keys), "err", err)
		return IndexStatus{IndexSpec: sp, State: IndexMissing,
			Note: "not created: the collection holds duplicate values"}, nil
	}
	if err != nil {
		return st, fmt.Errorf("mongo: create index %s on %s %s: %w", sp.Name, sp.Collection, KeysString(sp.Keys), err)
	}
	s.log.Info("mongo: created index", "collection", sp.Collection, "index", sp.Name, "keys", KeysString(sp.Keys), "options", sp.OptionsString())
	return IndexStatus{IndexSpec: sp, State: IndexCreated, Existing: sp.Name}, nil
}

func (s *Store) createIndex(ctx context.Context, sp IndexSpec, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.IndexTimeout)
	defer cancel()
	o := options.Index().SetName(sp.Name)
	if sp.Unique {
		o.SetUnique(true)
	}
	if ttl > 0 {
		o.SetExpireAfterSeconds(int32(ttl / time.Second))
	}
	if sp.Partial != nil {
		o.SetPartialFilterExpression(sp.Partial)
	}
	_, err := s.db.Collection(sp.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: sp.Keys, Options: o})
	if err != nil && sp.Partial != nil && isNotImplemented(err) {
		// FerretDB 1.x: "Index option partialFilterExpression is not
		// implemented yet". A full index serves the same queries.
		full := sp
		full.Partial = nil
		if err = s.createIndex(ctx, full, ttl); err == nil {
			s.log.Info("mongo: this server has no partial indexes; created a full index instead",
				"collection", sp.Collection, "keys", KeysString(sp.Keys))
		}
	}
	return err
}

// onlyTTLDiffers reports whether the named existing index differs from sp
// by its TTL only.
func onlyTTLDiffers(sp IndexSpec, existing []ExistingIndex, name string) bool {
	for _, ix := range existing {
		if ix.Name != name {
			continue
		}
		ix.ExpireAfter = sp.ExpireAfter.Truncate(time.Second)
		_, same, _ := compare(sp, ix)
		return same
	}
	return false
}

// setTTL changes (or adds) the TTL of an existing single-field index.
func (s *Store) setTTL(ctx context.Context, sp IndexSpec, name string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cmd := bson.D{
		{Key: "collMod", Value: sp.Collection},
		{Key: "index", Value: bson.D{
			{Key: "name", Value: name},
			{Key: "expireAfterSeconds", Value: int64(sp.ExpireAfter / time.Second)},
		}},
	}
	return s.db.RunCommand(ctx, cmd).Err()
}

// isNotImplemented recognises FerretDB's NotImplemented (238) and
// MongoDB's CommandNotSupported/InvalidOptions for unsupported options.
func isNotImplemented(err error) bool {
	if err == nil {
		return false
	}
	if hasCode(err, 238) || hasCode(err, 115) {
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Message), "not implemented")
}

// Print writes the report as three tables: declared indexes with their
// state, the indexes present on the server, and a summary of the missing
// ones.
func (r *IndexReport) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "Declared indexes:")
	fmt.Fprintln(tw, "COLLECTION\tNAME\tKEYS\tOPTIONS\tSTATE")
	for _, st := range r.Declared {
		state := string(st.State)
		if st.Existing != "" && st.Existing != st.Name {
			state += fmt.Sprintf(" (as %q)", st.Existing)
		}
		if st.Note != "" {
			state += ": " + st.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Collection, st.Name, KeysString(st.Keys), dash(st.OptionsString()), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nPresent indexes:")
	fmt.Fprintln(tw, "COLLECTION\tNAME\tKEYS\tOPTIONS\tDECLARED")
	for _, ix := range r.Present {
		declared := "no"
		for _, st := range r.Declared {
			if st.Collection == ix.Collection && st.Existing == ix.Name {
				declared = "yes"
				if st.State == IndexDifferent {
					declared = "keys only"
				}
			}
		}
		if ix.Name == "_id_" {
			declared = "built-in"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ix.Collection, ix.Name, KeysString(ix.Keys), dash(ix.OptionsString()), declared)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	missing := r.Missing()
	if len(missing) == 0 {
		_, err := fmt.Fprintln(w, "\nMissing indexes: none")
		return err
	}
	fmt.Fprintf(w, "\nMissing indexes: %d\n", len(missing))
	for _, st := range missing {
		fmt.Fprintf(w, "  %s %s %s", st.Collection, st.Name, KeysString(st.Keys))
		if o := st.OptionsString(); o != "" {
			fmt.Fprintf(w, " (%s)", o)
		}
		if st.State == IndexDifferent {
			fmt.Fprintf(w, ": index %q has these keys with other options", st.Existing)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
