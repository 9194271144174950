package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/dimse"
)

// storeResult is what storescu reported for one file.
type storeResult struct {
	path   string
	uid    string // Affected SOP Instance UID of the C-STORE request, if one was sent
	status string // the node's answer ("Success", "Error: Cannot understand", ...), "" if none came
	reason string // why storescu did not send the file
}

var (
	sendingRe   = regexp.MustCompile(`(?m)^I: Sending file: (.*)$`)
	affectedRe  = regexp.MustCompile(`(?m)^D: Affected SOP Instance UID\s*: (\S+)`)
	responseRe  = regexp.MustCompile(`(?m)^D: DIMSE Status\s*: 0x[0-9A-Fa-f]{4}: (.*)$`)
	convertRe   = regexp.MustCompile(`unable to convert dataset from '([^']*)' transfer syntax to '([^']*)'`)
	storescuErr = regexp.MustCompile(`(?m)^E: (.*)$`)
)

// parseStorescu splits storescu's debug output (-d) into one result per file sent.
func parseStorescu(out string) []storeResult {
	var res []storeResult
	idx := sendingRe.FindAllStringSubmatchIndex(out, -1)
	for i, m := range idx {
		end := len(out)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		block := out[m[1]:end]
		r := storeResult{path: out[m[2]:m[3]]}
		if a := affectedRe.FindStringSubmatch(block); a != nil {
			r.uid = a[1]
		}
		if s := responseRe.FindStringSubmatch(block); s != nil && strings.Contains(block, "I: Received Store Response") {
			r.status = s[1]
		} else if c := convertRe.FindStringSubmatch(block); c != nil {
			r.reason = fmt.Sprintf("storescu cannot convert %s to %s (no accepted context for the file's own transfer syntax)", c[1], c[2])
		} else {
			var errs []string
			for _, e := range storescuErr.FindAllStringSubmatch(block, -1) {
				e := strings.ReplaceAll(e[1], r.path, "FILE")
				if strings.HasPrefix(e, "Store SCU Failed") || strings.HasPrefix(e, "DcmElement:") {
					continue
				}
				errs = append(errs, e)
			}
			r.reason = "storescu: " + strings.Join(errs, "; ")
		}
		res = append(res, r)
	}
	return res
}

// TestDIMSEWithDcmtk runs a node with its DICOM service and talks to it with dcmtk:
// echoscu (allowed and refused callers), storescu with the whole of pydicom's test_files
// (plainly, then with the Default profile of storescu.cfg for compressed files), and
// findscu at STUDY, SERIES and IMAGE level. Every file is accounted for: stored,
// duplicate, quarantined (seen in the node's archive) or refused (by storescu or the node),
// and the node's QIDO-RS finds exactly the instances it stored.
func TestDIMSEWithDcmtk(t *testing.T) {
	for _, tool := range []string{"echoscu", "storescu", "findscu"} {
		requireTool(t, tool, "dcmtk")
	}
	requireFile(t, "/etc/dcmtk/storescu.cfg", "dcmtk")
	folder := pydicomTestFiles(t)
	dimseAddr := freeAddr(t)
	host, port, _ := strings.Cut(dimseAddr, ":")
	// retain-uids: the node keeps the senders' UIDs, so what storescu sent can be found
	// by UID (the default pseudonymises them).
	a := startArchiveNodeWith(t, fmt.Sprintf(`dimse:
  listen: %s
  ae_title: CIENODE
  allowed_callers: [ECHOSCU, PLAIN, DEFAULT, NATIVE, FINDSCU]
deid:
  options: [retain-uids]
`, dimseAddr))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// C-ECHO: an allowed caller is answered, any other is rejected at association.
	if out, err := runTool(ctx, "", "echoscu", "-v", "-aet", "ECHOSCU", "-aec", "CIENODE", host, port); err != nil || !strings.Contains(out, "Received Echo Response (Success)") {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	out, err := runTool(ctx, "", "echoscu", "-v", "-aet", "INTRUDER", "-aec", "CIENODE", host, port)
	if err == nil || !strings.Contains(out, "Association Rejected") || !strings.Contains(out, "Calling AE Title Not Recognized") {
		t.Fatalf("echoscu from a caller not allowed: err=%v (want a rejection)\n%s", err, out)
	}

	// C-STORE of the whole folder, twice: the second time storescu proposes the JPEG
	// baseline and lossless contexts of the Default profile of storescu.cfg. storescu
	// cannot decompress the rest (JPEG 2000, JPEG-LS, RLE, JPEG extended) and has no
	// profile proposing them, so a third run sends each file it could not convert with
	// the option that proposes the file's own transfer syntax.
	type run struct {
		ae      string
		results []storeResult
	}
	var files []string
	if err := filepath.WalkDir(folder, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	storescu := func(r *run, args []string, sources ...string) {
		t.Helper()
		args = append([]string{"-d", "-nh", "-aet", r.ae, "-aec", "CIENODE"}, args...)
		args = append(append(args, host, port), sources...)
		out, err := runTool(ctx, "", "storescu", args...)
		if err != nil {
			t.Fatalf("storescu %s: %v\n%s", r.ae, err, lastLines(out, 30))
		}
		r.results = append(r.results, parseStorescu(out)...)
	}
	plain, def, native := &run{ae: "PLAIN"}, &run{ae: "DEFAULT"}, &run{ae: "NATIVE"}
	storescu(plain, []string{"+sd", "+r"}, folder)
	storescu(def, []string{"+sd", "+r", "-xf", "/etc/dcmtk/storescu.cfg", "Default"}, folder)
	for _, r := range []*run{plain, def} {
		if len(r.results) != len(files) {
			t.Fatalf("storescu %s reported %d files of the %d in %s", r.ae, len(r.results), len(files), folder)
		}
	}
	byOption := map[string][]string{}
	for _, r := range def.results {
		if strings.HasPrefix(r.reason, "storescu cannot convert") {
			if opt := ownSyntaxOption(r.path); opt != "" {
				byOption[opt] = append(byOption[opt], r.path)
			}
		}
	}
	nNative := 0
	for opt, paths := range byOption {
		storescu(native, []string{opt}, paths...)
		nNative += len(paths)
	}
	if len(native.results) != nNative {
		t.Fatalf("storescu NATIVE reported %d files of %d", len(native.results), nNative)
	}
	runs := []*run{plain, def, native}

	// What the node indexed, through QIDO-RS.
	indexed := map[string]bool{}
	for _, m := range a.qido(t, "/instances") {
		indexed[m["00080018"]] = true
	}

	// C-FIND at each level returns what QIDO-RS returns.
	a.compareFind(t, ctx, host, port)

	// Stop the node (ending its DIMSE ingests), then read its archive.
	a.node.stop()
	quar, ingests := a.nodeArchive(t)
	quarByRun := map[string][]quarantined{}
	for _, q := range quar {
		quarByRun[q.Source] = append(quarByRun[q.Source], q)
	}

	// Account for every file of every run.
	stored := map[string]string{} // SOP Instance UID → the file that stored it
	reasons := map[string]int{}
	for _, r := range runs {
		src := "dimse:" + r.ae
		// One ingest per association (NATIVE has one per storescu run).
		var ing struct{ n, stored, dups, quar, failed int }
		for _, in := range ingests {
			if in.Source == src {
				ing.n++
				ing.stored += in.Stored
				ing.dups += in.Duplicates
				ing.quar += in.Quarantined
				ing.failed += in.Failed
			}
		}
		if ing.n == 0 {
			t.Fatalf("no ingest recorded for %s: %+v", src, ingests)
		}
		// The quarantined files of this run, by UID (a multiset).
		pending := map[string][]quarantined{}
		for _, q := range quarByRun[src] {
			pending[q.SOPUID] = append(pending[q.SOPUID], q)
		}
		var nStored, nDup, nQuar, nNodeRefused, nRefused int
		for _, res := range r.results {
			name := strings.TrimPrefix(res.path, folder+"/")
			var what string
			switch {
			case res.status == "":
				nRefused++
				what = "refused by storescu: " + res.reason
			case res.status != "Success":
				nNodeRefused++
				qs := pending[res.uid]
				if len(qs) == 0 || qs[0].Reason != "unreadable" {
					t.Errorf("%s %s: the node answered %q but holds no unreadable file with UID %s in quarantine", r.ae, name, res.status, res.uid)
					what = "refused by the node: " + res.status
					break
				}
				pending[res.uid] = qs[1:]
				what = fmt.Sprintf("refused by the node (%s), kept in quarantine as unreadable: %s", res.status, qs[0].Detail)
			case len(pending[res.uid]) > 0:
				q := pending[res.uid][0]
				pending[res.uid] = pending[res.uid][1:]
				if q.Reason == "unreadable" {
					t.Errorf("%s %s: acknowledged with Success but quarantined as unreadable", r.ae, name)
				}
				nQuar++
				what = fmt.Sprintf("acknowledged, quarantined (%s): %s", q.Reason, q.Detail)
			case stored[res.uid] != "":
				nDup++
				what = "acknowledged, duplicate of " + stored[res.uid]
			default:
				nStored++
				stored[res.uid] = r.ae + ":" + name
				what = "acknowledged, stored"
				if !indexed[res.uid] {
					t.Errorf("%s %s: acknowledged as instance %s, which QIDO-RS does not find and the node did not quarantine", r.ae, name, res.uid)
				}
			}
			short := what
			switch {
			case strings.HasPrefix(what, "acknowledged, duplicate"):
				short = "acknowledged, duplicate of an instance already stored"
			case strings.HasPrefix(what, "acknowledged, quarantined"):
				short = what[:strings.Index(what, ")")+1]
			case strings.HasPrefix(what, "refused by storescu: storescu cannot convert"):
				short = what[:strings.Index(what, " (")]
			case strings.HasPrefix(what, "refused by storescu: storescu: No presentation context"):
				short = "refused by storescu: SOP class not in its proposal"
			case strings.HasPrefix(what, "refused by storescu: storescu: "):
				short = strings.ReplaceAll(what, ": FILE", "")
			}
			reasons[r.ae+": "+short]++
			t.Logf("%s %s: %s", r.ae, name, what)
		}
		for uid, qs := range pending {
			for _, q := range qs {
				t.Errorf("%s: quarantined file %s (UID %q, %s) matches no file storescu sent", r.ae, q.ID, uid, q.Reason)
			}
		}
		t.Logf("storescu %s: %d files: %d stored, %d duplicates, %d quarantined, %d refused by the node, %d refused by storescu",
			r.ae, len(r.results), nStored, nDup, nQuar, nNodeRefused, nRefused)
		if nStored != ing.stored || nDup != ing.dups || nQuar+nNodeRefused != ing.quar || ing.failed != 0 {
			t.Errorf("%s: the node recorded %d stored, %d duplicates, %d quarantined, %d failed; storescu's answers say %d, %d, %d (+%d refused)",
				r.ae, ing.stored, ing.dups, ing.quar, ing.failed, nStored, nDup, nQuar, nNodeRefused)
		}
		if r.ae == "PLAIN" && (nStored < 50 || nQuar < 1 || nRefused < 10) {
			t.Errorf("PLAIN: %d stored, %d quarantined, %d refused by storescu: the corpus should give at least 50, 1 and 10", nStored, nQuar, nRefused)
		}
		if r.ae == "DEFAULT" && nStored+nQuar <= 5 {
			t.Errorf("DEFAULT: no compressed file acknowledged that the plain run could not send")
		}
		if r.ae == "NATIVE" && nStored+nDup+nQuar < 5 {
			t.Errorf("NATIVE: only %d files acknowledged in their own compressed transfer syntax", nStored+nDup+nQuar)
		}
	}
	// QIDO-RS finds exactly the instances stored.
	for uid := range indexed {
		if stored[uid] == "" {
			t.Errorf("QIDO-RS finds instance %s, which no acknowledged C-STORE stored", uid)
		}
	}
	if len(indexed) != len(stored) {
		t.Errorf("QIDO-RS finds %d instances; %d were stored", len(indexed), len(stored))
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sum strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sum, "\n  %3d  %s", reasons[k], k)
	}
	t.Logf("%d files in %s sent twice (and %d again in their own transfer syntax); %d instances stored and found by QIDO-RS; outcomes:%s", len(files), folder, nNative, len(stored), sum.String())
}

// compareFind runs findscu (Study Root) at STUDY, SERIES and IMAGE level and compares
// the UIDs of its matches with QIDO-RS's.
func (a *archiveNode) compareFind(t *testing.T, ctx context.Context, host, port string) {
	t.Helper()
	levels := []struct {
		level, qido string
		keys        []dicom.Tag
	}{
		{"STUDY", "/studies", []dicom.Tag{tags.StudyInstanceUID}},
		{"SERIES", "/series", []dicom.Tag{tags.StudyInstanceUID, tags.SeriesInstanceUID}},
		{"IMAGE", "/instances", []dicom.Tag{tags.StudyInstanceUID, tags.SeriesInstanceUID, tags.SOPInstanceUID}},
	}
	for _, l := range levels {
		dir := t.TempDir()
		args := []string{"-S", "-X", "-aet", "FINDSCU", "-aec", "CIENODE", "-k", "QueryRetrieveLevel=" + l.level}
		for _, k := range l.keys {
			args = append(args, "-k", fmt.Sprintf("(%04x,%04x)", k.Group(), k.Element()))
		}
		args = append(args, host, port)
		if out, err := runTool(ctx, dir, "findscu", args...); err != nil {
			t.Fatalf("findscu %s: %v\n%s", l.level, err, lastLines(out, 20))
		}
		rsp, _ := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
		find := map[string]bool{}
		for _, p := range rsp {
			f, c, err := dicom.ParseFile(p, dicom.ParseOptions{})
			if err != nil {
				t.Fatalf("findscu %s: response %s: %v", l.level, p, err)
			}
			var key []string
			for _, k := range l.keys {
				key = append(key, f.Dataset.Text(k))
			}
			c.Close()
			find[strings.Join(key, "/")] = true
		}
		qido := map[string]bool{}
		for _, m := range a.qido(t, l.qido) {
			var key []string
			for _, k := range l.keys {
				key = append(key, m[fmt.Sprintf("%08X", uint32(k))])
			}
			qido[strings.Join(key, "/")] = true
		}
		for k := range find {
			if !qido[k] {
				t.Errorf("C-FIND %s finds %s, QIDO-RS does not", l.level, k)
			}
		}
		for k := range qido {
			if !find[k] {
				t.Errorf("QIDO-RS %s finds %s, C-FIND %s does not", l.qido, k, l.level)
			}
		}
		if len(rsp) != len(find) || len(find) == 0 {
			t.Errorf("C-FIND %s: %d responses, %d distinct", l.level, len(rsp), len(find))
		}
		t.Logf("C-FIND %s: %d matches, the same UIDs as QIDO-RS %s", l.level, len(find), l.qido)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ownSyntaxOption returns the storescu option that proposes a file's own compressed
// transfer syntax ("" when it has none storescu can propose).
func ownSyntaxOption(path string) string {
	f, c, err := dicom.ParseFile(path, dicom.ParseOptions{})
	if err != nil {
		return ""
	}
	c.Close()
	return map[string]string{
		dimse.JPEGBaselineUID: "-xy", dimse.JPEGExtendedUID: "-xx", dimse.JPEGLosslessSV1UID: "-xs",
		dimse.JPEGLSLosslessUID: "-xt", dimse.JPEGLSNearLosslessUID: "-xu",
		dimse.JPEG2000LosslessUID: "-xv", dimse.JPEG2000UID: "-xw", dimse.RLELosslessUID: "-xr",
	}[f.TS.UID]
}
