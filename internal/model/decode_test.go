package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

func mustObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := DecodeJSON([]byte(s), &m); err != nil {
		t.Fatalf("DecodeJSON(%s): %v", s, err)
	}
	return m
}

func fieldErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	return ve.Errors
}

func TestDecodeNodeDefaults(t *testing.T) {
	now := time.Date(2026, 8, 21, 9, 54, 55, 123456789, time.FixedZone("x", 3600))
	n, err := DecodeNode(mustObject(t, `{"name": "checkout", "path": ["checkout"]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	nowUS := time.Date(2026, 8, 21, 8, 54, 55, 123456000, time.UTC)
	want := &Node{
		Kind:           "node",
		Name:           "checkout",
		Path:           []string{"checkout"},
		State:          StateRunning,
		Artifacts:      map[string]string{},
		Data:           map[string]any{},
		Debug:          map[string]any{},
		PlatformFilter: []string{},
		Created:        T(nowUS),
		Updated:        T(nowUS),
		Timeout:        T(nowUS.Add(6 * time.Hour)),
		UserGroups:     []string{},
	}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("got  %+v\nwant %+v", n, want)
	}
	if n.Artifacts == nil || n.Data == nil || n.Debug == nil || n.PlatformFilter == nil || n.UserGroups == nil {
		t.Error("defaults must be empty, not nil")
	}
	b, _ := json.Marshal(n)
	for _, frag := range []string{
		`"id":"000000000000000000000000"`, `"artifacts":{}`, `"data":{}`, `"debug":{}`,
		`"jobfilter":null`, `"platform_filter":[]`, `"user_groups":[]`, `"result":null`,
		`"holdoff":null`, `"created":"2026-08-21T08:54:55.123456"`, `"timeout":"2026-08-21T14:54:55.123456"`,
	} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("JSON %s lacks %s", b, frag)
		}
	}
}

func TestDecodeNodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // "type loc msg"
	}{
		{"missing", `{}`, []string{
			"missing body.name Field required",
			"missing body.path Field required",
		}},
		{"null non-optional", `{"name": "n", "path": ["p"], "kind": null, "state": null, "created": null,
			"updated": null, "timeout": null, "user_groups": null, "retry_counter": null,
			"processed_by_kcidb_bridge": null}`, []string{
			"string_type body.kind Input should be a valid string",
			"enum body.state Input should be 'running', 'available', 'closing' or 'done'",
			"datetime_type body.created Input should be a valid datetime",
			"datetime_type body.updated Input should be a valid datetime",
			"datetime_type body.timeout Input should be a valid datetime",
			"list_type body.user_groups Input should be a valid list",
			"bool_type body.processed_by_kcidb_bridge Input should be a valid boolean",
			"int_type body.retry_counter Input should be a valid integer",
		}},
		{"null required", `{"name": null, "path": null}`, []string{
			"string_type body.name Input should be a valid string",
			"list_type body.path Input should be a valid list",
		}},
		{"no int to str", `{"name": 5, "path": ["a", 1, true], "group": 1.5, "owner": false}`, []string{
			"string_type body.name Input should be a valid string",
			"string_type body.path.1 Input should be a valid string",
			"string_type body.path.2 Input should be a valid string",
			"string_type body.group Input should be a valid string",
			"string_type body.owner Input should be a valid string",
		}},
		{"strict int", `{"name": "n", "path": [], "retry_counter": "3"}`, []string{
			"int_type body.retry_counter Input should be a valid integer",
		}},
		{"strict int bool", `{"name": "n", "path": [], "retry_counter": true}`, []string{
			"int_type body.retry_counter Input should be a valid integer",
		}},
		{"strict int exponent", `{"name": "n", "path": [], "retry_counter": 1e3}`, []string{
			"int_type body.retry_counter Input should be a valid integer",
		}},
		{"int64 overflow", `{"name": "n", "path": [], "retry_counter": 99999999999999999999}`, []string{
			"int_parsing_size body.retry_counter Unable to parse input string as an integer, exceeded maximum size",
		}},
		{"parent", `{"name": "n", "path": [], "parent": "65a1b2c3d4e5f6a7b8c9d0e"}`, []string{
			"is_instance_of body.parent.is-instance[ObjectId] Input should be an instance of ObjectId",
			"value_error body.parent.chain[str,function-plain[validate()]] Value error, Invalid ObjectId: 65a1b2c3d4e5f6a7b8c9d0e",
		}},
		{"id", `{"name": "n", "path": [], "id": "nothex-nothex-nothex-xxx"}`, []string{
			"is_instance_of body.id.is-instance[ObjectId] Input should be an instance of ObjectId",
			"value_error body.id.chain[str,function-plain[validate()]] Value error, Invalid ObjectId: nothex-nothex-nothex-xxx",
		}},
		{"unique groups", `{"name": "n", "path": [], "user_groups": ["a", "b", "a"]}`, []string{
			"value_error body.user_groups Value error, Groups must have unique names.",
		}},
		{"dicts", `{"name": "n", "path": [], "data": [], "debug": "x", "artifacts": 1}`, []string{
			"dict_type body.artifacts Input should be a valid dictionary",
			"dict_type body.data Input should be a valid dictionary",
			"dict_type body.debug Input should be a valid dictionary",
		}},
		{"lists", `{"name": "n", "path": "a/b", "jobfilter": "x", "platform_filter": {}}`, []string{
			"list_type body.path Input should be a valid list",
			"list_type body.jobfilter Input should be a valid list",
			"list_type body.platform_filter Input should be a valid list",
		}},
		{"artifacts", `{"name": "n", "path": [], "artifacts": {"b": "ftp://x/y", "a": "relative/path", "c": null}}`, []string{
			"url_parsing body.artifacts.a Input should be a valid URL, relative URL without a base",
			"url_scheme body.artifacts.b URL scheme should be 'http' or 'https'",
			"url_type body.artifacts.c URL input should be a string or URL",
		}},
		{"datetimes", `{"name": "n", "path": [], "created": "yesterday", "updated": "2026-08-21T09:54:55+25:00",
			"timeout": {}, "holdoff": "2026-13-01"}`, []string{
			"datetime_from_date_parsing body.created Input should be a valid datetime or date, input is too short",
			"datetime_from_date_parsing body.updated Input should be a valid datetime or date, unexpected extra characters at the end of the input",
			"datetime_type body.timeout Input should be a valid datetime",
			"datetime_from_date_parsing body.holdoff Input should be a valid datetime or date, month value is outside expected range",
		}},
		{"enums", `{"name": "n", "path": [], "state": "Running", "result": "passed"}`, []string{
			"enum body.state Input should be 'running', 'available', 'closing' or 'done'",
			"enum body.result Input should be 'pass', 'fail', 'skip' or 'incomplete'",
		}},
		{"bools", `{"name": "n", "path": [], "processed_by_kcidb_bridge": "sure"}`, []string{
			"bool_parsing body.processed_by_kcidb_bridge Input should be a valid boolean, unable to interpret input",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := DecodeNode(mustObject(t, tc.body), time.Now(), "body")
			if n != nil {
				t.Errorf("got a node with an error")
			}
			var got []string
			for _, fe := range fieldErrors(t, err) {
				got = append(got, fmt.Sprintf("%s %s %s", fe.Type, locString(fe.Loc), fe.Msg))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestDecodeNodeValues(t *testing.T) {
	id := "65a1b2c3d4e5f6a7b8c9d0e1"
	n, err := DecodeNode(mustObject(t, `{
		"id": "`+strings.ToUpper(id)+`", "kind": "kbuild", "name": "n", "path": ["a", "n"],
		"group": "g", "parent": "`+id+`", "state": "done", "result": "incomplete",
		"artifacts": {"log": "HTTP://Storage.example.org/a/../log.txt"},
		"data": {"n": 1.50, "big": 12345678901234567890, "nested": {"l": [null, true]}},
		"debug": null, "jobfilter": ["a"], "platform_filter": null,
		"created": "2026-08-21T09:54:55.1234567+02:00", "updated": 1700000000.25,
		"timeout": "2026-08-21", "holdoff": "2026-08-21 09:54:55Z",
		"owner": "me", "submitter": null, "treeid": "t", "user_groups": ["x", "y"],
		"processed_by_kcidb_bridge": "yes", "retry_counter": -2, "unknown": {"ignored": true}
	}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := objectid.Parse(id)
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", n.ID, oid},
		{"parent", *n.Parent, oid},
		{"kind", n.Kind, "kbuild"},
		{"group", *n.Group, "g"},
		{"state", n.State, "done"},
		{"result", *n.Result, "incomplete"},
		{"artifacts", n.Artifacts, map[string]string{"log": "http://storage.example.org/log.txt"}},
		{"data", n.Data, map[string]any{
			"n": json.Number("1.50"), "big": json.Number("12345678901234567890"),
			"nested": map[string]any{"l": []any{nil, true}},
		}},
		{"debug", n.Debug, map[string]any(nil)},
		{"jobfilter", n.Jobfilter, []string{"a"}},
		{"platform_filter", n.PlatformFilter, []string(nil)},
		{"created", n.Created.String(), "2026-08-21T07:54:55.123456"},
		{"updated", n.Updated.String(), "2023-11-14T22:13:20.250000"},
		{"timeout", n.Timeout.String(), "2026-08-21T00:00:00.000000"},
		{"holdoff", n.Holdoff.String(), "2026-08-21T09:54:55.000000"},
		{"owner", *n.Owner, "me"},
		{"submitter", n.Submitter, (*string)(nil)},
		{"treeid", *n.Treeid, "t"},
		{"user_groups", n.UserGroups, []string{"x", "y"}},
		{"processed", n.ProcessedByKCIDBBridge, true},
		{"retry_counter", n.RetryCounter, int64(-2)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if n.Created.Location() != time.UTC {
		t.Error("created not UTC")
	}
}

func TestDecodeNodeLocPrefix(t *testing.T) {
	_, err := DecodeNode(mustObject(t, `{"path": []}`), time.Now(), "body", "node")
	fes := fieldErrors(t, err)
	if len(fes) != 1 || !reflect.DeepEqual(fes[0].Loc, []any{"body", "node", "name"}) {
		t.Fatalf("got %+v", fes)
	}
	if !reflect.DeepEqual(fes[0].Input, map[string]any{"path": []any{}}) {
		t.Errorf("missing input should be the object, got %#v", fes[0].Input)
	}
	_, err = DecodeNode(mustObject(t, `{"path": []}`), time.Now())
	if fes := fieldErrors(t, err); !reflect.DeepEqual(fes[0].Loc, []any{"name"}) {
		t.Errorf("no prefix: got %v", fes[0].Loc)
	}
}

func TestDecodeNodeCollectsAllErrors(t *testing.T) {
	_, err := DecodeNode(mustObject(t, `{"name": 1, "path": 2, "state": 3, "result": 4, "data": 5, "retry_counter": "6"}`), time.Now(), "body")
	if got := len(fieldErrors(t, err)); got != 6 {
		t.Errorf("got %d errors, want 6: %v", got, err)
	}
}

func TestValidationErrorJSON(t *testing.T) {
	_, err := DecodeNode(mustObject(t, `{"name": "n", "path": [], "state": "x", "parent": "y"}`), time.Now(), "body")
	b, mErr := json.Marshal(err)
	if mErr != nil {
		t.Fatal(mErr)
	}
	want := `{"detail":[` +
		`{"type":"is_instance_of","loc":["body","parent","is-instance[ObjectId]"],"msg":"Input should be an instance of ObjectId","input":"y","ctx":{"class":"ObjectId"}},` +
		`{"type":"value_error","loc":["body","parent","chain[str,function-plain[validate()]]"],"msg":"Value error, Invalid ObjectId: y","input":"y","ctx":{"error":{}}},` +
		`{"type":"enum","loc":["body","state"],"msg":"Input should be 'running', 'available', 'closing' or 'done'","input":"x","ctx":{"expected":"'running', 'available', 'closing' or 'done'"}}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if s := err.Error(); !strings.HasPrefix(s, "3 validation errors: body.parent.is-instance[ObjectId]: Input should be an instance of ObjectId; ") {
		t.Errorf("Error() = %q", s)
	}
	var empty ValidationError
	if b, _ := json.Marshal(&empty); string(b) != `{"detail":[]}` {
		t.Errorf("empty = %s", b)
	}
	b, _ = json.Marshal(NotAnObjectError([]any{json.Number("1")}, "body"))
	if string(b) != `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1]}]}` {
		t.Errorf("NotAnObjectError = %s", b)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v map[string]any
	if err := DecodeJSON([]byte(` {"a": 1.0, "b": [2]} `), &v); err != nil {
		t.Fatal(err)
	}
	if v["a"] != json.Number("1.0") || !reflect.DeepEqual(v["b"], []any{json.Number("2")}) {
		t.Errorf("numbers not json.Number: %#v", v)
	}
	for _, bad := range []string{`{"a": 1} {}`, `{"a": 1}x`, `{`, ``, `[1,]`} {
		if err := DecodeJSON([]byte(bad), &v); err == nil {
			t.Errorf("DecodeJSON(%q) should fail", bad)
		}
	}
}

// sampleNode has every field set, with awkward values.
func sampleNode() *Node {
	now := T(time.Date(2026, 8, 21, 9, 54, 55, 123456000, time.UTC))
	parent := objectid.New()
	hold := T(now.Add(time.Hour))
	return &Node{
		ID: objectid.New(), Kind: "test", Name: "baseline", Path: []string{"checkout", "kbuild", "baseline"},
		Group: Str("g"), Parent: &parent, State: StateAvailable, Result: Str(ResultPass),
		Artifacts: map[string]string{"log": "https://x.org/log"},
		Data: map[string]any{
			"kernel_revision": map[string]any{"tree": "t", "version": map[string]any{"version": json.Number("6")}},
			"list":            []any{json.Number("1.5"), nil, true, "s", map[string]any{}},
			"null":            nil,
		},
		Debug: map[string]any{"x": json.Number("-1e-7")}, Jobfilter: []string{"a"}, PlatformFilter: []string{},
		Created: now, Updated: now, Timeout: T(now.Add(6 * time.Hour)), Holdoff: &hold,
		Owner: Str("me"), Submitter: Str("abc"), Treeid: Str("tree"), UserGroups: []string{"a", "b"},
		ProcessedByKCIDBBridge: true, RetryCounter: 7,
	}
}

var nodeJSONFields = []string{
	"artifacts", "created", "data", "debug", "group", "holdoff", "id", "jobfilter", "kind", "name",
	"owner", "parent", "path", "platform_filter", "processed_by_kcidb_bridge", "result",
	"retry_counter", "state", "submitter", "timeout", "treeid", "updated", "user_groups",
}

func TestNodeJSONHasEveryField(t *testing.T) {
	for name, n := range map[string]*Node{"full": sampleNode(), "zero": {}} {
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, nodeJSONFields) {
			t.Errorf("%s: keys %v", name, keys)
		}
	}
	b, _ := json.Marshal(&Node{})
	for _, k := range []string{"group", "parent", "result", "artifacts", "data", "debug", "jobfilter",
		"platform_filter", "holdoff", "owner", "submitter", "treeid", "user_groups", "path"} {
		if !strings.Contains(string(b), `"`+k+`":null`) {
			t.Errorf("zero node: %s is not null in %s", k, b)
		}
	}
}

func TestNodeJSONRoundTrip(t *testing.T) {
	nodes := map[string]*Node{"full": sampleNode(), "zero": {}}
	decoded, err := DecodeNode(mustObject(t, `{"name": "n", "path": ["n"]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nodes["decoded"] = decoded
	for name, n := range nodes {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(n)
			if err != nil {
				t.Fatal(err)
			}
			var back Node
			if err := DecodeJSON(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&back, n) {
				t.Errorf("round trip differs\nin:  %+v\nout: %+v", n, &back)
			}
			b2, _ := json.Marshal(&back)
			if string(b) != string(b2) {
				t.Errorf("JSON differs\n%s\n%s", b, b2)
			}
		})
	}
}

func TestClone(t *testing.T) {
	n := sampleNode()
	c := n.Clone()
	if !reflect.DeepEqual(c, n) {
		t.Fatalf("clone differs")
	}
	// Mutate everything in the clone; the original must not change.
	want, _ := json.Marshal(n)
	c.Path[0] = "x"
	*c.Group = "x"
	c.Parent[0] ^= 0xff
	*c.Result = "x"
	c.Artifacts["log"] = "x"
	c.Data["kernel_revision"].(map[string]any)["version"].(map[string]any)["version"] = "x"
	c.Data["list"].([]any)[0] = "x"
	c.Data["list"].([]any)[4].(map[string]any)["new"] = 1
	c.Debug["x"] = "x"
	c.Jobfilter[0] = "x"
	c.PlatformFilter = append(c.PlatformFilter, "x")
	c.Holdoff.Time = c.Holdoff.Add(time.Hour)
	*c.Owner, *c.Submitter, *c.Treeid = "x", "x", "x"
	c.UserGroups[0] = "x"
	if got, _ := json.Marshal(n); string(got) != string(want) {
		t.Errorf("original changed:\n%s\n%s", want, got)
	}
	if (&Node{}).Clone() == nil || (*Node)(nil).Clone() != nil {
		t.Error("Clone of zero/nil node")
	}
	z := (&Node{}).Clone()
	if z.Data != nil || z.Path != nil || z.Artifacts != nil {
		t.Error("Clone must keep nils nil")
	}
}

func TestDecodeHierarchy(t *testing.T) {
	body := `{"node": {"name": "root", "path": ["root"]}, "child_nodes": [
		{"node": {"name": "a", "path": ["root", "a"], "kind": "kbuild"}, "child_nodes": [
			{"node": {"name": "a1", "path": ["root", "a", "a1"]}, "child_nodes": []}
		]},
		{"node": {"name": "b", "path": ["root", "b"]}, "child_nodes": []}
	]}`
	now := time.Now()
	h, err := DecodeHierarchy(mustObject(t, body), now)
	if err != nil {
		t.Fatal(err)
	}
	if h.Node.Name != "root" || len(h.ChildNodes) != 2 || h.ChildNodes[0].Node.Kind != "kbuild" ||
		h.ChildNodes[0].ChildNodes[0].Node.Name != "a1" || h.ChildNodes[1].Node.Name != "b" ||
		h.ChildNodes[1].ChildNodes == nil || len(h.ChildNodes[1].ChildNodes) != 0 {
		t.Errorf("bad tree: %+v", h)
	}
	if !h.ChildNodes[0].ChildNodes[0].Node.Created.Equal(T(now).Time) {
		t.Error("now not used for defaults")
	}

	_, err = DecodeHierarchy(mustObject(t, `{"node": {"name": "r", "path": []}, "child_nodes": [
		{"node": {"name": "a", "path": []}, "child_nodes": [{"node": {"path": []}, "child_nodes": []}]},
		{"node": {"name": 1, "path": []}, "child_nodes": []},
		{"child_nodes": "x"}
	]}`), now)
	var got []string
	for _, fe := range fieldErrors(t, err) {
		got = append(got, fe.Type+" "+locString(fe.Loc))
	}
	want := []string{
		"missing body.child_nodes.0.child_nodes.0.node.name",
		"string_type body.child_nodes.1.node.name",
		"missing body.child_nodes.2.node",
		"list_type body.child_nodes.2.child_nodes",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestDecodeHierarchyLarge(t *testing.T) {
	// A realistic big submission: a few levels, tens of thousands of nodes.
	var b strings.Builder
	count := 0
	b.WriteString(`{"node": {"name": "job", "path": ["job"], "kind": "job"}, "child_nodes": [`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"node": {"name": "s%d", "path": ["job", "s%d"], "kind": "test"}, "child_nodes": [`, i, i)
		for j := 0; j < 150; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"node": {"name": "c%d", "path": ["job", "s%d", "c%d"], "kind": "test", "result": "pass", "data": {"arch": "x86_64"}}, "child_nodes": []}`, j, i, j)
			count++
		}
		b.WriteString(`]}`)
		count++
	}
	b.WriteString(`]}`)
	count++
	start := time.Now()
	h, err := DecodeHierarchy(mustObject(t, b.String()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	stack := []*Hierarchy{h}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n++
		if err := ValidateKind(x.Node); err != nil {
			t.Fatal(err)
		}
		stack = append(stack, x.ChildNodes...)
	}
	if n != count {
		t.Errorf("decoded %d nodes, want %d", n, count)
	}
	t.Logf("%d nodes decoded and validated in %v", n, time.Since(start))

	// Depth is not limited by recursion either (up to encoding/json's own
	// nesting limit of 10000, two per level).
	const depth = 4000
	deep := strings.Repeat(`{"node": {"name": "n", "path": []}, "child_nodes": [`, depth) +
		`{"node": {"name": "leaf", "path": []}, "child_nodes": []}` + strings.Repeat(`]}`, depth)
	var raw map[string]any
	dec := json.NewDecoder(strings.NewReader(deep))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeHierarchy(raw, time.Now()); err != nil {
		t.Fatal(err)
	}
}
