package tagpattern

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in         string
		tag, mask  uint32
		bad, exact bool
	}{
		{in: "(0010,0010)", tag: 0x00100010, mask: 0xFFFFFFFF, exact: true},
		{in: "(60xx,3000)", tag: 0x60003000, mask: 0xFF00FFFF},
		{in: "(50XX,xxxx)", tag: 0x50000000, mask: 0xFF000000},
		{in: "(0010,001G)", bad: true},
		{in: "0010,0010", bad: true},
		{in: "(0010;0010)", bad: true},
	} {
		tag, mask, err := Parse(c.in)
		if (err != nil) != c.bad || !c.bad && (tag != c.tag || mask != c.mask || Exact(mask) != c.exact) {
			t.Errorf("Parse(%q) = %08x, %08x, %v", c.in, tag, mask, err)
		}
	}
}

func TestSort(t *testing.T) {
	in := []string{"(60xx,3000)", "(0010,0020)", "(50xx,xxxx)", "(0008,0018)", "(60xx,0010)", "(0010,0010)"}
	want := []string{"(0008,0018)", "(0010,0010)", "(0010,0020)", "(60xx,0010)", "(60xx,3000)", "(50xx,xxxx)"}
	type p struct {
		s         string
		tag, mask uint32
	}
	ps := make([]p, len(in))
	for i, s := range in {
		tag, mask, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p{s, tag, mask}
	}
	Sort(len(ps), func(i int) (uint32, uint32) { return ps[i].tag, ps[i].mask }, func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	for i := range ps {
		if ps[i].s != want[i] {
			t.Fatalf("order %v, want %v", ps, want)
		}
	}
}
