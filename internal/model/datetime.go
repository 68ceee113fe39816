package model

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/isotime"
)

// wireLayout is how every datetime leaves the server: naive UTC with
// microseconds, as the reference (pydantic over BSON dates) writes them.
const wireLayout = "2006-01-02T15:04:05.000000"

// FormatTime renders t as naive UTC with microseconds.
func FormatTime(t time.Time) string { return t.UTC().Format(wireLayout) }

// Now is the current time truncated to microseconds, the wire precision.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Time is a datetime that marshals in the wire format and unmarshals from
// every accepted shape.
type Time struct{ time.Time }

// T wraps t, truncated to microseconds and in UTC.
func T(t time.Time) Time { return Time{t.UTC().Truncate(time.Microsecond)} }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(FormatTime(t.Time)) }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // encoding/json convention: null is a no-op
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("invalid datetime: %s", b)
	}
	v, err := isotime.Parse(s)
	if err != nil {
		return err
	}
	*t = T(v)
	return nil
}

// String is the wire format.
func (t Time) String() string { return FormatTime(t.Time) }
