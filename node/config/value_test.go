package config

import (
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"65536", 65536},
		{"64KiB", 64 * KiB},
		{"64kib", 64 * KiB},
		{"64 KiB", 64 * KiB},
		{" 1MiB ", MiB},
		{"2GiB", 2 * GiB},
		{"100B", 100},
		{"100b", 100},
		{"007KiB", 7 * KiB},
		{"9223372036854775807", math.MaxInt64},
		{"8589934591GiB", 8589934591 * GiB},
	}
	for _, c := range good {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, why string }{
		{"", "empty"},
		{"   ", "empty"},
		{"KiB", "want bytes"},
		{"-1", "want bytes"},
		{"+1", "want bytes"},
		{"1.5MiB", "unknown unit"},
		{"64KB", "ambiguous unit"},
		{"64kb", "ambiguous unit"},
		{"1MB", "ambiguous unit"},
		{"1M", "ambiguous unit"},
		{"1GB", "ambiguous unit"},
		{"1TiB", "unknown unit"},
		{"1 KiB x", "unknown unit"},
		{"9223372036854775808", "too large"},
		{"8589934592GiB", "too large"},
		{"99999999999999999999KiB", "too large"},
	}
	for _, c := range bad {
		_, err := ParseSize(c.in)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseSize(%q) error = %v; want one containing %q", c.in, err, c.why)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		secs bool
		want time.Duration
	}{
		{"250ms", false, 250 * time.Millisecond},
		{"5s", false, 5 * time.Second},
		{"1h", false, time.Hour},
		{"1h30m", false, 90 * time.Minute},
		{"1.5s", false, 1500 * time.Millisecond},
		{" 75ms ", false, 75 * time.Millisecond},
		{"0", false, 0},
		{"0s", false, 0},
		{"86400", true, 24 * time.Hour},
		{"24h", true, 24 * time.Hour},
		{"100us", false, 100 * time.Microsecond},
		{"100µs", false, 100 * time.Microsecond},
	}
	for _, c := range good {
		got, err := ParseDuration(c.in, c.secs)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q, %t) = %v, %v; want %v", c.in, c.secs, got, err, c.want)
		}
	}
	bad := []struct {
		in   string
		secs bool
		why  string
	}{
		{"", false, "empty"},
		{"250", false, "missing unit"},
		{"-5s", false, "negative"},
		{"-5", true, "want a number with a unit"},
		{"5 s", false, "want a number with a unit"},
		{"5d", false, "want a number with a unit"},
		{"abc", false, "want a number with a unit"},
		{"1e3ms", false, "want a number with a unit"},
		{"9223372036854775807", true, "too large"},
		{"99999999999999999999", true, "too large"},
		{"3000000h", false, "want a number with a unit"}, // overflows time.Duration
	}
	for _, c := range bad {
		_, err := ParseDuration(c.in, c.secs)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseDuration(%q, %t) error = %v; want one containing %q", c.in, c.secs, err, c.why)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		0:                       "0s",
		1500 * time.Millisecond: "1500ms",
		24 * time.Hour:          "24h",
		90 * time.Minute:        "90m",
		61 * time.Second:        "61s",
		75 * time.Millisecond:   "75ms",
		1500 * time.Microsecond: "1500us",
		1001:                    "1001ns",
		-2 * time.Second:        "-2s",
	}
	for d, want := range cases {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSizeString(t *testing.T) {
	cases := map[Size]string{0: "0", 1: "1", 1000: "1000", KiB: "1KiB", 1536: "1536",
		MiB: "1MiB", 3 * GiB: "3GiB", GiB + KiB: "1048577KiB"}
	for s, want := range cases {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
	}
}

func TestParseFloat(t *testing.T) {
	good := map[string]float64{"0.4": 0.4, "40%": 0.4, " 40 % ": 0.4, "1": 1, "1e0": 1, "0": 0, "-0.5": -0.5}
	for in, want := range good {
		if got, err := parseFloat(in); err != nil || math.Abs(got-want) > 1e-15 {
			t.Errorf("parseFloat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "%", "NaN", "Inf", "-inf", "0.4.1", "forty", "1e999"} {
		if _, err := parseFloat(in); err == nil {
			t.Errorf("parseFloat(%q) accepted", in)
		}
	}
}

func TestSplitList(t *testing.T) {
	cases := map[string]string{"": "", "a": "a", " a , b ,, ": "a|b", ",,": "", "a,b,c": "a|b|c"}
	for in, want := range cases {
		if got := strings.Join(splitList(in), "|"); got != want {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
		if splitList(in) == nil {
			t.Errorf("splitList(%q) = nil, want an empty list", in)
		}
	}
}

func TestTOMLString(t *testing.T) {
	cases := map[string]string{"": `""`, "a b": `"a b"`, `q"\`: `"q\"\\"`, "x\ny\t\x01\x7f": `"x\ny\t\u0001\u007F"`, "é": `"é"`}
	for in, want := range cases {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}

// Rendering then parsing gives the value back, for every duration and size.
func TestFormatParseRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := time.Duration(rapid.Int64Range(0, math.MaxInt64).Draw(t, "d"))
		got, err := ParseDuration(FormatDuration(d), false)
		if err != nil || got != d {
			t.Fatalf("duration %d: %q parsed as %d, %v", int64(d), FormatDuration(d), int64(got), err)
		}
		s := Size(rapid.Int64Range(0, math.MaxInt64).Draw(t, "s"))
		gotS, err := ParseSize(s.String())
		if err != nil || gotS != s {
			t.Fatalf("size %d: %q parsed as %d, %v", int64(s), s.String(), int64(gotS), err)
		}
	})
}
