package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node"
	"github.com/cancerimage/cie/internal/node/pack"
)

// expectedInstance is what the node stored for one instance, read from its blob store
// packs (not through DICOMweb), for the dicomweb-client test to check its answers against.
type expectedInstance struct {
	Study, Series, SOP, SOPClass, TransferSyntax string
	PatientID, Modality                          string
	InstanceNumber                               *int
	Rows, Columns, Frames                        int
	// File is the stored Part 10 file; Frame1SHA256 the SHA-256 of the first frame as
	// stored (the native pixels, or the first fragment of an encapsulated frame).
	File, Frame1SHA256 string
}

// storedInstances reads every instance the node keeps in the packs of its file://
// blob store; File is a copy of each, in t's temporary folder.
func (a *archiveNode) storedInstances(t *testing.T) []expectedInstance {
	t.Helper()
	var out []expectedInstance
	copies := t.TempDir()
	for _, rec := range packedInstances(t, filepath.Join(a.dir, "alpha", "blobs", node.PacksDir)) {
		p := filepath.Join(copies, fmt.Sprintf("%d.dcm", len(out)))
		if err := os.WriteFile(p, rec.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := dicom.Parse(bytes.NewReader(rec.Data), int64(len(rec.Data)), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("stored instance %s: %v", rec.Loc, err)
		}
		ds := f.Dataset
		e := expectedInstance{Study: ds.Text(tags.StudyInstanceUID), Series: ds.Text(tags.SeriesInstanceUID), SOP: ds.Text(tags.SOPInstanceUID),
			SOPClass: ds.Text(tags.SOPClassUID), TransferSyntax: f.TS.UID, PatientID: ds.Text(tags.PatientID), Modality: ds.Text(tags.Modality), File: p}
		if n, err := strconv.Atoi(ds.Text(tags.InstanceNumber)); err == nil {
			e.InstanceNumber = &n
		}
		e.Rows, e.Columns = us(ds, tags.Rows), us(ds, tags.Columns)
		e.Frames = 1
		if n, err := strconv.Atoi(ds.Text(tags.NumberOfFrames)); err == nil {
			e.Frames = n
		}
		if px := ds.Get(tags.PixelData); px != nil {
			var frame []byte
			if px.IsEncapsulated() {
				if fr := px.Fragments(); len(fr) == 2 { // offset table and one fragment: one frame
					frame, err = fr[1].Value()
				}
			} else if v, verr := px.Value(); verr == nil && e.Frames == 1 {
				frame, err = v, nil
			}
			if err != nil {
				t.Fatalf("stored instance %s: %v", rec.Loc, err)
			}
			if frame != nil {
				sum := sha256.Sum256(frame)
				e.Frame1SHA256 = hex.EncodeToString(sum[:])
			}
		}
		out = append(out, e)
	}
	return out
}

// packedRecord is one record of a node's packs, read by packedInstances.
type packedRecord struct {
	Label   string
	Data    []byte
	Loc     pack.Loc
	Segment string // the segment file's path
}

// packedInstances reads every record of the pack store in dir (a running node's too:
// opening it to read makes no segment).
func packedInstances(t *testing.T, dir string) []packedRecord {
	t.Helper()
	ctx := context.Background()
	ps, err := pack.Open(dir, pack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	segs, err := ps.Segments()
	if err != nil {
		t.Fatal(err)
	}
	var out []packedRecord
	for _, seg := range segs {
		_, err := ps.Scan(ctx, seg, func(r pack.Record) error {
			sr, err := ps.Reader(r.Loc)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(sr)
			sr.Close()
			if err != nil {
				return err
			}
			out = append(out, packedRecord{Label: string(r.Label), Data: data, Loc: r.Loc, Segment: filepath.Join(dir, fmt.Sprintf("%08d.pack", seg))})
			return nil
		})
		if err != nil {
			t.Fatalf("reading the node's packs: %v", err)
		}
	}
	return out
}

// TestDICOMwebClient runs tests/dicomweb (node --test) with the npm package
// dicomweb-client against a node holding synthetic studies and pydicom files: searches
// with filters, metadata, instances, frames and rendered images, checked against what the
// node stored (read here from its blob store).
func TestDICOMwebClient(t *testing.T) {
	nodeBin := requireTool(t, "node", "nodejs")
	dir, err := filepath.Abs("../tests/dicomweb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dicomweb-client", "package.json")); err != nil {
		// The packages are pinned by package-lock.json; npm ci installs exactly those.
		npm := requireTool(t, "npm", "npm")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := runTool(ctx, dir, npm, "ci", "--no-audit", "--no-fund"); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	a := startArchiveNode(t)
	synthStudies(t, a, 11)
	stowFiles(t, a, pydicomTestFiles(t), "CT_small.dcm", "MR_small_RLE.dcm", "rtdose_expb.dcm", "693_J2KI.dcm")
	expected := a.storedInstances(t)
	b, err := json.MarshalIndent(expected, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	expPath := filepath.Join(t.TempDir(), "expected.json")
	writeFile(t, expPath, string(b))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CIE_DICOMWEB_URL="+a.nodeURL+"/dicomweb", "CIE_DICOMWEB_TOKEN="+a.token, "CIE_DICOMWEB_EXPECTED="+expPath)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test in %s (%d instances stored):\n%s", dir, len(expected), out)
	if err != nil {
		t.Fatalf("node --test: %v", err)
	}
}

// us reads a US value (0 when absent).
func us(ds *dicom.Dataset, tag dicom.Tag) int {
	e := ds.Get(tag)
	if e == nil {
		return 0
	}
	v, err := e.Value()
	if err != nil || len(v) < 2 {
		return 0
	}
	return int(ds.ByteOrder().Uint16(v))
}
