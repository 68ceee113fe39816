package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// runTelemetry runs the contract of store.Telemetry.
func runTelemetry(t *testing.T, newStore Factory, opts Options) {
	tel := func(t *testing.T) store.Telemetry {
		st := newStore(t)
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Run("RoundTrip", func(t *testing.T) { testTelemetryRoundTrip(t, tel(t), opts) })
	t.Run("InsertAtomic", func(t *testing.T) { testTelemetryInsertAtomic(t, tel(t)) })
	t.Run("Query", func(t *testing.T) { testTelemetryQuery(t, tel(t)) })
	t.Run("Group", func(t *testing.T) { testTelemetryGroup(t, tel(t)) })
	t.Run("DeleteBefore", func(t *testing.T) { testTelemetryDeleteBefore(t, tel(t)) })
}

// tev builds a telemetry event at base+offset.
func tev(kind, runtime string, offset time.Duration, mod ...func(*model.TelemetryEvent)) *model.TelemetryEvent {
	e := &model.TelemetryEvent{Ts: model.T(base.Add(offset)), Kind: kind, Runtime: runtime, Extra: map[string]any{}}
	for _, m := range mod {
		m(e)
	}
	return e
}

func mustInsertTelemetry(t *testing.T, st store.Telemetry, evs ...*model.TelemetryEvent) {
	t.Helper()
	if err := st.InsertTelemetry(context.Background(), evs); err != nil {
		t.Fatalf("InsertTelemetry: %v", err)
	}
}

func testTelemetryRoundTrip(t *testing.T, st store.Telemetry, opts Options) {
	ctx := context.Background()
	full := tev("job_result", "lava-collabora", time.Minute, func(e *model.TelemetryEvent) {
		e.DeviceType, e.DeviceID = model.Str("rk3588-rock-5b"), model.Str("rock-5b-01")
		e.JobName, e.TestName, e.JobID = model.Str("baseline-arm64"), model.Str("login"), model.Str("12345")
		e.NodeID = model.Str(objectid.New().String())
		e.Tree, e.Branch, e.Arch = model.Str("mainline"), model.Str("master"), model.Str("arm64")
		e.Result, e.IsInfraError = model.Str("incomplete"), true
		e.ErrorType, e.ErrorMsg = model.Str("Infrastructure"), model.Str("Device \"rock\" is not responding\n")
		e.Retry = 2
		e.Extra = map[string]any{"suite": "baseline", "n": json.Number("3"), "f": json.Number("2.5"),
			"nested": map[string]any{"list": []any{"a", json.Number("1"), nil, true}}}
	})
	minimal := tev("runtime_error", "k8s-gke-eu-west4", 2*time.Minute)
	mustInsertTelemetry(t, st, full, minimal)
	if full.ID.IsZero() || minimal.ID.IsZero() || full.ID == minimal.ID {
		t.Fatalf("ids not assigned: %s %s", full.ID, minimal.ID)
	}
	got, err := st.FindTelemetry(ctx, query.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("found %d events, want 2", len(got))
	}
	jsonEqual(t, got[0], full)
	jsonEqual(t, got[1], minimal)
	if n, err := st.CountTelemetry(ctx, query.Filter{}); err != nil || n != 2 {
		t.Fatalf("CountTelemetry = %d, %v; want 2", n, err)
	}

	// A given ID is kept; inserting nothing is a no-op.
	withID := tev("job_skip", "lava-baylibre", 0)
	withID.ID = objectid.New()
	want := withID.ID
	mustInsertTelemetry(t, st, withID)
	got, _ = st.FindTelemetry(ctx, query.Where("id", want), store.Page{})
	if len(got) != 1 || got[0].ID != want {
		t.Fatalf("find by id %s: %v", want, got)
	}
	if err := st.InsertTelemetry(ctx, nil); err != nil {
		t.Fatalf("InsertTelemetry(nil) = %v", err)
	}

	// Datetimes finer than the store's precision are truncated to it.
	fine := tev("job_result", "lava-collabora", 0)
	fine.Ts = model.T(exactBase.Add(time.Microsecond))
	mustInsertTelemetry(t, st, fine)
	got, _ = st.FindTelemetry(ctx, query.Where("id", fine.ID), store.Page{})
	if wantTs := fine.Ts.Truncate(max(opts.TimePrecision, time.Microsecond)); len(got) != 1 || !got[0].Ts.Equal(wantTs) {
		t.Fatalf("ts round trip: got %v, want %v", got, wantTs)
	}
}

func testTelemetryInsertAtomic(t *testing.T, st store.Telemetry) {
	ctx := context.Background()
	first := tev("job_result", "a", 0)
	mustInsertTelemetry(t, st, first)
	dup := tev("job_result", "b", time.Second)
	dup.ID = first.ID
	err := st.InsertTelemetry(ctx, []*model.TelemetryEvent{tev("job_result", "c", 0), dup, tev("job_result", "d", 0)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("insert with a duplicate id = %v, want ErrConflict", err)
	}
	if n, _ := st.CountTelemetry(ctx, query.Filter{}); n != 1 {
		t.Fatalf("a failed insert stored events: count %d, want 1", n)
	}
	twice := tev("job_result", "e", 0)
	twice.ID = objectid.New()
	if err := st.InsertTelemetry(ctx, []*model.TelemetryEvent{twice, twice}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("insert of the same id twice = %v, want ErrConflict", err)
	}
	if n, _ := st.CountTelemetry(ctx, query.Filter{}); n != 1 {
		t.Fatalf("a failed insert stored events: count %d, want 1", n)
	}
}

// telemetryFixture: job and test results on two runtimes, plus errors.
func telemetryFixture() []*model.TelemetryEvent {
	res := func(r string) func(*model.TelemetryEvent) {
		return func(e *model.TelemetryEvent) { e.Result = model.Str(r) }
	}
	dev := func(typ, id string) func(*model.TelemetryEvent) {
		return func(e *model.TelemetryEvent) {
			e.DeviceType = model.Str(typ)
			if id != "" {
				e.DeviceID = model.Str(id)
			}
		}
	}
	infra := func(e *model.TelemetryEvent) { e.IsInfraError = true }
	errT := func(typ, msg string) func(*model.TelemetryEvent) {
		return func(e *model.TelemetryEvent) { e.ErrorType, e.ErrorMsg = model.Str(typ), model.Str(msg) }
	}
	job := func(name string) func(*model.TelemetryEvent) {
		return func(e *model.TelemetryEvent) { e.JobName = model.Str(name) }
	}
	extra := func(k string, v any) func(*model.TelemetryEvent) {
		return func(e *model.TelemetryEvent) { e.Extra = map[string]any{k: v} }
	}
	return []*model.TelemetryEvent{
		/* 0 */ tev("job_result", "lava-a", 1*time.Minute, dev("rk3588", "rk-1"), res("pass"), job("baseline")),
		/* 1 */ tev("job_result", "lava-a", 2*time.Minute, dev("rk3588", "rk-1"), res("fail"), job("baseline"), errT("Test", "failed")),
		/* 2 */ tev("job_result", "lava-a", 3*time.Minute, dev("rk3588", "rk-2"), res("incomplete"), infra, job("baseline"), errT("Infrastructure", "no device")),
		/* 3 */ tev("job_result", "lava-a", 4*time.Minute, dev("qemu", ""), res("skip"), job("kselftest")),
		/* 4 */ tev("test_result", "lava-a", 5*time.Minute, dev("rk3588", "rk-1"), res("pass"), job("baseline"), extra("suite", "login")),
		/* 5 */ tev("test_result", "lava-b", 6*time.Minute, dev("rk3588", ""), res("fail"), job("baseline"), extra("suite", "boot")),
		/* 6 */ tev("runtime_error", "lava-b", 7*time.Minute, errT("online_check", "lab offline"), func(e *model.TelemetryEvent) { e.Retry = 3 }),
		/* 7 */ tev("runtime_error", "lava-b", 8*time.Minute, errT("online_check", "lab still offline"), func(e *model.TelemetryEvent) { e.Retry = 1 }),
		/* 8 */ tev("job_skip", "k8s", 9*time.Minute, errT("queue_depth", "queue full")),
		/* 9 */ tev("job_submission", "k8s", 10*time.Minute, job("kbuild-gcc-12-x86")),
	}
}

func telemetryIndexes(all, got []*model.TelemetryEvent) []int {
	out := []int{}
	for _, g := range got {
		i := slices.IndexFunc(all, func(e *model.TelemetryEvent) bool { return e.ID == g.ID })
		out = append(out, i)
	}
	return out
}

func testTelemetryQuery(t *testing.T, st store.Telemetry) {
	ctx := context.Background()
	fx := telemetryFixture()
	mustInsertTelemetry(t, st, fx...)
	cases := []struct {
		name string
		f    query.Filter
		want []int
	}{
		{"all", f(), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"kind", f(c("kind", query.Eq, "job_result")), []int{0, 1, 2, 3}},
		{"kind in", f(c("kind", query.In, []any{"job_skip", "runtime_error"})), []int{6, 7, 8}},
		{"runtime and device_type", f(c("runtime", query.Eq, "lava-a"), c("device_type", query.Eq, "rk3588")), []int{0, 1, 2, 4}},
		{"result null", f(c("result", query.Eq, nil)), []int{6, 7, 8, 9}},
		{"result ne pass", f(c("result", query.Ne, "pass")), []int{1, 2, 3, 5, 6, 7, 8, 9}},
		{"device_id nin null and empty", f(c("device_id", query.Nin, []any{nil, ""})), []int{0, 1, 2, 4}},
		{"since", f(c("ts", query.Gte, base.Add(8*time.Minute))), []int{7, 8, 9}},
		{"since and until", f(c("ts", query.Gte, base.Add(2*time.Minute)), c("ts", query.Lte, base.Add(4*time.Minute))), []int{1, 2, 3}},
		{"ts as text never matches", f(c("ts", query.Gte, "2000-01-01")), []int{}},
		{"is_infra_error true", f(c("is_infra_error", query.Eq, true)), []int{2}},
		{"is_infra_error false", f(c("is_infra_error", query.Eq, false)), []int{0, 1, 3, 4, 5, 6, 7, 8, 9}},
		{"retry int", f(c("retry", query.Gt, int64(1))), []int{6}},
		{"retry eq 0", f(c("retry", query.Eq, int64(0))), []int{0, 1, 2, 3, 4, 5, 8, 9}},
		{"extra field", f(c("extra.suite", query.Eq, "boot")), []int{5}},
		{"error_msg regex", f(c("error_msg", query.Re, "offline$")), []int{6, 7}},
		{"job_name regex", f(c("job_name", query.Re, "^kbuild")), []int{9}},
		{"string never equals bool", f(c("kind", query.Eq, true)), []int{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.FindTelemetry(ctx, tc.f, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if idx := telemetryIndexes(fx, got); !slices.Equal(idx, tc.want) {
				t.Fatalf("FindTelemetry = %v, want %v", idx, tc.want)
			}
			if n, err := st.CountTelemetry(ctx, tc.f); err != nil || n != int64(len(tc.want)) {
				t.Fatalf("CountTelemetry = %d, %v; want %d", n, err, len(tc.want))
			}
		})
	}
	got, _ := st.FindTelemetry(ctx, f(c("id", query.Eq, fx[3].ID)), store.Page{})
	if idx := telemetryIndexes(fx, got); !slices.Equal(idx, []int{3}) {
		t.Fatalf("by id: %v", idx)
	}
	// Paging keeps insertion order.
	for _, p := range []struct {
		page store.Page
		want []int
	}{
		{store.Page{Limit: 3}, []int{0, 1, 2}},
		{store.Page{Limit: 3, Offset: 3}, []int{3, 4, 5}},
		{store.Page{Limit: 5, Offset: 8}, []int{8, 9}},
		{store.Page{Offset: 9}, []int{9}},
		{store.Page{Limit: 2, Offset: 20}, []int{}},
	} {
		got, err := st.FindTelemetry(ctx, query.Filter{}, p.page)
		if err != nil {
			t.Fatal(err)
		}
		if idx := telemetryIndexes(fx, got); !slices.Equal(idx, p.want) {
			t.Fatalf("page %+v = %v, want %v", p.page, idx, p.want)
		}
	}
}

// groupString renders a group for comparison.
func groupString(g store.TelemetryGroup) string {
	keys := make([]string, len(g.Key))
	for i, k := range g.Key {
		keys[i] = "null"
		if k != nil {
			keys[i] = *k
		}
	}
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	return fmt.Sprintf("%s total=%d pass=%d fail=%d incomplete=%d skip=%d infra=%d last=%s err=%s/%s",
		strings.Join(keys, "|"), g.Total, g.Pass, g.Fail, g.Incomplete, g.Skip, g.InfraError,
		model.FormatTime(g.LastSeen), s(g.LatestErrorType), s(g.LatestErrorMsg))
}

func groupStrings(gs []store.TelemetryGroup) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = groupString(g)
	}
	sort.Strings(out)
	return out
}

func testTelemetryGroup(t *testing.T, st store.Telemetry) {
	ctx := context.Background()
	mustInsertTelemetry(t, st, telemetryFixture()...)
	at := func(m int) string { return model.FormatTime(base.Add(time.Duration(m) * time.Minute)) }
	cases := []struct {
		name string
		f    query.Filter
		by   []string
		want []string
	}{
		{"by runtime", f(), []string{"runtime"}, []string{
			"k8s total=2 pass=0 fail=0 incomplete=0 skip=0 infra=0 last=" + at(10) + " err=null/null",
			"lava-a total=5 pass=2 fail=1 incomplete=1 skip=1 infra=1 last=" + at(5) + " err=null/null",
			"lava-b total=3 pass=0 fail=1 incomplete=0 skip=0 infra=0 last=" + at(8) + " err=online_check/lab still offline",
		}},
		{"results by runtime and device_type", f(c("kind", query.In, []any{"job_result", "test_result"})), []string{"runtime", "device_type"}, []string{
			"lava-a|qemu total=1 pass=0 fail=0 incomplete=0 skip=1 infra=0 last=" + at(4) + " err=null/null",
			"lava-a|rk3588 total=4 pass=2 fail=1 incomplete=1 skip=0 infra=1 last=" + at(5) + " err=null/null",
			"lava-b|rk3588 total=1 pass=0 fail=1 incomplete=0 skip=0 infra=0 last=" + at(6) + " err=null/null",
		}},
		{"by device with null keys, window", f(c("kind", query.Eq, "job_result"), c("ts", query.Gte, base.Add(2*time.Minute))), []string{"device_type", "device_id"}, []string{
			"qemu|null total=1 pass=0 fail=0 incomplete=0 skip=1 infra=0 last=" + at(4) + " err=null/null",
			"rk3588|rk-1 total=1 pass=0 fail=1 incomplete=0 skip=0 infra=0 last=" + at(2) + " err=Test/failed",
			"rk3588|rk-2 total=1 pass=0 fail=0 incomplete=1 skip=0 infra=1 last=" + at(3) + " err=Infrastructure/no device",
		}},
		{"errors", f(c("kind", query.In, []any{"runtime_error", "job_skip"})), []string{"runtime", "error_type"}, []string{
			"k8s|queue_depth total=1 pass=0 fail=0 incomplete=0 skip=0 infra=0 last=" + at(9) + " err=queue_depth/queue full",
			"lava-b|online_check total=2 pass=0 fail=0 incomplete=0 skip=0 infra=0 last=" + at(8) + " err=online_check/lab still offline",
		}},
		{"field order is kept", f(c("runtime", query.Eq, "k8s")), []string{"kind", "runtime"}, []string{
			"job_skip|k8s total=1 pass=0 fail=0 incomplete=0 skip=0 infra=0 last=" + at(9) + " err=queue_depth/queue full",
			"job_submission|k8s total=1 pass=0 fail=0 incomplete=0 skip=0 infra=0 last=" + at(10) + " err=null/null",
		}},
		{"nothing matches", f(c("runtime", query.Eq, "none")), []string{"runtime"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := st.GroupTelemetry(ctx, tc.f, tc.by)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				if len(g.Key) != len(tc.by) {
					t.Fatalf("group key %v has %d values, want %d", g.Key, len(g.Key), len(tc.by))
				}
			}
			if got := groupStrings(gs); !slices.Equal(got, tc.want) {
				t.Fatalf("GroupTelemetry:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	for _, by := range [][]string{nil, {"lab"}, {"error_msg"}, {"runtime", "runtime"}, {"$runtime"}} {
		if _, err := st.GroupTelemetry(ctx, query.Filter{}, by); err == nil {
			t.Errorf("GroupTelemetry(by %q) succeeded, want an error", by)
		}
	}
}

func testTelemetryDeleteBefore(t *testing.T, st store.Telemetry) {
	ctx := context.Background()
	var evs []*model.TelemetryEvent
	// Inserted newest first, so that "oldest first" is not insertion order.
	for i := 9; i >= 0; i-- {
		evs = append(evs, tev("job_result", "r", time.Duration(i)*time.Hour))
	}
	mustInsertTelemetry(t, st, evs...)
	cut := base.Add(6 * time.Hour) // events at hours 0..5 are before it
	n, err := st.DeleteTelemetryBefore(ctx, cut, 4)
	if err != nil || n != 4 {
		t.Fatalf("DeleteTelemetryBefore(limit 4) = %d, %v; want 4", n, err)
	}
	if c, _ := st.CountTelemetry(ctx, query.Filter{}); c != 6 {
		t.Fatalf("count after the first batch = %d, want 6", c)
	}
	if n, err = st.DeleteTelemetryBefore(ctx, cut, 4); err != nil || n != 2 {
		t.Fatalf("second batch = %d, %v; want 2", n, err)
	}
	if n, err = st.DeleteTelemetryBefore(ctx, cut, 4); err != nil || n != 0 {
		t.Fatalf("third batch = %d, %v; want 0", n, err)
	}
	left, _ := st.FindTelemetry(ctx, query.Filter{}, store.Page{})
	var hours []int
	for _, e := range left {
		hours = append(hours, int(e.Ts.Sub(base)/time.Hour))
	}
	sort.Ints(hours)
	if !slices.Equal(hours, []int{6, 7, 8, 9}) {
		t.Fatalf("left events at hours %v, want [6 7 8 9] (an event at the cut-off is kept)", hours)
	}
	if n, err = st.DeleteTelemetryBefore(ctx, base.Add(100*time.Hour), 0); err != nil || n != 4 {
		t.Fatalf("unlimited delete = %d, %v; want 4", n, err)
	}
}
