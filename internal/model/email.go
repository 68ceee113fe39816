package model

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// prettyEmail is pydantic's "Name <address>" form, which EmailStr accepts
// and reduces to the address.
var prettyEmail = regexp.MustCompile(`^\s*(?:"[^"]*"|[^<>"]*?)\s*<\s*([^<>]+?)\s*>\s*$`)

// specialUseDomains are refused by email-validator (RFC 6761 and
// friends) for deliverable addresses.
var specialUseDomains = []string{"arpa", "invalid", "local", "localhost", "onion", "test"}

// normalizeEmail validates an address the way pydantic's EmailStr does
// (email-validator without the DNS check) and returns it normalised: the
// domain lowercased, the local part kept as written. reason is the
// email-validator message when the address is refused.
func normalizeEmail(s string) (normalized, reason string) {
	if len(s) > 2048 {
		return "", "Length must not exceed 2048 characters"
	}
	if m := prettyEmail.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "An email address must have an @-sign."
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "", "There must be something before the @-sign."
	}
	if domain == "" {
		return "", "There must be something after the @-sign."
	}
	if !utf8.ValidString(s) {
		return "", "The email address is not valid UTF-8."
	}
	if r := localPartError(local); r != "" {
		return "", r
	}
	if strings.HasPrefix(domain, "[") {
		return "", "A bracketed IP address after the @-sign is not allowed here."
	}
	domain = strings.ToLower(domain)
	if r := domainError(domain); r != "" {
		return "", r
	}
	norm := local + "@" + domain
	if n := utf8.RuneCountInString(norm); n > 254 {
		return "", fmt.Sprintf("The email address is too long (%d characters too many).", n-254)
	}
	return norm, ""
}

// atext are the characters allowed unquoted in a local part besides
// letters and digits (RFC 5322), and non-ASCII letters (RFC 6531).
const atext = "!#$%&'*+-/=?^_`{|}~"

func localPartError(local string) string {
	if n := utf8.RuneCountInString(local); n > 64 {
		return fmt.Sprintf("The email address is too long before the @-sign (%d characters too many).", n-64)
	}
	bad := badChars(local, func(r rune) bool {
		return r == '.' || (r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(atext, r))) ||
			(r >= 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)))
	})
	if bad != "" {
		return "The email address contains invalid characters before the @-sign: " + bad + "."
	}
	switch {
	case strings.HasPrefix(local, "."):
		return "An email address cannot start with a period."
	case strings.HasSuffix(local, "."):
		return "An email address cannot have a period immediately before the @-sign."
	case strings.Contains(local, ".."):
		return "An email address cannot have two periods in a row."
	}
	return ""
}

// badChars lists the characters of s that ok refuses, quoted, each once,
// in order.
func badChars(s string, ok func(rune) bool) string {
	var bad []string
	for _, r := range s {
		if ok(r) {
			continue
		}
		if c := fmt.Sprintf("%q", string(r)); !slices.Contains(bad, c) {
			bad = append(bad, c)
		}
	}
	return strings.Join(bad, ", ")
}

func domainError(domain string) string {
	bad := badChars(domain, func(r rune) bool {
		return r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
	})
	if bad != "" {
		return "The part after the @-sign contains invalid characters: " + bad + "."
	}
	switch {
	case strings.HasPrefix(domain, "."):
		return "An email address cannot have a period immediately after the @-sign."
	case strings.HasSuffix(domain, "."):
		return "An email address cannot end with a period."
	case strings.Contains(domain, ".."):
		return "An email address cannot have two periods in a row."
	case len(domain) > 253:
		return "The email address is too long after the @-sign."
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if strings.HasPrefix(l, "-") {
			return "An email address cannot have a hyphen immediately after the @-sign or a period."
		}
		if strings.HasSuffix(l, "-") {
			return "An email address cannot have a hyphen immediately before a period or the end of the address."
		}
		if n := len(l); n > 63 {
			return fmt.Sprintf("After the @-sign, periods cannot be separated by so many characters (%d characters too many).", n-63)
		}
	}
	if len(labels) < 2 {
		return "The part after the @-sign is not valid. It should have a period."
	}
	for _, sp := range specialUseDomains {
		if domain == sp || strings.HasSuffix(domain, "."+sp) {
			return "The part after the @-sign is a special-use or reserved name that cannot be used with email."
		}
	}
	tld := labels[len(labels)-1]
	last, _ := utf8.DecodeLastRuneInString(tld)
	if !unicode.IsLetter(last) {
		return "The part after the @-sign is not valid. It is not within a valid top-level domain."
	}
	return ""
}
