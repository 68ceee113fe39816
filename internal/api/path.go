package api

import "strings"

// normalizePath collapses repeated slashes and strips the API version
// prefix: /latest/x and /v0/x are served as /x, a bare /x too. Any other
// /vN/ prefix is refused: ok is false and bad names the version.
func normalizePath(p string) (path string, ok bool, bad string) {
	if strings.Contains(p, "//") {
		var b strings.Builder
		prev := byte(0)
		for i := 0; i < len(p); i++ {
			if p[i] == '/' && prev == '/' {
				continue
			}
			prev = p[i]
			b.WriteByte(p[i])
		}
		p = b.String()
	}
	if p == "" {
		p = "/"
	}
	// A trailing slash is served like the path without it.
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	seg, rest := p[1:], ""
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg, rest = seg[:i], seg[i:]
	}
	switch {
	case seg == "latest" || seg == "v0":
		if rest == "" || rest == "/" {
			rest = "/"
		}
		return rest, true, ""
	case isVersion(seg):
		return "", false, seg
	}
	return p, true, ""
}

func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
