package model

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// TelemetryEvent is one pipeline telemetry record (kernelci-core's
// TelemetryEvent, collection "telemetryevent"): scheduler submissions,
// runtime errors, job skips, job and test results. The JSON field order
// is the reference's.
type TelemetryEvent struct {
	ID           objectid.ID    `json:"id"`
	Ts           Time           `json:"ts"`
	Kind         string         `json:"kind"`
	Runtime      string         `json:"runtime"`
	DeviceType   *string        `json:"device_type"`
	DeviceID     *string        `json:"device_id"`
	JobName      *string        `json:"job_name"`
	TestName     *string        `json:"test_name"`
	JobID        *string        `json:"job_id"`
	NodeID       *string        `json:"node_id"`
	Tree         *string        `json:"tree"`
	Branch       *string        `json:"branch"`
	Arch         *string        `json:"arch"`
	Result       *string        `json:"result"`
	IsInfraError bool           `json:"is_infra_error"`
	ErrorType    *string        `json:"error_type"`
	ErrorMsg     *string        `json:"error_msg"`
	Retry        int64          `json:"retry"`
	Extra        map[string]any `json:"extra"`
}

// TelemetryStringFields are the string fields of a TelemetryEvent (kind
// and runtime always set, the others optional), in declaration order.
var TelemetryStringFields = []string{
	"kind", "runtime", "device_type", "device_id", "job_name", "test_name",
	"job_id", "node_id", "tree", "branch", "arch", "result", "error_type", "error_msg",
}

// StringField returns the value of the string field named name (one of
// TelemetryStringFields): nil when it is null. ok is false for any other
// name.
func (e *TelemetryEvent) StringField(name string) (v *string, ok bool) {
	switch name {
	case "kind":
		return &e.Kind, true
	case "runtime":
		return &e.Runtime, true
	case "device_type":
		return e.DeviceType, true
	case "device_id":
		return e.DeviceID, true
	case "job_name":
		return e.JobName, true
	case "test_name":
		return e.TestName, true
	case "job_id":
		return e.JobID, true
	case "node_id":
		return e.NodeID, true
	case "tree":
		return e.Tree, true
	case "branch":
		return e.Branch, true
	case "arch":
		return e.Arch, true
	case "result":
		return e.Result, true
	case "error_type":
		return e.ErrorType, true
	case "error_msg":
		return e.ErrorMsg, true
	}
	return nil, false
}

// telemetryOptStr maps the optional string fields to their struct fields.
func (e *TelemetryEvent) optStrings() []struct {
	key string
	dst **string
} {
	return []struct {
		key string
		dst **string
	}{
		{"device_type", &e.DeviceType}, {"device_id", &e.DeviceID}, {"job_name", &e.JobName},
		{"test_name", &e.TestName}, {"job_id", &e.JobID}, {"node_id", &e.NodeID},
		{"tree", &e.Tree}, {"branch", &e.Branch}, {"arch", &e.Arch}, {"result", &e.Result},
	}
}

// DecodeTelemetryEvent builds a TelemetryEvent from a decoded JSON object
// (numbers as json.Number) the way pydantic validates
// TelemetryEvent(**event) in lax python mode:
//
//   - kind and runtime are required strings; the other string fields are
//     optional (null allowed) and must be strings when given;
//   - ts is a datetime (ISO 8601 string or Unix timestamp, see
//     DecodeNode), stored in UTC truncated to microseconds; when absent
//     it is now;
//   - is_infra_error is a lax bool (default false): true/false, 0/1 and
//     the strings pydantic accepts;
//   - retry is a lax int (default 0): integers, floats without a
//     fractional part, booleans and decimal strings; it must fit 64 bits;
//   - extra is a dictionary (default {}), kept as given;
//   - "id" or "_id", when present and not null, must be an ObjectId; it
//     is then dropped (the store assigns every event its own id, as the
//     reference does);
//   - unknown keys are ignored.
//
// Errors come in field declaration order, every one of them, as a
// *KindError for model "TelemetryEvent" whose Error() reads like str() of
// the pydantic ValidationError.
func DecodeTelemetryEvent(raw map[string]any, now time.Time) (*TelemetryEvent, error) {
	var c collector
	e := &TelemetryEvent{Ts: T(now), Extra: map[string]any{}}
	loc := (*locPath)(nil)

	idKey := "id"
	if _, ok := raw["_id"]; ok {
		idKey = "_id"
	}
	if v, ok := raw[idKey]; ok && v != nil {
		objectIDType(&c, loc.child(idKey), v)
	}
	if v, ok := raw["ts"]; ok {
		if t, ok := datetimeType(&c, loc.child("ts"), v); ok {
			e.Ts = Time{t}
		}
	}
	for _, key := range []string{"kind", "runtime"} {
		v, ok := raw[key]
		if !ok {
			c.add("missing", loc.child(key), "Field required", raw, nil)
			continue
		}
		s, _ := strType(&c, loc.child(key), v)
		if key == "kind" {
			e.Kind = s
		} else {
			e.Runtime = s
		}
	}
	for _, f := range e.optStrings() {
		if v, ok := raw[f.key]; ok {
			*f.dst, _ = optStr(&c, loc.child(f.key), v)
		}
	}
	if v, ok := raw["is_infra_error"]; ok {
		e.IsInfraError, _ = boolType(&c, loc.child("is_infra_error"), v)
	}
	if v, ok := raw["error_type"]; ok {
		e.ErrorType, _ = optStr(&c, loc.child("error_type"), v)
	}
	if v, ok := raw["error_msg"]; ok {
		e.ErrorMsg, _ = optStr(&c, loc.child("error_msg"), v)
	}
	if v, ok := raw["retry"]; ok {
		e.Retry, _ = laxIntType(&c, loc.child("retry"), v)
	}
	if v, ok := raw["extra"]; ok {
		if m, ok := dictType(&c, loc.child("extra"), v); ok {
			e.Extra = m
		}
	}
	if c.failed() {
		return nil, &KindError{Model: "TelemetryEvent", Errors: c.errs}
	}
	return e, nil
}

// laxIntType is pydantic's lax int limited to 64 bits: an integer, a
// float without a fractional part, a bool, or a string holding a decimal
// integer (surrounding whitespace allowed).
func laxIntType(c *collector, loc *locPath, v any) (int64, bool) {
	tooBig := func() (int64, bool) {
		c.add("int_parsing_size", loc, "Unable to parse input string as an integer, exceeded maximum size", v, nil)
		return 0, false
	}
	fromFloat := func(f float64) (int64, bool) {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			c.add("finite_number", loc, "Input should be a finite number", v, nil)
			return 0, false
		case f != math.Trunc(f):
			c.add("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", v, nil)
			return 0, false
		case f >= math.MaxInt64 || f < math.MinInt64:
			return tooBig()
		}
		return int64(f), true
	}
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return fromFloat(x)
	case json.Number:
		if isIntNumber(x) {
			n, ok := new(big.Int).SetString(string(x), 10)
			if !ok {
				break
			}
			if !n.IsInt64() {
				return tooBig()
			}
			return n.Int64(), true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return tooBig()
		}
		return fromFloat(f)
	case string:
		s := strings.TrimSpace(x)
		digits := strings.TrimLeft(s, "+-")
		if len(s)-len(digits) <= 1 && digits != "" && allDigits(digits) {
			n, ok := new(big.Int).SetString(s, 10)
			if ok && n.IsInt64() {
				return n.Int64(), true
			}
			return tooBig()
		}
		c.add("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", v, nil)
		return 0, false
	}
	c.add("int_type", loc, "Input should be a valid integer", v, nil)
	return 0, false
}

// PyFloat is a float64 that marshals the way Python's json module writes
// a float (float.__repr__): 1.0 rather than 1, 1e-05 rather than 0.00001.
type PyFloat float64

// MarshalJSON implements json.Marshaler. NaN and infinities, which JSON
// cannot carry, are an error.
func (f PyFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, &json.UnsupportedValueError{Str: pyFloatRepr(x)}
	}
	return []byte(pyFloatRepr(x)), nil
}

// PyRepr is Python's repr() of a decoded JSON value, for messages that
// quote values the way the reference's do.
func PyRepr(v any) string { return pyRepr(v) }
