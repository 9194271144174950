package batch

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/deid/profile"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// corpusDir copies the corpus files into one folder (as a hospital export
// would look) and adds a file that is not DICOM.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for i, cf := range testenv.Corpus(t) {
		b, err := os.ReadFile(cf.Path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, cf.Source, strconv.Itoa(i)+"_"+filepath.Base(cf.Path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not an image"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, in, out string, opts ...profile.Option) Report {
	t.Helper()
	en, err := deid.New(testKey, deid.Options{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{In: in, Out: out, Engine: en, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// uidSets reads every output file and collects its UIDs by attribute.
func readAll(t *testing.T, dir string) map[string]*dicom.File {
	t.Helper()
	files := map[string]*dicom.File{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{BulkThreshold: -1})
		if err != nil {
			t.Fatalf("output %s does not parse: %v", p, err)
		}
		files[p] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func get(ds *dicom.Dataset, tag dicom.Tag) string {
	e := ds.Get(tag)
	if e == nil {
		return ""
	}
	v, _ := e.Value()
	return dicom.TrimText(v)
}

// TestEveryFileAccountedFor: every input is output or quarantined with a
// reason, the quarantine holds the original and its reason, and the
// output never holds the quarantined files.
func TestEveryFileAccountedFor(t *testing.T) {
	in := corpusDir(t)
	out := filepath.Join(t.TempDir(), "out")
	rep := run(t, in, out)
	if rep.FilesIn != rep.FilesOut+rep.Quarantined+rep.Duplicates {
		t.Fatalf("%d in != %d out + %d quarantined + %d duplicates", rep.FilesIn, rep.FilesOut, rep.Quarantined, rep.Duplicates)
	}
	if rep.ByReason[deid.ReasonUnreadable] == 0 || rep.ByReason[deid.ReasonNoPixelRule] == 0 {
		t.Fatalf("expected unreadable and secondary capture files among the corpus: %v", rep.ByReason)
	}
	for _, fr := range rep.Files {
		switch fr.Status {
		case "duplicate":
			if !strings.Contains(fr.Detail, "the same SOP instance as") {
				t.Errorf("%s: duplicate without saying of what", fr.Input)
			}
		case "ok":
			if _, err := os.Stat(filepath.Join(out, fr.Output)); err != nil {
				t.Errorf("%s: output missing: %v", fr.Input, err)
			}
		case "quarantined":
			q := filepath.Join(rep.Quarantine, fr.Reason, fr.Input)
			orig, _ := os.ReadFile(filepath.Join(in, fr.Input))
			got, err := os.ReadFile(q)
			if err != nil || !bytes.Equal(got, orig) {
				t.Errorf("%s: quarantined copy missing or changed: %v", fr.Input, err)
			}
			if reason, err := os.ReadFile(q + ".reason.txt"); err != nil || !strings.HasPrefix(string(reason), fr.Reason+": ") {
				t.Errorf("%s: reason file: %q %v", fr.Input, reason, err)
			}
		default:
			t.Errorf("%s: status %q", fr.Input, fr.Status)
		}
	}
	if rep.Patients == 0 || rep.Studies == 0 || rep.Series == 0 || rep.BytesOut == 0 {
		t.Fatalf("summary counts: %+v", rep)
	}
	// No output file name carries an input name.
	for p := range readAll(t, out) {
		if strings.Contains(p, "README") || strings.Contains(p, "_") {
			t.Errorf("output path %s looks like an input name", p)
		}
	}
}

// TestUIDsConsistent: as many distinct study, series and frame of reference
// UIDs come out as went in; references between instances of the set point
// at the pseudonymous instances; a second run gives identical files.
func TestUIDsConsistent(t *testing.T) {
	in := corpusDir(t)
	refs := referencingSeries(t, in)
	out1 := filepath.Join(t.TempDir(), "out")
	rep := run(t, in, out1)
	// The original UIDs of the files that were output.
	origs := map[dicom.Tag]map[string]bool{}
	instances := map[string]bool{}
	tags := []dicom.Tag{dicom.NewTag(0x0020, 0x000D), dicom.NewTag(0x0020, 0x000E), dicom.NewTag(0x0020, 0x0052)}
	for _, fr := range rep.Files {
		if fr.Status != "ok" && fr.Status != "duplicate" {
			continue
		}
		f, c, err := dicom.ParseFile(filepath.Join(in, fr.Input), dicom.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if origs[tag] == nil {
				origs[tag] = map[string]bool{}
			}
			if v := get(f.Dataset, tag); v != "" {
				origs[tag][v] = true
			}
		}
		instances[get(f.Dataset, dicom.NewTag(0x0008, 0x0018))] = true
		c.Close()
	}
	files := readAll(t, out1)
	outs := map[dicom.Tag]map[string]bool{}
	outInstances := map[string]bool{}
	for _, f := range files {
		for _, tag := range tags {
			if outs[tag] == nil {
				outs[tag] = map[string]bool{}
			}
			if v := get(f.Dataset, tag); v != "" {
				outs[tag][v] = true
				if !strings.HasPrefix(v, "2.25.") {
					t.Errorf("%s %s is not a 2.25 UID: %s", tag, "value", v)
				}
			}
		}
		outInstances[get(f.Dataset, dicom.NewTag(0x0008, 0x0018))] = true
	}
	for _, tag := range tags {
		if len(origs[tag]) != len(outs[tag]) {
			t.Errorf("%s: %d distinct UIDs in, %d out", tag, len(origs[tag]), len(outs[tag]))
		}
	}
	// References: a Referenced SOP Instance UID whose original target was in
	// the set resolves to an output instance.
	ps, _ := deid.NewPseudonyms(testKey)
	resolved := 0
	for _, f := range files {
		_ = f.Dataset.Walk(func(path []dicom.Tag, e *dicom.Element) error {
			if e.Tag != dicom.NewTag(0x0008, 0x1155) {
				return nil
			}
			v, _ := e.Value()
			ref := dicom.TrimText(v)
			if outInstances[ref] {
				resolved++
			}
			return nil
		})
	}
	for orig := range instances {
		if !outInstances[ps.UID(orig)] {
			t.Errorf("instance %s has no output with its pseudonym", orig)
		}
	}
	t.Logf("%d studies, %d series, %d frames of reference; %d references resolve inside the set", len(outs[tags[0]]), len(outs[tags[1]]), len(outs[tags[2]]), resolved)
	if resolved < refs {
		t.Fatalf("only %d of the %d planted references resolve inside the output", resolved, refs)
	}

	// Same key, second run: the same files, byte for byte.
	out2 := filepath.Join(t.TempDir(), "out")
	run(t, in, out2)
	n := 0
	for p := range files {
		rel, _ := filepath.Rel(out1, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(out2, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same key (%v)", rel, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no output")
	}
}

// TestMarking: the output says how it was de-identified.
func TestMarking(t *testing.T) {
	in := corpusDir(t)
	out := filepath.Join(t.TempDir(), "out")
	run(t, in, out, profile.RetainLongModifiedDates, profile.RetainDeviceIdentity)
	for p, f := range readAll(t, out) {
		ds := f.Dataset
		if get(ds, dicom.NewTag(0x0012, 0x0062)) != "YES" || get(ds, dicom.NewTag(0x0028, 0x0303)) != "MODIFIED" {
			t.Fatalf("%s: identity removed %q, longitudinal %q", p, get(ds, dicom.NewTag(0x0012, 0x0062)), get(ds, dicom.NewTag(0x0028, 0x0303)))
		}
		seq := ds.Get(dicom.NewTag(0x0012, 0x0064))
		if seq == nil {
			t.Fatalf("%s: no De-identification Method Code Sequence", p)
		}
		var codes []string
		for _, it := range seq.Items() {
			codes = append(codes, get(it, dicom.NewTag(0x0008, 0x0100)))
		}
		if strings.Join(codes, ",") != "113100,113109,113107" {
			t.Fatalf("%s: codes %v", p, codes)
		}
		if m := get(ds, dicom.NewTag(0x0012, 0x0063)); !strings.Contains(m, "Basic Profile") {
			t.Fatalf("%s: method %q", p, m)
		}
		if meta := f.Meta; meta != nil && get(meta, dicom.NewTag(0x0002, 0x0003)) != get(ds, dicom.NewTag(0x0008, 0x0018)) {
			t.Fatalf("%s: Media Storage SOP Instance UID differs from SOP Instance UID", p)
		}
	}
}

// TestZipAndReidMap: a zip goes in, the re-identification map comes out
// encrypted and opens only with the data holder's key.
func TestZipAndReidMap(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "in.zip")
	zf, _ := os.Create(zpath)
	zw := zip.NewWriter(zf)
	var ids []string
	for i, cf := range testenv.Corpus(t) {
		if i > 40 {
			break
		}
		b, _ := os.ReadFile(cf.Path)
		if f, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{}); err == nil {
			if id := get(f.Dataset, dicom.NewTag(0x0010, 0x0020)); len(id) >= 4 {
				ids = append(ids, id)
			}
		}
		w, _ := zw.Create("export/" + strconv.Itoa(i) + ".dcm")
		w.Write(b)
	}
	zw.Close()
	zf.Close()
	en, _ := deid.New(testKey, deid.Options{})
	rmap := deid.NewReidMap()
	rep, err := Run(context.Background(), Options{In: zpath, Out: filepath.Join(dir, "out"), Engine: en, Reid: rmap})
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesIn != 41 || rep.FilesOut == 0 {
		t.Fatalf("zip: %d in, %d out", rep.FilesIn, rep.FilesOut)
	}
	holder := []byte("the data holder's own key, not the pseudonym key!")
	mpath := filepath.Join(dir, "reid.map")
	if err := rmap.Write(mpath, holder); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(mpath)
	for _, id := range ids {
		if bytes.Contains(raw, []byte(id)) {
			t.Fatalf("patient ID %q in clear in the map file", id)
		}
	}
	entries, err := deid.ReadReidMap(mpath, holder)
	if err != nil || len(entries) == 0 {
		t.Fatalf("reading the map: %v (%d entries)", err, len(entries))
	}
	found := false
	for _, e := range entries {
		for _, id := range ids {
			found = found || e.PatientID == id
		}
	}
	if !found {
		t.Fatal("no original patient ID in the decrypted map")
	}
	if _, err := deid.ReadReidMap(mpath, testKey); !errors.Is(err, deid.ErrReidKey) {
		t.Fatalf("wrong key: %v", err)
	}
}

// TestValidity: dciodvfy (Debian dicom3tools) finds no more errors in an
// output file than in its input.
func TestValidity(t *testing.T) {
	if _, err := exec.LookPath("dciodvfy"); err != nil {
		if testenv.RequireAll() {
			t.Fatal("dciodvfy not installed (apt-get install dicom3tools)")
		}
		t.Skip("dciodvfy not installed (apt-get install dicom3tools)")
	}
	in := corpusDir(t)
	out := filepath.Join(t.TempDir(), "out")
	rep := run(t, in, out)
	errRE := regexp.MustCompile(`(?m)^Error - `)
	count := func(path string) int {
		b, _ := exec.Command("dciodvfy", "-new", path).CombinedOutput()
		return len(errRE.FindAll(b, -1))
	}
	worse, checked, sumIn, sumOut := 0, 0, 0, 0
	for _, fr := range rep.Files {
		if fr.Status != "ok" {
			continue
		}
		a, b := count(filepath.Join(in, fr.Input)), count(filepath.Join(out, fr.Output))
		sumIn += a
		sumOut += b
		checked++
		if b > a {
			worse++
			if worse <= 10 {
				msg, _ := exec.Command("dciodvfy", "-new", filepath.Join(out, fr.Output)).CombinedOutput()
				t.Errorf("%s: %d errors in, %d out:\n%s", fr.Input, a, b, firstLines(msg, 12))
			}
		}
	}
	t.Logf("dciodvfy over %d files: %d errors in, %d out", checked, sumIn, sumOut)
	if worse > 0 {
		t.Fatalf("%d files have more dciodvfy errors after de-identification", worse)
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "Error") {
			keep = append(keep, l)
		}
		if len(keep) == n {
			break
		}
	}
	return strings.Join(keep, "\n")
}

var _ = io.EOF

// referencingSeries adds to dir a series of three CT instances made from a
// corpus file, each referencing the next in its Referenced Instance Sequence,
// and returns the number of references.
func referencingSeries(t *testing.T, dir string) int {
	t.Helper()
	var src string
	for _, cf := range testenv.Corpus(t) {
		if filepath.Base(cf.Path) == "CT_small.dcm" {
			src = cf.Path
		}
	}
	if src == "" {
		t.Fatal("CT_small.dcm not in the corpus")
	}
	uid := func(i int) string { return "1.2.826.0.1.3680043.10.998." + strconv.Itoa(i) }
	ref := dicom.NewTag(0x0008, 0x114A) // Referenced Instance Sequence: not in Table E.1-1, so kept and its UIDs mapped
	for i := 0; i < 3; i++ {
		f, c, err := dicom.ParseFile(src, dicom.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ds := f.Dataset
		set := func(d *dicom.Dataset, tag dicom.Tag, v string) {
			if err := d.Set(tag, dicom.UI, dicom.PadText(dicom.UI, v)); err != nil {
				t.Fatal(err)
			}
		}
		set(ds, dicom.NewTag(0x0008, 0x0018), uid(i))
		set(f.Meta, dicom.NewTag(0x0002, 0x0003), uid(i))
		it := ds.NewItem()
		set(it, dicom.NewTag(0x0008, 0x1150), "1.2.840.10008.5.1.4.1.1.2")
		set(it, dicom.NewTag(0x0008, 0x1155), uid((i+1)%3))
		if err := ds.SetSequence(ref, []*dicom.Dataset{it}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := os.WriteFile(filepath.Join(dir, "series-"+strconv.Itoa(i)+".dcm"), buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return 3
}

// TestInterrupted cancels a run after its third file: Run reports the
// interruption, and every file it did not take is "not processed".
func TestInterrupted(t *testing.T) {
	in := corpusDir(t)
	en, err := deid.New(testKey, deid.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := Run(ctx, Options{In: in, Out: filepath.Join(t.TempDir(), "out"), Engine: en, Workers: 2,
		Progress: func(done, total int, _ int64) {
			if done == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	var notProcessed int
	for _, fr := range rep.Files {
		if fr.Status == "not processed" {
			notProcessed++
		}
	}
	if processed := rep.FilesOut + rep.Duplicates + rep.Quarantined; processed < 3 || processed > 4 || processed+notProcessed != rep.FilesIn {
		t.Errorf("%d of %d files processed, %d not processed; want 3 or 4 (one per worker may finish after the cancel)", processed, rep.FilesIn, notProcessed)
	}
}
