package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// eventFixture writes five node events:
//
//	1 created checkout (alice)      4 updated kbuild -> done/pass (alice)
//	2 created kbuild   (alice)      5 updated job    -> done/fail (bob)
//	3 created job      (bob)
//
// and returns the server, the events in order and the node ids.
func eventFixture(t *testing.T) (e *env, evs []map[string]any, checkout, kbuild, job string) {
	e = newEnv(t)
	alice := e.token("alice")
	bob := e.token("bob")
	c := e.postNode(alice, checkoutBody())
	k := e.postNode(alice, map[string]any{"kind": "kbuild", "name": "kbuild-gcc-12-x86",
		"path": []any{"checkout", "kbuild-gcc-12-x86"}, "group": "kbuild-gcc-12", "parent": c["id"],
		"data": map[string]any{"arch": "x86_64"}})
	j := e.postNode(bob, map[string]any{"kind": "job", "name": "baseline-x86",
		"path": []any{"checkout", "kbuild-gcc-12-x86", "baseline-x86"}, "group": "baseline", "parent": k["id"]})
	e.do(http.MethodPut, "/latest/node/"+k["id"].(string), alice, map[string]any{"kind": "kbuild", "name": "kbuild-gcc-12-x86",
		"path": []any{"checkout", "kbuild-gcc-12-x86"}, "group": "kbuild-gcc-12", "parent": c["id"],
		"data": map[string]any{"arch": "x86_64"}, "state": "done", "result": "pass"}).expect(http.StatusOK)
	e.do(http.MethodPatch, "/latest/node/"+j["id"].(string), bob, map[string]any{"state": "done", "result": "fail"}).expect(http.StatusOK)
	evs = e.events("")
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	return e, evs, c["id"].(string), k["id"].(string), j["id"].(string)
}

func TestEventsShape(t *testing.T) {
	t.Parallel()
	_, evs, c, k, j := eventFixture(t)
	wantOps := []struct{ op, id, owner, state string }{
		{"created", c, "alice", "running"},
		{"created", k, "alice", "running"},
		{"created", j, "bob", "running"},
		{"updated", k, "alice", "done"},
		{"updated", j, "bob", "done"},
	}
	var prevSeq float64
	var prevTS time.Time
	for i, ev := range evs {
		keys := sortedKeys(ev)
		if !reflect.DeepEqual(keys, []string{"channel", "data", "id", "owner", "sequence_id", "timestamp"}) {
			t.Errorf("event %d keys %v", i, keys)
		}
		if id, _ := ev["id"].(string); !hexID.MatchString(id) {
			t.Errorf("event %d id %v", i, ev["id"])
		}
		if ts, _ := ev["timestamp"].(string); !wireTime.MatchString(ts) {
			t.Errorf("event %d timestamp %v", i, ev["timestamp"])
		}
		seq := ev["sequence_id"].(float64)
		ts := wt(t, ev["timestamp"])
		if seq <= prevSeq || ts.Before(prevTS) {
			t.Errorf("event %d: sequence %v after %v, timestamp %v after %v: not ascending", i, seq, prevSeq, ts, prevTS)
		}
		prevSeq, prevTS = seq, ts
		d := ev["data"].(map[string]any)
		w := wantOps[i]
		if ev["channel"] != "node" || ev["owner"] != w.owner || d["op"] != w.op || d["id"] != w.id || d["owner"] != w.owner || d["state"] != w.state {
			t.Errorf("event %d = %v, want %+v", i, ev, w)
		}
		var dkeys []string
		for key := range d {
			dkeys = append(dkeys, key)
		}
		sort.Strings(dkeys)
		want := []string{"data", "group", "id", "is_hierarchy", "kind", "name", "op", "owner", "path", "result", "state"}
		if w.op == "updated" {
			want = []string{"data", "group", "id", "is_hierarchy", "kind", "name", "op", "owner", "path", "previous_result", "previous_state", "result", "state"}
		}
		if !reflect.DeepEqual(dkeys, want) {
			t.Errorf("event %d data keys %v, want %v", i, dkeys, want)
		}
	}
}

func TestEventFilters(t *testing.T) {
	t.Parallel()
	e, evs, c, k, j := eventFixture(t)
	evID := func(i int) string { return evs[i-1]["id"].(string) }
	ts2 := evs[1]["timestamp"].(string)
	// Events strictly after event 2's timestamp, computed from the data so
	// that equal timestamps cannot make the test flaky.
	var after2 []int
	for i, ev := range evs {
		if wt(t, ev["timestamp"]).After(wt(t, ts2)) {
			after2 = append(after2, i+1)
		}
	}
	ts2Epoch := fmt.Sprintf("%.6f", float64(wt(t, ts2).UnixMicro())/1e6)
	tests := []struct {
		query string
		want  []int // event numbers, 1-based
	}{
		{"", []int{1, 2, 3, 4, 5}},
		{"kind=kbuild", []int{2, 4}},
		{"kind=job", []int{3, 5}},
		{"kind=checkout", []int{1}},
		{"state=done", []int{4, 5}},
		{"state=running", []int{1, 2, 3}},
		{"result=pass", []int{4}},
		{"result=fail", []int{5}},
		{"op=created", []int{1, 2, 3}},
		{"op=updated", []int{4, 5}},
		{"name=baseline-x86", []int{3, 5}},
		{"name=baseline", nil},
		{"path=.*kbuild-gcc.*", []int{2, 3, 4, 5}},
		{"path=baseline", []int{3, 5}},
		{"path=^checkout$", []int{1, 2, 3, 4, 5}},
		{"group=kbuild-gcc-12", []int{2, 4}},
		{"group=baseline", []int{3, 5}},
		{"owner=bob", []int{3, 5}},
		{"owner=alice&kind=checkout", []int{1}},
		{"channel=node", []int{1, 2, 3, 4, 5}},
		{"channel=other", nil},
		{"id=" + evID(3), []int{3}},
		{"id=%20" + evID(3) + "%20", []int{3}},
		{"ids=" + evID(1) + "," + evID(4), []int{1, 4}},
		{"ids=" + evID(4) + ",%20" + evID(1) + ",", []int{1, 4}},
		{"ids=" + evID(5) + "&kind=job", []int{5}},
		{"node_id=" + k, []int{2, 4}},
		{"node_id=" + c, []int{1}},
		{"node_id=" + j + "&op=updated", []int{5}},
		{"data.id=" + j, []int{3, 5}},
		{"data.op=created", []int{1, 2, 3}},
		{"data.is_hierarchy=false", []int{1, 2, 3, 4, 5}},
		{"data.previous_state=running", []int{4, 5}},
		{"kind=job&state=done&result=fail", []int{5}},
		{"from=2000-01-01T00:00:00", []int{1, 2, 3, 4, 5}},
		{"from=2000-01-01", []int{1, 2, 3, 4, 5}},
		{"from=2000-01-01T00:00:00%2B00:00", []int{1, 2, 3, 4, 5}},
		{"from=2999-01-01T00:00:00", nil},
		{"from=946684800", []int{1, 2, 3, 4, 5}},
		{"from=946684800.25", []int{1, 2, 3, 4, 5}},
		{"from=32503680000", nil},
		{"from=" + ts2, after2},
		{"from=" + url.QueryEscape(strings.Replace(ts2, "T", " ", 1)+"+00:00"), after2},
		{"from=" + ts2Epoch, after2},
		{"from=" + ts2 + "&kind=job", intersect(after2, []int{3, 5})},
		{"limit=2", []int{1, 2}},
		{"limit=1&op=updated", []int{4}},
		{"limit=0", []int{1, 2, 3, 4, 5}},
		{"limit=100&state=done", []int{4, 5}},
		{"kind=", []int{1, 2, 3, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			got := e.with(t).events(tc.query)
			var gotNums []int
			for _, ev := range got {
				for i, all := range evs {
					if all["id"] == ev["id"] {
						gotNums = append(gotNums, i+1)
					}
				}
				if _, ok := ev["node"]; ok {
					t.Errorf("event has a node without recursive=true")
				}
			}
			if !reflect.DeepEqual(gotNums, tc.want) && (len(gotNums) != 0 || len(tc.want) != 0) {
				t.Errorf("events %v, want %v", gotNums, tc.want)
			}
		})
	}
}

// TestEventsFromEachTimestamp checks "from" at each event's own
// timestamp, as ISO and as a Unix epoch with microseconds: the event
// itself is excluded (strictly after) and nothing is lost to rounding.
func TestEventsFromEachTimestamp(t *testing.T) {
	t.Parallel()
	e, evs, _, _, _ := eventFixture(t)
	// More events, so that more timestamps are tried.
	tok := e.token("carol")
	e.postNodes(tok, "test", "t-", 15)
	evs = e.events("")
	for _, ev := range evs {
		ts := wt(t, ev["timestamp"])
		var want []any
		for _, other := range evs {
			if wt(t, other["timestamp"]).After(ts) {
				want = append(want, other["id"])
			}
		}
		for _, from := range []string{
			ev["timestamp"].(string),
			fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000),
			fmt.Sprintf("%.6f", float64(ts.UnixMicro())/1e6),
		} {
			var got []any
			for _, g := range e.events("from=" + from) {
				got = append(got, g["id"])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("from=%s: %d events, want %d", from, len(got), len(want))
			}
		}
	}
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

func TestEventsRecursive(t *testing.T) {
	t.Parallel()
	e, evs, _, k, _ := eventFixture(t)
	for _, q := range []string{"recursive=true&limit=10", "recursive=True&limit=1000", "recursive=1&limit=5&node_id=" + k} {
		got := e.events(q)
		want := len(evs)
		if strings.Contains(q, "node_id") {
			want = 2
		}
		if len(got) != want {
			t.Fatalf("%s: %d events, want %d", q, len(got), want)
		}
		for _, ev := range got {
			n, ok := ev["node"].(map[string]any)
			if !ok {
				t.Fatalf("%s: event without node: %v", q, ev)
			}
			checkNodeShape(t, n)
			// The node is the current one, not a snapshot.
			id := ev["data"].(map[string]any)["id"]
			jsonEqual(t, "node of event", n, e.getNode(id))
		}
	}
	got := e.events("recursive=false")
	for _, ev := range got {
		if _, ok := ev["node"]; ok {
			t.Errorf("recursive=false: event has a node")
		}
	}
	// limit=0 is "no limit" and is refused as well.
	for _, q := range []string{"recursive=true", "recursive=true&limit=1001", "recursive=true&limit=5000", "recursive=true&limit=0"} {
		e.do(http.MethodGet, "/latest/events?"+q, "", nil).expectDetail(http.StatusBadRequest, "Recursive limit is too large, max is 1000")
	}
}

func TestEventsErrors(t *testing.T) {
	t.Parallel()
	e, evs, _, k, _ := eventFixture(t)
	id := evs[0]["id"].(string)
	tests := []struct{ query, detail string }{
		{"id=xyz", "Invalid id format"},
		{"id=0123456789abcdef0123456", "Invalid id format"},
		{"ids=xyz", "Invalid ids format"},
		{"ids=" + id + ",nope", "Invalid ids format"},
		{"ids=,%20,", "ids must contain at least one id"},
		{"id=" + id + "&ids=" + id, "Provide either id or ids, not both"},
		{"from=yesterday", "Invalid 'from' parameter, must be an ISO 8601 datetime"},
		{"from=2026-13-01", "Invalid 'from' parameter, must be an ISO 8601 datetime"},
		{"from=NaN", "Invalid 'from' parameter, must be an ISO 8601 datetime"},
		{"limit=-1", "Invalid 'limit' parameter, must be a non-negative integer"},
		{"limit=ten", "Invalid 'limit' parameter, must be a non-negative integer"},
		{"node_id=" + k + "&data.id=" + k, "Provide either node_id or data.id, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			e.with(t).do(http.MethodGet, "/latest/events?"+tc.query, "", nil).expectDetail(http.StatusBadRequest, tc.detail)
		})
	}
	for _, q := range []string{"path=(", "timestamp__gt=soon", "%24where=1", "sequence_id=x"} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			e.with(t).do(http.MethodGet, "/latest/events?"+q, "", nil).expectDetailPrefix(http.StatusBadRequest, "Invalid")
		})
	}
	t.Run("recursive=maybe", func(t *testing.T) {
		t.Parallel()
		e.with(t).do(http.MethodGet, "/latest/events?recursive=maybe&limit=1", "", nil).expect422()
	})
}

func TestEventsOfHierarchyAndBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	root := e.postNode(tok, map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}})
	body := map[string]any{
		"node": map[string]any{"kind": "job", "name": "kunit", "path": []any{"checkout", "kunit"}, "state": "done"},
		"child_nodes": []any{
			map[string]any{"node": nodeBody("test", "case-1", nil), "child_nodes": []any{}},
			map[string]any{"node": nodeBody("test", "case-2", nil), "child_nodes": []any{}},
		},
	}
	out := e.do(http.MethodPut, "/latest/nodes/"+root["id"].(string), tok, body).expect(http.StatusOK).list()
	e.do(http.MethodPut, "/latest/batch/nodeset", tok, map[string]any{
		"nodes": ids(out), "field": "processed_by_kcidb_bridge", "value": "true"}).expect(http.StatusOK)

	evs := e.events("")
	if len(evs) != 2 {
		t.Fatalf("%d events, want the creation and one hierarchy update", len(evs))
	}
	d := evs[1]["data"].(map[string]any)
	if d["id"] != root["id"] || d["is_hierarchy"] != true || d["op"] != "updated" || d["state"] != "done" || d["previous_state"] != "running" {
		t.Errorf("hierarchy event %v", d)
	}
	if got := e.events("data.is_hierarchy=true"); len(got) != 1 {
		t.Errorf("%d hierarchy events", len(got))
	}
	for _, n := range out[1:] {
		if got := e.nodeEvents(n.(map[string]any)["id"]); len(got) != 0 {
			t.Errorf("child %v has %d events", n.(map[string]any)["name"], len(got))
		}
	}
}

// recursive=true attaches every event's node even when they are more
// than one batch of node reads (attachNodes), each event its own node.
func TestEventsRecursiveManyNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("alice")
	const nodes = 2*200 + 10
	ids := map[string]bool{}
	for i := range nodes {
		n := e.postNode(tok, nodeBody("job", fmt.Sprintf("job-%d", i), nil))
		ids[n["id"].(string)] = true
	}
	got := e.events("recursive=true&limit=1000&kind=job")
	if len(got) != nodes {
		t.Fatalf("%d events, want %d", len(got), nodes)
	}
	for _, ev := range got {
		id := ev["data"].(map[string]any)["id"].(string)
		n, ok := ev["node"].(map[string]any)
		if !ok || n["id"] != id {
			t.Fatalf("event of node %s carries node %v", id, ev["node"])
		}
		delete(ids, id)
	}
	if len(ids) != 0 {
		t.Errorf("no event for %d nodes", len(ids))
	}
}
