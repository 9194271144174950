package deid

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/deid/profile"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/charset"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/testenv"
)

func TestScrub(t *testing.T) {
	for _, c := range []struct {
		in, want string
		secrets  []string
	}{
		{"seen by dr. MÜLLER today", "seen by dr. XXXXXX today", []string{"Müller"}},
		{"山田様 follow-up", "XX様 follow-up", []string{"山田"}},
		{"no names here", "no names here", []string{"Doe"}},
		{"doe, DOE and Doe", "XXX, XXX and XXX", []string{"Doe"}},
	} {
		got, changed := scrub(c.in, c.secrets)
		if got != c.want || changed != (c.in != c.want) {
			t.Errorf("scrub(%q, %q) = %q, %v; want %q", c.in, c.secrets, got, changed, c.want)
		}
	}
}

// charsetFile parses a file of pydicom's charset_files, made a CT image so that the
// engine does not quarantine it (these files are secondary captures).
func charsetFile(t *testing.T, name string) *dicom.File {
	t.Helper()
	for _, cf := range testenv.Corpus(t) {
		if cf.Source == "pydicom" && filepath.Base(cf.Path) == name && strings.Contains(cf.Path, "charset_files") {
			f, c, err := dicom.ParseFile(cf.Path, dicom.ParseOptions{BulkThreshold: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := f.Dataset.Set(tags.SOPClassUID, dicom.UI, dicom.PadText(dicom.UI, "1.2.840.10008.5.1.4.1.1.2")); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s not in the pydicom corpus", name)
	return nil
}

func encodeIn(t *testing.T, f *dicom.File, vr, s string) []byte {
	t.Helper()
	cs := charsetOf(f.Dataset, charset.Default())
	b, err := cs.Encode(vr, s)
	if err != nil {
		t.Fatal(err)
	}
	return dicom.PadText(dicom.LO, string(b))
}

// A description in ISO 2022 IR 87 (Japanese) that names the patient is cleaned as
// text: the name goes, the rest stays, and the value is valid ISO 2022 again.
func TestCleanISO2022(t *testing.T) {
	f := charsetFile(t, "chrH31.dcm") // Yamada^Tarou=山田^太郎=やまだ^たろう
	raw := encodeIn(t, f, "LO", "山田 follow-up, YAMADA やまだ")
	if err := f.Dataset.Set(tags.StudyDescription, dicom.LO, raw); err != nil {
		t.Fatal(err)
	}
	en, err := New(key, Options{Options: []profile.Option{profile.CleanDescriptors}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := en.Apply(f)
	if err != nil {
		t.Fatal(err)
	}
	if res.MovedToUTF8 {
		t.Error("moved to UTF-8 though the cleaned text fits ISO 2022 IR 87")
	}
	e := f.Dataset.Get(tags.StudyDescription)
	if e == nil {
		t.Fatal("Study Description removed; Clean Descriptors keeps it cleaned")
	}
	v, _ := e.Value()
	cs := charsetOf(f.Dataset, charset.Default())
	got, err := cs.Decode("LO", v)
	if err != nil {
		t.Fatalf("cleaned value is not valid in %s: %v (% x)", cs, err, v)
	}
	if got = strings.TrimRight(got, " "); got != "XX follow-up, XXXXXX XXX" {
		t.Errorf("cleaned description %q", got)
	}
	if bytes.Contains(v, []byte(";3ED")) { // 山田 in JIS X 0208
		t.Error("the JIS bytes of the family name are still there")
	}
}

// When a value the engine writes does not fit the file's character set, the file moves
// to ISO_IR 192: every text value is transcoded and (0008,0005) says so.
func TestMoveToUTF8(t *testing.T) {
	f := charsetFile(t, "chrFren.dcm") // ISO_IR 100, Buc^Jérôme
	en, err := New(key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := Result{}
	r := &run{en: en, res: &res, root: f.Dataset, cs: charsetOf(f.Dataset, charset.Default())}
	if err := r.setText(f.Dataset, tags.StudyDescription, dicom.LO, "Ελληνικά"); err != nil {
		t.Fatal(err)
	}
	if !res.MovedToUTF8 {
		t.Fatal("Greek written into an ISO_IR 100 file without moving it to UTF-8")
	}
	if got := f.Dataset.Text(dicom.SpecificCharacterSetTag); got != "ISO_IR 192" {
		t.Errorf("(0008,0005) = %q", got)
	}
	if got := f.Dataset.Text(tags.PatientName); got != "Buc^Jérôme" {
		t.Errorf("patient name not transcoded to UTF-8: %q", got)
	}
	if got := f.Dataset.Text(tags.StudyDescription); got != "Ελληνικά" {
		t.Errorf("description %q", got)
	}
	// Written and read back, every text value decodes strictly as UTF-8.
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := dicom.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), dicom.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Dataset.Walk(func(_ []dicom.Tag, e *dicom.Element) error {
		if e.IsSequence() || !usesCharset(vrOf(e)) || e.Tag.IsPrivate() {
			return nil
		}
		v, err := e.Value()
		if err != nil {
			return err
		}
		_, err = charset.UTF8().Decode(vrOf(e).String(), v)
		return err
	})
	if err != nil {
		t.Fatalf("not UTF-8 after the move: %v", err)
	}
}
