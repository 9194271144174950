package dataset

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/synth"
)

// fixture is an archive holding two generated patients' studies.
func fixture(t *testing.T) (*archive.Archive, []string, [][]byte) {
	t.Helper()
	ctx := context.Background()
	a := archivetest.Open(t)
	g, err := synth.New(synth.Options{Seed: 3, Node: "t", Patients: 2, Rows: 16, Columns: 16, MinSlices: 3, MaxSlices: 3})
	if err != nil {
		t.Fatal(err)
	}
	studies := map[string]bool{}
	var files [][]byte
	err = g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		files = append(files, buf.Bytes())
		out, err := a.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Source{Kind: "test"})
		if err != nil || out.Status != archive.Stored {
			t.Fatalf("ingest: %+v %v", out, err)
		}
		studies[out.StudyUID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for s := range studies {
		list = append(list, s)
	}
	return a, list, files
}

func TestTreeBuildAndVerify(t *testing.T) {
	ctx := context.Background()
	a, studies, _ := fixture(t)
	tree, err := Build(ctx, a.Index(), studies)
	if err != nil {
		t.Fatal(err)
	}
	nst, nse, nin := tree.Counts()
	if nst != len(studies) || nse == 0 || nin == 0 || len(tree.Root) != 64 {
		t.Fatalf("tree: %d studies, %d series, %d instances, root %q", nst, nse, nin, tree.Root)
	}
	// The same studies in another order give the same root.
	rev := append([]string(nil), studies...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if again, _ := Build(ctx, a.Index(), rev); again.Root != tree.Root {
		t.Fatal("the root depends on the order of the studies")
	}
	if found, changes, err := Verify(ctx, a.Index(), a, tree); err != nil || len(changes) != 0 || found.Root != tree.Root {
		t.Fatalf("untouched content: %v %v", changes, err)
	}

	// Change one stored file, remove another: Verify names both, and the root differs.
	var changed, removed string
	for _, st := range tree.Studies {
		for _, se := range st.Series {
			for sop := range se.Instances {
				if changed == "" {
					changed = sop
				} else if removed == "" {
					removed = sop
				}
			}
		}
	}
	// The storage damaged: one file changed, one gone.
	files := damaged{Files: a, changed: changed, missing: removed}
	found, changes, err := Verify(ctx, a.Index(), files, tree)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{changed: "changed", removed: "missing"}
	if len(changes) != 2 {
		t.Fatalf("changes: %v", changes)
	}
	for _, c := range changes {
		if want[c.Instance] != c.What || c.Study == "" || c.Series == "" {
			t.Errorf("change %v, want %v", c, want)
		}
	}
	if found.Root == tree.Root {
		t.Error("the root did not change")
	}
}

func TestTreeSeesAddedInstance(t *testing.T) {
	ctx := context.Background()
	a, studies, files := fixture(t)
	tree, err := Build(ctx, a.Index(), studies)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of a stored instance with a new SOP Instance UID arrives in the same study.
	f, err := dicom.Parse(bytes.NewReader(files[0]), int64(len(files[0])), dicom.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uid := "2.25.123456789012345678901234567890"
	if err := f.Dataset.Set(tags.SOPInstanceUID, dicom.UI, dicom.PadText(dicom.UI, uid)); err != nil {
		t.Fatal(err)
	}
	if err := f.Meta.Set(tags.MediaStorageSOPInstanceUID, dicom.UI, dicom.PadText(dicom.UI, uid)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := a.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Source{Kind: "test"})
	if err != nil || out.Status != archive.Stored {
		t.Fatalf("ingest: %+v %v", out, err)
	}
	_, changes, err := Verify(ctx, a.Index(), a, tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].What != "added" || changes[0].Instance != out.SOPUID {
		t.Fatalf("changes %v, want %s added", changes, out.SOPUID)
	}
	if _, err := Build(ctx, a.Index(), nil); err == nil {
		t.Error("a dataset without studies built")
	}
}

// damaged is the archive's storage with the file of one instance changed and that of
// another gone.
type damaged struct {
	Files
	changed, missing string
}

func (d damaged) Open(ctx context.Context, in index.Instance) (io.ReadCloser, error) {
	switch in.SOPUID {
	case d.changed:
		return io.NopCloser(strings.NewReader("not the same bytes")), nil
	case d.missing:
		return nil, fmt.Errorf("instance %s: %w", in.SOPUID, blob.ErrNotFound)
	}
	return d.Files.Open(ctx, in)
}
