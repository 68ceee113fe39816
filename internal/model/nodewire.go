package model

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// IsWireNode reports whether b is, byte for byte, what json.Marshal
// writes for the Node that b decodes to (encoding/json with UseNumber,
// as the stores decode their documents). When it is, a stored document
// can be answered as it is, with no decode and encode (GET /node/{id}).
//
// The check is conservative: true only for the exact form json.Marshal
// writes (the fields of Node in order and nothing else, no whitespace,
// Go's string escaping, map keys in sorted order with no escapes in
// them, datetimes in the wire layout, ObjectIds in lowercase hex, an
// int64 retry_counter in its shortest form, no trailing bytes). Anything
// else (a document written by another version or program, with extra or
// missing fields, a key that needs escaping) is false, and the caller
// decodes and encodes as before. It reads b once and allocates nothing.
func IsWireNode(b []byte) bool {
	s := wireScan{b: b}
	if !s.lit("{") {
		return false
	}
	for i, f := range wireNodeFields {
		if i > 0 && !s.lit(",") {
			return false
		}
		if !s.lit(f.key) || !f.value(&s) {
			return false
		}
	}
	return s.lit("}") && s.i == len(b)
}

// wireNodeFields are the fields of Node in json.Marshal's order, each
// with the check of its value (the key includes its quotes and colon).
var wireNodeFields = []struct {
	key   string
	value func(*wireScan) bool
}{
	{`"id":`, (*wireScan).objectID},
	{`"kind":`, (*wireScan).str},
	{`"name":`, (*wireScan).str},
	{`"path":`, orNull((*wireScan).strList)},
	{`"group":`, orNull((*wireScan).str)},
	{`"parent":`, orNull((*wireScan).objectID)},
	{`"state":`, (*wireScan).str},
	{`"result":`, orNull((*wireScan).str)},
	{`"artifacts":`, orNull((*wireScan).strMap)},
	{`"data":`, orNull((*wireScan).anyMap)},
	{`"debug":`, orNull((*wireScan).anyMap)},
	{`"jobfilter":`, orNull((*wireScan).strList)},
	{`"platform_filter":`, orNull((*wireScan).strList)},
	{`"created":`, (*wireScan).time},
	{`"updated":`, (*wireScan).time},
	{`"timeout":`, (*wireScan).time},
	{`"holdoff":`, orNull((*wireScan).time)},
	{`"owner":`, orNull((*wireScan).str)},
	{`"submitter":`, orNull((*wireScan).str)},
	{`"treeid":`, orNull((*wireScan).str)},
	{`"user_groups":`, orNull((*wireScan).strList)},
	{`"processed_by_kcidb_bridge":`, (*wireScan).boolean},
	{`"retry_counter":`, (*wireScan).int64},
}

// wireMaxDepth bounds the nesting the check follows; deeper documents
// are answered the slow way (request bodies are far shallower:
// KCI_MAX_JSON_DEPTH).
const wireMaxDepth = 256

// wireScan walks a document; every method consumes one value (or
// literal) and reports whether it has the canonical form.
type wireScan struct {
	b     []byte
	i     int
	depth int
}

func orNull(f func(*wireScan) bool) func(*wireScan) bool {
	return func(s *wireScan) bool { return s.lit("null") || f(s) }
}

// lit consumes lit if b continues with it.
func (s *wireScan) lit(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

func (s *wireScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str consumes a string as json.Marshal escapes it (HTML escaping on).
func (s *wireScan) str() bool {
	_, _, ok := s.strRaw()
	return ok
}

// strRaw consumes a canonical string and returns its bytes between the
// quotes and whether any was escaped.
func (s *wireScan) strRaw() (raw []byte, escaped, ok bool) {
	if !s.lit(`"`) {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if wirePlain[c] {
			s.i++
			continue
		}
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c == '\\':
			if !s.escape() {
				return nil, false, false
			}
			escaped = true
		case c < 0x20, c == '<', c == '>', c == '&':
			return nil, false, false
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
				return nil, false, false // encoding/json writes these escaped
			}
			s.i += n
		}
	}
	return nil, false, false
}

// wirePlain are the bytes json.Marshal writes as they are in a string
// and that need no further check: printable ASCII but for the quote,
// the backslash and the HTML characters it escapes.
var wirePlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// escape consumes an escape sequence if it is one json.Marshal writes:
// the short forms \" \\ \b \f \n \r \t, \u00XX (lowercase) for the other
// control characters, and \u003c \u003e \u0026 \u2028 \u2029.
func (s *wireScan) escape() bool {
	if len(s.b)-s.i < 2 {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
	default:
		return false
	}
	if len(s.b)-s.i < 6 {
		return false
	}
	u := string(s.b[s.i+2 : s.i+6])
	switch u {
	case "003c", "003e", "0026", "2028", "2029":
		s.i += 6
		return true
	}
	if u[0] != '0' || u[1] != '0' || (u[2] != '0' && u[2] != '1') {
		return false
	}
	d := strings.IndexByte("0123456789abcdef", u[3])
	if d < 0 {
		return false
	}
	switch c := int(u[2]-'0')<<4 | d; c {
	case '\b', '\f', '\n', '\r', '\t':
		return false // written in the short form
	}
	s.i += 6
	return true
}

// objectID consumes an ObjectId string: 24 lowercase hex digits.
func (s *wireScan) objectID() bool {
	if len(s.b)-s.i < 26 || s.b[s.i] != '"' || s.b[s.i+25] != '"' {
		return false
	}
	for _, c := range s.b[s.i+1 : s.i+25] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	s.i += 26
	return true
}

// time consumes a datetime in the wire layout
// ("YYYY-MM-DDTHH:MM:SS.ffffff") naming a valid time, which reads back
// as itself.
func (s *wireScan) time() bool {
	const n = len(wireLayout) + 2
	if len(s.b)-s.i < n || s.b[s.i] != '"' || s.b[s.i+n-1] != '"' {
		return false
	}
	v := s.b[s.i+1 : s.i+n-1]
	for i, c := range []byte(wireLayout) {
		if c >= '0' && c <= '9' {
			if v[i] < '0' || v[i] > '9' {
				return false
			}
		} else if v[i] != c {
			return false
		}
	}
	num := func(from, to int) int {
		x := 0
		for _, c := range v[from:to] {
			x = x*10 + int(c-'0')
		}
		return x
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	if month < 1 || month > 12 || day < 1 || num(11, 13) > 23 || num(14, 16) > 59 || num(17, 19) > 59 {
		return false
	}
	last := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		last = 29
	}
	if day > last {
		return false
	}
	s.i += n
	return true
}

func (s *wireScan) boolean() bool { return s.lit("true") || s.lit("false") }

// int64 consumes an integer as strconv.FormatInt writes an int64: no
// leading zeros, no "-0", within range.
func (s *wireScan) int64() bool {
	neg := s.lit("-")
	start := s.i
	if !s.digits() {
		return false
	}
	d := s.b[start:s.i]
	switch {
	case d[0] == '0':
		return len(d) == 1 && !neg
	case len(d) < 19:
		return true
	case len(d) > 19:
		return false
	case neg:
		return string(d) <= "9223372036854775808"
	}
	return string(d) <= "9223372036854775807"
}

// number consumes a JSON number (json.Number writes it as it is).
func (s *wireScan) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits consumes one or more decimal digits.
func (s *wireScan) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// strList consumes an array of strings.
func (s *wireScan) strList() bool {
	return s.array((*wireScan).str)
}

// strMap consumes an object of string values.
func (s *wireScan) strMap() bool {
	return s.object((*wireScan).str)
}

// anyMap consumes an object of any values (a map[string]any).
func (s *wireScan) anyMap() bool {
	return s.object((*wireScan).value)
}

// value consumes any value as json.Marshal writes it back from what
// encoding/json decodes into an interface with UseNumber.
func (s *wireScan) value() bool {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object((*wireScan).value)
	case c == '[':
		return s.array((*wireScan).value)
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.lit("true") || s.lit("false") || s.lit("null")
}

func (s *wireScan) array(elem func(*wireScan) bool) bool {
	if !s.lit("[") || !s.enter() {
		return false
	}
	defer s.leave()
	if s.lit("]") {
		return true
	}
	for {
		if !elem(s) {
			return false
		}
		if s.lit("]") {
			return true
		}
		if !s.lit(",") {
			return false
		}
	}
}

// object consumes an object whose keys are in strictly increasing byte
// order (json.Marshal sorts map keys; a repeated key would be decoded
// once) and need no escaping (so that their bytes are the decoded key).
func (s *wireScan) object(elem func(*wireScan) bool) bool {
	if !s.lit("{") || !s.enter() {
		return false
	}
	defer s.leave()
	if s.lit("}") {
		return true
	}
	var prev []byte
	for first := true; ; first = false {
		key, escaped, ok := s.strRaw()
		if !ok || escaped || (!first && bytes.Compare(prev, key) >= 0) {
			return false
		}
		prev = key
		if !s.lit(":") || !elem(s) {
			return false
		}
		if s.lit("}") {
			return true
		}
		if !s.lit(",") {
			return false
		}
	}
}

func (s *wireScan) enter() bool {
	s.depth++
	return s.depth <= wireMaxDepth
}

func (s *wireScan) leave() { s.depth-- }
