package model

import "strings"

// Fields reads the members of a JSON object body the way pydantic
// validates a FastAPI request model, with the lax validators of
// DecodeNode (values.go): unknown members are ignored, and the errors
// (loc ["body", name]) are collected, to be answered together as one 422
// by Err.
type Fields struct {
	m map[string]any
	c collector
}

// NewFields reads the members of m.
func NewFields(m map[string]any) *Fields { return &Fields{m: m} }

// Err is the collected *ValidationError, or nil.
func (f *Fields) Err() error {
	if !f.c.failed() {
		return nil
	}
	return &ValidationError{Errors: f.c.errs}
}

func bodyLoc(name string) *locPath { return rootLoc([]any{"body", name}) }

// get returns the member, reporting "missing" when required and absent.
func (f *Fields) get(name string, required bool) (any, bool) {
	v, ok := f.m[name]
	if !ok && required {
		f.c.add("missing", bodyLoc(name), "Field required", f.m, nil)
	}
	return v, ok
}

// Str is a required str.
func (f *Fields) Str(name string) string {
	v, ok := f.get(name, true)
	if !ok {
		return ""
	}
	s, _ := strType(&f.c, bodyLoc(name), v)
	return s
}

// OptStr is Optional[str] = None: absent and null are nil.
func (f *Fields) OptStr(name string) *string {
	v, ok := f.get(name, false)
	if !ok {
		return nil
	}
	s, _ := optStr(&f.c, bodyLoc(name), v)
	return s
}

// NonEmpty reports a string_too_short error when the member name was
// sent as a blank string (usernames and group names must say something).
func (f *Fields) NonEmpty(name string) {
	if s, ok := f.m[name].(string); ok && strings.TrimSpace(s) == "" {
		f.c.add("string_too_short", bodyLoc(name), "String should have at least 1 character", s, map[string]any{"min_length": 1})
	}
}

// Bool is bool = def (null is an error, as in pydantic).
func (f *Fields) Bool(name string, def bool) bool {
	v, ok := f.get(name, false)
	if !ok {
		return def
	}
	b, _ := boolType(&f.c, bodyLoc(name), v)
	return b
}

// OptBool is Optional[bool] = None.
func (f *Fields) OptBool(name string) *bool {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	b, ok := boolType(&f.c, bodyLoc(name), v)
	if !ok {
		return nil
	}
	return &b
}

// Groups is the reference's groups: List[str] = [] with its "unique
// names" validator; present tells whether the member was sent.
func (f *Fields) Groups(name string) (groups []string, present bool) {
	v, ok := f.get(name, false)
	if !ok {
		return []string{}, false
	}
	out, ok := strList(&f.c, bodyLoc(name), v)
	if !ok {
		return nil, true
	}
	seen := make(map[string]bool, len(out))
	for _, g := range out {
		if seen[g] {
			f.c.add("value_error", bodyLoc(name), "Value error, Groups must have unique names.", v, map[string]any{"error": map[string]any{}})
			return nil, true
		}
		seen[g] = true
	}
	return out, true
}

// Email is a required EmailStr; the normalised address is returned.
func (f *Fields) Email(name string) string {
	v, ok := f.get(name, true)
	if !ok {
		return ""
	}
	e, _ := f.email(name, v)
	return e
}

// OptEmail is Optional[EmailStr] = None.
func (f *Fields) OptEmail(name string) *string {
	v, ok := f.get(name, false)
	if !ok || v == nil {
		return nil
	}
	e, ok := f.email(name, v)
	if !ok {
		return nil
	}
	return &e
}

func (f *Fields) email(name string, v any) (string, bool) {
	s, ok := strType(&f.c, bodyLoc(name), v)
	if !ok {
		return "", false
	}
	norm, reason := normalizeEmail(s)
	if reason != "" {
		f.c.add("value_error", bodyLoc(name), "value is not a valid email address: "+reason, s, map[string]any{"reason": reason})
		return "", false
	}
	return norm, true
}
