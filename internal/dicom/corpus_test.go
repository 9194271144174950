package dicom_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// corpusFile is one corpus file's bytes (gunzipped for .gz files).
type corpusFile struct {
	name   string // path relative to its corpus root, prefixed with the source
	source string
	data   []byte
}

// loadCorpus reads every corpus file.
func loadCorpus(t testing.TB) []corpusFile {
	t.Helper()
	var out []corpusFile
	for _, cf := range testenv.Corpus(t) {
		data, err := os.ReadFile(cf.Path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(cf.Path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", cf.Path, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", cf.Path, err)
			}
		}
		out = append(out, corpusFile{name: cf.Source + ":" + shortName(cf.Path), source: cf.Source, data: data})
	}
	return out
}

// shortName drops the corpus root from a path: what follows data/, test_files/,
// charset_files/ or imdata/.
func shortName(p string) string {
	for _, root := range []string{"/test_files/", "/charset_files/", "/imdata/", "/tests/data/", "/data/"} {
		if i := strings.LastIndex(p, root); i >= 0 {
			return p[i+len(root):]
		}
	}
	return filepath.Base(p)
}

// looksDICOM decides by content whether a file is meant to be DICOM: "DICM" at offset
// 128, or a first element in group 0002 or 0008 (a file without preamble), in either
// byte order.
func looksDICOM(b []byte) bool {
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		return true
	}
	if len(b) < 8 {
		return false
	}
	le, be := binary.LittleEndian.Uint16(b), binary.BigEndian.Uint16(b)
	return le == 2 || le == 8 || be == 8
}

// rejected lists the corpus files that are DICOM but deliberately broken, with where and
// why Parse must reject them.
var rejected = map[string]struct {
	offset int64
	tag    dicom.Tag
	err    error  // sentinel the error must match, besides ErrMalformed
	msg    string // part of the message
	why    string
}{
	"pydicom:MR_truncated.dcm": {1488, dicom.PixelDataTag, dicom.ErrTruncated, "length 8192 exceeds the 8130 bytes left",
		"pixel data cut short: the file ends 62 bytes early"},
	"pydicom:rtplan_truncated.dcm": {1410, 0x300A00B0, dicom.ErrTruncated, "length 976 exceeds the 711 bytes left",
		"the Beam Sequence runs past the end of the file"},
	"pydicom:dicomdirtests/DICOMDIR-nooffset": {10860, 0x00041220, dicom.ErrTruncated, "item length 248 exceeds the 224 bytes left",
		"made by deleting elements from DICOMDIR without fixing the lengths: the last directory record (item length 248) runs 24 bytes past its sequence"},
	"pydicom:no_meta.dcm": {0, 0, dicom.ErrNotDICOM, "neither a DICOM file",
		`CT_small's data set without meta group, but preceded by one stray byte 0x20, so no element starts at offset 0`},
}

// notIdentical lists the corpus files that parse but are not written back byte for byte,
// with why. There are none: every parsed corpus file round-trips exactly.
var notIdentical = map[string]string{}

// TestCorpusFidelity parses every corpus file, writes it back unchanged and checks the
// output equals the input byte for byte; deliberately broken files must be rejected with
// a ParseError naming offset and tag, and files that are not DICOM (text, JSON, NIfTI,
// Siemens CSA headers) must be rejected.
func TestCorpusFidelity(t *testing.T) {
	files := loadCorpus(t)
	var parsed, identical, rejectedN, notDICOM int
	bySource := map[string]int{}
	for _, cf := range files {
		for _, opt := range []dicom.ParseOptions{{}, {BulkThreshold: 64}} {
			f, err := dicom.Parse(bytes.NewReader(cf.data), int64(len(cf.data)), opt)
			if !looksDICOM(cf.data) && !strings.HasSuffix(cf.name, ".dcm") {
				if err == nil {
					t.Errorf("%s: not DICOM by content, but parsed", cf.name)
				}
				if opt.BulkThreshold == 0 {
					notDICOM++
				}
				continue
			}
			if want, ok := rejected[cf.name]; ok {
				var pe *dicom.ParseError
				switch {
				case err == nil:
					t.Errorf("%s: parsed, want rejected (%s)", cf.name, want.why)
				case !errors.As(err, &pe) || !errors.Is(err, dicom.ErrMalformed) || !errors.Is(err, want.err):
					t.Errorf("%s: error %v is not a ParseError matching ErrMalformed and %v", cf.name, err, want.err)
				case pe.Offset != want.offset || pe.Tag != want.tag || !strings.Contains(pe.Msg, want.msg):
					t.Errorf("%s: error %q, want offset %d, tag %s, message with %q", cf.name, err, want.offset, want.tag, want.msg)
				default:
					if opt.BulkThreshold == 0 {
						rejectedN++
						t.Logf("%s: rejected as expected: %v", cf.name, err)
					}
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", cf.name, err)
				continue
			}
			if opt.BulkThreshold == 0 {
				parsed++
				bySource[cf.source]++
			}
			var buf bytes.Buffer
			if _, err := f.WriteTo(&buf); err != nil {
				t.Errorf("%s: write: %v", cf.name, err)
				continue
			}
			same := bytes.Equal(buf.Bytes(), cf.data)
			why, excused := notIdentical[cf.name]
			switch {
			case same && excused:
				t.Errorf("%s: identical, but listed as an exception (%s)", cf.name, why)
			case !same && !excused:
				t.Errorf("%s: output differs from input (%d bytes in, %d out) %s", cf.name, len(cf.data), buf.Len(), firstDiff(cf.data, buf.Bytes()))
			case same && opt.BulkThreshold == 0:
				identical++
			}
		}
	}
	t.Logf("corpus: %d files: %d parsed (%v), %d identical after write, %d rejected as broken, %d not DICOM",
		len(files), parsed, bySource, identical, rejectedN, notDICOM)
	if parsed < 150 {
		t.Errorf("only %d DICOM files parsed; is the corpus complete?", parsed)
	}
}

// TestCorpusParseBytes checks that ParseBytes, which shares the caller's buffer instead
// of copying, accepts and rejects what Parse does, and writes the same bytes back.
func TestCorpusParseBytes(t *testing.T) {
	for _, cf := range loadCorpus(t) {
		f, err := dicom.Parse(bytes.NewReader(cf.data), int64(len(cf.data)), dicom.ParseOptions{})
		data := bytes.Clone(cf.data)
		g, gerr := dicom.ParseBytes(data, dicom.ParseOptions{})
		if (err == nil) != (gerr == nil) || err != nil && err.Error() != gerr.Error() {
			t.Errorf("%s: Parse: %v; ParseBytes: %v", cf.name, err, gerr)
			continue
		}
		if err != nil {
			continue
		}
		var a, b bytes.Buffer
		if _, err := f.WriteTo(&a); err != nil {
			t.Fatalf("%s: %v", cf.name, err)
		}
		if _, err := g.WriteTo(&b); err != nil {
			t.Fatalf("%s: %v", cf.name, err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: ParseBytes writes back %d bytes, Parse %d %s", cf.name, b.Len(), a.Len(), firstDiff(a.Bytes(), b.Bytes()))
		}
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at offset %d", i)
		}
	}
	return "one is a prefix of the other"
}
