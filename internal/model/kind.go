package model

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Node kinds with a kernelci-core submodel.
const (
	KindCheckout   = "checkout"
	KindKbuild     = "kbuild"
	KindTest       = "test"
	KindJob        = "job"
	KindProcess    = "process"
	KindRegression = "regression"
)

// ErrorCodes and CheckoutErrorCodes of kernelci-core, in declaration order.
var (
	ErrorCodes = []string{
		"invalid_job_params", "submit_error", "node_timeout", "Infrastructure",
		"Canceled", "Job", "Bug", "Test", "Configuration", "LAVATimeout",
		"MultinodeTimeout", "ObjectNotPersisted", "Unexisting permission codename.",
		"job_generation_error", "kbuild_internal_error",
	}
	CheckoutErrorCodes = []string{"node_timeout", "git_checkout_failure"}
)

// A schema is a pydantic BaseModel used for node data; fields are in
// declaration order, which is the order pydantic reports errors in.
type schema struct {
	name   string
	fields []field
}

type fieldType int

const (
	tStr fieldType = iota
	tStrList
	tEnum
	tObjectID
	tObjectIDList
	tURL
	tBool
	tStrictInt
	tDict
	tModel
)

type field struct {
	name     string
	typ      fieldType
	required bool     // no default: missing is an error
	optional bool     // Optional[...]: null is valid
	enum     []string // tEnum
	model    *schema  // tModel
	def      func() any
}

func opt(name string, t fieldType) field { return field{name: name, typ: t, optional: true} }

var (
	kernelVersionSchema = &schema{"KernelVersion", []field{
		{name: "version", typ: tStrictInt, required: true},
		{name: "patchlevel", typ: tStrictInt, required: true},
		opt("sublevel", tStrictInt),
		opt("extra", tStr),
		opt("name", tStr),
	}}
	revisionSchema = &schema{"Revision", []field{
		{name: "tree", typ: tStr, required: true},
		{name: "url", typ: tURL, required: true},
		{name: "branch", typ: tStr, required: true},
		{name: "commit", typ: tStr, required: true},
		opt("describe", tStr),
		{name: "version", typ: tModel, optional: true, model: kernelVersionSchema},
		opt("patchset", tStr),
		{name: "commit_tags", typ: tStrList, def: func() any { return []any{} }},
		opt("commit_message", tStr),
		opt("tip_of_branch", tBool),
	}}
	checkoutDataSchema = &schema{"CheckoutData", []field{
		{name: "kernel_revision", typ: tModel, optional: true, model: revisionSchema},
		{name: "error_code", typ: tEnum, optional: true, enum: CheckoutErrorCodes},
		opt("error_msg", tStr),
		opt("architecture_filter", tStrList),
	}}
	kbuildDataSchema = &schema{"KbuildData", []field{
		{name: "kernel_revision", typ: tModel, optional: true, model: revisionSchema},
		opt("arch", tStr),
		opt("defconfig", tStr),
		opt("compiler", tStr),
		{name: "error_code", typ: tEnum, optional: true, enum: ErrorCodes},
		opt("error_msg", tStr),
		opt("fragments", tStrList),
		opt("config_full", tStr),
		opt("platform", tStr),
		opt("runtime", tStr),
		opt("job_id", tStr),
		opt("job_context", tStr),
		opt("kernel_type", tStr),
		opt("regression", tObjectID),
	}}
	testDataSchema = &schema{"TestData", []field{
		{name: "error_code", typ: tEnum, optional: true, enum: ErrorCodes},
		opt("error_msg", tStr),
		opt("test_source", tURL),
		{name: "test_revision", typ: tModel, optional: true, model: revisionSchema},
		opt("platform", tStr),
		opt("device", tStr),
		opt("runtime", tStr),
		opt("job_id", tStr),
		opt("job_context", tStr),
		opt("regression", tObjectID),
		{name: "kernel_revision", typ: tModel, optional: true, model: revisionSchema},
		opt("arch", tStr),
		opt("defconfig", tStr),
		opt("config_full", tStr),
		opt("compiler", tStr),
		opt("kernel_type", tStr),
		{name: "misc", typ: tDict, optional: true, def: func() any { return map[string]any{} }},
	}}
	regressionDataSchema = &schema{"RegressionData", []field{
		opt("fail_node", tObjectID),
		opt("pass_node", tObjectID),
		{name: "node_sequence", typ: tObjectIDList, optional: true, def: func() any { return []any{} }},
		{name: "error_code", typ: tEnum, optional: true, enum: ErrorCodes},
		opt("error_msg", tStr),
		{name: "failed_kernel_revision", typ: tModel, optional: true, model: revisionSchema},
		opt("arch", tStr),
		opt("defconfig", tStr),
		opt("config_full", tStr),
		opt("compiler", tStr),
		opt("platform", tStr),
		opt("device", tStr),
	}}
)

// kindModels maps a kind to its submodel name and data schema (nil: data
// is a plain Optional[dict]).
var kindModels = map[string]struct {
	model string
	data  *schema
}{
	KindCheckout:   {"Checkout", checkoutDataSchema},
	KindKbuild:     {"Kbuild", kbuildDataSchema},
	KindTest:       {"Test", testDataSchema},
	KindJob:        {"Job", testDataSchema},
	KindProcess:    {"Process", nil},
	KindRegression: {"Regression", regressionDataSchema},
}

// validateModel validates v against s and returns what pydantic's
// model_dump gives: every declared field (defaults filled in), extra keys
// dropped, URLs normalised, lax booleans made bool, ObjectIds lowercased.
func validateModel(c *collector, loc *locPath, v any, s *schema) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.errs = append(c.errs, modelTypeError(v, s.name, loc))
		return nil, false
	}
	out := make(map[string]any, len(s.fields))
	good := true
	for _, f := range s.fields {
		l := loc.child(f.name)
		val, present := m[f.name]
		if !present {
			if f.required {
				c.add("missing", l, "Field required", m, nil)
				good = false
				continue
			}
			if f.def != nil {
				out[f.name] = f.def()
			} else {
				out[f.name] = nil
			}
			continue
		}
		if val == nil && f.optional {
			out[f.name] = nil
			continue
		}
		var r any
		switch f.typ {
		case tStr:
			r, ok = strType(c, l, val)
		case tStrList:
			var l2 []string
			if l2, ok = strList(c, l, val); ok {
				lst := make([]any, len(l2))
				for i, s := range l2 {
					lst[i] = s
				}
				r = lst
			}
		case tEnum:
			r, ok = enumType(c, l, val, f.enum)
		case tObjectID:
			if id, ok2 := objectIDType(c, l, val); ok2 {
				r, ok = id.String(), true
			} else {
				ok = false
			}
		case tObjectIDList:
			var items []any
			if items, ok = listType(c, l, val); ok {
				lst := make([]any, len(items))
				for i, it := range items {
					id, ok2 := objectIDType(c, l.child(i), it)
					ok = ok && ok2
					lst[i] = id.String()
				}
				r = lst
			}
		case tURL:
			r, ok = urlType(c, l, val, false)
		case tBool:
			r, ok = boolType(c, l, val)
		case tStrictInt:
			r, ok = strictIntType(c, l, val)
		case tDict:
			var d map[string]any
			if d, ok = dictType(c, l, val); ok {
				r = cloneMap(d)
			}
		case tModel:
			var d map[string]any
			if d, ok = validateModel(c, l, val, f.model); ok {
				r = d
			}
		}
		good = good && ok
		out[f.name] = r
	}
	return out, good
}

// ValidateKind is kernelci-core's parse_node_obj: it validates n against
// the submodel of n.Kind (Checkout, Kbuild, Test, Job, Process,
// Regression), data schema included. Unknown data keys are allowed and n
// is not changed. A kind without a submodel, "node" included, gives an
// *UnsupportedKindError ("Unsupported node kind: <kind>"); anything else a
// *KindError whose message reads like the pydantic ValidationError the
// reference answers 400 with.
//
// Besides data, the submodel re-validates the base fields a typed Node can
// still get wrong: artifacts must be http(s) URLs (PATCH stores them
// unchecked) and created, updated and timeout must be set (a zero Time
// stands for the None a PATCH with "timeout": null leaves).
func ValidateKind(n *Node) error {
	_, err := specialize(n)
	return err
}

// Specialize validates n like ValidateKind and returns a copy of n as the
// reference stores nodes created through PUT /nodes/{id}, which is the
// submodel's dump: data holds every field of the kind's data schema
// (missing ones null or their default, unknown ones dropped, URLs
// normalised, lax booleans converted, ObjectIds lowercased) and artifacts
// are normalised. Process nodes keep their data as is.
func Specialize(n *Node) (*Node, error) {
	out, err := specialize(n)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func specialize(n *Node) (*Node, error) {
	km, ok := kindModels[n.Kind]
	if !ok {
		return nil, &UnsupportedKindError{Kind: n.Kind}
	}
	var c collector
	var artifacts map[string]string
	if n.Artifacts != nil {
		in := make(map[string]any, len(n.Artifacts))
		for k, v := range n.Artifacts {
			in[k] = v
		}
		artifacts, _ = artifactsType(&c, rootLoc([]any{"artifacts"}), in, true)
	}
	var data map[string]any
	if km.data == nil {
		data = cloneMap(n.Data)
	} else {
		var in any = n.Data
		if n.Data == nil {
			in = nil
		}
		data, _ = validateModel(&c, rootLoc([]any{"data"}), in, km.data)
	}
	for _, f := range []struct {
		name string
		t    Time
	}{{"created", n.Created}, {"updated", n.Updated}, {"timeout", n.Timeout}} {
		if f.t.IsZero() {
			c.add("datetime_type", rootLoc([]any{f.name}), "Input should be a valid datetime", nil, nil)
		}
	}
	if c.failed() {
		return nil, &KindError{Model: km.model, Errors: c.errs}
	}
	out := n.Clone()
	out.Artifacts = artifacts
	out.Data = data
	return out, nil
}

// ApplyKindDefaults sets the defaults a kind's submodel has beyond the base
// Node's: a regression's result defaults to "fail". explicitResult says
// whether the request gave "result" (even as null); the default only
// applies when it did not. The reference API never reaches this default,
// since it validates a dump of the base Node that always carries result,
// and stores that base Node: call this only where a regression is built
// from scratch (the equivalent of Regression(...) in kernelci-core).
func ApplyKindDefaults(n *Node, explicitResult bool) {
	if n.Kind == KindRegression && !explicitResult && n.Result == nil {
		n.Result = Str(ResultFail)
	}
}

// TranslateVersionFields converts data.kernel_revision.version.{version,
// patchlevel,sublevel} to integers as the reference's
// _translate_version_fields does with int(value) before validation:
// decimal strings (surrounding spaces, sign and "_" separators allowed)
// and floats (truncated) become json.Number integers, true becomes 1.
// Falsy values and anything else are left for ValidateKind to judge.
func TranslateVersionFields(n *Node) {
	if len(n.Data) == 0 {
		return
	}
	kr, ok := n.Data["kernel_revision"].(map[string]any)
	if !ok {
		return
	}
	ver, ok := kr["version"].(map[string]any)
	if !ok || len(ver) == 0 {
		return
	}
	for _, k := range []string{"version", "patchlevel", "sublevel"} {
		v, ok := ver[k]
		if !ok || !pyTruthy(v) {
			continue
		}
		if i, ok := pyInt(v); ok {
			ver[k] = i
		}
	}
}

// pyTruthy is Python's bool(v) for decoded JSON.
func pyTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err != nil || f != 0
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}

// pyInt is Python's int(v) for the values it accepts without error.
func pyInt(v any) (json.Number, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case string:
		s := strings.TrimSpace(x)
		sign := ""
		if s != "" && (s[0] == '+' || s[0] == '-') {
			if s[0] == '-' {
				sign = "-"
			}
			s = s[1:]
		}
		if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
			return "", false
		}
		s = strings.ReplaceAll(s, "_", "")
		if !allDigits(s) {
			return "", false
		}
		i, _ := new(big.Int).SetString(sign+s, 10)
		return json.Number(i.String()), true
	case json.Number:
		if isIntNumber(x) {
			return x, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return "", false
		}
		return floatToInt(f)
	case float64:
		return floatToInt(x)
	case int:
		return json.Number(strconv.Itoa(x)), true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	}
	return "", false
}

func floatToInt(f float64) (json.Number, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	i, _ := new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
	return json.Number(i.String()), true
}

// stateTransitions is validate_node_state_transition's map.
var stateTransitions = map[string][]string{
	StateRunning:   {StateAvailable, StateClosing, StateDone},
	StateAvailable: {StateClosing, StateDone},
	StateClosing:   {StateDone},
	StateDone:      {},
}

// TransitionError is CheckTransition's error.
type TransitionError struct{ To string }

func (e *TransitionError) Error() string { return "Transition not allowed with state: " + e.To }

// CheckTransition implements validate_node_state_transition: the same
// state is always allowed; running may go to available, closing or done,
// available to closing or done, closing to done, done nowhere. The error
// reads exactly "Transition not allowed with state: <to>".
func CheckTransition(from, to string) error {
	if from == to {
		return nil
	}
	for _, s := range stateTransitions[from] {
		if s == to {
			return nil
		}
	}
	return &TransitionError{To: to}
}
