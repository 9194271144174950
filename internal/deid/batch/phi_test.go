package batch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/deid/profile"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/dict"
	"github.com/cancerimage/cie/internal/testenv"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// marker is a value planted in one attribute, and where.
type marker struct {
	tag   dicom.Tag
	where string // "top", "nested", "private"
	value string
}

// plantedDate is the date planted in every DA and DT attribute: the first
// of January 1001, which no real file holds.
const plantedDate = "10010101"

// plantValue returns a value for vr that is unique for n and can be found
// in the output bytes, or "" for VRs whose values cannot carry a marker.
func plantValue(vr string, n int) string {
	switch vr {
	case "PN", "LO", "LT", "ST", "UT", "UC", "SH", "AE":
		return fmt.Sprintf("ZQPHI%07d", n) // 12 characters: fits SH and AE (16)
	case "CS":
		return fmt.Sprintf("ZQPHI%07d", n)
	case "UI":
		return fmt.Sprintf("1.2.826.0.1.3680043.10.999.%d", n)
	case "DA":
		return plantedDate // one date for all: a shifted date can never equal it by chance
	case "DT":
		return plantedDate + "235959.000001" // no 0 or 1 after the date: a shifted date cannot spell the marker with it
	case "UR":
		return fmt.Sprintf("http://zqphi%07d.example/", n)
	}
	return ""
}

// plant puts a marker into every attribute of Table E.1-1 whose VR can
// carry one, at the top level and inside a nested sequence, and into a
// private element; it returns the markers.
func plant(t *testing.T, f *dicom.File, n *int) []marker {
	t.Helper()
	ds := f.Dataset
	nestedItem := ds.NewItem()
	var ms []marker
	for _, row := range profile.Rows() {
		if row.Mask != 0xFFFFFFFF {
			continue // wildcard rows: planted below for one group
		}
		tag := dicom.Tag(row.Tag)
		if tag.Group() == 0x0002 || tag.Group() == 0xFFFE {
			continue
		}
		e, ok := dict.Lookup(row.Tag)
		if !ok || e.VR == "SQ" {
			continue
		}
		val := plantValue(e.VR, *n)
		if val == "" {
			continue
		}
		vr := dicom.VR(uint16(e.VR[0])<<8 | uint16(e.VR[1]))
		*n++
		if err := ds.Set(tag, vr, dicom.PadText(vr, val)); err != nil {
			t.Fatalf("planting %s: %v", tag, err)
		}
		ms = append(ms, marker{tag, "top", val})
		nv := plantValue(e.VR, *n)
		*n++
		if err := nestedItem.Set(tag, vr, dicom.PadText(vr, nv)); err != nil {
			t.Fatalf("planting nested %s: %v", tag, err)
		}
		ms = append(ms, marker{tag, "nested", nv})
	}
	// A sequence the profile does not name holds the nested markers: the
	// engine must descend into it.
	if err := ds.SetSequence(dicom.NewTag(0x0054, 0x0016), []*dicom.Dataset{nestedItem}); err != nil {
		t.Fatal(err)
	}
	// Overlay data and curve data (wildcard rows) and a private element.
	for _, p := range []struct {
		tag dicom.Tag
		vr  dicom.VR
	}{{dicom.NewTag(0x6002, 0x4000), dicom.LT}, {dicom.NewTag(0x5004, 0x0022), dicom.LO}} {
		v := plantValue("LO", *n)
		*n++
		if err := ds.Set(p.tag, p.vr, dicom.PadText(p.vr, v)); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, marker{p.tag, "top", v})
	}
	if err := ds.Set(dicom.NewTag(0x0029, 0x0010), dicom.LO, dicom.PadText(dicom.LO, "ZQ CREATOR")); err != nil {
		t.Fatal(err)
	}
	v := plantValue("LO", *n)
	*n++
	if err := ds.Set(dicom.NewTag(0x0029, 0x1001), dicom.LO, dicom.PadText(dicom.LO, v)); err != nil {
		t.Fatal(err)
	}
	ms = append(ms, marker{dicom.NewTag(0x0029, 0x1001), "private", v})
	return ms
}

// kept reports whether the options keep a planted attribute on purpose
// (action K); cleaned (C) values must lose their marker too: dates are
// shifted, and this test chooses no Clean option that keeps free text.
func kept(m marker, opts []profile.Option) bool {
	if m.where == "private" {
		return false
	}
	row, ok := profile.Lookup(uint32(m.tag))
	return ok && row.Action(opts...) == profile.K
}

// TestPHIPlanting plants identifying values into every corpus file, runs
// the de-identification the way cie deid does, and scans every output byte
// for every marker.
func TestPHIPlanting(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []profile.Option
	}{
		{"basic", nil},
		{"retain-uids+modified-dates", []profile.Option{profile.RetainUIDs, profile.RetainLongModifiedDates}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := t.TempDir()
			n := 0
			var markers []marker
			planted := 0
			for i, cf := range testenv.Corpus(t) {
				f, c, err := dicom.ParseFile(cf.Path, dicom.ParseOptions{})
				if err != nil {
					continue // unreadable: quarantined, covered elsewhere
				}
				ms := plant(t, f, &n)
				var buf bytes.Buffer
				if _, err := f.WriteTo(&buf); err != nil {
					c.Close()
					t.Fatalf("%s: writing planted file: %v", cf.Path, err)
				}
				c.Close()
				if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("f%04d.dcm", i)), buf.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				markers = append(markers, ms...)
				planted++
			}
			engine, err := deid.New(testKey, deid.Options{Options: tc.opts})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			rep, err := Run(context.Background(), Options{In: in, Out: out, Engine: engine, Workers: 4})
			if err != nil {
				t.Fatal(err)
			}
			if rep.FilesOut == 0 || rep.FilesOut+rep.Quarantined != rep.FilesIn {
				t.Fatalf("report: %d in, %d out, %d quarantined", rep.FilesIn, rep.FilesOut, rep.Quarantined)
			}
			t.Logf("%d files planted with %d markers; %d de-identified, %d quarantined %v", planted, len(markers), rep.FilesOut, rep.Quarantined, rep.ByReason)
			var all []byte
			err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				all = append(all, b...)
				all = append(all, 0)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			byValue := map[string]marker{}
			for _, m := range markers {
				byValue[m.value] = m
			}
			leaks := 0
			report := func(what string) {
				leaks++
				if leaks <= 20 {
					t.Errorf("%s", what)
				}
			}
			err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				for _, found := range findMarkers(b) {
					m, ok := byValue[found]
					for !ok && len(found) > 12 { // digits of the next element's header may follow a value
						found = found[:len(found)-1]
						m, ok = byValue[found]
					}
					if !ok || !kept(m, tc.opts) {
						report(fmt.Sprintf("%s: marker %q of %s (%s) is in the output", filepath.Base(p), found, m.tag, m.where))
					}
				}
				if i := bytes.Index(b, []byte(plantedDate)); i >= 0 && !datesKept(tc.opts) {
					report(fmt.Sprintf("%s: the planted date is in the output at byte %d", filepath.Base(p), i))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if leaks > 0 {
				t.Fatalf("%d markers leaked (of %d planted)", leaks, len(markers))
			}
		})
	}
}

// findMarkers returns every planted text, UID or URL marker in b.
func findMarkers(b []byte) []string {
	var out []string
	for _, prefix := range []string{"ZQPHI", "1.2.826.0.1.3680043.10.999.", "http://zqphi"} {
		rest := b
		for {
			i := bytes.Index(rest, []byte(prefix))
			if i < 0 {
				break
			}
			j := i + len(prefix)
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			if prefix == "http://zqphi" {
				j += len(".example/")
				if j > len(rest) {
					j = len(rest)
				}
			}
			out = append(out, string(rest[i:j]))
			rest = rest[i+len(prefix):]
		}
	}
	return out
}

// datesKept reports whether the options keep dates unchanged.
func datesKept(opts []profile.Option) bool {
	for _, o := range opts {
		if o == profile.RetainLongFullDates {
			return true
		}
	}
	return false
}
