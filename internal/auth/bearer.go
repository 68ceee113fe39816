package auth

import "strings"

// BearerToken extracts the token from an Authorization header value:
//
//   - "Bearer X" with the scheme in any case gives X;
//   - a bare token with no scheme ("X", which kci-dev sends) gives X;
//   - an empty header, a lone "Bearer", or another scheme ("Basic X")
//     gives "".
//
// Surrounding white space is ignored.
func BearerToken(header string) string {
	h := strings.TrimSpace(header)
	if h == "" {
		return ""
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		scheme, rest, found = strings.Cut(h, "\t")
	}
	if !found {
		if strings.EqualFold(h, "bearer") {
			return ""
		}
		return h
	}
	if !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	rest = strings.TrimSpace(rest)
	if strings.ContainsAny(rest, " \t") {
		return ""
	}
	return rest
}
