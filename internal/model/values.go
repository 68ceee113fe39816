package model

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
)

// Value validators shared by DecodeNode, DecodeNodePatch and ValidateKind.
// They follow pydantic v2 in lax "python" mode, which is how FastAPI
// validates a request body it has already parsed with json.loads. Each
// returns ok=false after adding its errors to c.

func strType(c *collector, loc *locPath, v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	c.add("string_type", loc, "Input should be a valid string", v, nil)
	return "", false
}

// optStr decodes Optional[str].
func optStr(c *collector, loc *locPath, v any) (*string, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := strType(c, loc, v)
	if !ok {
		return nil, false
	}
	return &s, true
}

func listType(c *collector, loc *locPath, v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	c.add("list_type", loc, "Input should be a valid list", v, nil)
	return nil, false
}

// strList decodes List[str]; the result is never nil on success.
func strList(c *collector, loc *locPath, v any) ([]string, bool) {
	l, ok := listType(c, loc, v)
	if !ok {
		return nil, false
	}
	out := make([]string, len(l))
	good := true
	for i, e := range l {
		s, ok := strType(c, loc.child(i), e)
		good = good && ok
		out[i] = s
	}
	return out, good
}

func dictType(c *collector, loc *locPath, v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[string]string:
		out := make(map[string]any, len(m))
		for k, s := range m {
			out[k] = s
		}
		return out, true
	}
	c.add("dict_type", loc, "Input should be a valid dictionary", v, nil)
	return nil, false
}

// enumExpected renders pydantic's list of permitted values:
// "'a', 'b' or 'c'".
func enumExpected(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + v + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func enumType(c *collector, loc *locPath, v any, values []string) (string, bool) {
	if s, ok := v.(string); ok {
		for _, e := range values {
			if s == e {
				return s, true
			}
		}
	}
	exp := enumExpected(values)
	c.add("enum", loc, "Input should be "+exp, v, map[string]any{"expected": exp})
	return "", false
}

// objectIDType is kernelci-core's PyObjectId in python mode: a union of
// "instance of ObjectId" and "str then ObjectId.is_valid", so a bad value
// yields one error per branch, each with the branch name in its loc.
func objectIDType(c *collector, loc *locPath, v any) (objectid.ID, bool) {
	s, isStr := v.(string)
	if isStr {
		if id, err := objectid.Parse(s); err == nil {
			return id, true
		}
	}
	c.add("is_instance_of", loc.child("is-instance[ObjectId]"), "Input should be an instance of ObjectId", v,
		map[string]any{"class": "ObjectId"})
	chain := loc.child("chain[str,function-plain[validate()]]")
	if !isStr {
		c.add("string_type", chain, "Input should be a valid string", v, nil)
	} else {
		c.add("value_error", chain, "Value error, Invalid ObjectId: "+s, v,
			map[string]any{"error": map[string]any{}})
	}
	return objectid.Nil, false
}

// boolType is pydantic's lax bool: true/false, 0/1 (also 0.0/1.0) and the
// strings 0, off, f, false, n, no, 1, on, t, true, y, yes in any case.
func boolType(c *collector, loc *locPath, v any) (bool, bool) {
	parsing := func() (bool, bool) {
		c.add("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v, nil)
		return false, false
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "0", "off", "f", "false", "n", "no":
			return false, true
		case "1", "on", "t", "true", "y", "yes":
			return true, true
		}
		return parsing()
	case json.Number:
		if isIntNumber(x) {
			switch string(x) {
			case "0", "-0":
				return false, true
			case "1":
				return true, true
			}
			return parsing()
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil && (f == 0 || f == 1) {
			return f == 1, true
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case int:
		if x == 0 || x == 1 {
			return x == 1, true
		}
		return parsing()
	case int64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
		return parsing()
	}
	c.add("bool_type", loc, "Input should be a valid boolean", v, nil)
	return false, false
}

// strictIntType is StrictInt: an integer JSON number (not a float, a bool
// or a string). The canonical decimal form is returned; it may exceed
// int64 as Python ints are unbounded.
func strictIntType(c *collector, loc *locPath, v any) (json.Number, bool) {
	switch x := v.(type) {
	case json.Number:
		if isIntNumber(x) {
			if i, ok := new(big.Int).SetString(string(x), 10); ok {
				return json.Number(i.String()), true
			}
		}
	case int:
		return json.Number(strconv.Itoa(x)), true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	}
	c.add("int_type", loc, "Input should be a valid integer", v, nil)
	return "", false
}

// int64Type is strictIntType limited to what a Node field can hold.
func int64Type(c *collector, loc *locPath, v any) (int64, bool) {
	n, ok := strictIntType(c, loc, v)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		c.add("int_parsing_size", loc, "Unable to parse input string as an integer, exceeded maximum size", v, nil)
		return 0, false
	}
	return i, true
}

// urlType is the BeforeValidator str(TypeAdapter(AnyUrl or
// AnyHttpUrl).validate_python(v)): it returns the normalised string.
func urlType(c *collector, loc *locPath, v any, httpOnly bool) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.errs = append(c.errs, urlTypeError(loc.slice(), v))
		return "", false
	}
	out, uerr := normalizeURL(s, httpOnly)
	if uerr != nil {
		c.errs = append(c.errs, uerr.fieldError(loc.slice(), v))
		return "", false
	}
	return out, true
}

var timestampRE = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// Unix timestamps pydantic accepts: seconds, or milliseconds beyond 2e10.
var (
	msThreshold  = big.NewRat(20_000_000_000, 1)
	maxTimestamp = big.NewRat(253402300799, 1) // 9999-12-31T23:59:59Z
	minTimestamp = big.NewRat(-62135596800, 1) // 0001-01-01T00:00:00Z
)

// datetimeType is pydantic's datetime: an ISO 8601 string (any shape
// ParseTime reads) or a Unix timestamp given as a number or a numeric
// string. The result is UTC, truncated to microseconds.
func datetimeType(c *collector, loc *locPath, v any) (time.Time, bool) {
	var num string
	switch x := v.(type) {
	case string:
		if timestampRE.MatchString(x) {
			num = x
			break
		}
		t, err := isotime.Parse(x)
		if err != nil || x != strings.TrimSpace(x) { // ParseTime is lenient about spaces, pydantic is not
			reason := dateErrorReason(x)
			c.add("datetime_from_date_parsing", loc, "Input should be a valid datetime or date, "+reason, v,
				map[string]any{"error": reason})
			return time.Time{}, false
		}
		return t.Truncate(time.Microsecond), true
	case json.Number:
		num = string(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			break
		}
		num = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		num = strconv.Itoa(x)
	case int64:
		num = strconv.FormatInt(x, 10)
	}
	if num == "" {
		c.add("datetime_type", loc, "Input should be a valid datetime", v, nil)
		return time.Time{}, false
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		c.add("datetime_type", loc, "Input should be a valid datetime", v, nil)
		return time.Time{}, false
	}
	if new(big.Rat).Abs(r).Cmp(msThreshold) > 0 {
		r.Quo(r, big.NewRat(1000, 1))
	}
	if r.Cmp(maxTimestamp) > 0 {
		reason := "dates after 9999 are not supported as unix timestamps"
		c.add("datetime_parsing", loc, "Input should be a valid datetime, "+reason, v, map[string]any{"error": reason})
		return time.Time{}, false
	}
	if r.Cmp(minTimestamp) < 0 {
		reason := "dates before 0001 are not supported as unix timestamps"
		c.add("datetime_parsing", loc, "Input should be a valid datetime, "+reason, v, map[string]any{"error": reason})
		return time.Time{}, false
	}
	// Round to microseconds.
	us := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
	q, m := new(big.Int).QuoRem(us.Num(), us.Denom(), new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(us.Denom()) >= 0 {
		if m.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return time.UnixMicro(q.Int64()).UTC(), true
}

// dateErrorReason approximates the reason speedate gives for a string that
// is neither a datetime nor a date.
func dateErrorReason(s string) string {
	if len(s) < 10 {
		return "input is too short"
	}
	digits := func(a, b int) bool { return allDigits(s[a:b]) }
	switch {
	case !digits(0, 4):
		return "invalid character in year"
	case s[4] != '-':
		return "invalid date separator, expected `-`"
	case !digits(5, 7):
		return "invalid character in month"
	case s[7] != '-':
		return "invalid date separator, expected `-`"
	case !digits(8, 10):
		return "invalid character in day"
	}
	if m, _ := strconv.Atoi(s[5:7]); m < 1 || m > 12 {
		return "month value is outside expected range"
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return "day value is outside expected range"
	}
	return "unexpected extra characters at the end of the input"
}
