package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"sort"
	"time"
)

// DefaultTimeout is how long after its creation a node times out unless
// the request says otherwise (kernelci-core's DefaultTimeout(hours=6)).
const DefaultTimeout = 6 * time.Hour

// Enumerations of kernelci-core, in declaration order (pydantic lists them
// in that order in its messages).
var (
	StateValues  = []string{StateRunning, StateAvailable, StateClosing, StateDone}
	ResultValues = []string{ResultPass, ResultFail, ResultSkip, ResultIncomplete}
)

// DecodeJSON unmarshals b into v with UseNumber, so that numbers in
// free-form fields (data, debug) stay json.Number. Trailing data after the
// first value is an error.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: data after the top-level value")
	}
	return nil
}

// DecodeNode builds a Node from a decoded JSON object (decoded with
// json.Decoder.UseNumber, so numbers are json.Number) the way pydantic
// builds kernelci-core's base Node from a FastAPI request body.
//
// Missing fields take the model defaults: kind "node", state "running",
// artifacts/data/debug {} (non-nil), platform_filter and user_groups []
// (non-nil), created = updated = now, timeout = now + 6h, the rest null,
// false or 0. name (string) and path (list of strings) are required. An
// explicit null is accepted for the Optional fields only (group, parent,
// result, artifacts, data, debug, jobfilter, platform_filter, holdoff,
// owner, submitter, treeid); it leaves a nil pointer, map or slice.
//
// Types follow pydantic v2's lax python mode: strings must be strings,
// retry_counter is a StrictInt, booleans also accept 0/1 and "true"/"no"
// and the like, datetimes are ISO strings (see ParseTime) or Unix
// timestamps and are stored in UTC truncated to microseconds, artifacts
// must be absolute http(s) URLs and are normalised like pydantic's
// AnyHttpUrl (see NormalizeURL), parent must be an ObjectId string.
//
// "id" (or its alias "_id", which wins) is parsed as an ObjectId into
// n.ID when present and not null; what to do with it is the caller's
// business. Unknown keys are ignored. Every error is collected and
// returned as a *ValidationError whose Locs start with locPrefix.
func DecodeNode(raw map[string]any, now time.Time, locPrefix ...any) (*Node, error) {
	var c collector
	n := decodeNode(&c, raw, now, rootLoc(locPrefix))
	if c.failed() {
		return nil, &ValidationError{Errors: c.errs}
	}
	return n, nil
}

func decodeNode(c *collector, raw map[string]any, now time.Time, loc *locPath) *Node {
	now = now.UTC().Truncate(time.Microsecond)
	n := &Node{
		Kind:           "node",
		State:          StateRunning,
		Artifacts:      map[string]string{},
		Data:           map[string]any{},
		Debug:          map[string]any{},
		PlatformFilter: []string{},
		Created:        Time{now},
		Updated:        Time{now},
		Timeout:        Time{now.Add(DefaultTimeout)},
		UserGroups:     []string{},
	}
	get := func(key string) (any, *locPath, bool) {
		v, ok := raw[key]
		return v, loc.child(key), ok
	}

	idKey := "id"
	if _, ok := raw["_id"]; ok {
		idKey = "_id"
	}
	if v, l, ok := get(idKey); ok && v != nil {
		if id, ok := objectIDType(c, l, v); ok {
			n.ID = id
		}
	}
	fs := fieldsOf{c, raw, loc}
	decodeField(fs, "kind", &n.Kind, strType)
	if !decodeField(fs, "name", &n.Name, strType) {
		c.add("missing", loc.child("name"), "Field required", raw, nil)
	}
	if !decodeField(fs, "path", &n.Path, strList) {
		c.add("missing", loc.child("path"), "Field required", raw, nil)
	}
	decodeField(fs, "group", &n.Group, optStr)
	if v, l, ok := get("parent"); ok && v != nil {
		if id, ok := objectIDType(c, l, v); ok {
			n.Parent = &id
		}
	}
	decodeField(fs, "state", &n.State, func(c *collector, l *locPath, v any) (string, bool) { return enumType(c, l, v, StateValues) })
	decodeField(fs, "result", &n.Result, func(c *collector, l *locPath, v any) (*string, bool) { return optEnum(c, l, v, ResultValues) })
	decodeField(fs, "artifacts", &n.Artifacts, func(c *collector, l *locPath, v any) (map[string]string, bool) {
		return artifactsType(c, l, v, true)
	})
	decodeField(fs, "data", &n.Data, optDict)
	decodeField(fs, "debug", &n.Debug, optDict)
	decodeField(fs, "jobfilter", &n.Jobfilter, optStrList)
	decodeField(fs, "platform_filter", &n.PlatformFilter, optStrList)
	decodeField(fs, "created", &n.Created, timeType)
	decodeField(fs, "updated", &n.Updated, timeType)
	decodeField(fs, "timeout", &n.Timeout, timeType)
	decodeField(fs, "holdoff", &n.Holdoff, optDatetime)
	decodeField(fs, "owner", &n.Owner, optStr)
	decodeField(fs, "submitter", &n.Submitter, optStr)
	decodeField(fs, "treeid", &n.Treeid, optStr)
	if v, l, ok := get("user_groups"); ok {
		if groups, ok := strList(c, l, v); ok {
			if err := checkUniqueGroups(groups); err != "" {
				c.add("value_error", l, "Value error, "+err, v, map[string]any{"error": map[string]any{}})
			} else {
				n.UserGroups = groups
			}
		}
	}
	decodeField(fs, "processed_by_kcidb_bridge", &n.ProcessedByKCIDBBridge, boolType)
	decodeField(fs, "retry_counter", &n.RetryCounter, int64Type)
	return n
}

// fieldsOf is an object being decoded: its fields, where it is, and the
// errors found.
type fieldsOf struct {
	c   *collector
	raw map[string]any
	loc *locPath
}

// decodeField decodes field key of f, when f has it, into *dst through
// conv (which records what is wrong with it), and reports whether f has
// it.
func decodeField[T any](f fieldsOf, key string, dst *T, conv func(*collector, *locPath, any) (T, bool)) bool {
	v, ok := f.raw[key]
	if ok {
		*dst, _ = conv(f.c, f.loc.child(key), v)
	}
	return ok
}

// timeType is datetimeType as a Time.
func timeType(c *collector, loc *locPath, v any) (Time, bool) {
	t, ok := datetimeType(c, loc, v)
	return Time{t}, ok
}

func checkUniqueGroups(groups []string) string {
	seen := make(map[string]struct{}, len(groups))
	for _, g := range groups {
		if _, dup := seen[g]; dup {
			return "Groups must have unique names."
		}
		seen[g] = struct{}{}
	}
	return ""
}

func optEnum(c *collector, loc *locPath, v any, values []string) (*string, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := enumType(c, loc, v, values)
	if !ok {
		return nil, false
	}
	return &s, true
}

func optDict(c *collector, loc *locPath, v any) (map[string]any, bool) {
	if v == nil {
		return nil, true
	}
	return dictType(c, loc, v)
}

func optStrList(c *collector, loc *locPath, v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	return strList(c, loc, v)
}

func optDatetime(c *collector, loc *locPath, v any) (*Time, bool) {
	if v == nil {
		return nil, true
	}
	t, ok := datetimeType(c, loc, v)
	if !ok {
		return nil, false
	}
	return &Time{t}, true
}

// artifactsType decodes Optional[Dict[str, str]]; with urls, each value
// must be an http(s) URL and is normalised (the base Node's artifacts),
// without, any string goes (NodePatchRequest's artifacts). Errors come in
// key order, as Go maps have no other.
func artifactsType(c *collector, loc *locPath, v any, urls bool) (map[string]string, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := dictType(c, loc, v)
	if !ok {
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(m))
	good := true
	for _, k := range keys {
		var s string
		if urls {
			s, ok = urlType(c, loc.child(k), m[k], true)
		} else {
			s, ok = strType(c, loc.child(k), m[k])
		}
		good = good && ok
		out[k] = s
	}
	return out, good
}

// DecodeHierarchy decodes the body of PUT /nodes/{id}:
// {"node": {...}, "child_nodes": [{"node": ..., "child_nodes": [...]}, ...]}
// recursively; both keys are required at every level. Errors carry Locs
// like ["body", "child_nodes", 0, "node", "name"], in the order pydantic
// reports them (depth first). The tree is walked with an explicit stack,
// so its depth is not limited by the Go stack.
func DecodeHierarchy(raw map[string]any, now time.Time) (*Hierarchy, error) {
	type frame struct {
		raw any
		dst *Hierarchy
		loc *locPath
	}
	var c collector
	root := &Hierarchy{}
	stack := []frame{{raw, root, rootLoc([]any{"body"})}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		m, ok := f.raw.(map[string]any)
		if !ok {
			c.errs = append(c.errs, modelAttributesTypeError(f.raw, f.loc))
			continue
		}
		if v, ok := m["node"]; !ok {
			c.add("missing", f.loc.child("node"), "Field required", m, nil)
		} else if nm, ok := v.(map[string]any); !ok {
			c.errs = append(c.errs, modelAttributesTypeError(v, f.loc.child("node")))
		} else {
			f.dst.Node = decodeNode(&c, nm, now, f.loc.child("node"))
		}
		v, ok := m["child_nodes"]
		if !ok {
			c.add("missing", f.loc.child("child_nodes"), "Field required", m, nil)
			continue
		}
		childLoc := f.loc.child("child_nodes")
		children, ok := listType(&c, childLoc, v)
		if !ok {
			continue
		}
		f.dst.ChildNodes = make([]*Hierarchy, len(children))
		for i := len(children) - 1; i >= 0; i-- {
			h := &Hierarchy{}
			f.dst.ChildNodes[i] = h
			stack = append(stack, frame{children[i], h, childLoc.child(i)})
		}
	}
	if c.failed() {
		return nil, &ValidationError{Errors: c.errs}
	}
	return root, nil
}

// Clone returns a deep copy of n: pointers, maps and slices are copied and
// data and debug are copied recursively.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Path = slices.Clone(n.Path)
	c.Group = clonePtr(n.Group)
	c.Parent = clonePtr(n.Parent)
	c.Result = clonePtr(n.Result)
	c.Artifacts = maps.Clone(n.Artifacts)
	c.Data = cloneMap(n.Data)
	c.Debug = cloneMap(n.Debug)
	c.Jobfilter = slices.Clone(n.Jobfilter)
	c.PlatformFilter = slices.Clone(n.PlatformFilter)
	c.Holdoff = clonePtr(n.Holdoff)
	c.Owner = clonePtr(n.Owner)
	c.Submitter = clonePtr(n.Submitter)
	c.Treeid = clonePtr(n.Treeid)
	c.UserGroups = slices.Clone(n.UserGroups)
	return &c
}

// clonePtr returns a pointer to a copy of *p (nil for nil).
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// cloneValue deep-copies decoded JSON.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return slices.Clone(x)
	case map[string]string:
		if x == nil {
			return x
		}
		out := make(map[string]string, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	}
	return v
}
