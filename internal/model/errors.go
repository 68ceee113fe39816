package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError is one request-schema error in FastAPI's 422 format.
//
// Ctx is the optional "ctx" member FastAPI copies from pydantic (for
// example {"expected": "'pass', 'fail', 'skip' or 'incomplete'"} for an
// enum); it is left out of the JSON when empty.
type FieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// ValidationError is a 422 body: {"detail": [FieldError...]}.
type ValidationError struct{ Errors []FieldError }

// Error lists every error on one line, "loc: msg" each.
func (e *ValidationError) Error() string {
	b := errorCount(len(e.Errors))
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(locString(fe.Loc))
		b.WriteString(": ")
		b.WriteString(fe.Msg)
	}
	return b.String()
}

// MarshalJSON writes the FastAPI 422 body {"detail": [...]}.
func (e ValidationError) MarshalJSON() ([]byte, error) {
	errs := e.Errors
	if errs == nil {
		errs = []FieldError{}
	}
	return json.Marshal(struct {
		Detail []FieldError `json:"detail"`
	}{errs})
}

// NotAnObjectError is the error FastAPI gives when a request body that
// should be a model (Node, Hierarchy, NodePatchRequest) is not a JSON
// object: type "model_attributes_type" at loc (usually "body"), as FastAPI
// validates bodies with from_attributes=True.
func NotAnObjectError(input any, loc ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{modelAttributesTypeError(input, rootLoc(loc))}}
}

func modelAttributesTypeError(input any, loc *locPath) FieldError {
	return FieldError{
		Type:  "model_attributes_type",
		Loc:   loc.slice(),
		Msg:   "Input should be a valid dictionary or object to extract fields from",
		Input: input,
	}
}

// UnsupportedKindError is ValidateKind's error for a kind without a
// submodel; its message is exactly the reference's.
type UnsupportedKindError struct{ Kind string }

func (e *UnsupportedKindError) Error() string { return "Unsupported node kind: " + e.Kind }

// KindError is ValidateKind's error when a node does not satisfy its kind's
// submodel. Loc values are relative to the node ("data", "kernel_revision",
// "url"). Error() reads like str() of a pydantic ValidationError.
type KindError struct {
	Model  string // submodel name: Checkout, Kbuild, Test, Job, Process, Regression
	Errors []FieldError
}

// pydanticDocsVersion is the pydantic minor version the reference pins; it
// only appears in the "For further information" lines of KindError.
const pydanticDocsVersion = "2.13"

func (e *KindError) Error() string {
	b := errorCount(len(e.Errors))
	b.WriteString(" for ")
	b.WriteString(e.Model)
	for _, fe := range e.Errors {
		b.WriteByte('\n')
		b.WriteString(locString(fe.Loc))
		b.WriteString("\n  ")
		b.WriteString(fe.Msg)
		fmt.Fprintf(b, " [type=%s, input_value=%s, input_type=%s]", fe.Type, truncRepr(pyRepr(fe.Input)), pyTypeName(fe.Input))
		fmt.Fprintf(b, "\n    For further information visit https://errors.pydantic.dev/%s/v/%s", pydanticDocsVersion, fe.Type)
	}
	return b.String()
}

// errorCount starts an error text with "N validation error(s)".
func errorCount(n int) *strings.Builder {
	b := new(strings.Builder)
	fmt.Fprintf(b, "%d validation error", n)
	if n != 1 {
		b.WriteByte('s')
	}
	return b
}

func locString(loc []any) string {
	parts := make([]string, len(loc))
	for i, l := range loc {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ".")
}

// collector gathers errors; every decoder appends to one.
type collector struct{ errs []FieldError }

func (c *collector) add(typ string, loc *locPath, msg string, input any, ctx map[string]any) {
	c.errs = append(c.errs, FieldError{Type: typ, Loc: loc.slice(), Msg: msg, Input: input, Ctx: ctx})
}

func (c *collector) failed() bool { return len(c.errs) > 0 }

// locPath is an error location built lazily: validators extend it for
// nothing more than a small allocation per level, and it becomes a []any
// only when an error is reported. The nil *locPath is the empty location.
type locPath struct {
	parent *locPath
	elem   any
	depth  int
}

func rootLoc(prefix []any) *locPath {
	var p *locPath
	for _, e := range prefix {
		p = p.child(e)
	}
	return p
}

func (p *locPath) child(elem any) *locPath {
	d := 1
	if p != nil {
		d = p.depth + 1
	}
	return &locPath{parent: p, elem: elem, depth: d}
}

func (p *locPath) slice() []any {
	if p == nil {
		return []any{}
	}
	out := make([]any, p.depth)
	for q := p; q != nil; q = q.parent {
		out[q.depth-1] = q.elem
	}
	return out
}

func modelTypeError(input any, className string, loc *locPath) FieldError {
	return FieldError{
		Type:  "model_type",
		Loc:   loc.slice(),
		Msg:   "Input should be a valid dictionary or instance of " + className,
		Input: input,
		Ctx:   map[string]any{"class_name": className},
	}
}

// pyTypeName is the Python type name of a decoded JSON value.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case bool:
		return "bool"
	case json.Number:
		if isIntNumber(x) {
			return "int"
		}
		return "float"
	case float32, float64:
		return "float"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "int"
	case map[string]any, map[string]string:
		return "dict"
	case []any, []string:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// isIntNumber reports whether a JSON number is an integer literal (what
// Python's json module turns into an int).
func isIntNumber(n json.Number) bool {
	return n != "" && !strings.ContainsAny(string(n), ".eE")
}

// truncRepr shortens long reprs the way pydantic-core does: more than 50
// bytes keep the first 25 and the last 24, cut on character boundaries.
func truncRepr(s string) string {
	if len(s) <= 50 {
		return s
	}
	head := 25
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - 24
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + "..." + s[tail:]
}

// pyRepr is Python's repr() of a decoded JSON value.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyStrRepr(x)
	case json.Number:
		if isIntNumber(x) {
			if i, ok := new(big.Int).SetString(string(x), 10); ok {
				return i.String()
			}
			return string(x)
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return string(x)
		}
		return pyFloatRepr(f)
	case float64:
		return pyFloatRepr(x)
	case float32:
		return pyFloatRepr(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case map[string]any:
		return pyDictRepr(x, pyRepr)
	case map[string]string:
		return pyDictRepr(x, pyStrRepr)
	case []any:
		return pyListRepr(x, pyRepr)
	case []string:
		return pyListRepr(x, pyStrRepr)
	}
	return fmt.Sprint(v)
}

// pyDictRepr formats m like Python's dict.__repr__ (keys sorted), its
// values through repr.
func pyDictRepr[V any](m map[string]V, repr func(V) string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = pyStrRepr(k) + ": " + repr(m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// pyListRepr formats l like Python's list.__repr__, its elements through
// repr.
func pyListRepr[V any](l []V, repr func(V) string) string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = repr(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pyStrRepr quotes s like Python's str.__repr__.
func pyStrRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteByte(quote)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == ' ' || (r < utf8.RuneSelf && r > ' ' && r < 0x7f):
			b.WriteRune(r)
		case r >= utf8.RuneSelf && unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyFloatRepr formats f like Python's float.__repr__.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	if decpt > 16 || decpt < -3 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	switch {
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	default:
		return sign + digits[:decpt] + "." + digits[decpt:]
	}
}
