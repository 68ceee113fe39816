package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kernelci/kernelci-api-go/internal/model"
)

// bodyFields reads the members of a JSON request body the way pydantic
// validates a request model for FastAPI: unknown members are ignored,
// errors are collected (loc ["body", name]) and reported together as 422.
type bodyFields struct {
	m    map[string]any
	errs []model.FieldError
}

// decodeFields reads a JSON object body for field-by-field validation.
func (s *Server) decodeFields(w http.ResponseWriter, r *http.Request) (*bodyFields, error) {
	m, err := decodeObject(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return &bodyFields{m: m}, nil
}

func (f *bodyFields) add(typ, name, msg string, input any, ctx map[string]any) {
	f.errs = append(f.errs, model.FieldError{Type: typ, Loc: []any{"body", name}, Msg: msg, Input: input, Ctx: ctx})
}

// err is the collected 422, or nil.
func (f *bodyFields) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &model.ValidationError{Errors: f.errs}
}

// get returns the member, reporting "missing" when required and absent.
func (f *bodyFields) get(name string, required bool) (any, bool) {
	v, ok := f.m[name]
	if !ok && required {
		f.add("missing", name, "Field required", f.m, nil)
	}
	return v, ok
}

func (f *bodyFields) strValue(name string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		f.add("string_type", name, "Input should be a valid string", v, nil)
	}
	return s, ok
}

// str is a required str.
func (f *bodyFields) str(name string) string {
	v, ok := f.get(name, true)
	if !ok {
		return ""
	}
	s, _ := f.strValue(name, v)
	return s
}

// optStr is Optional[str] = None: absent and null are nil.
func (f *bodyFields) optStr(name string) *string {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	s, ok := f.strValue(name, v)
	if !ok {
		return nil
	}
	return &s
}

// nonEmpty reports a string_too_short error for an empty (or blank)
// name; usernames and group names must say something.
func (f *bodyFields) nonEmpty(name string, s *string) {
	if s != nil && strings.TrimSpace(*s) == "" {
		f.add("string_too_short", name, "String should have at least 1 character", *s, map[string]any{"min_length": 1})
	}
}

// boolValue is pydantic's lax bool.
func (f *bodyFields) boolValue(name string, v any) (bool, bool) {
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
		f.add("bool_parsing", name, "Input should be a valid boolean, unable to interpret input", v, nil)
		return false, false
	case json.Number:
		switch string(x) {
		case "0", "-0", "0.0", "-0.0":
			return false, true
		case "1", "1.0":
			return true, true
		}
		if strings.ContainsAny(string(x), ".eE") {
			f.add("bool_type", name, "Input should be a valid boolean", v, nil)
		} else {
			f.add("bool_parsing", name, "Input should be a valid boolean, unable to interpret input", v, nil)
		}
		return false, false
	}
	f.add("bool_type", name, "Input should be a valid boolean", v, nil)
	return false, false
}

// boolean is bool = def (null is an error, as in pydantic).
func (f *bodyFields) boolean(name string, def bool) bool {
	v, ok := f.get(name, false)
	if !ok {
		return def
	}
	b, _ := f.boolValue(name, v)
	return b
}

// optBool is Optional[bool] = None.
func (f *bodyFields) optBool(name string) *bool {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	b, ok := f.boolValue(name, v)
	if !ok {
		return nil
	}
	return &b
}

// groupList is the reference's groups: List[str] = [] with its "unique
// names" validator; present tells whether the member was sent.
func (f *bodyFields) groupList(name string) (groups []string, present bool) {
	v, ok := f.get(name, false)
	if !ok {
		return []string{}, false
	}
	l, isList := v.([]any)
	if !isList {
		f.add("list_type", name, "Input should be a valid list", v, nil)
		return nil, true
	}
	out := make([]string, 0, len(l))
	good := true
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			f.errs = append(f.errs, model.FieldError{Type: "string_type", Loc: []any{"body", name, i},
				Msg: "Input should be a valid string", Input: e})
			good = false
			continue
		}
		out = append(out, s)
	}
	if !good {
		return nil, true
	}
	seen := make(map[string]bool, len(out))
	for _, g := range out {
		if seen[g] {
			f.add("value_error", name, "Value error, Groups must have unique names.", v, map[string]any{"error": map[string]any{}})
			return nil, true
		}
		seen[g] = true
	}
	return out, true
}

func (f *bodyFields) emailValue(name string, v any) (string, bool) {
	s, ok := f.strValue(name, v)
	if !ok {
		return "", false
	}
	norm, reason := normalizeEmail(s)
	if reason != "" {
		f.add("value_error", name, "value is not a valid email address: "+reason, s, map[string]any{"reason": reason})
		return "", false
	}
	return norm, true
}

// email is a required EmailStr; the normalised address is returned.
func (f *bodyFields) email(name string) string {
	v, ok := f.get(name, true)
	if !ok {
		return ""
	}
	e, _ := f.emailValue(name, v)
	return e
}

// optEmail is Optional[EmailStr] = None.
func (f *bodyFields) optEmail(name string) *string {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	e, ok := f.emailValue(name, v)
	if !ok {
		return nil
	}
	return &e
}

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
	var bad []string
	for _, r := range local {
		ok := r == '.' || (r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(atext, r))) ||
			(r >= 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)))
		if !ok {
			c := fmt.Sprintf("%q", string(r))
			if !slices.Contains(bad, c) {
				bad = append(bad, c)
			}
		}
	}
	if len(bad) > 0 {
		return "The email address contains invalid characters before the @-sign: " + strings.Join(bad, ", ") + "."
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

func domainError(domain string) string {
	var bad []string
	for _, r := range domain {
		if !(r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) {
			c := fmt.Sprintf("%q", string(r))
			if !slices.Contains(bad, c) {
				bad = append(bad, c)
			}
		}
	}
	if len(bad) > 0 {
		return "The part after the @-sign contains invalid characters: " + strings.Join(bad, ", ") + "."
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

// invalidPassword is fastapi-users' answer to a refused new password.
func invalidPassword(code, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Detail: map[string]string{"code": code, "reason": reason}}
}
