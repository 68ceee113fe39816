package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// telemetryFields are the members of a telemetry event, in the
// reference's order.
var telemetryFields = []string{
	"id", "ts", "kind", "runtime", "device_type", "device_id", "job_name",
	"test_name", "job_id", "node_id", "tree", "branch", "arch", "result",
	"is_infra_error", "error_type", "error_msg", "retry", "extra",
}

// keyOrder returns the member names of a JSON object, in order.
func keyOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// rawList splits a JSON list into its raw elements.
func rawList(t *testing.T, raw []byte) []json.RawMessage {
	t.Helper()
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("not a list: %v: %s", err, raw)
	}
	return l
}

// telPost posts a list of events with tok.
func (e *env) telPost(tok string, body any) *response {
	e.t.Helper()
	return e.do(http.MethodPost, "/latest/telemetry", tok, body)
}

// telGet is a public GET of a telemetry path with a query string.
func (e *env) telGet(path, q string) *response {
	e.t.Helper()
	if q != "" {
		path += "?" + q
	}
	return e.do(http.MethodGet, "/latest"+path, "", nil)
}

// telTotal is the number of stored events.
func (e *env) telTotal() int {
	e.t.Helper()
	return int(e.telGet("/telemetry", "").expect(http.StatusOK).object()["total"].(float64))
}

// telEqual compares got and want after a JSON round trip of both.
func telEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	var g any
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &g)
	jsonEqual(t, what, g, want)
}

func wire(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func TestTelemetryPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("pipeline")

	t.Run("needs a user", func(t *testing.T) {
		e := e.with(t)
		e.telPost("", []any{map[string]any{"kind": "job_result", "runtime": "r"}}).expectDetail(http.StatusUnauthorized, "Unauthorized")
		e.telPost("not-a-token", []any{map[string]any{"kind": "job_result", "runtime": "r"}}).expectDetail(http.StatusUnauthorized, "Unauthorized")
		if n := e.telTotal(); n != 0 {
			t.Fatalf("stored %d events", n)
		}
	})

	t.Run("insert and read back", func(t *testing.T) {
		e := e.with(t)
		before := time.Now().UTC().Truncate(time.Microsecond)
		full := map[string]any{
			// What kernelci-pipeline's TelemetryEmitter sends.
			"kind": "job_result", "ts": "2026-03-01T10:20:30.123456+00:00", "runtime": "lava-collabora",
			"device_type": "rk3588-rock-5b", "device_id": "rock-5b-01", "job_name": "baseline-arm64",
			"job_id": "1234", "node_id": "65a1f0c2e4b0a1b2c3d4e5f6", "tree": "mainline", "branch": "master",
			"arch": "arm64", "result": "incomplete", "is_infra_error": true, "error_type": "Infrastructure",
			"error_msg": "device offline", "retry": 2, "extra": map[string]any{"suite": "baseline", "n": 3},
			"unknown_field": "ignored", "id": "0123456789abcdef01234567",
		}
		minimal := map[string]any{"kind": "runtime_error", "runtime": "k8s-gke-eu-west4"}
		r := e.telPost(tok, []any{full, minimal}).expect(http.StatusOK)
		if got := string(bytes.TrimSpace(r.body)); got != `{"inserted":2}` {
			t.Fatalf("answer %s, want {\"inserted\":2}", got)
		}
		after := time.Now().UTC()
		page := e.telGet("/telemetry", "").expect(http.StatusOK)
		if keys := keyOrder(t, page.body); !reflect.DeepEqual(keys, []string{"items", "total", "limit", "offset"}) {
			t.Fatalf("page members %v", keys)
		}
		var p struct {
			Items []json.RawMessage
			Total int
		}
		json.Unmarshal(page.body, &p)
		if p.Total != 2 || len(p.Items) != 2 {
			t.Fatalf("page %s", page.body)
		}
		for _, it := range p.Items {
			if keys := keyOrder(t, it); !reflect.DeepEqual(keys, telemetryFields) {
				t.Fatalf("event members %v, want %v", keys, telemetryFields)
			}
		}
		var got []map[string]any
		for _, it := range p.Items {
			var m map[string]any
			json.Unmarshal(it, &m)
			got = append(got, m)
		}
		if id, _ := got[0]["id"].(string); !hexID.MatchString(id) || id == full["id"] {
			t.Errorf("id %v: want a new 24-hex id", got[0]["id"])
		}
		want := map[string]any{}
		for k, v := range full {
			want[k] = v
		}
		delete(want, "unknown_field")
		want["id"] = got[0]["id"]
		want["ts"] = "2026-03-01T10:20:30.123456"
		want["test_name"] = nil
		telEqual(t, "full event", got[0], want)

		m := got[1]
		ts := wt(t, m["ts"])
		if onMongo(t) { // MongoDB keeps milliseconds
			before = before.Truncate(time.Millisecond)
		}
		if ts.Before(before) || ts.After(after) {
			t.Errorf("default ts %v not between %v and %v", ts, before, after)
		}
		telEqual(t, "minimal event", m, map[string]any{
			"id": m["id"], "ts": m["ts"], "kind": "runtime_error", "runtime": "k8s-gke-eu-west4",
			"device_type": nil, "device_id": nil, "job_name": nil, "test_name": nil, "job_id": nil,
			"node_id": nil, "tree": nil, "branch": nil, "arch": nil, "result": nil, "is_infra_error": false,
			"error_type": nil, "error_msg": nil, "retry": 0.0, "extra": map[string]any{},
		})
	})

	t.Run("lax conversions", func(t *testing.T) {
		e := e.with(t)
		e.telPost(tok, []any{
			map[string]any{"kind": "lax", "runtime": "a", "is_infra_error": "yes", "retry": "7", "ts": 1700000000},
			map[string]any{"kind": "lax", "runtime": "b", "is_infra_error": 1, "retry": 3.0, "ts": "2024-02-01"},
			map[string]any{"kind": "lax", "runtime": "c", "is_infra_error": "off", "retry": true, "device_type": nil, "extra": map[string]any{}},
		}).expect(http.StatusOK)
		items := e.telGet("/telemetry", "kind=lax").expect(http.StatusOK).object()["items"].([]any)
		type row struct {
			infra bool
			retry float64
			ts    string
		}
		var rows []row
		for _, it := range items {
			m := it.(map[string]any)
			rows = append(rows, row{m["is_infra_error"].(bool), m["retry"].(float64), m["ts"].(string)})
		}
		if len(rows) != 3 || rows[0] != (row{true, 7, "2023-11-14T22:13:20.000000"}) ||
			rows[1] != (row{true, 3, "2024-02-01T00:00:00.000000"}) || rows[2].infra || rows[2].retry != 1 {
			t.Fatalf("converted rows %+v", rows)
		}
	})

	t.Run("invalid events store nothing", func(t *testing.T) {
		e := e.with(t)
		before := e.telTotal()
		good := map[string]any{"kind": "job_result", "runtime": "lava"}
		with := func(kv ...any) map[string]any {
			m := map[string]any{"kind": "job_result", "runtime": "lava"}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == "<delete>" {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			return m
		}
		for _, tc := range []struct {
			name  string
			event map[string]any
			want  string // detail prefix after "Invalid telemetry event: "
		}{
			{"no kind", with("kind", "<delete>"), "1 validation error for TelemetryEvent\nkind\n  Field required [type=missing, input_value={'runtime': 'lava'}, input_type=dict]"},
			{"no runtime", with("runtime", "<delete>"), "1 validation error for TelemetryEvent\nruntime\n  Field required [type=missing"},
			{"nothing", map[string]any{}, "2 validation errors for TelemetryEvent\nkind\n  Field required [type=missing, input_value={}, input_type=dict]"},
			{"kind not a string", with("kind", 5), "1 validation error for TelemetryEvent\nkind\n  Input should be a valid string [type=string_type, input_value=5, input_type=int]"},
			{"runtime null", with("runtime", nil), "1 validation error for TelemetryEvent\nruntime\n  Input should be a valid string [type=string_type, input_value=None, input_type=NoneType]"},
			{"device_type not a string", with("device_type", []any{"x"}), "1 validation error for TelemetryEvent\ndevice_type\n  Input should be a valid string [type=string_type"},
			{"bad is_infra_error", with("is_infra_error", "maybe"), "1 validation error for TelemetryEvent\nis_infra_error\n  Input should be a valid boolean, unable to interpret input [type=bool_parsing"},
			{"is_infra_error null", with("is_infra_error", nil), "1 validation error for TelemetryEvent\nis_infra_error\n  Input should be a valid boolean [type=bool_type"},
			{"fractional retry", with("retry", 1.5), "1 validation error for TelemetryEvent\nretry\n  Input should be a valid integer, got a number with a fractional part [type=int_from_float"},
			{"text retry", with("retry", "two"), "1 validation error for TelemetryEvent\nretry\n  Input should be a valid integer, unable to parse string as an integer [type=int_parsing"},
			{"huge retry", with("retry", json.Number("100000000000000000000")), "1 validation error for TelemetryEvent\nretry\n  Unable to parse input string as an integer, exceeded maximum size [type=int_parsing_size"},
			{"retry null", with("retry", nil), "1 validation error for TelemetryEvent\nretry\n  Input should be a valid integer [type=int_type"},
			{"extra not a dict", with("extra", []any{}), "1 validation error for TelemetryEvent\nextra\n  Input should be a valid dictionary [type=dict_type"},
			{"extra null", with("extra", nil), "1 validation error for TelemetryEvent\nextra\n  Input should be a valid dictionary [type=dict_type"},
			{"bad ts", with("ts", "yesterday"), "1 validation error for TelemetryEvent\nts\n  Input should be a valid datetime or date, input is too short [type=datetime_from_date_parsing"},
			{"bad ts date", with("ts", "2024-13-01T00:00:00"), "1 validation error for TelemetryEvent\nts\n  Input should be a valid datetime or date, month value is outside expected range [type=datetime_from_date_parsing"},
			{"ts null", with("ts", nil), "1 validation error for TelemetryEvent\nts\n  Input should be a valid datetime [type=datetime_type"},
			{"bad id", with("id", "nope"), "2 validation errors for TelemetryEvent\nid.is-instance[ObjectId]\n"},
			{"errors in field order", with("retry", "x", "kind", 1, "ts", false), "3 validation errors for TelemetryEvent\nts\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.with(t)
				// The bad event comes after a good one: nothing is stored.
				d := e.telPost(tok, []any{good, tc.event}).expectDetailPrefix(http.StatusBadRequest, "Invalid telemetry event: ")
				if !strings.HasPrefix(d, "Invalid telemetry event: "+tc.want) {
					t.Fatalf("detail %q\nwant prefix %q", d, "Invalid telemetry event: "+tc.want)
				}
				if !strings.Contains(d, "For further information visit https://errors.pydantic.dev/") {
					t.Errorf("detail %q lacks pydantic's help line", d)
				}
			})
		}
		d := e.telPost(tok, []any{with("retry", "x", "kind", 1, "ts", false)}).expectDetailPrefix(http.StatusBadRequest, "Invalid telemetry event: ")
		var locs []string
		for _, line := range strings.Split(d, "\n")[1:] {
			if !strings.HasPrefix(line, " ") {
				locs = append(locs, line)
			}
		}
		if !slices.Equal(locs, []string{"ts", "kind", "retry"}) {
			t.Errorf("error locations %v, want [ts kind retry] (declaration order)", locs)
		}
		e.telPost(tok, []any{}).expectDetail(http.StatusBadRequest, "Events list cannot be empty")
		if n := e.telTotal(); n != before {
			t.Fatalf("refused posts stored events: %d -> %d", before, n)
		}
	})

	t.Run("body shape", func(t *testing.T) {
		e := e.with(t)
		before := e.telTotal()
		for _, tc := range []struct {
			name string
			body any
			locs []string
			typ  string
		}{
			{"object", map[string]any{"kind": "job_result", "runtime": "r"}, []string{"body"}, "list_type"},
			{"string", `"events"`, []string{"body"}, "list_type"},
			{"null", "null", []string{"body"}, "missing"},
			{"not objects", `[{"kind": "a", "runtime": "b"}, 1, "x"]`, []string{"body.1", "body.2"}, "dict_type"},
			{"malformed", `[{"kind": `, []string{"body"}, "json_invalid"},
			{"trailing data", `[] []`, []string{"body"}, "json_invalid"},
			{"empty", "", []string{"body"}, "missing"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.with(t).telPost(tok, tc.body)
				if locs := r.expect422(); !slices.Equal(locs, tc.locs) {
					t.Fatalf("locs %v, want %v", locs, tc.locs)
				}
				if typ := r.object()["detail"].([]any)[0].(map[string]any)["type"]; typ != tc.typ {
					t.Fatalf("type %v, want %s", typ, tc.typ)
				}
			})
		}
		if n := e.telTotal(); n != before {
			t.Fatalf("refused posts stored events: %d -> %d", before, n)
		}
	})

	t.Run("body too large", func(t *testing.T) {
		e := e.with(t)
		big := `[{"kind": "a", "runtime": "b", "error_msg": "` + strings.Repeat("x", 2<<20) + `"}]`
		e.telPost(tok, big).expect(http.StatusRequestEntityTooLarge)
	})
}

// telFixture posts a set of events: results of two runtimes, errors.
func telFixture(t *testing.T, e *env, tok string) time.Time {
	t.Helper()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339Nano) }
	ev := func(m int, kind, runtime string, kv ...any) map[string]any {
		out := map[string]any{"kind": kind, "runtime": runtime, "ts": at(m)}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	e.telPost(tok, []any{
		/* 0 */ ev(0, "job_result", "lava-a", "device_type", "rk3588", "result", "pass", "job_name", "baseline", "tree", "mainline", "arch", "arm64"),
		/* 1 */ ev(1, "job_result", "lava-a", "device_type", "rk3588", "result", "fail", "job_name", "baseline", "tree", "next", "arch", "arm64"),
		/* 2 */ ev(2, "job_result", "lava-a", "device_type", "rk3588", "result", "incomplete", "is_infra_error", true, "job_name", "baseline", "tree", "mainline", "arch", "arm64"),
		/* 3 */ ev(3, "test_result", "lava-a", "device_type", "qemu", "result", "skip", "test_name", "login", "extra", map[string]any{"suite": "boot"}),
		/* 4 */ ev(4, "test_result", "lava-b", "device_type", "rk3588", "result", "pass", "test_name", "login", "extra", map[string]any{"suite": "baseline"}),
		/* 5 */ ev(5, "runtime_error", "lava-b", "error_type", "online_check", "error_msg", "lab offline", "retry", 3),
		/* 6 */ ev(6, "job_skip", "k8s", "error_type", "queue_depth", "job_name", "kbuild-gcc-12-x86"),
		/* 7 */ ev(7, "job_submission", "k8s", "job_name", "kbuild-gcc-12-x86", "arch", "x86_64"),
	}).expect(http.StatusOK)
	return t0
}

// telKinds is "index:kind" of each returned event, for readable failures.
func telRuntimesKinds(items []any) []string {
	out := []string{}
	for _, it := range items {
		m := it.(map[string]any)
		out = append(out, fmt.Sprintf("%s/%s@%s", m["runtime"], m["kind"], m["ts"].(string)[14:16]))
	}
	return out
}

func TestTelemetryGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("pipeline")
	t0 := telFixture(t, e, tok)
	all := telRuntimesKinds(e.telGet("/telemetry", "").expect(http.StatusOK).object()["items"].([]any))
	if len(all) != 8 {
		t.Fatalf("fixture: %v", all)
	}
	pick := func(idx ...int) []string {
		out := []string{}
		for _, i := range idx {
			out = append(out, all[i])
		}
		return out
	}
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", pick(0, 1, 2, 3, 4, 5, 6, 7)},
		{"kind=job_result", pick(0, 1, 2)},
		{"runtime=lava-a&device_type=rk3588", pick(0, 1, 2)},
		{"runtime__in=lava-b,k8s", pick(4, 5, 6, 7)},
		{"runtime__ne=lava-a", pick(4, 5, 6, 7)},
		{"result=null", pick(5, 6, 7)},
		{"job_name__re=^kbuild", pick(6, 7)},
		{"kind=true", pick()}, // string fields are never converted to booleans
		{"retry=3", pick(5)},
		{"retry__gte=1", pick(5)},
		{"extra.suite=boot", pick(3)},
		{q("ts__gte", wire(t0.Add(5*time.Minute))), pick(5, 6, 7)},
		{q("ts__lt", wire(t0.Add(time.Minute))), pick(0)},
		{q("since", wire(t0.Add(6*time.Minute))), pick(6, 7)},
		{q("until", wire(t0.Add(time.Minute))), pick(0, 1)},
		{q("since", t0.Add(2*time.Minute).Format(time.RFC3339), "until", t0.Add(3*time.Minute).Format(time.RFC3339)), pick(2, 3)},
		// An unencoded "+00:00" arrives as " 00:00".
		{"since=" + t0.Add(7*time.Minute).Format("2006-01-02T15:04:05") + "+00:00", pick(7)},
		{"since=2025-06-01T14:06:00%2B02:00", pick(6, 7)},
		{"since=&until=", pick(0, 1, 2, 3, 4, 5, 6, 7)}, // empty values are ignored
		{"is_infra_error=true", pick(2)},
		{"is_infra_error=TRUE", pick(2)},
		{"is_infra_error=false&kind=job_result", pick(0, 1)},
		{"kind=job_result&is_infra_error=False&tree=mainline", pick(0)},
	} {
		t.Run("query="+tc.query, func(t *testing.T) {
			page := e.with(t).telGet("/telemetry", tc.query).expect(http.StatusOK).object()
			got := telRuntimesKinds(page["items"].([]any))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
			if page["total"] != float64(len(tc.want)) {
				t.Fatalf("total %v, want %d", page["total"], len(tc.want))
			}
		})
	}

	t.Run("by id", func(t *testing.T) {
		e := e.with(t)
		items := e.telGet("/telemetry", "kind=job_skip").expect(http.StatusOK).object()["items"].([]any)
		id := items[0].(map[string]any)["id"].(string)
		got := e.telGet("/telemetry", "id="+id).expect(http.StatusOK).object()["items"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["id"] != id {
			t.Fatalf("by id: %v", got)
		}
	})

	t.Run("paging", func(t *testing.T) {
		e := e.with(t)
		for _, tc := range []struct {
			query string
			want  []string
			total float64
			limit float64
			off   float64
		}{
			{"limit=3", pick(0, 1, 2), 8, 3, 0},
			{"limit=3&offset=3", pick(3, 4, 5), 8, 3, 3},
			{"limit=3&offset=6", pick(6, 7), 8, 3, 6},
			{"offset=7", pick(7), 8, 50, 7},
			{"offset=20", pick(), 8, 50, 20},
			{"limit=2&kind=job_result", pick(0, 1), 3, 2, 0},
		} {
			page := e.telGet("/telemetry", tc.query).expect(http.StatusOK).object()
			if got := telRuntimesKinds(page["items"].([]any)); !slices.Equal(got, tc.want) {
				t.Errorf("%s: items %v, want %v", tc.query, got, tc.want)
			}
			if page["total"] != tc.total || page["limit"] != tc.limit || page["offset"] != tc.off {
				t.Errorf("%s: total/limit/offset %v/%v/%v, want %v/%v/%v", tc.query, page["total"], page["limit"], page["offset"], tc.total, tc.limit, tc.off)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := e.with(t)
		for _, v := range []string{"yes", "1", "", "maybe"} {
			e.telGet("/telemetry", "is_infra_error="+v).expectDetail(http.StatusBadRequest, "Bad is_infra_error value, use 'true' or 'false'")
		}
		e.telGet("/telemetry", "is_infra_error=true&is_infra_error=no").expectDetail(http.StatusBadRequest, "Bad is_infra_error value, use 'true' or 'false'")
		e.telGet("/telemetry", "since=yesterday").expectDetail(http.StatusBadRequest, `Invalid query parameter 'since': "yesterday" is not a valid datetime (ISO 8601 expected)`)
		e.telGet("/telemetry", "until=2025-13-01").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'until': ")
		e.telGet("/telemetry", "ts__gte=soon").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'ts__gte': ")
		e.telGet("/telemetry", "retry=two").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'retry': ")
		e.telGet("/telemetry", "id=xyz").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'id': ")
		e.telGet("/telemetry", "kind__bogus=1").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'kind__bogus': ")
		e.telGet("/telemetry", "job_name__re=(").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'job_name__re': ")
		if locs := e.telGet("/telemetry", "limit=0").expect422(); !slices.Equal(locs, []string{"query.limit"}) {
			t.Errorf("limit=0: locs %v", locs)
		}
		if locs := e.telGet("/telemetry", "offset=-1").expect422(); !slices.Equal(locs, []string{"query.offset"}) {
			t.Errorf("offset=-1: locs %v", locs)
		}
		if locs := e.telGet("/telemetry", "limit=x").expect422(); !slices.Equal(locs, []string{"query.limit"}) {
			t.Errorf("limit=x: locs %v", locs)
		}
	})

	t.Run("methods", func(t *testing.T) {
		e := e.with(t)
		e.do(http.MethodDelete, "/latest/telemetry", tok, nil).expect(http.StatusMethodNotAllowed)
		e.do(http.MethodPost, "/latest/telemetry/stats", tok, nil).expect(http.StatusMethodNotAllowed)
	})
}

func TestTelemetryStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("pipeline")
	t0 := telFixture(t, e, tok)

	stats := func(t *testing.T, q string) ([]map[string]any, [][]string) {
		t.Helper()
		r := e.with(t).telGet("/telemetry/stats", q).expect(http.StatusOK)
		var rows []map[string]any
		var orders [][]string
		for _, raw := range rawList(t, r.body) {
			orders = append(orders, keyOrder(t, raw))
			var m map[string]any
			json.Unmarshal(raw, &m)
			rows = append(rows, m)
		}
		return rows, orders
	}
	row := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	counts := []string{"total", "pass", "fail", "incomplete", "skip", "infra_error"}
	c := func(total, pass, fail, incomplete, skip, infra float64) []any {
		return []any{"total", total, "pass", pass, "fail", fail, "incomplete", incomplete, "skip", skip, "infra_error", infra}
	}

	t.Run("by runtime", func(t *testing.T) {
		rows, orders := stats(t, "group_by=runtime")
		telEqual(t, "rows", rows, []map[string]any{
			row(append([]any{"runtime", "lava-a"}, c(4, 1, 1, 1, 1, 1)...)...),
			row(append([]any{"runtime", "k8s"}, c(2, 0, 0, 0, 0, 0)...)...),
			row(append([]any{"runtime", "lava-b"}, c(2, 1, 0, 0, 0, 0)...)...),
		})
		for _, o := range orders {
			if !slices.Equal(o, append([]string{"runtime"}, counts...)) {
				t.Fatalf("member order %v", o)
			}
		}
	})

	t.Run("lab is the runtime", func(t *testing.T) {
		rows, orders := stats(t, "group_by=lab&kind=job_result")
		telEqual(t, "rows", rows, []map[string]any{row(append([]any{"lab", "lava-a"}, c(3, 1, 1, 1, 0, 1)...)...)})
		if !slices.Equal(orders[0], append([]string{"lab"}, counts...)) {
			t.Fatalf("member order %v", orders[0])
		}
		rows, orders = stats(t, "group_by=lab,runtime,lab&lab=lava-b")
		telEqual(t, "rows", rows, []map[string]any{row(append([]any{"lab", "lava-b", "runtime", "lava-b"}, c(2, 1, 0, 0, 0, 0)...)...)})
		if !slices.Equal(orders[0], append([]string{"lab", "runtime"}, counts...)) {
			t.Fatalf("member order %v", orders[0])
		}
		rows, _ = stats(t, "group_by=kind&lab=lava-a&runtime=lava-a&kind=test_result")
		telEqual(t, "rows", rows, []map[string]any{row(append([]any{"kind", "test_result"}, c(1, 0, 0, 0, 1, 0)...)...)})
		e.with(t).telGet("/telemetry/stats", "group_by=kind&lab=lava-a&runtime=lava-b").
			expectDetail(http.StatusBadRequest, "'lab' and 'runtime' must match when both are provided")
	})

	t.Run("several fields and nulls", func(t *testing.T) {
		rows, orders := stats(t, "group_by=device_type,%20runtime&kind__in=ignored")
		telEqual(t, "rows", rows, []map[string]any{
			row(append([]any{"device_type", "rk3588", "runtime", "lava-a"}, c(3, 1, 1, 1, 0, 1)...)...),
			row(append([]any{"device_type", nil, "runtime", "k8s"}, c(2, 0, 0, 0, 0, 0)...)...),
			row(append([]any{"device_type", nil, "runtime", "lava-b"}, c(1, 0, 0, 0, 0, 0)...)...),
			row(append([]any{"device_type", "qemu", "runtime", "lava-a"}, c(1, 0, 0, 0, 1, 0)...)...),
			row(append([]any{"device_type", "rk3588", "runtime", "lava-b"}, c(1, 1, 0, 0, 0, 0)...)...),
		})
		if !slices.Equal(orders[0], append([]string{"device_type", "runtime"}, counts...)) {
			t.Fatalf("member order %v", orders[0])
		}
	})

	t.Run("every group field", func(t *testing.T) {
		rows, orders := stats(t, "group_by=runtime,lab,device_type,device_id,job_name,tree,branch,arch,kind,error_type&kind=runtime_error")
		telEqual(t, "rows", rows, []map[string]any{row(append([]any{"runtime", "lava-b", "lab", "lava-b", "device_type", nil,
			"device_id", nil, "job_name", nil, "tree", nil, "branch", nil, "arch", nil, "kind", "runtime_error", "error_type", "online_check"},
			c(1, 0, 0, 0, 0, 0)...)...)})
		if len(orders[0]) != 16 {
			t.Fatalf("member order %v", orders[0])
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			total float64
		}{
			{"group_by=kind&tree=mainline", 2},
			{"group_by=kind&branch=master", 0},
			{"group_by=kind&arch=arm64&runtime=lava-a", 3},
			{"group_by=kind&device_type=rk3588", 4},
			{"group_by=kind&job_name=baseline", 3},
			{"group_by=kind&device_id=none", 0},
			{"group_by=kind&kind=job_result&kind=job_skip", 1}, // the last value counts, as in the reference
			{"group_by=kind&kind=", 8},                         // empty values are ignored
			{"group_by=kind&result=pass", 8},                   // not a stats filter: ignored, as in the reference
			{"group_by=kind&since=" + url.QueryEscape(wire(t0.Add(5*time.Minute))), 3},
			{"group_by=kind&until=" + url.QueryEscape(wire(t0.Add(time.Minute))), 2},
			{"group_by=kind&since=" + url.QueryEscape(wire(t0.Add(time.Minute))) + "&until=" + url.QueryEscape(wire(t0.Add(time.Minute))), 1},
		} {
			rows, _ := stats(t, tc.query)
			sum := 0.0
			for _, r := range rows {
				sum += r["total"].(float64)
			}
			if sum != tc.total {
				t.Errorf("%s: %v events, want %v (%v)", tc.query, sum, tc.total, rows)
			}
		}
	})

	t.Run("sorted by total", func(t *testing.T) {
		rows, _ := stats(t, "group_by=kind")
		var totals []float64
		for _, r := range rows {
			totals = append(totals, r["total"].(float64))
		}
		if !slices.Equal(totals, []float64{3, 2, 1, 1, 1}) {
			t.Fatalf("totals %v", totals)
		}
		// Ties come in key order.
		if rows[2]["kind"] != "job_skip" || rows[3]["kind"] != "job_submission" || rows[4]["kind"] != "runtime_error" {
			t.Fatalf("tie order %v", rows)
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := e.with(t)
		e.telGet("/telemetry/stats", "").expectDetail(http.StatusBadRequest, "'group_by' parameter is required")
		e.telGet("/telemetry/stats", "group_by=").expectDetail(http.StatusBadRequest, "'group_by' parameter is required")
		e.telGet("/telemetry/stats", "kind=job_result").expectDetail(http.StatusBadRequest, "'group_by' parameter is required")
		e.telGet("/telemetry/stats", "group_by=bogus").expectDetail(http.StatusBadRequest, "Invalid group_by fields: {'bogus'}")
		e.telGet("/telemetry/stats", "group_by=runtime,zz,result,zz").expectDetail(http.StatusBadRequest, "Invalid group_by fields: {'result', 'zz'}")
		e.telGet("/telemetry/stats", "group_by=runtime,").expectDetail(http.StatusBadRequest, "Invalid group_by fields: {''}")
		e.telGet("/telemetry/stats", "group_by=test_name").expectDetail(http.StatusBadRequest, "Invalid group_by fields: {'test_name'}")
		e.telGet("/telemetry/stats", "group_by=kind&since=yesterday").expectDetail(http.StatusBadRequest, `Invalid query parameter 'since': "yesterday" is not a valid datetime (ISO 8601 expected)`)
		e.telGet("/telemetry/stats", "group_by=kind&until=x").expectDetailPrefix(http.StatusBadRequest, "Invalid query parameter 'until': ")
	})

	t.Run("empty", func(t *testing.T) {
		r := e.with(t).telGet("/telemetry/stats", "group_by=kind&runtime=none").expect(http.StatusOK)
		if string(bytes.TrimSpace(r.body)) != "[]" {
			t.Fatalf("body %s, want []", r.body)
		}
	})
}

func TestTelemetryAnomalies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("pipeline")
	now := time.Now().UTC()
	ago := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339Nano) }
	ev := func(d time.Duration, kind, runtime string, kv ...any) map[string]any {
		out := map[string]any{"kind": kind, "runtime": runtime, "ts": ago(d)}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	m := time.Minute
	e.telPost(tok, []any{
		// lava-a/rk3588: 1 pass, 1 fail, 2 infra incompletes -> infra 0.5, fail 0.75.
		ev(50*m, "job_result", "lava-a", "device_type", "rk3588", "device_id", "rk-1", "result", "pass"),
		ev(40*m, "job_result", "lava-a", "device_type", "rk3588", "device_id", "rk-1", "result", "fail", "error_type", "Test", "error_msg", "failed"),
		ev(30*m, "job_result", "lava-a", "device_type", "rk3588", "device_id", "rk-2", "result", "incomplete", "is_infra_error", true, "error_type", "Infrastructure", "error_msg", "no device"),
		ev(20*m, "test_result", "lava-a", "device_type", "rk3588", "device_id", "rk-2", "result", "incomplete", "is_infra_error", true, "error_type", "Bootloader", "error_msg", "u-boot hang"),
		// lava-a/qemu: healthy.
		ev(50*m, "test_result", "lava-a", "device_type", "qemu", "result", "pass"),
		ev(40*m, "test_result", "lava-a", "device_type", "qemu", "result", "pass"),
		ev(30*m, "test_result", "lava-a", "device_type", "qemu", "result", "pass"),
		// lava-b/bbb: always failing; one more failure 10 hours ago.
		ev(3*time.Hour, "job_result", "lava-b", "device_type", "bbb", "device_id", "", "result", "fail"),
		ev(2*time.Hour, "job_result", "lava-b", "device_type", "bbb", "device_id", "", "result", "fail"),
		ev(90*m, "job_result", "lava-b", "device_type", "bbb", "result", "fail", "error_type", "Job", "error_msg", "timeout"),
		ev(10*time.Hour, "job_result", "lava-b", "device_type", "bbb", "result", "fail"),
		// lava-c/odroid: 1 infra of 3, 2 failures -> infra 0.333, fail 0.667.
		ev(10*m, "job_result", "lava-c", "device_type", "odroid", "device_id", "od-1", "result", "incomplete", "is_infra_error", true),
		ev(9*m, "job_result", "lava-c", "device_type", "odroid", "device_id", "od-1", "result", "pass"),
		ev(8*m, "job_result", "lava-c", "device_type", "odroid", "device_id", "od-1", "result", "fail"),
		// lava-d: only two events.
		ev(5*m, "job_result", "lava-d", "device_type", "x15", "result", "fail"),
		ev(4*m, "job_result", "lava-d", "device_type", "x15", "result", "fail"),
		// Errors: lava-b online_check x3, k8s queue_depth x1 (and one old).
		ev(30*m, "runtime_error", "lava-b", "error_type", "online_check"),
		ev(20*m, "runtime_error", "lava-b", "error_type", "online_check"),
		ev(10*m, "job_skip", "lava-b", "error_type", "online_check"),
		ev(10*m, "job_skip", "k8s", "error_type", "queue_depth"),
		ev(30*time.Hour, "job_skip", "k8s", "error_type", "queue_depth"),
		ev(30*time.Hour, "job_skip", "k8s", "error_type", "queue_depth"),
		// Not an anomaly kind.
		ev(10*m, "job_submission", "lava-a", "device_type", "rk3588", "result", "fail"),
	}).expect(http.StatusOK)

	type answer struct {
		raw     []byte
		top     map[string]any
		results []map[string]any
		errors  []map[string]any
		orders  [][]string
	}
	get := func(t *testing.T, q string) answer {
		t.Helper()
		r := e.with(t).telGet("/telemetry/anomalies", q).expect(http.StatusOK)
		a := answer{raw: r.body, top: r.object()}
		if keys := keyOrder(t, r.body); !slices.Equal(keys, []string{"window", "threshold", "min_total", "scope", "since", "result_anomalies", "error_anomalies"}) {
			t.Fatalf("members %v", keys)
		}
		var parts struct {
			Result json.RawMessage `json:"result_anomalies"`
			Error  json.RawMessage `json:"error_anomalies"`
		}
		json.Unmarshal(r.body, &parts)
		for _, raw := range rawList(t, parts.Result) {
			a.orders = append(a.orders, keyOrder(t, raw))
			var m map[string]any
			json.Unmarshal(raw, &m)
			a.results = append(a.results, m)
		}
		for _, raw := range rawList(t, parts.Error) {
			var m map[string]any
			json.Unmarshal(raw, &m)
			a.errors = append(a.errors, m)
		}
		return a
	}
	groupsOf := func(rows []map[string]any, fields ...string) []string {
		out := []string{}
		for _, r := range rows {
			var parts []string
			for _, f := range fields {
				parts = append(parts, fmt.Sprint(r[f]))
			}
			out = append(out, strings.Join(parts, "/"))
		}
		return out
	}
	resultFields := []string{"runtime", "lab", "device_type", "total", "pass", "fail", "incomplete", "skip", "infra_error",
		"infra_rate", "fail_rate", "constant_failure", "constant_infra_failure", "last_seen", "latest_error_type", "latest_error_msg"}

	t.Run("defaults", func(t *testing.T) {
		before := time.Now().UTC()
		a := get(t, "")
		after := time.Now().UTC()
		if a.top["window"] != "6h" || a.top["threshold"] != 0.5 || a.top["min_total"] != 3.0 || a.top["scope"] != "device_type" {
			t.Fatalf("parameters %v", a.top)
		}
		since := wt(t, a.top["since"])
		if since.Before(before.Add(-6*time.Hour).Truncate(time.Microsecond)) || since.After(after.Add(-6*time.Hour)) {
			t.Fatalf("since %v, want six hours before now", since)
		}
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-a/rk3588", "lava-c/odroid", "lava-b/bbb"}) {
			t.Fatalf("result anomalies %v", got)
		}
		for _, o := range a.orders {
			if !slices.Equal(o, resultFields) {
				t.Fatalf("member order %v, want %v", o, resultFields)
			}
		}
		telEqual(t, "lava-a", a.results[0], map[string]any{
			"runtime": "lava-a", "lab": "lava-a", "device_type": "rk3588",
			"total": 4, "pass": 1, "fail": 1, "incomplete": 2, "skip": 0, "infra_error": 2,
			"infra_rate": 0.5, "fail_rate": 0.75, "constant_failure": false, "constant_infra_failure": false,
			"last_seen": wire(now.Add(-20 * m)), "latest_error_type": "Bootloader", "latest_error_msg": "u-boot hang",
		})
		telEqual(t, "lava-c", a.results[1], map[string]any{
			"runtime": "lava-c", "lab": "lava-c", "device_type": "odroid",
			"total": 3, "pass": 1, "fail": 1, "incomplete": 1, "skip": 0, "infra_error": 1,
			"infra_rate": 0.333, "fail_rate": 0.667, "constant_failure": false, "constant_infra_failure": false,
			"last_seen": wire(now.Add(-8 * m)), "latest_error_type": nil, "latest_error_msg": nil,
		})
		telEqual(t, "lava-b", a.results[2], map[string]any{
			"runtime": "lava-b", "lab": "lava-b", "device_type": "bbb",
			"total": 3, "pass": 0, "fail": 3, "incomplete": 0, "skip": 0, "infra_error": 0,
			"infra_rate": 0.0, "fail_rate": 1.0, "constant_failure": true, "constant_infra_failure": false,
			"last_seen": wire(now.Add(-90 * m)), "latest_error_type": "Job", "latest_error_msg": "timeout",
		})
		// Python writes floats with a decimal point.
		for _, s := range []string{`"threshold":0.5`, `"infra_rate":0.0`, `"fail_rate":1.0`, `"infra_rate":0.333`} {
			if !bytes.Contains(a.raw, []byte(s)) {
				t.Errorf("body lacks %s: %s", s, a.raw)
			}
		}
		telEqual(t, "error anomalies", a.errors, []map[string]any{{"runtime": "lava-b", "error_type": "online_check", "count": 3}})
		if !bytes.Contains(a.raw, []byte(`{"runtime":"lava-b","error_type":"online_check","count":3}`)) {
			t.Errorf("error anomaly members out of order: %s", a.raw)
		}
	})

	t.Run("window", func(t *testing.T) {
		a := get(t, "window=1h")
		// lava-b's failures are older than an hour; lava-a/rk3588 keeps 4.
		if got := groupsOf(a.results, "runtime", "device_type", "total"); !slices.Equal(got, []string{"lava-a/rk3588/4", "lava-c/odroid/3"}) {
			t.Fatalf("1h: %v", got)
		}
		a = get(t, "window=12h")
		if got := groupsOf(a.results, "runtime", "device_type", "total"); !slices.Equal(got, []string{"lava-a/rk3588/4", "lava-c/odroid/3", "lava-b/bbb/4"}) {
			t.Fatalf("12h: %v", got)
		}
		if a.top["window"] != "12h" {
			t.Fatalf("window %v", a.top["window"])
		}
		a = get(t, "window=48h&min_total=3")
		telEqual(t, "48h errors", a.errors, []map[string]any{
			{"runtime": "k8s", "error_type": "queue_depth", "count": 3},
			{"runtime": "lava-b", "error_type": "online_check", "count": 3},
		})
		for _, w := range []string{"3h", "24h"} {
			if a := get(t, "window="+w); a.top["window"] != w {
				t.Fatalf("window %v", a.top["window"])
			}
		}
	})

	t.Run("threshold", func(t *testing.T) {
		a := get(t, "threshold=1")
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-b/bbb"}) {
			t.Fatalf("threshold 1: %v", got)
		}
		if !bytes.Contains(a.raw, []byte(`"threshold":1.0`)) {
			t.Errorf("threshold not written as 1.0: %s", a.raw)
		}
		a = get(t, "threshold=0")
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-a/rk3588", "lava-c/odroid", "lava-b/bbb", "lava-a/qemu"}) {
			t.Fatalf("threshold 0: %v", got)
		}
		a = get(t, "threshold=0.7")
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-a/rk3588", "lava-b/bbb"}) {
			t.Fatalf("threshold 0.7: %v", got)
		}
		a = get(t, "threshold=%200.75%20")
		if a.top["threshold"] != 0.75 {
			t.Fatalf("threshold %v", a.top["threshold"])
		}
	})

	t.Run("min_total", func(t *testing.T) {
		a := get(t, "min_total=2")
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-a/rk3588", "lava-c/odroid", "lava-b/bbb", "lava-d/x15"}) {
			t.Fatalf("min_total 2: %v", got)
		}
		a = get(t, "min_total=1")
		telEqual(t, "errors", a.errors, []map[string]any{
			{"runtime": "lava-b", "error_type": "online_check", "count": 3},
			{"runtime": "k8s", "error_type": "queue_depth", "count": 1},
		})
		a = get(t, "min_total=4")
		if got := groupsOf(a.results, "runtime", "device_type"); !slices.Equal(got, []string{"lava-a/rk3588"}) || len(a.errors) != 0 {
			t.Fatalf("min_total 4: %v %v", got, a.errors)
		}
		if a.top["min_total"] != 4.0 {
			t.Fatalf("min_total %v", a.top["min_total"])
		}
	})

	t.Run("scope device", func(t *testing.T) {
		a := get(t, "scope=device&min_total=1&threshold=0")
		// Job results only, with a device_id: the test result of rk-2
		// and lava-b's events without one do not count.
		if got := groupsOf(a.results, "runtime", "device_id", "total"); !slices.Equal(got, []string{"lava-a/rk-2/1", "lava-c/od-1/3", "lava-a/rk-1/2"}) {
			t.Fatalf("scope device: %v", got)
		}
		want := append(resultFields[:3:3], "device_id")
		want = append(want, resultFields[3:]...)
		for _, o := range a.orders {
			if !slices.Equal(o, want) {
				t.Fatalf("member order %v, want %v", o, want)
			}
		}
		if a.top["scope"] != "device" {
			t.Fatalf("scope %v", a.top["scope"])
		}
		if r := a.results[0]; r["constant_infra_failure"] != true || r["infra_rate"] != 1.0 || r["latest_error_type"] != "Infrastructure" {
			t.Fatalf("rk-2: %v", r)
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := e.with(t)
		for _, w := range []string{"2h", "", "6H", "1d"} {
			e.telGet("/telemetry/anomalies", "window="+w).expectDetail(http.StatusBadRequest, "Invalid window '"+w+"'. Use: 1h, 3h, 6h, 12h, 24h, 48h")
		}
		check := func(q string, want ...string) {
			t.Helper()
			r := e.telGet("/telemetry/anomalies", q)
			locs := r.expect422()
			var got []string
			for i, d := range r.object()["detail"].([]any) {
				got = append(got, locs[i]+":"+d.(map[string]any)["type"].(string))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: errors %v, want %v", q, got, want)
			}
		}
		check("threshold=abc", "query.threshold:float_parsing")
		check("threshold=", "query.threshold:float_parsing")
		check("threshold=0x1p-2", "query.threshold:float_parsing")
		check("threshold=1.5", "query.threshold:less_than_equal")
		check("threshold=inf", "query.threshold:less_than_equal")
		check("threshold=-0.1", "query.threshold:greater_than_equal")
		check("threshold=nan", "query.threshold:greater_than_equal")
		check("min_total=0", "query.min_total:greater_than_equal")
		check("min_total=-3", "query.min_total:greater_than_equal")
		check("min_total=two", "query.min_total:int_parsing")
		check("min_total=1.5", "query.min_total:int_parsing")
		check("scope=lab", "query.scope:string_pattern_mismatch")
		check("scope=", "query.scope:string_pattern_mismatch")
		// Every bad parameter at once, before the window is looked at.
		check("window=bad&threshold=2&min_total=0&scope=devices",
			"query.threshold:less_than_equal", "query.min_total:greater_than_equal", "query.scope:string_pattern_mismatch")

		r := e.telGet("/telemetry/anomalies", "threshold=2")
		r.expect422()
		telEqual(t, "threshold error", r.object()["detail"], []map[string]any{{"type": "less_than_equal", "loc": []any{"query", "threshold"},
			"msg": "Input should be less than or equal to 1", "input": "2", "ctx": map[string]any{"le": 1.0}}})
		if !bytes.Contains(r.body, []byte(`"ctx":{"le":1.0}`)) {
			t.Errorf("ctx not written as a float: %s", r.body)
		}
		r = e.telGet("/telemetry/anomalies", "min_total=0")
		r.expect422()
		telEqual(t, "min_total error", r.object()["detail"], []map[string]any{{"type": "greater_than_equal", "loc": []any{"query", "min_total"},
			"msg": "Input should be greater than or equal to 1", "input": "0", "ctx": map[string]any{"ge": 1}}})
		r = e.telGet("/telemetry/anomalies", "scope=x")
		r.expect422()
		telEqual(t, "scope error", r.object()["detail"], []map[string]any{{"type": "string_pattern_mismatch", "loc": []any{"query", "scope"},
			"msg": "String should match pattern '^(device_type|device)$'", "input": "x", "ctx": map[string]any{"pattern": "^(device_type|device)$"}}})
	})
}
