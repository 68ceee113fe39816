package telemetry_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/query"
	"github.com/kernelci/kernelci-api-go/internal/store"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite/sqlitetest"
	"github.com/kernelci/kernelci-api-go/internal/telemetry"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ev is an event at t0+minutes.
func ev(kind, runtime, device string, minutes int, mod ...func(*model.TelemetryEvent)) *model.TelemetryEvent {
	e := &model.TelemetryEvent{Ts: model.T(t0.Add(time.Duration(minutes) * time.Minute)), Kind: kind, Runtime: runtime, Extra: map[string]any{}}
	if device != "" {
		e.DeviceType = model.Str(device)
	}
	for _, m := range mod {
		m(e)
	}
	return e
}

func result(r string) func(*model.TelemetryEvent) {
	return func(e *model.TelemetryEvent) { e.Result = model.Str(r) }
}

func infra(e *model.TelemetryEvent) { e.IsInfraError = true }

func errType(t string) func(*model.TelemetryEvent) {
	return func(e *model.TelemetryEvent) { e.ErrorType = model.Str(t) }
}

func deviceID(id string) func(*model.TelemetryEvent) {
	return func(e *model.TelemetryEvent) { e.DeviceID = model.Str(id) }
}

func newStore(t *testing.T, evs ...*model.TelemetryEvent) store.Telemetry {
	t.Helper()
	st := sqlitetest.Open(t)
	if err := st.InsertTelemetry(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return st
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStats(t *testing.T) {
	tl := newStore(t,
		ev("job_result", "lava-a", "rk3588", 0, result("pass")),
		ev("job_result", "lava-a", "rk3588", 1, result("fail")),
		ev("job_result", "lava-b", "qemu", 2, result("incomplete"), infra),
		ev("test_result", "lava-a", "", 3, result("skip")),
		ev("job_result", "lava-b", "qemu", 4, result("pass")),
		ev("job_result", "lava-c", "qemu", 5, result("pass")),
	)
	ctx := context.Background()
	// lab is runtime under another name, grouped once; largest total
	// first, ties by key with null first; repeated names are dropped.
	rows, err := telemetry.Stats(ctx, tl, []string{"lab", "device_type", "runtime", "lab"}, query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"lab":"lava-a","device_type":"rk3588","runtime":"lava-a","total":2,"pass":1,"fail":1,"incomplete":0,"skip":0,"infra_error":0},` +
		`{"lab":"lava-b","device_type":"qemu","runtime":"lava-b","total":2,"pass":1,"fail":0,"incomplete":1,"skip":0,"infra_error":1},` +
		`{"lab":"lava-a","device_type":null,"runtime":"lava-a","total":1,"pass":0,"fail":0,"incomplete":0,"skip":1,"infra_error":0},` +
		`{"lab":"lava-c","device_type":"qemu","runtime":"lava-c","total":1,"pass":1,"fail":0,"incomplete":0,"skip":0,"infra_error":0}]`
	if got := jsonOf(t, rows); got != want {
		t.Errorf("Stats\n got %s\nwant %s", got, want)
	}
	rows, err = telemetry.Stats(ctx, tl, []string{"kind"}, query.Where("runtime", "lava-a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, rows), `[{"kind":"job_result","total":2,"pass":1,"fail":1,"incomplete":0,"skip":0,"infra_error":0},`+
		`{"kind":"test_result","total":1,"pass":0,"fail":0,"incomplete":0,"skip":1,"infra_error":0}]`; got != want {
		t.Errorf("Stats by kind\n got %s\nwant %s", got, want)
	}
}

func TestAnomalies(t *testing.T) {
	var evs []*model.TelemetryEvent
	// rk3588 on lava-a: 3 events, 2 failures (fail rate 0.667).
	evs = append(evs, ev("job_result", "lava-a", "rk3588", 1, result("fail"), deviceID("rk-1")),
		ev("test_result", "lava-a", "rk3588", 2, result("pass")),
		ev("job_result", "lava-a", "rk3588", 3, result("incomplete"), deviceID("rk-2"), errType("Timeout")))
	// qemu on lava-b: 3 infrastructure errors of 3 (constant).
	for i := range 3 {
		evs = append(evs, ev("job_result", "lava-b", "qemu", 10+i, result("incomplete"), infra, deviceID("q-1"),
			errType("Infrastructure"), func(e *model.TelemetryEvent) { e.ErrorMsg = model.Str("lost " + string(rune('a'+i))) }))
	}
	// x86 on lava-c: 1 failure of 4, below the threshold.
	for i := range 4 {
		r := "pass"
		if i == 0 {
			r = "fail"
		}
		evs = append(evs, ev("job_result", "lava-c", "x86", 20+i, result(r)))
	}
	// Two failures only: below min_total.
	evs = append(evs, ev("job_result", "lava-d", "arm", 30, result("fail")), ev("job_result", "lava-d", "arm", 31, result("fail")))
	// Before the window.
	evs = append(evs, ev("job_result", "lava-e", "old", -10, result("fail")), ev("job_result", "lava-e", "old", -9, result("fail")),
		ev("job_result", "lava-e", "old", -8, result("fail")))
	// Runtime errors and skips.
	for i := range 4 {
		evs = append(evs, ev("runtime_error", "lava-a", "", 40+i, errType("Connection")))
	}
	for i := range 3 {
		evs = append(evs, ev("job_skip", "lava-b", "", 50+i, errType("Offline")))
	}
	evs = append(evs, ev("runtime_error", "lava-c", "", 60, errType("Connection")))
	tl := newStore(t, evs...)
	ctx := context.Background()

	results, errs, err := telemetry.Anomalies(ctx, tl, telemetry.AnomalyOptions{Since: t0, Threshold: 0.5, MinTotal: 3, Scope: telemetry.ScopeDeviceType})
	if err != nil {
		t.Fatal(err)
	}
	// Infrastructure rate first: lava-b (1.0), then lava-a (fail 0.667).
	want := `[{"runtime":"lava-b","lab":"lava-b","device_type":"qemu","total":3,"pass":0,"fail":0,"incomplete":3,"skip":0,"infra_error":3,` +
		`"infra_rate":1.0,"fail_rate":1.0,"constant_failure":true,"constant_infra_failure":true,"last_seen":"2026-03-01T12:12:00.000000",` +
		`"latest_error_type":"Infrastructure","latest_error_msg":"lost c"},` +
		`{"runtime":"lava-a","lab":"lava-a","device_type":"rk3588","total":3,"pass":1,"fail":1,"incomplete":1,"skip":0,"infra_error":0,` +
		`"infra_rate":0.0,"fail_rate":0.667,"constant_failure":false,"constant_infra_failure":false,"last_seen":"2026-03-01T12:03:00.000000",` +
		`"latest_error_type":"Timeout","latest_error_msg":null}]`
	if got := jsonOf(t, results); got != want {
		t.Errorf("result anomalies\n got %s\nwant %s", got, want)
	}
	if got, want := jsonOf(t, errs), `[{"runtime":"lava-a","error_type":"Connection","count":4},{"runtime":"lava-b","error_type":"Offline","count":3}]`; got != want {
		t.Errorf("error anomalies\n got %s\nwant %s", got, want)
	}

	// By device: job results with a device id only.
	results, _, err = telemetry.Anomalies(ctx, tl, telemetry.AnomalyOptions{Since: t0, Threshold: 0.5, MinTotal: 1, Scope: telemetry.ScopeDevice})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range results {
		keys = append(keys, jsonOf(t, r[:4]))
	}
	if got, want := jsonOf(t, keys), jsonOf(t, []string{
		`{"runtime":"lava-b","lab":"lava-b","device_type":"qemu","device_id":"q-1"}`,
		`{"runtime":"lava-a","lab":"lava-a","device_type":"rk3588","device_id":"rk-1"}`,
		`{"runtime":"lava-a","lab":"lava-a","device_type":"rk3588","device_id":"rk-2"}`,
	}); got != want {
		t.Errorf("device anomalies\n got %s\nwant %s", got, want)
	}

	// A threshold of 0 reports every group of at least min_total; the
	// window excludes older events.
	results, errs, err = telemetry.Anomalies(ctx, tl, telemetry.AnomalyOptions{Since: t0.Add(15 * time.Minute), Threshold: 0, MinTotal: 4, Scope: telemetry.ScopeDeviceType})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0][0].Value.(*string) == nil || *results[0][0].Value.(*string) != "lava-c" {
		t.Errorf("threshold 0, min_total 4: %s", jsonOf(t, results))
	}
	if len(errs) != 1 {
		t.Errorf("errors since +15m, min_total 4: %s", jsonOf(t, errs))
	}
}

func TestWindowNamed(t *testing.T) {
	if w, ok := telemetry.WindowNamed("12h"); !ok || w.Hours != 12 {
		t.Errorf("12h = %v, %v", w, ok)
	}
	if _, ok := telemetry.WindowNamed("2h"); ok {
		t.Error("2h accepted")
	}
}
