package dicom_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

func parseBytes(t testing.TB, data []byte, opt dicom.ParseOptions) *dicom.File {
	t.Helper()
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), opt)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func writeBytes(t testing.TB, f *dicom.File) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// flatElem is one element of a data set flattened with its path, for comparisons.
type flatElem struct {
	path  string // e.g. "(0040,A730)[0]/(0008,0100)"
	vr    dicom.VR
	value string // value bytes, or a description of items/fragments
}

// flatten lists every element of d, items included, in order.
func flatten(d *dicom.Dataset) ([]flatElem, error) {
	var out []flatElem
	err := flattenInto(&out, "", d)
	return out, err
}

func flattenInto(out *[]flatElem, prefix string, d *dicom.Dataset) error {
	for _, e := range d.Elements() {
		p := prefix + e.Tag.String()
		switch {
		case e.IsSequence():
			*out = append(*out, flatElem{p, e.VR, fmt.Sprintf("%d items", len(e.Items()))})
			for i, it := range e.Items() {
				if err := flattenInto(out, fmt.Sprintf("%s[%d]/", p, i), it); err != nil {
					return err
				}
			}
		case e.IsEncapsulated():
			var sb strings.Builder
			for _, fr := range e.Fragments() {
				v, err := fr.Value()
				if err != nil {
					return err
				}
				fmt.Fprintf(&sb, "fragment %d:%x;", len(v), v)
			}
			*out = append(*out, flatElem{p, e.VR, sb.String()})
		default:
			v, err := e.Value()
			if err != nil {
				return err
			}
			*out = append(*out, flatElem{p, e.VR, string(v)})
		}
	}
	return nil
}

// flatFile flattens the meta group and the data set of f.
func flatFile(t testing.TB, f *dicom.File) []flatElem {
	t.Helper()
	var out []flatElem
	if f.Meta != nil {
		m, err := flatten(f.Meta)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m {
			e.path = "meta:" + e.path
			out = append(out, e)
		}
	}
	d, err := flatten(f.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, d...)
}

// compareFlat checks that a and b are equal except at the paths in changed, where b must
// hold the given values, and except for the paths in absent, which b must not have.
func compareFlat(t testing.TB, a, b []flatElem, changed map[string]string, absent map[string]bool) {
	t.Helper()
	bm := map[string]flatElem{}
	for _, e := range b {
		bm[e.path] = e
	}
	seen := 0
	for _, e := range a {
		if absent[e.path] {
			if _, ok := bm[e.path]; ok {
				t.Errorf("%s: still present after delete", e.path)
			}
			continue
		}
		got, ok := bm[e.path]
		if !ok {
			t.Errorf("%s: missing after round trip", e.path)
			continue
		}
		seen++
		if want, ok := changed[e.path]; ok {
			if got.value != want {
				t.Errorf("%s: got %q, want changed value %q", e.path, got.value, want)
			}
			continue
		}
		if got != e {
			t.Errorf("%s: got %s %.60q, want %s %.60q", e.path, got.vr, got.value, e.vr, e.value)
		}
	}
	if seen != len(b) {
		t.Errorf("%d elements after round trip, %d expected", len(b), seen)
	}
}

// findCorpusFile returns the bytes of one corpus file, named as in loadCorpus.
func findCorpusFile(t testing.TB, name string) []byte {
	t.Helper()
	for _, cf := range testenv.Corpus(t) {
		if cf.Source+":"+shortName(cf.Path) == name {
			data, err := os.ReadFile(cf.Path)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("corpus file %s not found", name)
	return nil
}
