package model

import (
	"errors"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// CheckUsername refuses usernames that would look like another one: with
// control or invisible format characters (NUL, newline, zero-width
// space...), or with leading or trailing white space.
func CheckUsername(name string) error {
	if name == "" {
		return errors.New("username must not be empty")
	}
	if strings.TrimSpace(name) != name {
		return errors.New("username must not start or end with white space")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return errors.New("username must not contain control or invisible characters")
		}
	}
	return nil
}

var folder = cases.Fold()

// UsernameKey is the form of a username compared for uniqueness: Unicode
// NFKC-normalised and case-folded, so that "Admin", "ADMIN" and "ａｄｍｉｎ"
// (full width) are all "admin". Logins still use the name as registered.
func UsernameKey(name string) string {
	return folder.String(norm.NFKC.String(name))
}

// HoldsUsername reports whether u holds the name: as its username or as
// one it had before (names once used stay reserved to their account).
func (u *User) HoldsUsername(key string) bool {
	if UsernameKey(u.Username) == key {
		return true
	}
	for _, p := range u.PastUsernames {
		if UsernameKey(p) == key {
			return true
		}
	}
	return false
}
