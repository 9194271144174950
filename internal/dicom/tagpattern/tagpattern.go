package tagpattern

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
)

// Parse reads a pattern: the tag with x digits zero, and the mask of the digits that
// are given (0xFFFFFFFF for a plain tag).
func Parse(s string) (tag, mask uint32, err error) {
	if len(s) != 11 || s[0] != '(' || s[5] != ',' || s[10] != ')' {
		return 0, 0, fmt.Errorf("bad tag %q", s)
	}
	for _, c := range s[1:5] + s[6:10] {
		tag <<= 4
		mask <<= 4
		if c == 'x' || c == 'X' {
			continue
		}
		v, err := strconv.ParseUint(string(c), 16, 8)
		if err != nil {
			return 0, 0, fmt.Errorf("bad tag %q", s)
		}
		tag |= uint32(v)
		mask |= 0xF
	}
	return tag, mask, nil
}

// Exact reports whether mask names a single tag.
func Exact(mask uint32) bool { return mask == 0xFFFFFFFF }

// Sort orders n patterns, read through at(i), for a table searched front to back: the
// exact tags first, by tag, then the patterns with most given bits first (so the first
// that matches is the most specific), by tag among equals.
func Sort(n int, at func(i int) (tag, mask uint32), swap func(i, j int)) {
	sort.Sort(sorter{n, at, swap})
}

type sorter struct {
	n    int
	at   func(int) (uint32, uint32)
	swap func(i, j int)
}

func (s sorter) Len() int      { return s.n }
func (s sorter) Swap(i, j int) { s.swap(i, j) }
func (s sorter) Less(i, j int) bool {
	ti, mi := s.at(i)
	tj, mj := s.at(j)
	if Exact(mi) != Exact(mj) {
		return Exact(mi)
	}
	if bi, bj := bits.OnesCount32(mi), bits.OnesCount32(mj); bi != bj {
		return bi > bj
	}
	return ti < tj
}
