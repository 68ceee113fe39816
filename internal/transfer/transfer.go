// Package transfer moves the whole content of a store to another one,
// whatever their backends (the embedded SQLite store, MongoDB), through a
// JSON Lines file: "kernelci-api export" and "kernelci-api import".
//
// The file is one JSON object per line, each with a single member naming
// what the line holds:
//
//	{"header": {"format": "kernelci-api-export", "version": 1, "created": ..., "source": "sqlite", "last_sequence": 123, "counts": {...}}}
//	{"usergroup": {"id": "65a1...", "name": "node:edit:any"}}
//	{"user": {"id": ..., "email": ..., "hashed_password": "$2b$12$...", "groups": [{"id": ..., "name": ...}], ...}}
//	{"node": {...the API's node JSON...}}
//	{"eventhistory": {"id": ..., "timestamp": ..., "sequence_id": 7, "channel": "node", "owner": ..., "data": {...}}}
//	{"telemetry": {...}}
//	{"subscriber_state": {"subscriber_id": ..., "last_event_id": 5, ...}}
//	{"subscription": {"id": 3, "cursor": 5, ...}}
//	{"kv": {"namespace": "ns", "key": "k", "value": "v"}}
//	{"list": {"list": "name", "value": "<base64>"}}
//	{"end": {"counts": {...}, "last_sequence": 123}}
//
// Records are the API's JSON forms (datetimes as naive UTC text with
// microseconds, ids as 24-hex text, numbers of free-form data with their
// exact digits), plus what the API does not show: password hashes,
// sequence ids, subscription cursors. Lists are exported head first, so
// that pushing the items again rebuilds them.
//
// Every event keeps its sequence_id, and the destination's counter is
// raised to the source's last sequence id, so that sequence ids continue
// above everything imported and no durable subscriber position goes back.
// The exception is MongoDB data of the reference that has events without
// a sequence_id (written before it numbered them) or with one that
// another event has too (its Redis counter restarted): those come last in
// the file with sequence_id 0, and the import numbers them above the
// source's last sequence id.
//
// The "end" line holds the exact counts: an import checks them, and
// fails on a file without one (truncated).
package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// Format and Version identify the file.
const (
	Format  = "kernelci-api-export"
	Version = 1
)

// Header is the first line of a file.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Created string `json:"created"`
	// Source names the backend the data comes from ("sqlite", "mongo").
	Source string `json:"source"`
	// LastSequence is the source's last event sequence id when the
	// export started.
	LastSequence int64 `json:"last_sequence"`
	// Counts are the numbers of records per collection when the export
	// started (an estimate on MongoDB); the End line has the exact ones.
	Counts map[string]int64 `json:"counts"`
}

// End is the last line of a file.
type End struct {
	Counts       map[string]int64 `json:"counts"`
	LastSequence int64            `json:"last_sequence"`
	// Renumbered counts the events exported with sequence_id 0 (see the
	// package documentation).
	Renumbered int64 `json:"renumbered,omitempty"`
}

// Summary is what an export or import moved.
type Summary struct {
	Counts       map[string]int64
	LastSequence int64
	// Renumbered counts the events that get (export: need) a new
	// sequence id.
	Renumbered int64
}

// apiTokenRecord is an API token with its hash (docs/tokens.md), which
// the API never shows.
type apiTokenRecord struct {
	ID       objectid.ID `json:"id"`
	UserID   objectid.ID `json:"user_id"`
	Name     string      `json:"name"`
	Scopes   []string    `json:"scopes"`
	Prefix   string      `json:"prefix"`
	Hash     string      `json:"hash"`
	Created  model.Time  `json:"created"`
	Expires  *model.Time `json:"expires"`
	LastUsed *model.Time `json:"last_used"`
}

// userRecord is a user with its password hash, which the API never
// shows.
type userRecord struct {
	*model.User
	HashedPassword string `json:"hashed_password"`
}

type subscriberStateRecord struct {
	SubscriberID string      `json:"subscriber_id"`
	Channel      string      `json:"channel"`
	User         string      `json:"user"`
	Promiscuous  bool        `json:"promiscuous"`
	LastEventID  int64       `json:"last_event_id"`
	CreatedAt    model.Time  `json:"created_at"`
	LastPoll     *model.Time `json:"last_poll"`
}

type subscriptionRecord struct {
	ID           int64       `json:"id"`
	Channel      string      `json:"channel"`
	User         string      `json:"user"`
	Promiscuous  bool        `json:"promiscuous"`
	SubscriberID string      `json:"subscriber_id"`
	Cursor       int64       `json:"cursor"`
	Created      model.Time  `json:"created"`
	LastPoll     *model.Time `json:"last_poll"`
}

type kvRecord struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

type listRecord struct {
	List  string `json:"list"`
	Value []byte `json:"value"` // base64
}

func optTime(t *time.Time) *model.Time {
	if t == nil {
		return nil
	}
	v := model.T(*t)
	return &v
}

func fromOptTime(t *model.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}

// writer writes the lines of a file.
type writer struct {
	w      *bufio.Writer
	counts map[string]int64
	p      *Progress
}

func (w *writer) line(key string, v any) error {
	b, err := json.Marshal(map[string]any{key: v})
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	b = append(b, '\n')
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (w *writer) record(coll string, v any) error {
	if err := w.line(coll, v); err != nil {
		return err
	}
	w.counts[coll]++
	w.p.add(1)
	return nil
}

// Export writes every record of src to out (see the package
// documentation). source names the backend in the header. The store
// should not be written to meanwhile (stop the API servers): records
// written during the export may or may not be in the file.
func Export(ctx context.Context, src store.Store, out io.Writer, source string, p *Progress) (*Summary, error) {
	estimate, err := src.Counts(ctx)
	if err != nil {
		return nil, err
	}
	last, err := src.LastSequence(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{w: bufio.NewWriterSize(out, 1<<20), counts: map[string]int64{}, p: p}
	for _, c := range store.TransferCollections {
		w.counts[c] = 0
	}
	hdr := Header{Format: Format, Version: Version, Created: model.FormatTime(time.Now()), Source: source,
		LastSequence: last, Counts: estimate}
	if err := w.line("header", hdr); err != nil {
		return nil, err
	}
	var total int64
	for _, n := range estimate {
		total += n
	}
	p.begin(total)
	renumbered := int64(0)
	for _, c := range store.TransferCollections {
		p.collection(c)
		var err error
		switch c {
		case store.CollGroup:
			err = src.EachGroup(ctx, func(g *model.Group) error { return w.record(c, g) })
		case store.CollUser:
			err = src.EachUser(ctx, func(u *model.User) error { return w.record(c, userRecord{u, u.HashedPassword}) })
		case store.CollNode:
			err = src.EachNode(ctx, func(n *model.Node) error { return w.record(c, n) })
		case store.CollEvent:
			renumbered, err = exportEvents(ctx, src, w)
		case store.CollTelemetry:
			err = src.EachTelemetry(ctx, func(ev *model.TelemetryEvent) error { return w.record(c, ev) })
		case store.CollSubscriberState:
			err = src.EachSubscriberState(ctx, func(s *store.SubscriberState) error {
				return w.record(c, subscriberStateRecord{s.SubscriberID, s.Channel, s.User, s.Promiscuous, s.LastEventID,
					model.T(s.Created), optTime(s.LastPoll)})
			})
		case store.CollSubscription:
			var subs []*store.Subscription
			if subs, err = src.ListSubscriptions(ctx); err == nil {
				for _, s := range subs {
					if err = w.record(c, subscriptionRecord{s.ID, s.Channel, s.User, s.Promiscuous, s.SubscriberID, s.Cursor,
						model.T(s.Created), optTime(s.LastPoll)}); err != nil {
						break
					}
				}
			}
		case store.CollKV:
			err = src.EachKV(ctx, func(ns, k, v string) error { return w.record(c, kvRecord{ns, k, v}) })
		case store.CollList:
			err = src.EachListItem(ctx, func(l string, v []byte) error { return w.record(c, listRecord{l, v}) })
		case store.CollAPIToken:
			var list []*store.APIToken
			if list, err = src.ListAPITokens(ctx, objectid.ID{}); err == nil {
				for _, t := range list {
					if err = w.record(c, apiTokenRecord{t.ID, t.UserID, t.Name, t.Scopes, t.Prefix, t.Hash,
						model.T(t.Created), optTime(t.Expires), optTime(t.LastUsed)}); err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", c, err)
		}
	}
	// The counter may have moved on during the export.
	if last, err = src.LastSequence(ctx); err != nil {
		return nil, err
	}
	end := End{Counts: w.counts, LastSequence: last, Renumbered: renumbered}
	if err := w.line("end", end); err != nil {
		return nil, err
	}
	if err := w.w.Flush(); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	p.end()
	return &Summary{Counts: w.counts, LastSequence: last, Renumbered: renumbered}, nil
}

// exportEvents writes the events in sequence order, the first of each
// sequence id; then, in a second walk, the others (without a sequence id,
// or repeating one) with sequence_id 0.
func exportEvents(ctx context.Context, src store.Store, w *writer) (int64, error) {
	deferred := map[objectid.ID]bool{}
	prev := int64(0)
	err := src.EachEvent(ctx, func(ev *model.Event) error {
		if ev.SequenceID <= 0 || ev.SequenceID == prev {
			deferred[ev.ID] = true
			return nil
		}
		prev = ev.SequenceID
		return w.record(store.CollEvent, ev)
	})
	if err != nil || len(deferred) == 0 {
		return 0, err
	}
	n := int64(0)
	err = src.EachEvent(ctx, func(ev *model.Event) error {
		if !deferred[ev.ID] {
			return nil
		}
		delete(deferred, ev.ID)
		ev.SequenceID = 0
		n++
		return w.record(store.CollEvent, ev)
	})
	if err == nil && len(deferred) > 0 {
		err = fmt.Errorf("%d events without a sequence id of their own vanished during the export", len(deferred))
	}
	return n, err
}

// ErrNotEmpty is returned by Import into a store that holds data, unless
// ImportOptions.Force.
var ErrNotEmpty = errors.New("the destination store is not empty")

// ImportOptions adjust Import.
type ImportOptions struct {
	// Force imports into a store that holds data: its records are
	// deleted first (store.Transfer.Clear; counters never go back).
	Force bool
	// Batch is how many nodes, events or telemetry events are written at
	// once; 0 means 500.
	Batch int
	// Progress reports progress (nil: none).
	Progress *Progress
	// Log receives notices (nil: none).
	Log func(msg string)
}

// importer is one Import.
type importer struct {
	ctx    context.Context
	dst    store.Store
	o      ImportOptions
	hdr    *Header
	counts map[string]int64

	nodes     []*model.Node
	events    []*model.Event
	telemetry []*model.TelemetryEvent

	maxSeq     int64 // highest sequence id imported
	nextSeq    int64 // next one to give to an event exported with 0; 0 before the first
	renumbered int64
}

// Import reads a file written by Export and stores its records in dst,
// which must be empty (see ImportOptions.Force). The destination's
// sequence counter ends at least at the source's.
func Import(ctx context.Context, dst store.Store, in io.Reader, o ImportOptions) (*Summary, error) {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	lr := &lineReader{r: bufio.NewReaderSize(in, 1<<20)}
	// The header first: a file that is not an export changes nothing.
	key, raw, err := lr.next()
	if err == io.EOF {
		return nil, fmt.Errorf("empty input: not a %s file", Format)
	}
	if err != nil {
		return nil, err
	}
	if key != "header" {
		return nil, fmt.Errorf("line %d: not a %s file (no header line)", lr.n, Format)
	}
	var hdr Header
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("line %d: header: %w", lr.n, err)
	}
	if hdr.Format != Format {
		return nil, fmt.Errorf("line %d: not a %s file (format %q)", lr.n, Format, hdr.Format)
	}
	if hdr.Version != Version {
		return nil, fmt.Errorf("line %d: file version %d, this program reads version %d", lr.n, hdr.Version, Version)
	}

	counts, err := dst.Counts(ctx)
	if err != nil {
		return nil, err
	}
	var held []string
	for _, c := range store.TransferCollections {
		if counts[c] > 0 {
			held = append(held, fmt.Sprintf("%s: %d", c, counts[c]))
		}
	}
	if len(held) > 0 {
		if !o.Force {
			return nil, fmt.Errorf("%w (%s)", ErrNotEmpty, strings.Join(held, ", "))
		}
		o.Log(fmt.Sprintf("deleting what the destination holds first (%s)", strings.Join(held, ", ")))
		if err := dst.Clear(ctx); err != nil {
			return nil, err
		}
	}

	im := &importer{ctx: ctx, dst: dst, o: o, hdr: &hdr, counts: map[string]int64{}}
	for _, c := range store.TransferCollections {
		im.counts[c] = 0
	}
	var total int64
	for _, n := range hdr.Counts {
		total += n
	}
	o.Progress.begin(total)
	var end *End
	cur := ""
	for {
		key, raw, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if end != nil {
			return nil, fmt.Errorf("line %d: data after the end line", lr.n)
		}
		switch key {
		case "header":
			return nil, fmt.Errorf("line %d: a second header", lr.n)
		case "end":
			var e End
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, fmt.Errorf("line %d: end: %w", lr.n, err)
			}
			end = &e
		default:
			if !slices.Contains(store.TransferCollections, key) {
				return nil, fmt.Errorf("line %d: unknown record type %q", lr.n, key)
			}
			if key != cur {
				if err := im.flush(); err != nil {
					return nil, err
				}
				cur = key
				o.Progress.collection(key)
			}
			if err := im.record(key, raw); err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", lr.n, key, err)
			}
		}
	}
	if err := im.flush(); err != nil {
		return nil, err
	}
	if end == nil {
		return nil, errors.New("the file has no end line: it is truncated; what it held so far was imported")
	}
	for _, c := range slices.Sorted(maps.Keys(end.Counts)) {
		if end.Counts[c] != im.counts[c] {
			return nil, fmt.Errorf("%s: the file says %d records, %d were read", c, end.Counts[c], im.counts[c])
		}
	}
	last := max(end.LastSequence, im.hdr.LastSequence, im.maxSeq)
	if err := dst.RaiseSequence(ctx, last); err != nil {
		return nil, err
	}
	if im.renumbered > 0 {
		o.Log(fmt.Sprintf("%d events had no sequence id of their own; they got new ones above %d", im.renumbered, last-im.renumbered))
	}
	o.Progress.end()
	final, err := dst.LastSequence(ctx)
	if err != nil {
		return nil, err
	}
	return &Summary{Counts: im.counts, LastSequence: final, Renumbered: im.renumbered}, nil
}

// lineReader reads the records of a file, skipping blank lines.
type lineReader struct {
	r *bufio.Reader
	n int // number of the line last read
}

// next returns the member name and value of the next line, or io.EOF.
func (lr *lineReader) next() (string, json.RawMessage, error) {
	for {
		line, err := lr.r.ReadBytes('\n')
		if len(line) > 0 {
			lr.n++
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil && err != io.EOF {
				return "", nil, fmt.Errorf("read: %w", err)
			}
			if err == io.EOF {
				return "", nil, io.EOF
			}
			continue
		}
		if err != nil && err != io.EOF {
			return "", nil, fmt.Errorf("read: %w", err)
		}
		key, raw, perr := splitLine(line)
		if perr != nil {
			return "", nil, fmt.Errorf("line %d: %w", lr.n, perr)
		}
		return key, raw, nil
	}
}

// splitLine returns the member name and value of a one-member object.
func splitLine(line []byte) (string, json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return "", nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if len(m) != 1 {
		return "", nil, fmt.Errorf("want an object with one member, found %d", len(m))
	}
	for k, v := range m {
		return k, v, nil
	}
	return "", nil, nil
}

// decode reads a record keeping numbers exact.
func decode(raw json.RawMessage, v any) error {
	return model.DecodeJSON(raw, v)
}

func (im *importer) record(coll string, raw json.RawMessage) error {
	im.counts[coll]++
	ctx := im.ctx
	switch coll {
	case store.CollGroup:
		var g model.Group
		if err := decode(raw, &g); err != nil {
			return err
		}
		return im.done(im.dst.InsertGroup(ctx, &g))
	case store.CollUser:
		u := userRecord{User: &model.User{}}
		if err := decode(raw, &u); err != nil {
			return err
		}
		u.User.HashedPassword = u.HashedPassword
		if u.Groups == nil {
			u.Groups = []model.Group{}
		}
		return im.done(im.dst.InsertUser(ctx, u.User))
	case store.CollNode:
		n := new(model.Node)
		if err := decode(raw, n); err != nil {
			return err
		}
		im.nodes = append(im.nodes, n)
		if len(im.nodes) >= im.o.Batch {
			return im.flush()
		}
	case store.CollEvent:
		ev := new(model.Event)
		if err := decode(raw, ev); err != nil {
			return err
		}
		if ev.SequenceID <= 0 {
			if err := im.flush(); err != nil {
				return err
			}
			if im.nextSeq == 0 {
				last, err := im.dst.LastSequence(ctx)
				if err != nil {
					return err
				}
				im.nextSeq = max(last, im.hdr.LastSequence, im.maxSeq) + 1
			}
			ev.SequenceID = im.nextSeq
			im.nextSeq++
			im.renumbered++
		}
		im.maxSeq = max(im.maxSeq, ev.SequenceID)
		im.events = append(im.events, ev)
		if len(im.events) >= im.o.Batch {
			return im.flush()
		}
	case store.CollTelemetry:
		ev := new(model.TelemetryEvent)
		if err := decode(raw, ev); err != nil {
			return err
		}
		im.telemetry = append(im.telemetry, ev)
		if len(im.telemetry) >= im.o.Batch {
			return im.flush()
		}
	case store.CollSubscriberState:
		var r subscriberStateRecord
		if err := decode(raw, &r); err != nil {
			return err
		}
		return im.done(im.dst.CreateSubscriberState(ctx, &store.SubscriberState{SubscriberID: r.SubscriberID, Channel: r.Channel,
			User: r.User, Promiscuous: r.Promiscuous, LastEventID: r.LastEventID, Created: r.CreatedAt.Time, LastPoll: fromOptTime(r.LastPoll)}))
	case store.CollSubscription:
		var r subscriptionRecord
		if err := decode(raw, &r); err != nil {
			return err
		}
		return im.done(im.dst.ImportSubscription(ctx, &store.Subscription{ID: r.ID, Channel: r.Channel, User: r.User,
			Promiscuous: r.Promiscuous, SubscriberID: r.SubscriberID, Cursor: r.Cursor, Created: r.Created.Time, LastPoll: fromOptTime(r.LastPoll)}))
	case store.CollKV:
		var r kvRecord
		if err := decode(raw, &r); err != nil {
			return err
		}
		return im.done(im.dst.SetKV(ctx, r.Namespace, r.Key, r.Value))
	case store.CollList:
		var r listRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		return im.done(im.dst.PushList(ctx, r.List, r.Value))
	case store.CollAPIToken:
		var r apiTokenRecord
		if err := decode(raw, &r); err != nil {
			return err
		}
		return im.done(im.dst.InsertAPIToken(ctx, &store.APIToken{ID: r.ID, UserID: r.UserID, Name: r.Name, Scopes: r.Scopes,
			Prefix: r.Prefix, Hash: r.Hash, Created: r.Created.Time, Expires: fromOptTime(r.Expires), LastUsed: fromOptTime(r.LastUsed)}))
	}
	return nil
}

// done counts one record written.
func (im *importer) done(err error) error {
	if err == nil {
		im.o.Progress.add(1)
	}
	return err
}

// flush writes the pending batches.
func (im *importer) flush() error {
	ctx := im.ctx
	if n := len(im.nodes); n > 0 {
		if err := im.dst.WriteNodes(ctx, store.NodeWrite{Insert: im.nodes}); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		im.nodes = im.nodes[:0]
		im.o.Progress.add(int64(n))
	}
	if n := len(im.events); n > 0 {
		if err := im.dst.ImportEvents(ctx, im.events); err != nil {
			return fmt.Errorf("eventhistory: %w", err)
		}
		im.events = im.events[:0]
		im.o.Progress.add(int64(n))
	}
	if n := len(im.telemetry); n > 0 {
		if err := im.dst.InsertTelemetry(ctx, im.telemetry); err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		im.telemetry = im.telemetry[:0]
		im.o.Progress.add(int64(n))
	}
	return nil
}
