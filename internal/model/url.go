package model

import (
	"strconv"
	"strings"
)

// urlError is why a URL was refused, in pydantic's terms.
type urlError struct {
	typ    string // url_parsing, url_scheme
	reason string
}

func (e *urlError) fieldError(loc []any, input any) FieldError {
	if e.typ == "url_scheme" {
		return FieldError{
			Type: "url_scheme", Loc: loc, Msg: "URL scheme should be 'http' or 'https'",
			Input: input, Ctx: map[string]any{"expected_schemes": "'http' or 'https'"},
		}
	}
	return FieldError{
		Type: "url_parsing", Loc: loc, Msg: "Input should be a valid URL, " + e.reason,
		Input: input, Ctx: map[string]any{"error": e.reason},
	}
}

func urlTypeError(loc []any, input any) FieldError {
	return FieldError{Type: "url_type", Loc: loc, Msg: "URL input should be a string or URL", Input: input}
}

var specialPorts = map[string]string{
	"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21", "file": "",
}

// NormalizeURL validates s as pydantic's AnyUrl (httpOnly false) or
// AnyHttpUrl (httpOnly true) and returns what str() of the parsed URL
// gives, for the common cases: the scheme and an ASCII host are lowercased,
// a default or zero-padded port is dropped, an empty path becomes "/",
// backslashes and dot segments in the path are resolved and the characters
// the WHATWG URL standard escapes are percent-encoded. URLs whose
// normalisation is not trivial (internationalised or percent-encoded hosts,
// numeric IPv4 shorthands, file: URLs, non-special schemes) are validated
// as far as practical and returned as sent, with only the scheme
// lowercased.
func NormalizeURL(s string, httpOnly bool) (string, error) {
	out, uerr := normalizeURL(s, httpOnly)
	if uerr != nil {
		if uerr.typ == "url_scheme" {
			return "", &urlMsgError{"URL scheme should be 'http' or 'https'"}
		}
		return "", &urlMsgError{"Input should be a valid URL, " + uerr.reason}
	}
	return out, nil
}

type urlMsgError struct{ msg string }

func (e *urlMsgError) Error() string { return e.msg }

func normalizeURL(s string, httpOnly bool) (string, *urlError) {
	if s == "" {
		return "", &urlError{"url_parsing", "input is empty"}
	}
	// Leading and trailing C0 controls and spaces are stripped; tabs and
	// newlines anywhere are removed.
	in := strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(in, "\t\n\r") {
		in = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, in)
	}
	if in == "" {
		return "", &urlError{"url_parsing", "relative URL without a base"}
	}
	// Scheme.
	i := 0
	if !isASCIIAlpha(in[0]) {
		return "", &urlError{"url_parsing", "relative URL without a base"}
	}
	for i = 1; i < len(in); i++ {
		c := in[i]
		if isASCIIAlpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' {
			continue
		}
		break
	}
	if i >= len(in) || in[i] != ':' {
		return "", &urlError{"url_parsing", "relative URL without a base"}
	}
	scheme := strings.ToLower(in[:i])
	rest := in[i+1:]
	defPort, special := specialPorts[scheme]

	var out string
	if !special || scheme == "file" {
		if strings.HasPrefix(rest, "//") {
			auth := rest[2:]
			if j := strings.IndexAny(auth, "/?#"); j >= 0 {
				auth = auth[:j]
			}
			if k := strings.LastIndexByte(auth, '@'); k >= 0 {
				auth = auth[k+1:]
			}
			if strings.HasPrefix(auth, "[") {
				k := strings.IndexByte(auth, ']')
				if k < 0 || !validIPv6(auth[1:k]) {
					return "", &urlError{"url_parsing", "invalid IPv6 address"}
				}
				auth = auth[k+1:]
			}
			if k := strings.LastIndexByte(auth, ':'); k >= 0 {
				if _, ok := normPort(auth[k+1:]); !ok {
					return "", &urlError{"url_parsing", "invalid port number"}
				}
			}
		}
		out = scheme + ":" + rest
	} else {
		var uerr *urlError
		out, uerr = normalizeSpecial(scheme, defPort, rest)
		if uerr != nil {
			return "", uerr
		}
		if out == "" { // valid but not trivially normalised
			out = scheme + ":" + rest
		}
	}
	if httpOnly && scheme != "http" && scheme != "https" {
		return "", &urlError{"url_scheme", ""}
	}
	return out, nil
}

// normalizeSpecial handles http, https, ws, wss and ftp URLs; it returns ""
// with no error when the URL is valid but left as sent.
func normalizeSpecial(scheme, defPort, rest string) (string, *urlError) {
	rest = strings.TrimLeft(rest, `/\`)
	end := strings.IndexAny(rest, `/\?#`)
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	userinfo := ""
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		userinfo, auth = auth[:k], auth[k+1:]
	}
	host, port := auth, ""
	keep := false
	if strings.HasPrefix(host, "[") {
		k := strings.IndexByte(host, ']')
		if k < 0 || !validIPv6(host[1:k]) {
			return "", &urlError{"url_parsing", "invalid IPv6 address"}
		}
		after := host[k+1:]
		host = strings.ToLower(host[:k+1])
		if after != "" {
			if after[0] != ':' {
				return "", &urlError{"url_parsing", "invalid IPv6 address"}
			}
			port = after[1:]
		}
	} else if k := strings.LastIndexByte(host, ':'); k >= 0 {
		host, port = host[:k], host[k+1:]
	}
	if host == "" {
		return "", &urlError{"url_parsing", "empty host"}
	}
	if port != "" {
		p, ok := normPort(port)
		if !ok {
			return "", &urlError{"url_parsing", "invalid port number"}
		}
		port = p
		if port == defPort {
			port = ""
		}
	}
	if host[0] != '[' {
		for i := 0; i < len(host); i++ {
			c := host[i]
			switch {
			case c >= 0x80 || c == '%':
				keep = true // IDNA or percent-decoding needed
			case c <= ' ' || c == 0x7f || strings.IndexByte("#/:<>?@[\\]^|", c) >= 0:
				return "", &urlError{"url_parsing", "invalid international domain name"}
			}
		}
		if !keep {
			host = strings.ToLower(host)
			switch ipv4Kind(host) {
			case ipv4Invalid:
				return "", &urlError{"url_parsing", "invalid IPv4 address"}
			case ipv4Other:
				keep = true
			}
		}
	}
	// Path, query and fragment.
	path, query, frag := tail, "", ""
	hasQuery, hasFrag := false, false
	if k := strings.IndexByte(path, '#'); k >= 0 {
		path, frag, hasFrag = path[:k], path[k+1:], true
	}
	if k := strings.IndexByte(path, '?'); k >= 0 {
		path, query, hasQuery = path[:k], path[k+1:], true
	}
	if keep {
		return "", nil
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if userinfo != "" {
		user, pass, _ := strings.Cut(userinfo, ":")
		if user != "" || pass != "" {
			b.WriteString(pctEncode(user, userinfoSet))
			if pass != "" {
				b.WriteByte(':')
				b.WriteString(pctEncode(pass, userinfoSet))
			}
			b.WriteByte('@')
		}
	}
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(normPath(path))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(pctEncode(query, specialQuerySet))
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(pctEncode(frag, fragmentSet))
	}
	return b.String(), nil
}

func isASCIIAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// normPort checks a port (digits only, at most 65535) and drops leading
// zeros; an empty port is valid and stays empty.
func normPort(p string) (string, bool) {
	if p == "" {
		return "", true
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "", false
		}
	}
	t := strings.TrimLeft(p, "0")
	if t == "" {
		t = "0"
	}
	if len(t) > 5 {
		return "", false
	}
	n, _ := strconv.Atoi(t)
	if n > 65535 {
		return "", false
	}
	return t, true
}

func validIPv6(s string) bool {
	if s == "" || !strings.Contains(s, ":") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

const (
	ipv4None    = iota // a domain name
	ipv4Plain          // a canonical dotted quad
	ipv4Other          // numeric shorthand the URL parser would rewrite
	ipv4Invalid        // numeric but out of range
)

// ipv4Kind classifies host as the URL standard does: a host whose last
// label is numeric is an IPv4 address.
func ipv4Kind(host string) int {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if last == "" || !(allDigits(last) || strings.HasPrefix(last, "0x")) {
		return ipv4None
	}
	if len(labels) != 4 {
		return ipv4Other
	}
	for _, l := range labels {
		if !allDigits(l) || (len(l) > 1 && l[0] == '0') {
			return ipv4Other
		}
		if len(l) > 3 {
			return ipv4Invalid
		}
		if n, _ := strconv.Atoi(l); n > 255 {
			return ipv4Invalid
		}
	}
	if strings.HasSuffix(host, ".") {
		return ipv4Other
	}
	return ipv4Plain
}

func allDigits(s string) bool {
	return s != "" && strings.TrimLeft(s, "0123456789") == ""
}

// Percent-encode sets of the URL standard (beyond C0 controls, space and
// non-ASCII, which are always encoded).
const (
	fragmentSet     = "\"<>`"
	specialQuerySet = "\"#<>'"
	pathSet         = "\"#<>?`{}"
	userinfoSet     = pathSet + "/:;=@[\\]^|"
)

func pctEncode(s, set string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(set, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// normPath resolves a special URL's path: backslashes are slashes, "." and
// ".." segments (also percent-encoded) are applied, empty means "/".
func normPath(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	p = strings.TrimPrefix(p, "/")
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch l := strings.ToLower(s); l {
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, pctEncode(s, pathSet))
		}
	}
	return "/" + strings.Join(out, "/")
}
