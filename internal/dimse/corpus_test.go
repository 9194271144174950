package dimse

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/testenv"
)

// corpusFiles returns pydicom's test_files (required) and the files of the other corpora
// that are installed.
func corpusFiles(t *testing.T) []string {
	dir := pydicomDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	others, _, err := testenv.FindCorpus()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range others {
		if f.Source != "pydicom" && !strings.HasSuffix(f.Path, ".gz") {
			files = append(files, f.Path)
		}
	}
	sort.Strings(files)
	return files
}

// TestStorescuCorpus sends every corpus file with dcmtk's storescu, one association per
// file (calling AE title F<index>), plain and with the Default profile of
// /etc/dcmtk/storescu.cfg, and checks every received data set: written as a Part 10 file
// with dicom.NewFile, re-read, and byte for byte equal to the original's data set when
// storescu did not transcode.
func TestStorescuCorpus(t *testing.T) {
	requireTool(t, "storescu")
	files := corpusFiles(t)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"storescu.cfg-Default", []string{"-xf", "/etc/dcmtk/storescu.cfg", "Default"}},
		// Each file's own compressed transfer syntax proposed (storescu cannot decompress
		// JPEG 2000, JPEG-LS, RLE or JPEG extended, so plain and Default refuse those).
		{"native", []string{"native"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if len(mode.args) > 1 {
				if _, err := os.Stat("/etc/dcmtk/storescu.cfg"); err != nil {
					if testenv.RequireAll() {
						t.Fatal(err)
					}
					t.Skip(err)
				}
			}
			store := &testStore{dir: t.TempDir()}
			srvAddr, _ := startServer(t, Config{AETitle: "CIE", MaxAssociations: 16}, store, nil)
			addr, rec := startRecorder(t, srvAddr)
			h, p := hostPort(t, addr)
			type outcome struct {
				out string
				err error
			}
			results := make([]outcome, len(files))
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8) // several concurrent associations
			for i, f := range files {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					margs := mode.args
					if len(margs) == 1 && margs[0] == "native" {
						margs = nativeProposal(f)
					}
					args := append([]string{"-nh", "-aet", fmt.Sprintf("F%04d", i), "-aec", "CIE"}, margs...)
					args = append(args, h, p, f)
					out, err := runTool(t, "storescu", args...)
					results[i] = outcome{out, err}
				}()
			}
			wg.Wait()
			got := store.byAE()
			// What storescu put on the wire, by calling AE title.
			wire := map[string][][]byte{}
			for _, ws := range rec.all(t) {
				wire[ws.callingAE] = append(wire[ws.callingAE], ws.dataSets...)
			}
			var wireIdentical int
			var accepted, identical, rewritten, reencoded, transcoded, refused int
			reasons := map[string]int{}
			for i, f := range files {
				name := strings.TrimPrefix(f, "/usr/lib/python3/dist-packages/")
				rs := got[fmt.Sprintf("F%04d", i)]
				if len(rs) == 0 {
					refused++
					why := strings.ReplaceAll(storescuReason(results[i].out), f, "FILE")
					reasons[why]++
					t.Logf("refused by storescu: %s: %s", name, why)
					if scpFailed(results[i].out) {
						t.Errorf("%s: our SCP failed it:\n%s", name, results[i].out)
					}
					continue
				}
				if len(rs) != 1 {
					t.Errorf("%s: received %d times", name, len(rs))
				}
				if results[i].err != nil {
					t.Errorf("%s: storescu failed although we received it: %v\n%s", name, results[i].err, results[i].out)
				}
				accepted++
				r := rs[0]
				// The SCP hands the handler exactly the bytes that were sent.
				if w := wire[r.callingAE]; len(w) != 1 || !bytes.Equal(w[0], r.data) {
					t.Errorf("%s: data set handed to the StoreHandler differs from the %d data set(s) storescu sent", name, len(w))
				} else {
					wireIdentical++
				}
				// The Part 10 file we wrote must read back with the same data set.
				back, bf, err := dataSetBytes(t, r.path)
				if err != nil {
					t.Errorf("%s: re-reading our Part 10 file: %v", name, err)
				} else if bf.TS.UID != r.ts.UID {
					t.Errorf("%s: our file says transfer syntax %s, received %s", name, bf.TS.UID, r.ts.UID)
				} else if !r.ts.Deflated && !bytes.Equal(back, r.data) {
					t.Errorf("%s: our Part 10 file's data set differs from the received one", name)
				}
				orig, of, err := dataSetBytes(t, f)
				if err != nil {
					// A file without a meta group (storescu read it as a bare data set).
					t.Logf("%s: received in %s; original has no meta group to compare (%v)", name, r.ts.UID, err)
					continue
				}
				if of.TS.UID != r.ts.UID {
					transcoded++
					t.Logf("%s: storescu transcoded %s to %s", name, of.TS.UID, r.ts.UID)
					continue
				}
				if !bytes.Equal(orig, r.data) {
					// storescu (dcmtk) drops Data Set Trailing Padding (FFFC,FFFC) and
					// group lengths; compare without them.
					no, err1 := normalized(orig, r.ts)
					nr, err2 := normalized(r.data, r.ts)
					if err1 == nil && err2 == nil && bytes.Equal(no, nr) {
						rewritten++
						t.Logf("%s: identical but for group lengths / trailing padding that storescu dropped", name)
						continue
					}
					reencoded++
					t.Logf("%s: storescu re-encoded the data set (%d bytes sent, %d in the file, same transfer syntax %s: sequence lengths made explicit, value padding trimmed)", name, len(r.data), len(orig), r.ts.UID)
					if d := os.Getenv("CIE_DIMSE_DUMP"); d != "" {
						_ = os.WriteFile(filepath.Join(d, filepath.Base(f)+".orig"), orig, 0o644)
						_ = os.WriteFile(filepath.Join(d, filepath.Base(f)+".recv"), r.data, 0o644)
					}
					continue
				}
				identical++
			}
			t.Logf("%s: %d files sent, %d accepted (%d byte-identical to the original data set, %d identical but for group lengths and trailing padding storescu drops, %d re-encoded by storescu in the same transfer syntax, %d transcoded by storescu; all %d byte-identical to what storescu sent), %d refused by storescu: %v",
				mode.name, len(files), accepted, identical, rewritten, reencoded, transcoded, wireIdentical, refused, reasons)
			if accepted < len(files)/2 {
				t.Errorf("only %d of %d files accepted", accepted, len(files))
			}
			// Every spool file is gone.
		})
	}
}

// scpFailed reports whether storescu's output shows a failure of the SCP (a failure
// status, an abort or a reject) rather than a local refusal.
func scpFailed(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Received Store Response") && !strings.Contains(l, "Success") {
			return true
		}
	}
	return strings.Contains(out, "Association Abort") || strings.Contains(out, "Association Rejected") || strings.Contains(out, "Peer aborted")
}

// normalized returns a bare data set without top-level group lengths and Data Set
// Trailing Padding, the elements dcmtk drops when it sends a file.
func normalized(b []byte, ts dicom.TransferSyntax) ([]byte, error) {
	if ts.Deflated {
		return nil, fmt.Errorf("deflated")
	}
	ds, err := dicom.ParseDataset(bytes.NewReader(b), int64(len(b)), ts, dicom.ParseOptions{})
	if err != nil {
		return nil, err
	}
	var drop []dicom.Tag
	for _, e := range ds.Elements() {
		if e.Tag.IsGroupLength() || e.Tag == dicom.NewTag(0xFFFC, 0xFFFC) {
			drop = append(drop, e.Tag)
		}
	}
	for _, tg := range drop {
		ds.Delete(tg)
	}
	var out bytes.Buffer
	if _, err := ds.WriteTo(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// nativeProposal returns the storescu option that proposes a file's own transfer
// syntax, when it is a compressed one.
func nativeProposal(path string) []string {
	f, c, err := dicom.ParseFile(path, dicom.ParseOptions{})
	if err != nil {
		return nil
	}
	c.Close()
	opt := map[string]string{
		JPEGBaselineUID: "-xy", JPEGExtendedUID: "-xx", JPEGLosslessSV1UID: "-xs",
		JPEGLSLosslessUID: "-xt", JPEGLSNearLosslessUID: "-xu",
		JPEG2000LosslessUID: "-xv", JPEG2000UID: "-xw", RLELosslessUID: "-xr",
		dicom.DeflatedExplicitVRLittleEndianUID: "-xd",
	}[f.TS.UID]
	if opt == "" {
		return nil
	}
	return []string{opt}
}

// storescuReason extracts why storescu did not send a file.
func storescuReason(out string) string {
	if i := strings.Index(out, "unable to convert dataset from "); i >= 0 {
		return "storescu cannot convert " + strings.SplitN(out[i+len("unable to convert dataset from "):], "\n", 2)[0] + " (it has no decoder for it and no context for the file's own transfer syntax was proposed)"
	}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "F: ") {
			l = strings.TrimPrefix(strings.TrimPrefix(l, "E: "), "F: ")
			if strings.HasPrefix(l, "Bad DICOM file") || strings.HasPrefix(l, "No presentation context") || strings.HasPrefix(l, "cannot") || strings.Contains(l, ":") {
				return l
			}
		}
	}
	if i := strings.Index(out, "E: "); i >= 0 {
		return strings.SplitN(out[i+3:], "\n", 2)[0]
	}
	return strings.TrimSpace(out)
}
