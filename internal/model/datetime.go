package model

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wireLayout is how every datetime leaves the server: naive UTC with
// microseconds, as the reference (pydantic over BSON dates) writes them.
const wireLayout = "2006-01-02T15:04:05.000000"

// FormatTime renders t as naive UTC with microseconds.
func FormatTime(t time.Time) string { return t.UTC().Format(wireLayout) }

// Now is the current time truncated to microseconds, the wire precision.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// ParseTime reads the datetime shapes clients send: date only, "T" or a
// space between date and time, optional fractional seconds (any number of
// digits), optional "Z" or a +HH:MM / -HH:MM / +HHMM offset. A space left
// over from a URL-encoded "+" offset is accepted. Naive values are UTC.
func ParseTime(s string) (time.Time, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return time.Time{}, fmt.Errorf("invalid datetime %q", s)
	}
	// Date only.
	if len(in) == 10 {
		t, err := time.Parse("2006-01-02", in)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid datetime %q", s)
		}
		return t.UTC(), nil
	}
	if len(in) < 19 || (in[10] != 'T' && in[10] != ' ' && in[10] != 't') {
		return time.Time{}, fmt.Errorf("invalid datetime %q", s)
	}
	date, rest := in[:10], in[11:]
	// Split off the zone: Z, or a sign after the seconds.
	zone := ""
	if strings.HasSuffix(rest, "Z") || strings.HasSuffix(rest, "z") {
		zone, rest = "Z", rest[:len(rest)-1]
	} else if i := strings.IndexAny(rest[min(8, len(rest)):], "+- "); i >= 0 {
		i += min(8, len(rest))
		zone, rest = rest[i:], rest[:i]
		if zone[0] == ' ' { // "+" decoded to a space in a query string
			zone = "+" + zone[1:]
		}
	}
	layout := "2006-01-02T15:04:05"
	frac := ""
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		frac, rest = rest[i+1:], rest[:i]
		if frac == "" || len(frac) > 9 {
			return time.Time{}, fmt.Errorf("invalid datetime %q", s)
		}
		for _, c := range frac {
			if c < '0' || c > '9' {
				return time.Time{}, fmt.Errorf("invalid datetime %q", s)
			}
		}
	}
	if len(rest) == 5 { // HH:MM without seconds
		rest += ":00"
	}
	t, err := time.Parse(layout, date+"T"+rest)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid datetime %q", s)
	}
	if frac != "" {
		ns, _ := strconv.Atoi((frac + "000000000")[:9])
		t = t.Add(time.Duration(ns))
	}
	if zone != "" && zone != "Z" {
		off, err := parseOffset(zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid datetime %q", s)
		}
		t = t.Add(-off)
	}
	return t.UTC(), nil
}

func parseOffset(z string) (time.Duration, error) {
	sign := time.Duration(1)
	switch z[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, fmt.Errorf("bad offset")
	}
	d := strings.ReplaceAll(z[1:], ":", "")
	if len(d) != 4 && len(d) != 2 {
		return 0, fmt.Errorf("bad offset")
	}
	h, err := strconv.Atoi(d[:2])
	if err != nil || h > 23 {
		return 0, fmt.Errorf("bad offset")
	}
	m := 0
	if len(d) == 4 {
		if m, err = strconv.Atoi(d[2:]); err != nil || m > 59 {
			return 0, fmt.Errorf("bad offset")
		}
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), nil
}

// Time is a datetime that marshals in the wire format and unmarshals from
// every accepted shape.
type Time struct{ time.Time }

// T wraps t, truncated to microseconds and in UTC.
func T(t time.Time) Time { return Time{t.UTC().Truncate(time.Microsecond)} }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(FormatTime(t.Time)) }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid datetime: %s", b)
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = T(v)
	return nil
}

// String is the wire format.
func (t Time) String() string { return FormatTime(t.Time) }
