package model

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 8, 21, 9, 54, 55, 0, time.UTC), "2026-08-21T09:54:55.000000"},
		{time.Date(2026, 8, 21, 9, 54, 55, 123456789, time.UTC), "2026-08-21T09:54:55.123456"},
		{time.Date(2026, 8, 21, 11, 54, 55, 0, time.FixedZone("x", 2*3600)), "2026-08-21T09:54:55.000000"},
	}
	for _, tc := range tests {
		if got := FormatTime(tc.in); got != tc.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTimeJSON(t *testing.T) {
	tm := T(time.Date(2026, 8, 21, 11, 54, 55, 123456789, time.FixedZone("x", 2*3600)))
	b, err := json.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `"2026-08-21T09:54:55.123456"` {
		t.Errorf("Marshal = %s", b)
	}
	var back Time
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != tm {
		t.Errorf("round trip: %v != %v", back, tm)
	}

	for in, want := range map[string]string{
		`"2026-08-21T09:54:55+02:00"`:   "2026-08-21T07:54:55.000000",
		`"2024-11-01"`:                  "2024-11-01T00:00:00.000000",
		`"2026-08-21 09:54:55.1234567"`: "2026-08-21T09:54:55.123456",
	} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
			continue
		}
		if got.String() != want {
			t.Errorf("Unmarshal(%s) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{`"garbage"`, `5`, `true`, `{}`} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want error", in, got)
		}
	}
	// null leaves the value alone, as encoding/json does for other types.
	got := tm
	if err := json.Unmarshal([]byte(`null`), &got); err != nil || got != tm {
		t.Errorf("Unmarshal(null) = %v, %v", got, err)
	}
}
