package dicom

import "testing"

func TestPadTrimText(t *testing.T) {
	for _, c := range []struct {
		vr   VR
		in   string
		want string
	}{{UI, "1.2.3", "1.2.3\x00"}, {UI, "1.23", "1.23"}, {LO, "abc", "abc "}, {PN, "", ""}} {
		got := PadText(c.vr, c.in)
		if string(got) != c.want || TrimText(got) != c.in {
			t.Errorf("PadText(%s, %q) = %q, trimmed %q", c.vr, c.in, got, TrimText(got))
		}
	}
}
