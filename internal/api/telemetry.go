package api

// Telemetry: bulk insert, query, statistics and anomaly detection over
// pipeline telemetry events, as the reference's /telemetry endpoints.
// Writes need a user; reads are public like the other read endpoints.

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/telemetry"
)

// telemetrySchema is the query schema of GET /telemetry: the string fields
// stay strings, ts is a datetime, retry an integer, id an ObjectId.
// is_infra_error, since and until are handled before query.Parse.
var telemetrySchema = func() query.Schema {
	s := query.Schema{
		Types: map[string]query.FieldType{
			"id":    query.TypeObjectID,
			"ts":    query.TypeTime,
			"retry": query.TypeInt,
		},
		Skip: []string{"limit", "offset", "since", "until", "is_infra_error"},
	}
	for _, f := range model.TelemetryStringFields {
		s.Types[f] = query.TypeString
	}
	return s
}()

// postTelemetry inserts a list of events, all or none: the body must be a
// JSON list of objects (422 otherwise, as FastAPI's List[dict]); an empty
// list or an event the model rejects is a 400.
func (s *Server) postTelemetry(w http.ResponseWriter, r *http.Request) error {
	tl := s.store
	b, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return bodyError("missing", "Field required", nil)
	}
	if err := checkDepth(r, b); err != nil {
		return err
	}
	var v any
	if err := model.DecodeJSON(b, &v); err != nil {
		return bodyError("json_invalid", "JSON decode error: "+err.Error(), nil)
	}
	if v == nil { // FastAPI reads a JSON null body as no body
		return bodyError("missing", "Field required", nil)
	}
	list, ok := v.([]any)
	if !ok {
		return bodyError("list_type", "Input should be a valid list", v)
	}
	ve := &model.ValidationError{}
	raws := make([]map[string]any, len(list))
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			ve.Errors = append(ve.Errors, model.FieldError{Type: "dict_type", Loc: []any{"body", i},
				Msg: "Input should be a valid dictionary", Input: it})
			continue
		}
		raws[i] = m
	}
	if len(ve.Errors) > 0 {
		return ve
	}
	if len(list) == 0 {
		return badRequest("Events list cannot be empty")
	}
	now := s.now()
	evs := make([]*model.TelemetryEvent, len(raws))
	for i, raw := range raws {
		ev, err := model.DecodeTelemetryEvent(raw, now)
		if err != nil {
			return badRequest("Invalid telemetry event: " + err.Error())
		}
		evs[i] = ev
	}
	if err := tl.InsertTelemetry(r.Context(), evs); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"inserted": len(evs)})
}

// lastQueryValue is the last value of a query parameter (what Starlette's
// dict(request.query_params) keeps) and whether it was given.
func lastQueryValue(q url.Values, name string) (string, bool) {
	v := q[name]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// telemetryTimeRange turns the since and until parameters into ts conditions;
// empty values are ignored, as in the reference.
func telemetryTimeRange(q url.Values) ([]query.Cond, error) {
	var conds []query.Cond
	for _, p := range []struct {
		name string
		op   query.Op
	}{{"since", query.Gte}, {"until", query.Lte}} {
		v, _ := lastQueryValue(q, p.name)
		if v == "" {
			continue
		}
		t, err := isotime.Parse(v)
		if err != nil {
			return nil, &query.Error{Param: p.name, Msg: fmt.Sprintf("%q is not a valid datetime (ISO 8601 expected)", v)}
		}
		conds = append(conds, query.Cond{Field: "ts", Op: p.op, Value: t.Truncate(time.Microsecond)})
	}
	return conds, nil
}

// getTelemetry is the paginated event query: any field filter, since and
// until on ts, is_infra_error as true or false.
func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) error {
	tl := s.store
	p, err := pageParams(r, 50, 1)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var extra []query.Cond
	for _, v := range q["is_infra_error"] {
		switch strings.ToLower(v) {
		case "true":
			extra = append(extra, query.Cond{Field: "is_infra_error", Op: query.Eq, Value: true})
		case "false":
			extra = append(extra, query.Cond{Field: "is_infra_error", Op: query.Eq, Value: false})
		default:
			return badRequest("Bad is_infra_error value, use 'true' or 'false'")
		}
	}
	ts, err := telemetryTimeRange(q)
	if err != nil {
		return err
	}
	f, err := s.parseQuery(q, telemetrySchema)
	if err != nil {
		return err
	}
	release, err := s.admitHeavy(r.Context(), f)
	if err != nil {
		return err
	}
	defer release()
	return writePage(w, r, f.And(append(extra, ts...)...), p, tl.FindTelemetry, tl.CountTelemetry, nil)
}

// pySetRepr renders names like a Python set of strings (sorted, as Python's
// own order is arbitrary).
func pySetRepr(names []string) string {
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = model.PyRepr(n)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// getTelemetryStats counts events per group: group_by (required) names
// the fields, the match fields, lab (the runtime) and since/until filter.
// Groups come sorted by total, largest first (ties by key).
func (s *Server) getTelemetryStats(w http.ResponseWriter, r *http.Request) error {
	tl := s.store
	q := r.URL.Query()
	gb, _ := lastQueryValue(q, "group_by")
	if gb == "" {
		return badRequest("'group_by' parameter is required")
	}
	var names, invalid []string
	for _, f := range strings.Split(gb, ",") {
		f = strings.TrimSpace(f)
		names = append(names, f)
		if !slices.Contains(telemetry.GroupFields, f) && !slices.Contains(invalid, f) {
			invalid = append(invalid, f)
		}
	}
	if len(invalid) > 0 {
		return badRequest("Invalid group_by fields: " + pySetRepr(invalid))
	}
	var f query.Filter
	match := map[string]string{}
	for _, k := range telemetry.MatchFields {
		if v, _ := lastQueryValue(q, k); v != "" {
			match[k] = v
		}
	}
	if lab, _ := lastQueryValue(q, "lab"); lab != "" {
		if rt, ok := match["runtime"]; ok && rt != lab {
			return badRequest("'lab' and 'runtime' must match when both are provided")
		}
		match["runtime"] = lab
	}
	for _, k := range telemetry.MatchFields {
		if v, ok := match[k]; ok {
			f.Conds = append(f.Conds, query.Cond{Field: k, Op: query.Eq, Value: v})
		}
	}
	ts, err := telemetryTimeRange(q)
	if err != nil {
		return err
	}
	rows, err := telemetry.Stats(r.Context(), tl, names, f.And(ts...))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rows)
}

const telemetryScopePattern = "^(device_type|device)$"

// telemetryAnomalyParams validates threshold, min_total and scope the way FastAPI
// validates the reference's Query parameters: every error in one 422.
func telemetryAnomalyParams(q url.Values) (threshold float64, minTotal int64, scope string, err error) {
	ve := &model.ValidationError{}
	add := func(name, typ, msg string, input any, ctx map[string]any) {
		ve.Errors = append(ve.Errors, model.FieldError{Type: typ, Loc: []any{"query", name}, Msg: msg, Input: input, Ctx: ctx})
	}
	threshold, minTotal, scope = 0.5, 3, "device_type"
	if v, ok := lastQueryValue(q, "threshold"); ok {
		t, perr := parseQueryFloat(v)
		switch {
		case perr != nil:
			add("threshold", "float_parsing", "Input should be a valid number, unable to parse string as a number", v, nil)
		case !(t >= 0):
			add("threshold", "greater_than_equal", "Input should be greater than or equal to 0", v, map[string]any{"ge": model.PyFloat(0)})
		case !(t <= 1):
			add("threshold", "less_than_equal", "Input should be less than or equal to 1", v, map[string]any{"le": model.PyFloat(1)})
		default:
			threshold = t
		}
	}
	if v, ok := lastQueryValue(q, "min_total"); ok {
		n, perr := parseQueryInt64(v)
		switch {
		case perr != nil:
			add("min_total", "int_parsing", "Input should be a valid integer, unable to parse string as an integer", v, nil)
		case n < 1:
			add("min_total", "greater_than_equal", "Input should be greater than or equal to 1", v, map[string]any{"ge": 1})
		default:
			minTotal = n
		}
	}
	if v, ok := lastQueryValue(q, "scope"); ok {
		if v != "device_type" && v != "device" {
			add("scope", "string_pattern_mismatch", "String should match pattern '"+telemetryScopePattern+"'", v, map[string]any{"pattern": telemetryScopePattern})
		} else {
			scope = v
		}
	}
	if len(ve.Errors) > 0 {
		return 0, 0, "", ve
	}
	return threshold, minTotal, scope, nil
}

// parseQueryFloat reads a float the way pydantic does from a string: decimal
// or exponent notation, inf and nan, surrounding whitespace allowed.
func parseQueryFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "xX_pP") {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseFloat(s, 64)
}

// parseQueryInt64 reads an integer the way pydantic does from a string
// (surrounding whitespace and a sign allowed). Values beyond 64 bits,
// which Python keeps, saturate.
func parseQueryInt64(s string) (int64, error) {
	s = strings.TrimSpace(s)
	d := strings.TrimLeft(s, "+-")
	if d == "" || len(s)-len(d) > 1 || strings.Trim(d, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // out of range
		if s[0] == '-' {
			return math.MinInt64, nil
		}
		return math.MaxInt64, nil
	}
	return n, nil
}

// getTelemetryAnomalies flags, within the window: runtime + device type
// (or physical device, scope=device) groups of job and test results whose
// infra error rate or failure rate (fail + incomplete) reaches threshold,
// with at least min_total events; and runtime + error type groups of
// runtime errors and job skips with at least min_total events.
func (s *Server) getTelemetryAnomalies(w http.ResponseWriter, r *http.Request) error {
	tl := s.store
	q := r.URL.Query()
	threshold, minTotal, scope, err := telemetryAnomalyParams(q)
	if err != nil {
		return err
	}
	window := "6h"
	if v, ok := lastQueryValue(q, "window"); ok {
		window = v
	}
	win, ok := telemetry.WindowNamed(window)
	if !ok {
		names := make([]string, len(telemetry.Windows))
		for i, w := range telemetry.Windows {
			names[i] = w.Name
		}
		return badRequest(fmt.Sprintf("Invalid window '%s'. Use: %s", window, strings.Join(names, ", ")))
	}
	since := model.T(s.now().Add(-time.Duration(win.Hours) * time.Hour))
	results, errs, err := telemetry.Anomalies(r.Context(), tl, telemetry.AnomalyOptions{
		Since: since.Time, Threshold: threshold, MinTotal: minTotal, Scope: scope})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, telemetry.Object{
		{Key: "window", Value: window},
		{Key: "threshold", Value: model.PyFloat(threshold)},
		{Key: "min_total", Value: minTotal},
		{Key: "scope", Value: scope},
		{Key: "since", Value: since},
		{Key: "result_anomalies", Value: results},
		{Key: "error_anomalies", Value: errs},
	})
}
