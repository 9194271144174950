package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/synth"
)

const orthancDICOMwebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

// orthanc is an Orthanc server started for a test.
type orthanc struct {
	url string
	log string
}

// startOrthanc starts Orthanc with its DICOMweb plugin on free loopback ports, with its
// configuration and storage in a temporary folder and the cie node as DICOMweb server
// "cie" (with the node's bearer token). It is stopped when the test ends.
func startOrthanc(t *testing.T, nodeDICOMweb, token string) *orthanc {
	t.Helper()
	bin := requireTool(t, "Orthanc", "orthanc")
	requireFile(t, orthancDICOMwebPlugin, "orthanc-dicomweb")
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	_, httpPort, _ := strings.Cut(httpAddr, ":")
	_, dicomPort, _ := strings.Cut(freeAddr(t), ":")
	cfg := map[string]any{
		"Name":                  "cie-interop-test",
		"StorageDirectory":      filepath.Join(dir, "storage"),
		"IndexDirectory":        filepath.Join(dir, "index"),
		"HttpPort":              json.Number(httpPort),
		"DicomPort":             json.Number(dicomPort),
		"DicomServerEnabled":    false,
		"RemoteAccessAllowed":   false,
		"AuthenticationEnabled": false,
		"HttpDescribeErrors":    true,
		"SaveJobs":              false,
		"Plugins":               []string{orthancDICOMwebPlugin},
		"DicomWeb": map[string]any{
			"Enable": true, "Root": "/dicom-web/", "EnableWado": false,
			"Servers": map[string]any{
				"cie": map[string]any{
					"Url":         nodeDICOMweb + "/",
					"HttpHeaders": map[string]string{"Authorization": "Bearer " + token},
				},
			},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "orthanc.json")
	writeFile(t, conf, string(b))
	logPath := filepath.Join(dir, "orthanc.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--verbose", conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Orthanc: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); lf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	o := &orthanc{url: "http://" + httpAddr, log: logPath}
	waitFor(t, 30*time.Second, "Orthanc answering", func() bool {
		select {
		case <-done:
			t.Fatalf("Orthanc exited at start:\n%s", readFile(logPath))
		default:
		}
		resp, err := http.Get(o.url + "/system")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return o
}

// call sends a request to Orthanc's REST API and decodes its JSON answer into v (when
// not nil); it fails the test on any status but 200, with Orthanc's log.
func (o *orthanc) call(t *testing.T, method, path string, body, v any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, o.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Orthanc %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("Orthanc %s %s: %v", method, path, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("Orthanc %s %s: %s: %s\nOrthanc's log (end):\n%s", method, path, resp.Status, out, lastLines(readFile(o.log), 40))
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("Orthanc %s %s: %v: %s", method, path, err, out)
		}
	}
	return out
}

// synthStudies generates one patient's studies (small CT/MR/... series) with synth and
// stores them in the node over STOW-RS; it returns the number of instances sent.
func synthStudies(t *testing.T, a *archiveNode, seed uint64) int {
	t.Helper()
	g, err := synth.New(synth.Options{Seed: seed, Node: "alpha", Patients: 1, Rows: 64, Columns: 64, MinSlices: 3, MaxSlices: 5, MaxSeriesPerStudy: 2})
	if err != nil {
		t.Fatal(err)
	}
	var parts []dicomweb.Part
	err = g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		data := buf.Bytes()
		parts = append(parts, dicomweb.Part{Name: in.SOPInstanceUID, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &dicomweb.Client{BaseURL: a.nodeURL + "/dicomweb", Token: a.token, HTTP: &http.Client{Timeout: 60 * time.Second}}
	res, err := c.Store(context.Background(), parts)
	if err != nil {
		t.Fatalf("STOW-RS of %d synthetic instances: %v", len(parts), err)
	}
	if len(res.Instances) != len(parts) {
		t.Fatalf("STOW-RS stored %d of %d synthetic instances: %v", len(res.Instances), len(parts), res.Warnings)
	}
	return len(parts)
}

// wadoInstances retrieves a study from the node's WADO-RS and returns its instances by
// SOP Instance UID, with the media type of each part.
func (a *archiveNode) wadoInstances(t *testing.T, study string) (map[string][]byte, []string) {
	t.Helper()
	code, h, body := a.do(t, "GET", a.nodeURL+"/dicomweb/studies/"+study, `multipart/related; type="application/dicom"; transfer-syntax=*`)
	if code != 200 {
		t.Fatalf("WADO-RS study %s: %d %s", study, code, body)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		t.Fatalf("WADO-RS study: Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	out := map[string][]byte{}
	var types []string
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("WADO-RS study %s: %v", study, err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
		f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("WADO-RS study %s: a part is not DICOM: %v", study, err)
		}
		out[f.Dataset.Text(tags.SOPInstanceUID)] = data
	}
	return out, types
}

// TestOrthancRetrievesFromNode makes Orthanc (with its DICOMweb plugin) a DICOMweb client
// of a node: it queries the node's studies, series and instances through
// /dicom-web/servers/cie/qido, retrieves every study into its own storage with
// /dicom-web/servers/cie/retrieve, and each instance Orthanc then holds is byte for byte
// the one the node's WADO-RS returns.
func TestOrthancRetrievesFromNode(t *testing.T) {
	a := startArchiveNode(t)
	o := startOrthanc(t, a.nodeURL+"/dicomweb", a.token)
	sent := synthStudies(t, a, 7)
	sent += stowFiles(t, a, pydicomTestFiles(t), orthancCompressed...)

	// QIDO-RS through Orthanc: the same studies as the node's own QIDO-RS.
	studies := map[string]map[string]string{}
	for _, m := range a.qido(t, "/studies") {
		studies[m["0020000D"]] = m
	}
	// Orthanc answers /qido in its own shape: {"0020000D": {"Name": …, "Value": "…"}}, a
	// string Value for text attributes.
	var viaOrthanc []map[string]struct {
		Name  string
		Value any
	}
	o.call(t, "POST", "/dicom-web/servers/cie/qido", map[string]any{"Uri": "/studies"}, &viaOrthanc)
	if len(viaOrthanc) != len(studies) || len(studies) == 0 {
		t.Fatalf("Orthanc's QIDO-RS through the node finds %d studies, the node %d", len(viaOrthanc), len(studies))
	}
	for _, m := range viaOrthanc {
		uid, _ := m["0020000D"].Value.(string)
		st, ok := studies[uid]
		if !ok {
			t.Fatalf("Orthanc sees study %q the node's QIDO-RS does not list", uid)
		}
		for _, k := range []string{"00100020", "00080020", "00080050", "00080061"} {
			if got, _ := m[k].Value.(string); got != st[k] {
				t.Errorf("study %s: Orthanc reads %s %q, the node's QIDO-RS says %q", uid, m[k].Name, got, st[k])
			}
		}
	}
	// With a filter, at series level.
	var series []map[string]struct{ Value any }
	anyStudy := ""
	for uid := range studies {
		anyStudy = uid
		break
	}
	o.call(t, "POST", "/dicom-web/servers/cie/qido", map[string]any{"Uri": "/studies/" + anyStudy + "/series"}, &series)
	if want := len(a.qido(t, "/studies/"+anyStudy+"/series")); len(series) != want || want == 0 {
		t.Fatalf("Orthanc finds %d series in study %s, the node %d", len(series), anyStudy, want)
	}

	var one []map[string]struct{ Value any }
	o.call(t, "POST", "/dicom-web/servers/cie/qido", map[string]any{"Uri": "/studies", "Arguments": map[string]string{"StudyInstanceUID": anyStudy}}, &one)
	if len(one) != 1 || one[0]["0020000D"].Value != anyStudy {
		t.Fatalf("Orthanc's QIDO-RS for study %s through the node: %v", anyStudy, one)
	}

	// Retrieve every study into Orthanc.
	var resources []map[string]string
	for uid := range studies {
		resources = append(resources, map[string]string{"Study": uid})
	}
	out := o.call(t, "POST", "/dicom-web/servers/cie/retrieve", map[string]any{"Resources": resources, "Synchronous": true}, nil)
	t.Logf("Orthanc's retrieve answered: %s", firstLines(string(out), 3))
	var ids []string
	o.call(t, "GET", "/instances", nil, &ids)
	if len(ids) != sent {
		t.Fatalf("Orthanc holds %d instances after retrieving %d studies of %d instances", len(ids), len(studies), sent)
	}

	// Every instance Orthanc stored is byte for byte what the node's WADO-RS returns.
	fromNode := map[string][]byte{}
	partTypes := map[string]int{}
	for uid := range studies {
		m, types := a.wadoInstances(t, uid)
		for k, v := range m {
			fromNode[k] = v
		}
		for _, ty := range types {
			partTypes[ty]++
		}
	}
	var bytesCompared int
	for _, id := range ids {
		file := o.call(t, "GET", "/instances/"+id+"/file", nil, nil)
		f, err := dicom.Parse(bytes.NewReader(file), int64(len(file)), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("Orthanc's instance %s: %v", id, err)
		}
		uid := f.Dataset.Text(tags.SOPInstanceUID)
		want, ok := fromNode[uid]
		if !ok {
			t.Fatalf("Orthanc holds instance %s, which the node's WADO-RS did not return", uid)
		}
		if !bytes.Equal(file, want) {
			t.Errorf("instance %s: Orthanc stored %d bytes, the node sends %d, and they differ", uid, len(file), len(want))
		}
		bytesCompared += len(file)
	}
	types := make([]string, 0, len(partTypes))
	for ty, n := range partTypes {
		types = append(types, fmt.Sprintf("%d × %s", n, ty))
	}
	sort.Strings(types)
	t.Logf("Orthanc found %d studies and retrieved %d instances (%d bytes), each byte for byte the node's WADO-RS answer; parts: %s",
		len(studies), len(ids), bytesCompared, strings.Join(types, ", "))
}

// orthancCompressed are pydicom test files in other transfer syntaxes than the synthetic
// series' explicit VR little endian (each its own instance, none quarantined).
var orthancCompressed = []string{
	"693_J2KI.dcm",              // JPEG 2000
	"J2K_pixelrep_mismatch.dcm", // JPEG 2000 lossless
	"MR_small_RLE.dcm",          // RLE lossless
	"liver_1frame.dcm",          // a segmentation
	"rtdose_expb.dcm",           // explicit VR big endian, multi-frame
	"CT_small.dcm",              // explicit VR little endian
	"MR_small_implicit.dcm",     // implicit VR little endian (same instance as MR_small_RLE: a duplicate)
}

// stowFiles stores files of a folder in the node over STOW-RS and returns how many
// distinct instances the node stored; every file must be stored or be a duplicate.
func stowFiles(t *testing.T, a *archiveNode, dir string, names ...string) int {
	t.Helper()
	var parts []dicomweb.Part
	for _, n := range names {
		path := filepath.Join(dir, n)
		parts = append(parts, dicomweb.Part{Name: n, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	c := &dicomweb.Client{BaseURL: a.nodeURL + "/dicomweb", Token: a.token, HTTP: &http.Client{Timeout: 60 * time.Second}}
	res, err := c.Store(context.Background(), parts)
	if err != nil {
		t.Fatalf("STOW-RS of %v: %v", names, err)
	}
	distinct := map[string]bool{}
	for _, uid := range res.Instances {
		distinct[uid] = true
	}
	if len(res.Instances) != len(names) {
		t.Fatalf("STOW-RS stored %d of %d files: %v", len(res.Instances), len(names), res.Warnings)
	}
	return len(distinct)
}
