// Package isotime reads ISO 8601 datetimes in every shape API clients
// send them (pydantic's leniency): a generic piece, with no knowledge of
// the application.
package isotime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads the datetime shapes clients send: date only, "T" (or
// "t") or a space between date and time, HH:MM with optional :SS,
// optional fractional seconds after "." or "," (any number of digits,
// truncated to nanoseconds), optional "Z" or a +HH:MM / -HH:MM / +HHMM /
// +HH offset. A space left over from a URL-encoded "+" offset is accepted,
// and so is a space before the offset sign. Surrounding whitespace is
// ignored. Naive values are UTC; the result is always in UTC.
func Parse(s string) (time.Time, error) {
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("invalid datetime %q", s) }
	in := strings.TrimSpace(s)
	if len(in) < 10 {
		return bad()
	}
	date, err := time.Parse("2006-01-02", in[:10])
	if err != nil {
		return bad()
	}
	if len(in) == 10 {
		return date, nil
	}
	if c := in[10]; c != 'T' && c != 't' && c != ' ' {
		return bad()
	}
	p := in[11:]
	num2 := func(max int) (int, bool) {
		if len(p) < 2 || !isDigit(p[0]) || !isDigit(p[1]) {
			return 0, false
		}
		v := int(p[0]-'0')*10 + int(p[1]-'0')
		p = p[2:]
		return v, v <= max
	}
	hh, ok := num2(23)
	if !ok || len(p) == 0 || p[0] != ':' {
		return bad()
	}
	p = p[1:]
	mm, ok := num2(59)
	if !ok {
		return bad()
	}
	ss, ns := 0, 0
	if len(p) > 0 && p[0] == ':' {
		p = p[1:]
		if ss, ok = num2(59); !ok {
			return bad()
		}
		if len(p) > 0 && (p[0] == '.' || p[0] == ',') {
			p = p[1:]
			n := 0
			for n < len(p) && isDigit(p[n]) {
				n++
			}
			if n == 0 {
				return bad()
			}
			frac := p[:n]
			p = p[n:]
			ns, _ = strconv.Atoi((frac + "000000000")[:9])
		}
	}
	t := date.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute +
		time.Duration(ss)*time.Second + time.Duration(ns))
	switch {
	case p == "":
	case p == "Z" || p == "z":
	default:
		if len(p) > 1 && p[0] == ' ' && (p[1] == '+' || p[1] == '-') {
			p = p[1:] // "12:00:00 +02:00"
		}
		off, err := parseOffset(p)
		if err != nil {
			return bad()
		}
		t = t.Add(-off)
	}
	return t.UTC(), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseOffset reads [+- ]HH[[:]MM]; a leading space is a "+" that was
// URL-decoded.
func parseOffset(z string) (time.Duration, error) {
	sign := time.Duration(1)
	switch z[0] {
	case '+', ' ':
	case '-':
		sign = -1
	default:
		return 0, fmt.Errorf("bad offset")
	}
	d := z[1:]
	if len(d) == 5 && d[2] == ':' {
		d = d[:2] + d[3:]
	}
	if (len(d) != 4 && len(d) != 2) || !isDigits(d) {
		return 0, fmt.Errorf("bad offset")
	}
	h, _ := strconv.Atoi(d[:2])
	if h > 23 {
		return 0, fmt.Errorf("bad offset")
	}
	m := 0
	if len(d) == 4 {
		if m, _ = strconv.Atoi(d[2:]); m > 59 {
			return 0, fmt.Errorf("bad offset")
		}
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
