package isotime

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	base := utc(2026, 8, 21, 9, 54, 55, 0)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-08-21T09:54:55", base},
		{"2026-08-21T09:54:55.123456", base.Add(123456 * time.Microsecond)},
		{"2026-08-21T09:54:55+00:00", base},
		{"2026-08-21T09:54:55+02:00", base.Add(-2 * time.Hour)},
		{"2026-08-21T09:54:55-05:30", base.Add(5*time.Hour + 30*time.Minute)},
		{"2026-08-21T09:54:55+0200", base.Add(-2 * time.Hour)},
		{"2026-08-21T09:54:55+02", base.Add(-2 * time.Hour)},
		{"2026-08-21 09:54:55", base},
		{"2026-08-21t09:54:55", base},
		{"2026-08-21T09:54:55Z", base},
		{"2026-08-21T09:54:55z", base},
		{"2026-08-21T09:54:55.5Z", base.Add(500 * time.Millisecond)},
		{"2024-11-01", utc(2024, 11, 1, 0, 0, 0, 0)},
		{"2026-08-21 09:54:55.123456 00:00", base.Add(123456 * time.Microsecond)}, // "+" URL-decoded to " "
		{"2026-08-21 09:54:55 02:00", base.Add(-2 * time.Hour)},
		{"2026-08-21 09:54:55 +02:00", base.Add(-2 * time.Hour)},
		{"2026-08-21T09:54", utc(2026, 8, 21, 9, 54, 0, 0)},
		{"2026-08-21T09:54Z", utc(2026, 8, 21, 9, 54, 0, 0)},
		{"2026-08-21T09:54:55,25", base.Add(250 * time.Millisecond)},
		{"2026-08-21T09:54:55.123456789", base.Add(123456789)},
		{"2026-08-21T09:54:55.1234567891234", base.Add(123456789)},
		{"  2026-08-21T09:54:55  ", base},
		{"2026-08-21T23:30:00-01:00", utc(2026, 8, 22, 0, 30, 0, 0)},
		{"2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Parse(%q) not in UTC: %v", tc.in, got.Location())
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", " ", "garbage", "2026", "2026-08", "2026-8-21", "20260821T095455",
		"2026-02-30", "2025-02-29", "2026-13-01", "2026-08-21X09:54:55",
		"2026-08-21T", "2026-08-21T9:54:55", "2026-08-21T25:00:00",
		"2026-08-21T09:60:00", "2026-08-21T09:54:60", "2026-08-21T09:54:55.",
		"2026-08-21T09:54:55.x", "2026-08-21T09:54:55+", "2026-08-21T09:54:55+24:00",
		"2026-08-21T09:54:55+02:60", "2026-08-21T09:54:55+2", "2026-08-21T09:54:55+02:0",
		"2026-08-21T09:54:55ZZ", "2026-08-21T09:54:55 Z", "2026-08-21T09:54:55UTC",
		"2026-08-21T09:54:55.123 garbage", "2026-08-21T09:54:5", "2026-08-21T09",
		"2026-08-21T09:54:55+02:00:00", "2026-08-21T09:54:55 -", "1700000000",
		"2026-08-21 09:54:55.123456 0000x",
	} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want error", in, got)
		}
	}
}
