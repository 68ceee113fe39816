package api

// sort=, after= and fields= of GET /nodes, /nodes/fast and /events
// (docs/paging.md).
//
// Without any of them an answer is exactly what it always was. With
// sort= or after= the list is in the given order (after= alone: the
// default order, by id for nodes and sequence_id for events), and a
// full page carries the cursor of the next one in two response
// headers, so that no body changes shape and kernelci-core's client,
// which reads /nodes as {items, total, limit, offset}, is unaffected:
//
//	X-Next-Cursor: <token>                      the value for after=
//	Link: <?...&after=<token>>; rel="next"      RFC 8288, relative to the request
//
// fields= keeps only the listed fields of each item (id always), as a
// MongoDB projection would: dotted paths select inside objects.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
)

// Limits on fields=.
const (
	maxProjectedFields = 64
)

// The listing parameters, which are never filters.
var listingParams = []string{"sort", "after", "fields"}

// listing is the parsed sort=, after= and fields= of a request.
type listing struct {
	order  query.Order // nil: the backend's default order
	after  []any       // nil: from the start
	cursor bool        // answer with the next page's cursor
	fields fieldTree   // nil: every field
}

// parseListing reads the listing parameters of q for a collection
// sortable by s, whose default cursor order is def and whose items have
// the top-level fields known.
func parseListing(q url.Values, s query.SortSchema, def query.Order, known []string) (listing, error) {
	var l listing
	for _, p := range []string{"sort", "after"} {
		if len(q[p]) > 1 {
			return l, &query.Error{Param: p, Msg: "given more than once"}
		}
	}
	if v, ok := q["sort"]; ok {
		o, err := query.ParseSort("sort", v[0], s)
		if err != nil {
			return l, err
		}
		l.order, l.cursor = o, true
	}
	if v, ok := q["after"]; ok {
		l.cursor = true
		if l.order == nil {
			l.order = def
		}
		if v[0] != "" {
			vals, err := query.DecodeCursor("after", v[0], l.order, s)
			if err != nil {
				return l, err
			}
			l.after = vals
		}
	}
	if v, ok := q["fields"]; ok {
		t, err := parseFields(strings.Join(v, ","), known)
		if err != nil {
			return l, err
		}
		l.fields = t
	}
	return l, nil
}

// withoutListing returns q without the listing parameters, for the
// filter parser.
func withoutListing(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		if !slices.Contains(listingParams, k) {
			out[k] = v
		}
	}
	return out
}

// next sets the headers that give the cursor of the page after the one
// ending with the record whose key values are last.
func (l listing) next(w http.ResponseWriter, r *http.Request, last []any) {
	token := query.EncodeCursor(l.order, last)
	q := r.URL.Query()
	q.Set("after", token)
	h := w.Header()
	h.Set("X-Next-Cursor", token)
	h.Set("Link", "<?"+q.Encode()+`>; rel="next"`)
}

// fieldTree is a parsed fields=: a field maps to nil (keep it whole) or
// to the tree of the fields to keep inside it.
type fieldTree map[string]fieldTree

// parseFields reads a comma-separated list of dotted field paths whose
// first segment is one of known; "id" is always kept.
func parseFields(raw string, known []string) (fieldTree, error) {
	t := fieldTree{"id": nil}
	n := 0
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if n++; n > maxProjectedFields {
			return nil, &query.Error{Param: "fields", Msg: fmt.Sprintf("more than %d fields", maxProjectedFields)}
		}
		segs := strings.Split(p, ".")
		if len(segs) > query.MaxPathSegments || slices.Contains(segs, "") {
			return nil, &query.Error{Param: "fields", Msg: fmt.Sprintf("invalid field path %q", p)}
		}
		if !slices.Contains(known, segs[0]) {
			return nil, &query.Error{Param: "fields", Msg: fmt.Sprintf("unknown field %q (fields: %s)", segs[0], strings.Join(known, ", "))}
		}
		t.add(segs)
	}
	return t, nil
}

func (t fieldTree) add(segs []string) {
	sub, seen := t[segs[0]]
	if len(segs) == 1 || (seen && sub == nil) {
		t[segs[0]] = nil // the whole field
		return
	}
	if sub == nil {
		sub = fieldTree{}
		t[segs[0]] = sub
	}
	sub.add(segs[1:])
}

// project returns the JSON of v with only the fields of t, in the order
// v has them. A path into a value that is not an object selects nothing.
func (t fieldTree) project(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.projectObject(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// projectObject writes the object b keeping the fields of t.
func (t fieldTree) projectObject(out *bytes.Buffer, b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil { // {
		return err
	}
	out.WriteByte('{')
	first := true
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := d.Decode(&val); err != nil {
			return err
		}
		sub, ok := t[key]
		if !ok {
			continue
		}
		if sub != nil && (len(val) == 0 || val[0] != '{') {
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		if sub == nil {
			out.Write(val)
		} else if err := sub.projectObject(out, val); err != nil {
			return err
		}
	}
	out.WriteByte('}')
	return nil
}

// projectAll projects every item when t is set; else it returns items.
func projectAll[T any](t fieldTree, items []T) (any, error) {
	if t == nil {
		return items, nil
	}
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		b, err := t.project(it)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// jsonFields lists the top-level JSON fields of v's type, in order.
func jsonFields(v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.Token()
	var out []string
	for d.More() {
		tok, _ := d.Token()
		out = append(out, tok.(string))
		var skip json.RawMessage
		d.Decode(&skip)
	}
	return out
}

var (
	nodeFields  = jsonFields(&model.Node{})
	eventFields = append(jsonFields(&model.Event{}), "attributes", "node")
)

// Default orders of cursor paging without sort=.
var (
	nodeCursorOrder  = query.Order{{Field: "id"}}
	eventCursorOrder = query.Order{{Field: "sequence_id"}}
)
