// Package telemetry computes what the /telemetry endpoints answer from the
// store's telemetry groups: counts per group (Stats) and the runtimes and
// devices that fail (Anomalies), sorted and rounded as the reference
// API does. It knows nothing of HTTP: the handlers parse the parameters
// and render the rows.
package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// GroupFields are the group_by fields of Stats; "lab" is the runtime
// under another name (LAVA runtimes are one per lab).
var GroupFields = []string{"runtime", "lab", "device_type", "device_id", "job_name", "tree", "branch", "arch", "kind", "error_type"}

// MatchFields are the exact-match filters of GET /telemetry/stats.
var MatchFields = []string{"kind", "runtime", "device_type", "device_id", "job_name", "tree", "branch", "arch"}

// Window is a time window of Anomalies.
type Window struct {
	Name  string
	Hours int
}

// Windows are the accepted windows, in the reference's order.
var Windows = []Window{{"1h", 1}, {"3h", 3}, {"6h", 6}, {"12h", 12}, {"24h", 24}, {"48h", 48}}

// WindowNamed returns the window called name.
func WindowNamed(name string) (Window, bool) {
	i := slices.IndexFunc(Windows, func(w Window) bool { return w.Name == name })
	if i < 0 {
		return Window{}, false
	}
	return Windows[i], true
}

// Object is a JSON object whose members keep their order (the reference
// builds its answers as Python dicts, which do).
type Object []Member

// Member is a member of an Object.
type Member struct {
	Key   string
	Value any
}

// MarshalJSON implements json.Marshaler.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Stats counts the events f matches per group of the fields names (among
// GroupFields; repeats are dropped): one row per group, with a member
// per field then the counts, largest total first (ties by key, null
// first).
func Stats(ctx context.Context, tl store.Telemetry, names []string, f query.Filter) ([]Object, error) {
	p := newPlan(names)
	groups, err := tl.GroupTelemetry(ctx, f, p.by)
	if err != nil {
		return nil, err
	}
	sortByTotal(groups)
	out := make([]Object, 0, len(groups))
	for _, g := range groups {
		out = append(out, append(p.members(g), counts(g)...))
	}
	return out, nil
}

// Scopes of Anomalies: groups by device type, or by physical device (job
// results only).
const (
	ScopeDeviceType = "device_type"
	ScopeDevice     = "device"
)

// AnomalyOptions select the anomalies.
type AnomalyOptions struct {
	Since     time.Time // start of the window
	Threshold float64   // rate from which a group is reported, 0 to 1
	MinTotal  int64     // smallest group reported
	Scope     string    // ScopeDeviceType or ScopeDevice
}

// Anomalies finds, among the events since o.Since: the runtime + device
// type (or device) groups of job and test results whose infrastructure
// error rate or failure rate (fail + incomplete) reaches o.Threshold, by
// rate; and the runtime + error type groups of runtime errors and job
// skips, by count. Groups smaller than o.MinTotal are left out.
func Anomalies(ctx context.Context, tl store.Telemetry, o AnomalyOptions) (results, errs []Object, err error) {
	if results, err = resultAnomalies(ctx, tl, o); err != nil {
		return nil, nil, err
	}
	if errs, err = errorAnomalies(ctx, tl, o); err != nil {
		return nil, nil, err
	}
	return results, errs, nil
}

func resultAnomalies(ctx context.Context, tl store.Telemetry, o AnomalyOptions) ([]Object, error) {
	f := query.Filter{Conds: []query.Cond{{Field: "ts", Op: query.Gte, Value: o.Since}}}
	names := []string{"runtime", "lab", "device_type"}
	if o.Scope == ScopeDevice {
		// Device health from job results only: per-test events would
		// dilute boot and infrastructure failure rates.
		f = f.And(query.Cond{Field: "kind", Op: query.Eq, Value: "job_result"},
			query.Cond{Field: "device_id", Op: query.Nin, Value: []any{nil, ""}})
		names = append(names, "device_id")
	} else {
		f = f.And(query.Cond{Field: "kind", Op: query.In, Value: []any{"job_result", "test_result"}})
	}
	p := newPlan(names)
	groups, err := tl.GroupTelemetry(ctx, f, p.by)
	if err != nil {
		return nil, err
	}
	type flagged struct {
		g                   store.TelemetryGroup
		infraRate, failRate float64
	}
	var hits []flagged
	for _, g := range groups {
		if g.Total < o.MinTotal {
			continue
		}
		infra := float64(g.InfraError) / float64(g.Total)
		fail := float64(g.Fail+g.Incomplete) / float64(g.Total)
		if infra >= o.Threshold || fail >= o.Threshold {
			hits = append(hits, flagged{g, infra, fail})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.infraRate != b.infraRate {
			return a.infraRate > b.infraRate
		}
		if a.failRate != b.failRate {
			return a.failRate > b.failRate
		}
		return keyLess(a.g.Key, b.g.Key)
	})
	out := make([]Object, 0, len(hits))
	for _, h := range hits {
		g := h.g
		row := append(p.members(g), counts(g)...)
		out = append(out, append(row,
			Member{"infra_rate", model.PyFloat(round3(h.infraRate))},
			Member{"fail_rate", model.PyFloat(round3(h.failRate))},
			Member{"constant_failure", g.Pass == 0 && g.Fail+g.Incomplete == g.Total},
			Member{"constant_infra_failure", g.InfraError == g.Total},
			Member{"last_seen", model.T(g.LastSeen)},
			Member{"latest_error_type", g.LatestErrorType},
			Member{"latest_error_msg", g.LatestErrorMsg},
		))
	}
	return out, nil
}

// errorAnomalies are the submission and connectivity errors per runtime.
func errorAnomalies(ctx context.Context, tl store.Telemetry, o AnomalyOptions) ([]Object, error) {
	f := query.Filter{Conds: []query.Cond{
		{Field: "kind", Op: query.In, Value: []any{"runtime_error", "job_skip"}},
		{Field: "ts", Op: query.Gte, Value: o.Since},
	}}
	p := newPlan([]string{"runtime", "error_type"})
	groups, err := tl.GroupTelemetry(ctx, f, p.by)
	if err != nil {
		return nil, err
	}
	groups = slices.DeleteFunc(groups, func(g store.TelemetryGroup) bool { return g.Total < o.MinTotal })
	sortByTotal(groups)
	out := make([]Object, 0, len(groups))
	for _, g := range groups {
		out = append(out, append(p.members(g), Member{"count", g.Total}))
	}
	return out, nil
}

// plan maps output fields onto the store's grouping fields: by is what
// the store groups on (no repeats), idx[i] the position in by of the
// output field names[i].
type plan struct {
	names []string
	by    []string
	idx   []int
}

func newPlan(names []string) plan {
	p := plan{}
	for _, n := range names {
		if slices.Contains(p.names, n) {
			continue
		}
		sf := n
		if n == "lab" {
			sf = "runtime"
		}
		j := slices.Index(p.by, sf)
		if j < 0 {
			j = len(p.by)
			p.by = append(p.by, sf)
		}
		p.names = append(p.names, n)
		p.idx = append(p.idx, j)
	}
	return p
}

// members returns the group's key as output members, in order.
func (p plan) members(g store.TelemetryGroup) Object {
	o := make(Object, 0, len(p.names)+12)
	for i, n := range p.names {
		o = append(o, Member{n, g.Key[p.idx[i]]})
	}
	return o
}

func counts(g store.TelemetryGroup) Object {
	return Object{
		{"total", g.Total}, {"pass", g.Pass}, {"fail", g.Fail},
		{"incomplete", g.Incomplete}, {"skip", g.Skip}, {"infra_error", g.InfraError},
	}
}

// sortByTotal orders groups by total, largest first, then by key.
func sortByTotal(groups []store.TelemetryGroup) {
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].Total != groups[j].Total {
			return groups[i].Total > groups[j].Total
		}
		return keyLess(groups[i].Key, groups[j].Key)
	})
}

// keyLess orders group keys by their values (null first), to break ties
// deterministically.
func keyLess(a, b []*string) bool {
	for i := range min(len(a), len(b)) {
		switch {
		case a[i] == nil && b[i] == nil:
			continue
		case a[i] == nil:
			return true
		case b[i] == nil:
			return false
		case *a[i] != *b[i]:
			return *a[i] < *b[i]
		}
	}
	return len(a) < len(b)
}

// round3 is Python's round(x, 3): correctly rounded, ties to even on the
// exact binary value, which strconv's formatting also does.
func round3(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 3, 64), 64)
	return v
}
