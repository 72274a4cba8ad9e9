package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is a byte count. In text it is written as plain bytes ("65536") or
// with a binary unit: "64KiB", "1MiB", "1GiB" (units are case-insensitive).
type Size int64

// Byte-size units (powers of 1024).
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// String renders the size with the largest binary unit that divides it
// exactly ("64KiB", "1MiB"), else as plain bytes.
func (s Size) String() string {
	switch {
	case s != 0 && s%GiB == 0:
		return strconv.FormatInt(int64(s/GiB), 10) + "GiB"
	case s != 0 && s%MiB == 0:
		return strconv.FormatInt(int64(s/MiB), 10) + "MiB"
	case s != 0 && s%KiB == 0:
		return strconv.FormatInt(int64(s/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(s), 10)
}

// ParseSize parses plain bytes ("65536") or a count with a binary unit
// ("64KiB", "1 MiB", "2gib"). Decimal units (KB, MB, GB) are refused as
// ambiguous, and so are fractions, signs and overflowing values.
func ParseSize(s string) (Size, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: %w", s, err)
	}
	return n, nil
}

func parseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want bytes or a whole number of KiB, MiB or GiB (e.g. 65536, 64KiB, 1MiB)")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, errors.New("too large")
	}
	unit := strings.TrimSpace(t[i:])
	var mult Size
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "kib":
		mult = KiB
	case "mib":
		mult = MiB
	case "gib":
		mult = GiB
	case "k", "kb", "m", "mb", "g", "gb":
		return 0, fmt.Errorf("ambiguous unit %q: use KiB, MiB or GiB (powers of 1024) or plain bytes", unit)
	default:
		return 0, fmt.Errorf("unknown unit %q: want KiB, MiB, GiB or plain bytes", unit)
	}
	if Size(n) > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return Size(n) * mult, nil
}

// ParseDuration parses a Go duration with a unit ("250ms", "5s", "1h30m").
// A bare integer is refused (missing unit) unless bareSeconds is set, in
// which case it counts seconds ("86400"); "0" is always accepted. Negative
// durations are refused.
func ParseDuration(s string, bareSeconds bool) (time.Duration, error) {
	d, err := parseDuration(s, bareSeconds)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return d, nil
}

func parseDuration(s string, bareSeconds bool) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if allDigits(t) {
		n, err := strconv.ParseInt(t, 10, 64)
		switch {
		case err != nil:
			return 0, errors.New("too large")
		case n == 0:
			return 0, nil
		case !bareSeconds:
			return 0, errors.New("missing unit (e.g. 250ms, 5s, 1h)")
		case n > math.MaxInt64/int64(time.Second):
			return 0, errors.New("too large")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, errors.New("want a number with a unit (e.g. 250ms, 5s, 1h)")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// FormatDuration renders d with the largest unit that divides it exactly
// ("24h", "90m", "1500ms"), the form used in docs and messages; the result
// parses back with ParseDuration.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	neg := d < 0
	u := uint64(d)
	if neg {
		u = -u
	}
	units := [...]struct {
		name string
		n    uint64
	}{{"h", uint64(time.Hour)}, {"m", uint64(time.Minute)}, {"s", uint64(time.Second)},
		{"ms", uint64(time.Millisecond)}, {"us", uint64(time.Microsecond)}, {"ns", 1}}
	for _, un := range units {
		if u%un.n == 0 {
			s := strconv.FormatUint(u/un.n, 10) + un.name
			if neg {
				s = "-" + s
			}
			return s
		}
	}
	panic("unreachable")
}

// parseFloat parses a finite decimal number; a trailing "%" divides it by
// 100 ("40%" = 0.4).
func parseFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	if pct {
		t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("want a finite number (e.g. 0.4 or 40%)")
	}
	if pct {
		f /= 100
	}
	return f, nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// splitList splits a comma-separated list, trimming items and dropping
// empty ones ("a, b,," = [a b]; "" = []).
func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// tomlAny renders a decoded TOML value for a message.
func tomlAny(x any) string {
	switch v := x.(type) {
	case string:
		return tomlString(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatFloat(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = tomlAny(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{...}"
	}
	return fmt.Sprint(x)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
