package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/wire"
)

// nodeChannel is the pub/sub channel of node events.
const nodeChannel = "node"

func (s *Server) nowUTC() model.Time { return model.T(s.now()) }

// loadNode returns the node or a 404 naming it.
func (s *Server) loadNode(r *http.Request, id objectid.ID) (*model.Node, error) {
	n, err := s.store.GetNode(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Node not found with id: " + id.String())
	}
	return n, err
}

// loadEditableNode loads the node at {id} and checks that the user may
// edit it: 400 malformed id, 404 unknown, 401 not permitted.
func (s *Server) loadEditableNode(r *http.Request) (*model.Node, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	n, err := s.loadNode(r, id)
	if err != nil {
		return nil, err
	}
	if !auth.CanEditNode(userFrom(r.Context()), n) {
		return nil, errCannotEditNode
	}
	if err := checkTokenNode(r, n); err != nil {
		return nil, err
	}
	return n, nil
}

// checkUserGroups answers 400 when a name is not an existing group.
func (s *Server) checkUserGroups(r *http.Request, names []string) error {
	for _, name := range names {
		if _, err := s.store.GetGroupByName(r.Context(), name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return badRequest("User group does not exist with name: " + name)
			}
			return err
		}
	}
	return nil
}

// checkParent answers 404 when the parent does not exist.
func (s *Server) checkParent(r *http.Request, n *model.Node) error {
	if n.Parent == nil {
		return nil
	}
	if *n.Parent == n.ID {
		return badRequest("Parent cannot be the same as the object")
	}
	_, err := s.store.GetNode(r.Context(), *n.Parent)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Parent not found with id: " + n.Parent.String())
	}
	return err
}

func validationDetail(err error) error {
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return badRequest(err.Error())
}

func nodeEvent(op string, n *model.Node, hierarchy bool, previous *model.Node) *model.Event {
	return &model.Event{
		Channel: nodeChannel,
		Owner:   n.Owner,
		Data:    model.NodeEventData(op, n, hierarchy, previous),
	}
}

// postNode creates a node owned by the caller.
func (s *Server) postNode(w http.ResponseWriter, r *http.Request) error {
	raw, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	now := s.now()
	n, err := model.DecodeNode(raw, now, "body")
	if err != nil {
		return err
	}
	if !n.ID.IsZero() {
		return badRequest("Object cannot be created with id: " + n.ID.String())
	}
	model.TranslateVersionFields(n)
	if err := model.ValidateKind(n); err != nil {
		return validationDetail(err)
	}
	n.ID = objectid.NewAt(now)
	if err := s.checkParent(r, n); err != nil {
		return err
	}
	if err := s.checkUserGroups(r, n.UserGroups); err != nil {
		return err
	}
	if err := checkTokenNode(r, n); err != nil {
		return err
	}
	n.Owner = model.Str(userFrom(r.Context()).Username)
	// One encoding of the node: stored (SQLite) and answered.
	doc, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := s.store.WriteNodes(r.Context(), store.NodeWrite{
		Insert: []*model.Node{n},
		Events: []*model.Event{nodeEvent("created", n, false, nil)},
		Docs:   [][]byte{doc},
	}); err != nil {
		return err
	}
	return writeEncodedNodes(w, http.StatusOK, doc)
}

// getNode answers the node, or JSON null for an unknown id.
func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := s.store.GetNodeJSON(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return writeJSON(w, http.StatusOK, nil)
	}
	if err != nil {
		return err
	}
	return writeRawJSON(w, http.StatusOK, b)
}

// nodeFilter parses the query string of /nodes, /nodes/fast and /count
// (sort=, after= and fields= are not filters: listing.go), within the
// server's query limits.
func (s *Server) nodeFilter(r *http.Request) (query.Filter, error) {
	f, err := s.parseQuery(withoutListing(r.URL.Query()), store.NodeSchema)
	if err != nil {
		return f, err
	}
	return f, s.checkBounded(f)
}

// nodeQuery parses the filter and the listing (sort=, after= and
// fields=) of /nodes and /nodes/fast, then takes a heavy-query slot
// (admitHeavy): call release when done.
func (s *Server) nodeQuery(r *http.Request) (f query.Filter, l listing, release func(), err error) {
	if f, err = s.nodeFilter(r); err != nil {
		return f, l, nil, err
	}
	if l, err = parseListing(r.URL.Query(), query.NodeSort, nodeCursorOrder, nodeFields); err != nil {
		return f, l, nil, err
	}
	if release, err = s.admitHeavy(r.Context(), f); err != nil {
		return f, l, nil, err
	}
	return f, l, release, nil
}

// answerNodes writes a page of nodes (their wire JSON, FindNodesJSON):
// the next cursor's headers when asked for and the page is full, then
// the envelope with the items, projected when fields= asks.
func answerNodes(w http.ResponseWriter, r *http.Request, l listing, items []json.RawMessage, p store.Page, total int64) error {
	if items == nil {
		items = []json.RawMessage{}
	}
	if l.cursor && p.Limit > 0 && len(items) == p.Limit {
		last, err := decodeWireNode(items[len(items)-1])
		if err != nil {
			return err
		}
		l.next(w, r, l.order.Values(store.NodeKey(last)))
	}
	if l.fields != nil {
		out, err := projectAll(l.fields, items)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, pageResponse{Items: out, Total: total, Limit: p.Limit, Offset: p.Offset})
	}
	return writeRawJSON(w, http.StatusOK, rawPage(items, total, p.Limit, p.Offset))
}

// rawPage is what json.Marshal writes for a pageResponse of the items,
// written directly: encoding/json would copy every json.RawMessage
// through its validator, two fifths of the CPU of a /nodes/fast chunk,
// to write the same bytes (the items are json.Marshal's own output).
func rawPage(items []json.RawMessage, total int64, limit, offset int) []byte {
	n := 64
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	return append(b, '}')
}

// pageResponse is the paginated list envelope shared with the client.
type pageResponse = wire.Page[any]

// pageParams reads limit (default def, at least minLimit) and offset
// (default 0) from the query string.
func pageParams(r *http.Request, def, minLimit int) (store.Page, error) {
	limit, err := queryInt(r, "limit", def, minLimit)
	if err != nil {
		return store.Page{}, err
	}
	offset, err := queryInt(r, "offset", 0, 0)
	if err != nil {
		return store.Page{}, err
	}
	return store.Page{Limit: limit, Offset: offset}, nil
}

// writePage answers page p of what f matches in the paginated envelope,
// each item through conv (nil: as it is). The total needs no count query
// when this page is the last one.
func writePage[T any](w http.ResponseWriter, r *http.Request, f query.Filter, p store.Page,
	find func(context.Context, query.Filter, store.Page) ([]T, error),
	count func(context.Context, query.Filter) (int64, error), conv func(T) any) error {
	items, err := find(r.Context(), f, p)
	if err != nil {
		return err
	}
	total := int64(p.Offset + len(items))
	if len(items) == p.Limit || (len(items) == 0 && p.Offset > 0) {
		if total, err = count(r.Context(), f); err != nil {
			return err
		}
	}
	var out any = items
	if items == nil {
		out = []T{}
	}
	if conv != nil {
		converted := make([]any, len(items))
		for i, it := range items {
			converted[i] = conv(it)
		}
		out = converted
	}
	return writeJSON(w, http.StatusOK, pageResponse{Items: out, Total: total, Limit: p.Limit, Offset: p.Offset})
}

// getNodes is the paginated node query.
func (s *Server) getNodes(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r, 50, 1)
	if err != nil {
		return err
	}
	if p.Limit > s.opts.MaxPageLimit {
		return queryError("limit", "less_than_equal", "Input should be less than or equal to "+
			strconv.Itoa(s.opts.MaxPageLimit)+" (KCI_MAX_PAGE_LIMIT); page with offset", strconv.Itoa(p.Limit))
	}
	f, l, release, err := s.nodeQuery(r)
	if err != nil {
		return err
	}
	defer release()
	p.Order, p.After = l.order, l.after
	items, err := s.store.FindNodesJSON(r.Context(), f, p)
	if err != nil {
		return err
	}
	// The total needs no count query when this page is the last one
	// (and is not after a cursor: the total counts every match).
	total := int64(p.Offset + len(items))
	if len(items) == p.Limit || (len(items) == 0 && p.Offset > 0) || l.after != nil {
		if total, err = s.store.CountNodes(r.Context(), f); err != nil {
			return err
		}
	}
	return answerNodes(w, r, l, items, p, total)
}

// getNodesFast is the unpaginated list (limit and offset optional). The
// answer is streamed: nodes are read fastChunk at a time and written as
// they come, so that a whole collection never sits in memory. A store
// error after the first bytes are out aborts the connection (the client
// sees a truncated answer, never a wrong one).
func (s *Server) getNodesFast(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 0, 0)
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset", 0, 0)
	if err != nil {
		return err
	}
	f, l, release, err := s.nodeQuery(r)
	if err != nil {
		return err
	}
	defer release()
	// A cursor page is read whole, so that the next page's cursor can go
	// in the headers: its size is bounded like a page of /nodes.
	chunk := fastChunk
	if l.cursor && limit > 0 {
		if limit > s.opts.MaxPageLimit {
			return &query.Error{Param: "limit", Msg: fmt.Sprintf("above %d with sort or after", s.opts.MaxPageLimit)}
		}
		chunk = limit
	}
	// Nodes are read and written as their wire JSON (FindNodesJSON); only
	// the last of a chunk is decoded, for where the next one starts (and
	// the first chunk's for the next cursor, before anything is written).
	var next []any
	read := func(ctx context.Context, sent int, lastRaw json.RawMessage) ([]json.RawMessage, bool, error) {
		n := chunk
		if limit > 0 {
			n = min(n, limit-sent)
		}
		// After the first chunk, the next one starts after the last node
		// written (in the answer's order): no offset to skip again.
		cf, page := f, store.Page{Limit: n, Offset: offset, Order: l.order, After: l.after}
		if sent > 0 {
			last, err := decodeWireNode(lastRaw)
			if err != nil {
				return nil, false, err
			}
			page = store.Page{Limit: n, Order: l.order}
			if l.order != nil {
				page.After = l.order.Values(store.NodeKey(last))
			} else {
				cf = f.And(query.Cond{Field: "id", Op: query.Gt, Value: last.ID})
			}
		}
		items, err := s.store.FindNodesJSON(ctx, cf, page)
		if err == nil && sent == 0 && l.cursor && limit > 0 && len(items) == limit {
			last, err := decodeWireNode(items[len(items)-1])
			if err != nil {
				return nil, false, err
			}
			next = l.order.Values(store.NodeKey(last))
		}
		more := len(items) == n && (limit == 0 || sent+len(items) < limit)
		return items, more, err
	}
	return streamArray(s, w, r, l.fields, read, func([]json.RawMessage) {
		if next != nil {
			l.next(w, r, next)
		}
	})
}

// decodeWireNode decodes a node's wire JSON (from FindNodesJSON), for
// its sort keys.
func decodeWireNode(b []byte) (*model.Node, error) {
	n := new(model.Node)
	if err := model.DecodeJSON(b, n); err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	return n, nil
}

// getCount answers the number of matching nodes as a bare integer.
func (s *Server) getCount(w http.ResponseWriter, r *http.Request) error {
	f, err := s.nodeFilter(r)
	if err != nil {
		return err
	}
	release, err := s.admitHeavy(r.Context(), f)
	if err != nil {
		return err
	}
	defer release()
	n, err := s.store.CountNodes(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

// putNode replaces a node: fields missing from the body take the model
// defaults, but owner, submitter and user_groups are kept, and the state
// change must be an allowed transition.
func (s *Server) putNode(w http.ResponseWriter, r *http.Request) error {
	return s.updateNode(w, r, func(old *model.Node, raw map[string]any) (*model.Node, error) {
		now := s.now()
		in, err := model.DecodeNode(raw, now, "body")
		if err != nil {
			return nil, err
		}
		model.TranslateVersionFields(in)
		n := in.Clone()
		n.ID = old.ID
		n.Owner, n.Submitter, n.UserGroups = old.Owner, old.Submitter, old.UserGroups
		n.State = old.State
		if err := model.ValidateKind(n); err != nil {
			return nil, validationDetail(err)
		}
		if err := model.CheckTransition(old.State, in.State); err != nil {
			return nil, badRequest(err.Error())
		}
		// processed_by_kcidb_bridge resets on any update that does not change it.
		if in.State != old.State || in.ProcessedByKCIDBBridge == old.ProcessedByKCIDBBridge {
			n.ProcessedByKCIDBBridge = false
		}
		n.State = in.State
		n.Updated = model.T(now)
		if !sameParent(n.Parent, old.Parent) {
			if err := s.checkParent(r, n); err != nil {
				return nil, err
			}
		}
		return n, nil
	})
}

// patchNode applies a partial update.
func (s *Server) patchNode(w http.ResponseWriter, r *http.Request) error {
	return s.updateNode(w, r, func(old *model.Node, raw map[string]any) (*model.Node, error) {
		p, err := model.DecodeNodePatch(raw)
		if err != nil {
			return nil, err
		}
		if len(p.Fields) == 0 && p.State == nil {
			return nil, badRequest("No fields to update")
		}
		n := old.Clone()
		p.Apply(n)
		model.TranslateVersionFields(n)
		if err := model.ValidateKind(n); err != nil {
			return nil, validationDetail(err)
		}
		if p.State != nil {
			if err := model.CheckTransition(old.State, *p.State); err != nil {
				return nil, badRequest(err.Error())
			}
			if *p.State != old.State {
				n.ProcessedByKCIDBBridge = false
			}
			n.State = *p.State
		}
		if !p.Has("processed_by_kcidb_bridge") {
			n.ProcessedByKCIDBBridge = false
		}
		n.Updated = s.nowUTC()
		return n, nil
	})
}

// updateAttempts bounds the compare-and-set retries of one PUT or PATCH.
const updateAttempts = 8

// updateNode is PUT and PATCH /node/{id}: build makes the new node from
// the stored one and the JSON body. The write is a compare-and-set on the
// stored node's state and updated time, so
// an update built from a node that changed meanwhile (the lifecycle
// timing it out, another client) never silently undoes that change: the
// node is read again and the update rebuilt and checked against it (its
// state transition in particular).
func (s *Server) updateNode(w http.ResponseWriter, r *http.Request, build func(old *model.Node, raw map[string]any) (*model.Node, error)) error {
	old, err := s.loadEditableNode(r)
	if err != nil {
		return err
	}
	noevent, err := queryBool(r, "noevent", false)
	if err != nil {
		return err
	}
	raw, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		n, err := build(old, raw)
		if err != nil {
			return err
		}
		if err := checkTokenNode(r, n); err != nil {
			return err
		}
		var evs []*model.Event
		if !noevent {
			evs = []*model.Event{nodeEvent("updated", n, false, old)}
		}
		if old.Updated.IsZero() { // nothing to compare with (a node imported without one)
			err = s.store.WriteNodes(r.Context(), store.NodeWrite{Replace: []*model.Node{n}, Events: evs})
		} else {
			err = s.store.ReplaceNodeIf(r.Context(), n, old.State, old.Updated.Time, evs...)
		}
		switch {
		case err == nil:
			return writeJSON(w, http.StatusOK, n)
		case errors.Is(err, store.ErrNotFound):
			return notFound("Node not found with id: " + n.ID.String())
		case errors.Is(err, store.ErrConflict) && attempt < updateAttempts:
			if old, err = s.loadEditableNode(r); err != nil {
				return err
			}
		case errors.Is(err, store.ErrConflict):
			return errorf(http.StatusConflict, "Node "+n.ID.String()+" keeps changing while being updated; try again")
		default:
			return err
		}
	}
}

// putHierarchy replaces the node at {id} and writes its subtrees in one
// transaction: children with an id replace existing nodes (which the
// caller must be allowed to edit), children without one are inserted.
// One event is published, for the root, with is_hierarchy true.
func (s *Server) putHierarchy(w http.ResponseWriter, r *http.Request) error {
	old, err := s.loadEditableNode(r)
	if err != nil {
		return err
	}
	// The body is read first (bounded by its size and the slow-client
	// deadline); decoding and writing a large one costs about 12 times its
	// size in memory, so large ones take a slot of their own.
	b, err := readBody(w, r, s.opts.MaxHierarchyBytes)
	if err != nil {
		return err
	}
	if len(b) > largeHierarchy {
		if err := s.hierarchies.acquire(r.Context()); err != nil {
			return err
		}
		defer s.hierarchies.release()
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	raw, err := decodeObject(w, r, s.opts.MaxHierarchyBytes)
	if err != nil {
		return err
	}
	now := s.now()
	h, err := model.DecodeHierarchy(raw, now)
	if err != nil {
		return err
	}
	user := userFrom(r.Context())
	h.Node.ID = old.ID
	var wr store.NodeWrite
	var out []*model.Node
	// Walk the tree depth-first in pre-order (the reference's answer order)
	// with an explicit stack, so that deep trees need no deep recursion.
	type item struct {
		h      *model.Hierarchy
		parent *model.Node
	}
	stack := []item{{h: h}}
	knownGroups := map[string]bool{}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.h.Node
		model.TranslateVersionFields(n)
		if it.parent != nil {
			pid := it.parent.ID
			n.Parent = &pid
		}
		n.Submitter, n.Treeid = old.Submitter, old.Treeid
		n.Updated = model.T(now)
		if !n.ID.IsZero() {
			prev := old
			if it.parent != nil {
				if prev, err = s.store.GetNode(r.Context(), n.ID); errors.Is(err, store.ErrNotFound) {
					return badRequest("No object found with id: " + n.ID.String())
				} else if err != nil {
					return err
				}
				if !auth.CanEditNode(user, prev) {
					return errCannotEditNode
				}
				if err := checkTokenNode(r, prev); err != nil {
					return err
				}
			}
			if err := checkTokenNode(r, n); err != nil {
				return err
			}
			if n.Parent != nil && *n.Parent == n.ID {
				return badRequest("Parent cannot be the same as the object")
			}
			// Ownership and edit rights stay as stored.
			n.Owner, n.UserGroups = prev.Owner, prev.UserGroups
			if err := specializeData(n); err != nil {
				return err
			}
			wr.Replace = append(wr.Replace, n)
		} else {
			n.ID = objectid.NewAt(now)
			n.Owner = model.Str(user.Username)
			// A new child of a node the token may write may leave
			// data.runtime out; one it names must be the token's.
			if _, named := n.Data["runtime"]; named {
				if err := checkTokenNode(r, n); err != nil {
					return err
				}
			}
			if err := specializeData(n); err != nil {
				return err
			}
			// As POST /node: a new node names existing groups only (a
			// group created later must not give its members edit rights
			// over nodes nobody allowed them). Each name is looked up once.
			for _, g := range n.UserGroups {
				if !knownGroups[g] {
					if err := s.checkUserGroups(r, []string{g}); err != nil {
						return err
					}
					knownGroups[g] = true
				}
			}
			wr.Insert = append(wr.Insert, n)
		}
		out = append(out, n)
		for i := len(it.h.ChildNodes) - 1; i >= 0; i-- {
			stack = append(stack, item{h: it.h.ChildNodes[i], parent: n})
		}
	}
	if err := s.checkParent(r, h.Node); err != nil {
		return err
	}
	// Each node is encoded once, for the store (SQLite keeps the JSON)
	// and for the answer, which is the list of the same encodings in
	// pre-order (what json.Marshal(out) writes).
	docs, body, err := encodeHierarchy(out, wr.Insert, wr.Replace)
	if err != nil {
		return err
	}
	wr.Docs = docs
	wr.Events = []*model.Event{nodeEvent("updated", h.Node, true, old)}
	if err := s.store.WriteNodes(r.Context(), wr); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return badRequest(fmt.Sprintf("No object found: %v", err))
		}
		return err
	}
	return writeEncodedNodes(w, http.StatusOK, body)
}

// encodeHierarchy encodes the nodes of a hierarchy once: docs holds the
// JSON of each node of insert then replace (store.NodeWrite.Docs), body
// the JSON list of out, every node of insert and replace in answer
// order, as json.Marshal(out) would write it.
// A large hierarchy is encoded on every core (it is alone on its slot,
// KCI_MAX_LARGE_HIERARCHIES), in parts of at least parallelEncodeMin.
func encodeHierarchy(out, insert, replace []*model.Node) (docs [][]byte, body []byte, err error) {
	encoded := make([][]byte, len(out))
	parts := min(runtime.GOMAXPROCS(0), len(out)/parallelEncodeMin)
	if parts <= 1 {
		if err := encodeNodes(out, encoded); err != nil {
			return nil, nil, err
		}
	} else {
		errs := make([]error, parts)
		var wg sync.WaitGroup
		for p := range parts {
			lo, hi := p*len(out)/parts, (p+1)*len(out)/parts
			wg.Go(func() { errs[p] = encodeNodes(out[lo:hi], encoded[lo:hi]) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, nil, err
		}
	}
	enc := make(map[*model.Node][]byte, len(out))
	size := 2
	for i, n := range out {
		enc[n] = encoded[i]
		size += len(encoded[i]) + 1
	}
	docs = make([][]byte, 0, len(insert)+len(replace))
	for _, n := range insert {
		docs = append(docs, enc[n])
	}
	for _, n := range replace {
		docs = append(docs, enc[n])
	}
	body = make([]byte, 0, size)
	body = append(body, '[')
	for i, n := range out {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, enc[n]...)
	}
	return docs, append(body, ']'), nil
}

// specializeData validates a hierarchy node against its kind and stores
// its data as the kind's model writes it (every known field present,
// values normalised), as the reference does for PUT /nodes/{id}.
func specializeData(n *model.Node) error {
	sn, err := model.Specialize(n)
	if err != nil {
		return validationDetail(err)
	}
	n.Data = sn.Data
	return nil
}

// putBatchNodeset sets processed_by_kcidb_bridge on many nodes at once,
// skipping nodes the caller may not edit, without events. It answers the
// number of nodes updated.
func (s *Server) putBatchNodeset(w http.ResponseWriter, r *http.Request) error {
	raw, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeNodeset(raw)
	if err != nil {
		return err
	}
	if req.Field != "processed_by_kcidb_bridge" {
		return badRequest("Field not supported")
	}
	var value bool
	switch req.Value {
	case "true", "True":
		value = true
	case "false", "False":
		value = false
	default:
		return badRequest("Invalid value for processed_by_kcidb_bridge: " + req.Value)
	}
	user := userFrom(r.Context())
	var wr store.NodeWrite
	now := s.nowUTC()
	seen := map[objectid.ID]bool{}
	for _, sid := range req.Nodes {
		id, err := objectid.Parse(sid)
		if err != nil {
			return badRequest("'" + sid + "' is not a valid ObjectId, it must be a 12-byte input or a 24-character hex string")
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		n, err := s.loadNode(r, id)
		if err != nil {
			return err
		}
		if !auth.CanEditNode(user, n) || checkTokenNode(r, n) != nil {
			continue
		}
		n.ProcessedByKCIDBBridge = value
		n.Updated = now
		wr.Replace = append(wr.Replace, n)
	}
	if len(wr.Replace) > 0 {
		if err := s.store.WriteNodes(r.Context(), wr); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, len(wr.Replace))
}

type nodesetRequest struct {
	Nodes []string
	Field string
	Value string
}

func decodeNodeset(raw map[string]any) (*nodesetRequest, error) {
	var errs []model.FieldError
	req := &nodesetRequest{}
	str := func(key string) string {
		v, ok := raw[key]
		if !ok {
			errs = append(errs, model.FieldError{Type: "missing", Loc: []any{"body", key}, Msg: "Field required", Input: raw})
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, model.FieldError{Type: "string_type", Loc: []any{"body", key}, Msg: "Input should be a valid string", Input: v})
		}
		return s
	}
	req.Field = str("field")
	req.Value = str("value")
	switch v := raw["nodes"].(type) {
	case nil:
		errs = append(errs, model.FieldError{Type: "missing", Loc: []any{"body", "nodes"}, Msg: "Field required", Input: raw})
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				errs = append(errs, model.FieldError{Type: "string_type", Loc: []any{"body", "nodes", i}, Msg: "Input should be a valid string", Input: e})
			}
			req.Nodes = append(req.Nodes, s)
		}
	default:
		errs = append(errs, model.FieldError{Type: "list_type", Loc: []any{"body", "nodes"}, Msg: "Input should be a valid list", Input: v})
	}
	if len(errs) > 0 {
		return nil, &model.ValidationError{Errors: errs}
	}
	return req, nil
}

func sameParent(a, b *objectid.ID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// parallelEncodeMin is the fewest nodes worth a goroutine of their own.
const parallelEncodeMin = 500

// encodeNodes sets out[i] to the JSON of nodes[i].
func encodeNodes(nodes []*model.Node, out [][]byte) error {
	for i, n := range nodes {
		b, err := json.Marshal(n)
		if err != nil {
			return err
		}
		out[i] = b
	}
	return nil
}

// writeEncodedNodes answers b, nodes already encoded by json.Marshal:
// the bytes writeJSON would write for them.
func writeEncodedNodes(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}
