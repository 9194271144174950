package disclosure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Count is a released count: a number, or suppressed ("fewer than the
// threshold"). A suppressed count has no number to read: Value reports
// false, and it marshals as the JSON string "< 10", never as a number. The
// zero Count is the number 0.
type Count struct {
	n     int
	below int // > 0: suppressed, fewer than below
}

// Suppressed returns the count "fewer than threshold".
func Suppressed(threshold int) Count { return Count{below: threshold} }

// Value returns the number, and false for a suppressed count.
func (c Count) Value() (int, bool) {
	if c.below > 0 {
		return 0, false
	}
	return c.n, true
}

// Suppressed reports whether the count is "fewer than" a threshold, and which.
func (c Count) Suppressed() (threshold int, ok bool) { return c.below, c.below > 0 }

// String writes the number, or "< 10".
func (c Count) String() string {
	if c.below > 0 {
		return "< " + strconv.Itoa(c.below)
	}
	return strconv.Itoa(c.n)
}

// MarshalJSON writes the number, or the string "< 10".
func (c Count) MarshalJSON() ([]byte, error) {
	if c.below > 0 {
		return json.Marshal(c.String())
	}
	return []byte(strconv.Itoa(c.n)), nil
}

// UnmarshalJSON reads what MarshalJSON writes: a non-negative integer, or
// "< N" with N ≥ 1.
func (c *Count) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		rest, ok := strings.CutPrefix(s, "< ")
		n, err := strconv.Atoi(rest)
		if !ok || err != nil || n < 1 || strconv.Itoa(n) != rest {
			return fmt.Errorf("disclosure: count %q: want a number or \"< N\"", s)
		}
		*c = Count{below: n}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("disclosure: count: want a number or \"< N\"")
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return fmt.Errorf("disclosure: count %v: want a whole number ≥ 0", f)
	}
	*c = Count{n: int(f)}
	return nil
}

// Release turns a true count and its noise into what leaves the node: the
// noisy count rounded to the nearest integer and floored at 0, suppressed
// when the true count or the noisy one is below the threshold.
func Release(trueCount int, noise float64, threshold int) Count {
	v := math.Round(float64(trueCount) + noise)
	if v < 0 || math.IsNaN(v) {
		v = 0
	}
	if v > math.MaxInt32 {
		v = math.MaxInt32
	}
	if threshold > 0 && (trueCount < threshold || v < float64(threshold)) {
		return Suppressed(threshold)
	}
	return Count{n: int(v)}
}

// Suppress releases a count without noise, only suppressing it below the
// threshold: for public totals (the atlas) that are not answers to a
// researcher's question.
func Suppress(trueCount, threshold int) Count { return Release(trueCount, 0, threshold) }
