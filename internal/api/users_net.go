package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// nonGlobal are the address ranges Python's ipaddress does not call
// is_global (the IANA special-purpose registries): a client connecting
// from one of them is taken to be a reverse proxy, whose forwarding
// headers are then believed, as the reference does.
var nonGlobal = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"::1/128", "::/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "2002::/16", "3fff::/20", "fc00::/7", "fe80::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// globalExceptions are the globally reachable addresses inside the
// ranges above (192.0.0.9, 192.0.0.10 and parts of 2001::/23).
var globalExceptions = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"192.0.0.9/32", "192.0.0.10/32",
		"2001:1::1/128", "2001:1::2/128", "2001:3::/32", "2001:4:112::/48", "2001:20::/28", "2001:30::/28",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isGlobal reports whether ip is a public address, as Python's
// ipaddress.ip_address(ip).is_global does.
func isGlobal(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range globalExceptions {
		if p.Contains(ip) {
			return true
		}
	}
	for _, p := range nonGlobal {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// peerAddr is the address of the directly connected client.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// behindProxy reports whether the direct client is not on a global
// address, i.e. is a proxy whose forwarding headers count.
func behindProxy(r *http.Request) bool {
	ip, ok := peerAddr(r)
	return ok && !isGlobal(ip)
}

// forwardedPairs parses one element of a Forwarded header (RFC 7239):
// key=value pairs separated by ";", values maybe quoted.
func forwardedPairs(elem string) map[string]string {
	out := map[string]string{}
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out
}

// validHost accepts a host[:port] fit to put in a link.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]_", c)) {
			return false
		}
	}
	return true
}

// firstValue is the first of a comma-separated header's values.
func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(v)
}

// publicBaseURL is the base of links given to users: PUBLIC_BASE_URL
// when set; else, when the client is a proxy (not on a global address),
// the first hop of Forwarded (host, proto) or X-Forwarded-Host and
// X-Forwarded-Proto; else the request's own scheme and Host. No trailing
// slash, no version prefix (the unversioned paths are served too).
func (s *Server) publicBaseURL(r *http.Request) string {
	if s.opts.PublicBaseURL != "" {
		return strings.TrimRight(s.opts.PublicBaseURL, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if behindProxy(r) {
		var fh, fp string
		if f := r.Header.Get("Forwarded"); f != "" {
			p := forwardedPairs(firstValue(f))
			fh, fp = p["host"], p["proto"]
		}
		if fh == "" {
			fh = firstValue(r.Header.Get("X-Forwarded-Host"))
		}
		if fp == "" {
			fp = firstValue(r.Header.Get("X-Forwarded-Proto"))
		}
		if validHost(fh) {
			host = fh
		}
		if fp = strings.ToLower(fp); fp == "http" || fp == "https" {
			scheme = fp
		}
	}
	return scheme + "://" + host
}

// clientAddr is the client's address for the login limits and the
// access log: the direct peer, unless it is one of the trusted proxies
// (KCI_TRUSTED_PROXIES), in which case the address that proxy forwards
// for: X-Forwarded-For walked from its end (the entry the nearest proxy
// appended) past any further trusted proxy, or the for= of the last
// Forwarded element. A peer that is not a trusted proxy is believed about
// nothing, so rotating these headers never escapes a per-client limit.
func (s *Server) clientAddr(r *http.Request) string {
	ip, ok := peerAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusted(ip) {
		return ip.String()
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(strings.Join(xff, ","), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				break
			}
			a = a.Unmap()
			if i == 0 || !s.trusted(a) {
				return a.String()
			}
		}
	}
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		elems := strings.Split(fwd[len(fwd)-1], ",")
		f := forwardedPairs(elems[len(elems)-1])["for"]
		if h, _, err := net.SplitHostPort(f); err == nil {
			f = h
		}
		f = strings.TrimPrefix(strings.TrimSuffix(f, "]"), "[")
		if a, err := netip.ParseAddr(f); err == nil {
			return a.Unmap().String()
		}
	}
	return ip.String()
}

// trusted reports whether ip is one of the configured proxies.
func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
