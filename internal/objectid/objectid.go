// Package objectid implements MongoDB-compatible 12-byte object identifiers,
// written as 24 lowercase hex characters on the wire and in every backend.
package objectid

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ID is a 12-byte ObjectId: 4 bytes of Unix seconds, 5 random bytes fixed
// per process and a 3-byte counter, as MongoDB drivers generate them.
type ID [12]byte

// Nil is the zero ID.
var Nil ID

var (
	processUnique [5]byte
	counter       atomic.Uint32
)

func init() {
	var b [4]byte
	_, _ = rand.Read(processUnique[:])
	_, _ = rand.Read(b[:])
	counter.Store(binary.BigEndian.Uint32(b[:]))
}

// New returns a fresh ID for the current time.
func New() ID { return NewAt(time.Now()) }

// NewAt returns a fresh ID whose timestamp part is t.
func NewAt(t time.Time) ID {
	var id ID
	binary.BigEndian.PutUint32(id[0:4], uint32(t.Unix()))
	copy(id[4:9], processUnique[:])
	c := counter.Add(1)
	id[9], id[10], id[11] = byte(c>>16), byte(c>>8), byte(c)
	return id
}

// ErrInvalid is returned by Parse for anything but 24 hex characters.
var ErrInvalid = errors.New("invalid ObjectId")

// Parse reads a 24-character hex string.
func Parse(s string) (ID, error) {
	var id ID
	if len(s) != 24 {
		return id, fmt.Errorf("%w: %q is not a 12-byte input or a 24-character hex string", ErrInvalid, s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q is not a 12-byte input or a 24-character hex string", ErrInvalid, s)
	}
	return id, nil
}

// Valid reports whether s is a well-formed ObjectId string.
func Valid(s string) bool { _, err := Parse(s); return err == nil }

// String is the 24-character lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is Nil.
func (id ID) IsZero() bool { return id == Nil }

// Time is the creation time encoded in the ID.
func (id ID) Time() time.Time { return time.Unix(int64(binary.BigEndian.Uint32(id[0:4])), 0).UTC() }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// MarshalJSON writes the hex string.
func (id ID) MarshalJSON() ([]byte, error) { return json.Marshal(id.String()) }

// UnmarshalJSON accepts the hex string form only.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: not a string", ErrInvalid)
	}
	return id.UnmarshalText([]byte(s))
}
