package api

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// defaultEventsLimit bounds GET /events without a limit: the history holds
// days of events and an unbounded answer would be millions of them.
const defaultEventsLimit = 1000

// eventAliases map /events parameters to event document fields.
var eventAliases = map[string]string{
	"kind":    "data.kind",
	"state":   "data.state",
	"result":  "data.result",
	"op":      "data.op",
	"name":    "data.name",
	"group":   "data.group",
	"owner":   "data.owner",
	"channel": "channel",
	"node_id": "data.id",
}

var eventSchema = query.Schema{
	Types: map[string]query.FieldType{
		"timestamp":   query.TypeTime,
		"sequence_id": query.TypeInt,
	},
}

// getEvents lists the event history in sequence order.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f query.Filter
	rest := url.Values{}
	for key, vals := range q {
		if len(vals) == 0 {
			continue
		}
		v := vals[0]
		switch key {
		case "limit", "recursive", "from", "id", "ids", "path", "sort", "after", "fields":
			continue
		}
		if field, ok := eventAliases[key]; ok {
			if v == "" {
				continue
			}
			if key == "node_id" {
				if _, dup := q["data.id"]; dup {
					return badRequest("Provide either node_id or data.id, not both")
				}
			}
			f = f.And(query.Cond{Field: field, Op: query.Eq, Value: v})
			continue
		}
		rest[key] = vals
	}
	more, err := s.parseQuery(rest, eventSchema)
	if err != nil {
		return err
	}
	f = f.And(more.Conds...)

	id, ids := q.Get("id"), q.Get("ids")
	switch {
	case id != "" && ids != "":
		return badRequest("Provide either id or ids, not both")
	case id != "":
		oid, err := objectid.Parse(strings.TrimSpace(id))
		if err != nil {
			return badRequest("Invalid id format")
		}
		f = f.And(query.Cond{Field: "id", Op: query.Eq, Value: oid})
	case ids != "":
		var list []any
		for _, part := range strings.Split(ids, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			oid, err := objectid.Parse(part)
			if err != nil {
				return badRequest("Invalid ids format")
			}
			list = append(list, oid)
		}
		if len(list) == 0 {
			return badRequest("ids must contain at least one id")
		}
		if max := s.queryLimits().MaxListValues; len(list) > max {
			return badRequest("Invalid 'ids' parameter: more than " + strconv.Itoa(max) + " ids (KCI_QUERY_MAX_LIST_VALUES)")
		}
		f = f.And(query.Cond{Field: "id", Op: query.In, Value: list})
	}
	if from := q.Get("from"); from != "" {
		t, err := parseFrom(from)
		if err != nil {
			return badRequest("Invalid 'from' parameter, must be an ISO 8601 datetime")
		}
		f = f.And(query.Cond{Field: "timestamp", Op: query.Gt, Value: t})
	}
	if p := q.Get("path"); p != "" {
		if _, err := s.parseQuery(url.Values{"path__re": {p}}, query.Schema{}); err != nil {
			return badRequest("Invalid 'path' parameter: " + err.Error())
		}
		f = f.And(query.Cond{Field: "data.path", Op: query.Re, Value: p})
	}
	limit := defaultEventsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("Invalid 'limit' parameter, must be a non-negative integer")
		}
		// limit=0 is "no limit" as in the reference: the answer is
		// streamed (streamEvents); any other limit is bounded.
		if n > s.opts.MaxEventsLimit {
			return badRequest("Invalid 'limit' parameter, must be at most " + strconv.Itoa(s.opts.MaxEventsLimit) + " (KCI_MAX_EVENTS_LIMIT), or 0 for all")
		}
		limit = n
	}
	recursive, err := queryBool(r, "recursive", false)
	if err != nil {
		return err
	}
	// limit=0 means no limit, which a recursive query may not have either.
	if recursive && (q.Get("limit") == "" || limit == 0 || limit > 1000) {
		return badRequest("Recursive limit is too large, max is 1000")
	}
	l, err := parseListing(q, query.EventSort, eventCursorOrder, eventFields)
	if err != nil {
		return err
	}
	release, err := s.admitHeavy(r.Context(), f)
	if err != nil {
		return err
	}
	defer release()
	if limit == 0 {
		return s.streamEvents(w, r, f, l)
	}
	evs, err := s.store.FindEvents(r.Context(), f, store.Page{Limit: limit, Order: l.order, After: l.after})
	if err != nil {
		return err
	}
	if recursive {
		if err := s.attachNodes(r, evs); err != nil {
			return err
		}
	}
	if l.cursor && limit > 0 && len(evs) == limit {
		l.next(w, r, l.order.Values(store.EventKey(evs[len(evs)-1])))
	}
	out, err := projectAll(l.fields, evs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// eventsChunk is how many events streamEvents reads per store call.
const eventsChunk = 1000

// streamEvents writes every event matching f, in sequence order, reading
// them eventsChunk at a time after the last sequence id written, so that
// the whole history never sits in memory. A store error after the first
// bytes aborts the connection.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, f query.Filter, l listing) error {
	return streamArray(s, w, r, l.fields, func(ctx context.Context, sent int, last *model.Event) ([]*model.Event, bool, error) {
		cf, page := f, store.Page{Limit: eventsChunk, Order: l.order, After: l.after}
		if sent > 0 {
			// After the first chunk, the next one starts after the last
			// event written (in the answer's order).
			page.After = nil
			if l.order != nil {
				page.After = l.order.Values(store.EventKey(last))
			} else {
				cf = f.And(query.Cond{Field: "sequence_id", Op: query.Gt, Value: last.SequenceID})
			}
		}
		evs, err := s.store.FindEvents(ctx, cf, page)
		return evs, len(evs) == eventsChunk, err
	}, nil)
}

// attachNodesBatch is how many nodes one query of attachNodes reads.
const attachNodesBatch = 200

// attachNodes sets the node of each node event (recursive=true) to the
// node as stored now, reading the nodes by id in batches rather than one
// query per event: a pull lab's poll of 1000 events is 5 queries, not
// 1000. Events of nodes gone since (purged) keep no node.
func (s *Server) attachNodes(r *http.Request, evs []*model.Event) error {
	ids := make([]objectid.ID, len(evs))
	var want []any
	seen := map[objectid.ID]bool{}
	for i, ev := range evs {
		d, _ := ev.Data.(map[string]any)
		sid, _ := d["id"].(string)
		oid, err := objectid.Parse(sid)
		if err != nil {
			continue
		}
		ids[i] = oid
		if !seen[oid] {
			seen[oid] = true
			want = append(want, oid)
		}
	}
	byID := make(map[objectid.ID]*model.Node, len(want))
	for start := 0; start < len(want); start += attachNodesBatch {
		chunk := want[start:min(start+attachNodesBatch, len(want))]
		// Each batch is a query of its own, with a budget of its own.
		ctx, cancel := s.nextQueryContext(r)
		nodes, err := s.store.FindNodes(ctx, query.Filter{Conds: []query.Cond{{Field: "id", Op: query.In, Value: chunk}}},
			store.Page{Limit: len(chunk)})
		cancel()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			byID[n.ID] = n
		}
	}
	for i, ev := range evs {
		if n, ok := byID[ids[i]]; ok && !ids[i].IsZero() {
			ev.Node = n
		}
	}
	return nil
}

// parseFrom reads an ISO 8601 datetime or a Unix epoch in seconds. The
// epoch is rounded to the microsecond, the wire precision: a float64 holds
// today's epochs with microseconds only approximately, and truncating
// would move the instant to the previous microsecond.
func parseFrom(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), 0).Add(time.Duration(math.Round(frac*1e6)) * time.Microsecond).UTC(), nil
	}
	return isotime.Parse(s)
}
