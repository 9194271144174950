package dicomweb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
	"github.com/cancerimage/cie/internal/testenv"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	a := archivetest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	New(a, "/dicomweb", nil, log).Register(mux, func(h http.HandlerFunc) http.HandlerFunc { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// stow posts files in one multipart/related request.
func stow(t *testing.T, url string, files [][]byte) (*http.Response, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/dicom")
		p, _ := mw.CreatePart(h)
		p.Write(f)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", url+"/dicomweb/studies", &body)
	req.Header.Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func get(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func corpusFile(t *testing.T, name string) []byte {
	for _, cf := range testenv.Corpus(t) {
		if filepath.Base(cf.Path) == name && strings.Contains(cf.Path, "test_files") {
			b, err := os.ReadFile(cf.Path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s not in the corpus", name)
	return nil
}

func TestStowQidoWado(t *testing.T) {
	srv := server(t)
	ct, mr, jpeg := corpusFile(t, "CT_small.dcm"), corpusFile(t, "MR_small.dcm"), corpusFile(t, "JPEG2000.dcm")
	resp, out := stow(t, srv.URL, [][]byte{ct, mr, jpeg, []byte("not dicom at all")})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("STOW status %d, want 202 (2 stored, 2 failed): %v", resp.StatusCode, out)
	}
	refs := out["00081199"].(map[string]any)["Value"].([]any)
	fails := out["00081198"].(map[string]any)["Value"].([]any)
	// JPEG2000.dcm is a secondary capture: quarantined (no pixel-cleaning rule); junk is unreadable.
	if len(refs) != 2 || len(fails) != 2 || len(resp.Header.Values("Warning")) != 2 {
		t.Fatalf("STOW answer: %d stored, %d failed, warnings %v", len(refs), len(fails), resp.Header.Values("Warning"))
	}
	// The same again: stored once, answered as stored, with a warning.
	if resp, _ := stow(t, srv.URL, [][]byte{ct}); resp.StatusCode != 200 || !strings.Contains(strings.Join(resp.Header.Values("Warning"), " "), "already stored") {
		t.Fatalf("second STOW: %d %v", resp.StatusCode, resp.Header.Values("Warning"))
	}
	if resp, _ := stow(t, srv.URL, [][]byte{[]byte("junk")}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("STOW of junk only: %d, want 409", resp.StatusCode)
	}

	var studies []map[string]any
	resp, b := get(t, srv.URL+"/dicomweb/studies?ModalitiesInStudy=CT&includefield=all", "application/dicom+json")
	if resp.StatusCode != 200 || json.Unmarshal(b, &studies) != nil || len(studies) != 1 {
		t.Fatalf("QIDO CT studies: %d %s", resp.StatusCode, b)
	}
	study := studies[0]["0020000D"].(map[string]any)["Value"].([]any)[0].(string)
	if !strings.HasPrefix(study, "2.25.") {
		t.Fatalf("study UID %q is not a pseudonym", study)
	}
	if name := studies[0]["00100010"].(map[string]any)["Value"].([]any)[0].(map[string]any)["Alphabetic"]; name == "CompressedSamples^CT1" {
		t.Fatal("QIDO shows the original patient name")
	}
	var series []map[string]any
	_, b = get(t, srv.URL+"/dicomweb/studies/"+study+"/series", "")
	if json.Unmarshal(b, &series) != nil || len(series) != 1 {
		t.Fatalf("series: %s", b)
	}
	se := series[0]["0020000E"].(map[string]any)["Value"].([]any)[0].(string)
	var insts []map[string]any
	_, b = get(t, srv.URL+"/dicomweb/studies/"+study+"/series/"+se+"/instances", "")
	if json.Unmarshal(b, &insts) != nil || len(insts) != 1 {
		t.Fatalf("instances: %s", b)
	}
	sop := insts[0]["00080018"].(map[string]any)["Value"].([]any)[0].(string)

	// Retrieve: one part, a DICOM file that is the de-identified instance.
	resp, b = get(t, srv.URL+"/dicomweb/studies/"+study, `multipart/related; type="application/dicom"; transfer-syntax=*`)
	parts := readParts(t, resp, b)
	if resp.StatusCode != 200 || len(parts) != 1 {
		t.Fatalf("retrieve: %d, %d parts", resp.StatusCode, len(parts))
	}
	f, err := dicom.Parse(bytes.NewReader(parts[0]), int64(len(parts[0])), dicom.ParseOptions{})
	if err != nil || f.Dataset.Text(tags.SOPInstanceUID) != sop || f.Dataset.Text(tags.PatientIdentityRemoved) != "YES" {
		t.Fatalf("retrieved instance: %v", err)
	}
	if resp, _ := get(t, srv.URL+"/dicomweb/studies/"+study, `multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50`); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("retrieve in another transfer syntax: %d, want 406", resp.StatusCode)
	}
	// Metadata: DICOM JSON with an absolute Bulk Data URI for the pixel data, which answers.
	var meta []map[string]any
	_, b = get(t, srv.URL+"/dicomweb/studies/"+study+"/series/"+se+"/metadata", "application/dicom+json")
	if json.Unmarshal(b, &meta) != nil || len(meta) != 1 {
		t.Fatalf("metadata: %s", b)
	}
	uri, _ := meta[0]["7FE00010"].(map[string]any)["BulkDataURI"].(string)
	if !strings.HasPrefix(uri, srv.URL+"/dicomweb/studies/"+study) {
		t.Fatalf("pixel data bulk URI %q", uri)
	}
	resp, b = get(t, uri, "")
	if px := readParts(t, resp, b); len(px) != 1 || len(px[0]) != 128*128*2 {
		t.Fatalf("pixel bulk data: %d parts", len(px))
	}
	for _, c := range []struct {
		url  string
		want int
	}{
		{"/dicomweb/studies/2.25.1", 404},
		{"/dicomweb/studies?Modality=CT", 400},
		{"/dicomweb/studies?StudyDate=yesterday", 400},
		{"/dicomweb/studies?NoSuchKeyword=1", 400},
		{"/dicomweb/nothing", 404},
	} {
		if resp, b := get(t, srv.URL+c.url, ""); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.url, resp.StatusCode, c.want, b)
		}
	}
}

func readParts(t *testing.T, resp *http.Response, body []byte) [][]byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(fmt.Errorf("multipart: %w", err))
		}
		b, _ := io.ReadAll(p)
		out = append(out, b)
	}
}

func TestFramesRenderedThumbnail(t *testing.T) {
	srv := server(t)
	ct, rle, j2k := corpusFile(t, "CT_small.dcm"), corpusFile(t, "MR_small_RLE.dcm"), corpusFile(t, "693_J2KI.dcm")
	resp, out := stow(t, srv.URL, [][]byte{ct, rle, j2k})
	if resp.StatusCode != 200 {
		t.Fatalf("STOW: %d %v", resp.StatusCode, out)
	}
	var insts []map[string]any
	_, b := get(t, srv.URL+"/dicomweb/instances", "")
	if err := json.Unmarshal(b, &insts); err != nil || len(insts) != 3 {
		t.Fatalf("instances: %s", b)
	}
	urls := map[string]string{} // modality or JP2 → instance URL
	for _, in := range insts {
		key := in["00080060"].(map[string]any)["Value"].([]any)[0].(string)
		if ts := in["00020010"].(map[string]any)["Value"].([]any)[0].(string); ts == "1.2.840.10008.1.2.4.90" || ts == "1.2.840.10008.1.2.4.91" {
			key = "JP2"
		}
		urls[key] = in["00081190"].(map[string]any)["Value"].([]any)[0].(string)
		// QIDO-RS names the transfer syntax in Available Transfer Syntax UID (0008,3002).
		if a, ok := in["00083002"].(map[string]any); !ok || a["vr"] != "UI" || a["Value"].([]any)[0] != in["00020010"].(map[string]any)["Value"].([]any)[0] {
			t.Errorf("instance without AvailableTransferSyntaxUID: %v", in)
		}
	}
	// A native frame: 128×128×2 bytes, octet-stream, little endian.
	resp, b = get(t, urls["CT"]+"/frames/1", `multipart/related; type="application/octet-stream"; transfer-syntax=*`)
	if parts := readParts(t, resp, b); resp.StatusCode != 200 || len(parts) != 1 || len(parts[0]) != 128*128*2 {
		t.Fatalf("CT frame: %d", resp.StatusCode)
	}
	// An RLE frame as stored (image/dicom-rle), or octet-stream when any syntax goes.
	resp, b = get(t, urls["MR"]+"/frames/1", `multipart/related; type="image/dicom-rle"`)
	rleParts := readParts(t, resp, b)
	if resp.StatusCode != 200 || len(rleParts) != 1 || len(rleParts[0]) == 0 {
		t.Fatalf("RLE frame: %d", resp.StatusCode)
	}
	// The name PS3.18 gave RLE frames before 2021a (dicomweb-client asks for it) gets the
	// same frame, labelled as asked.
	resp, b2 := get(t, urls["MR"]+"/frames/1", `multipart/related; type="image/x-dicom-rle"; transfer-syntax=1.2.840.10008.1.2.5`)
	if parts := readParts(t, resp, b2); resp.StatusCode != 200 || len(parts) != 1 || !bytes.Equal(parts[0], rleParts[0]) ||
		!strings.Contains(resp.Header.Get("Content-Type"), `type="image/x-dicom-rle"`) {
		t.Fatalf("RLE frame as image/x-dicom-rle: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, urls["CT"]+"/frames/1", `multipart/related; type="image/x-dicom-rle"`); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("native frame as image/x-dicom-rle: %d, want 406", resp.StatusCode)
	}
	if resp, _ := get(t, urls["MR"]+"/frames/1", `multipart/related; type="image/jpeg"`); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("RLE frame as JPEG: %d, want 406", resp.StatusCode)
	}
	if resp, _ := get(t, urls["CT"]+"/frames/2", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("frame 2 of 1: %d, want 404", resp.StatusCode)
	}
	// Rendered: a PNG of the frame's size, a JPEG scaled into a viewport, a thumbnail.
	resp, b = get(t, urls["CT"]+"/rendered?window=40,400", "image/png")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("rendered PNG: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, b = get(t, urls["MR"]+"/frames/1/rendered?viewport=64,64&quality=80", "image/jpeg")
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
		t.Fatalf("rendered JPEG: %d", resp.StatusCode)
	}
	series := urls["CT"][:strings.Index(urls["CT"], "/instances/")]
	resp, b = get(t, series+"/thumbnail", "")
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
		t.Fatalf("series thumbnail: %d", resp.StatusCode)
	}
	for _, c := range []struct {
		url, accept string
		want        int
	}{
		{urls["CT"] + "/rendered?window=40", "", 400},
		{urls["CT"] + "/rendered?viewport=0,10", "", 400},
		{urls["CT"] + "/rendered", "image/gif", 406},
		{urls["JP2"] + "/rendered", "", 406}, // JPEG 2000: not decoded, never a broken image
	} {
		if resp, b := get(t, c.url, c.accept); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.url, resp.StatusCode, c.want, b)
		}
	}
}

// Clients write media type parameters with an unquoted slash (cornerstone's
// dicom-image-loader sends exactly this Accept); the node must take it.
func TestLenientMediaTypes(t *testing.T) {
	mt, p := parseMediaType(`multipart/related; type=application/octet-stream; transfer-syntax=*`)
	if mt != "multipart/related" || p["type"] != "application/octet-stream" || p["transfer-syntax"] != "*" {
		t.Fatalf("%q %v", mt, p)
	}
	if l := acceptList(`multipart/related; type="a,b", image/png`); len(l) != 2 {
		t.Fatalf("accept list %q", l)
	}
	srv := server(t)
	resp, _ := stow(t, srv.URL, [][]byte{corpusFile(t, "CT_small.dcm")})
	if resp.StatusCode != 200 {
		t.Fatalf("STOW: %d", resp.StatusCode)
	}
	var insts []map[string]any
	_, b := get(t, srv.URL+"/dicomweb/instances", "")
	json.Unmarshal(b, &insts)
	url := insts[0]["00081190"].(map[string]any)["Value"].([]any)[0].(string)
	if resp, b := get(t, url+"/frames/1", `multipart/related; type=application/octet-stream; transfer-syntax=*`); resp.StatusCode != 200 {
		t.Fatalf("frames with an unquoted type: %d %s", resp.StatusCode, b)
	}
}

// includefield at instance level returns attributes the index does not keep, from the
// stored instance.
func TestIncludeFieldFromStoredInstance(t *testing.T) {
	srv := server(t)
	if resp, _ := stow(t, srv.URL, [][]byte{corpusFile(t, "CT_small.dcm")}); resp.StatusCode != 200 {
		t.Fatalf("STOW: %d", resp.StatusCode)
	}
	var insts []map[string]any
	_, b := get(t, srv.URL+"/dicomweb/instances?includefield=SliceThickness,00180060", "")
	if err := json.Unmarshal(b, &insts); err != nil || len(insts) != 1 {
		t.Fatalf("instances: %s", b)
	}
	for _, key := range []string{"00180050", "00180060"} { // Slice Thickness, KVP
		if _, ok := insts[0][key]; !ok {
			t.Errorf("includefield %s not returned: %s", key, b)
		}
	}
	if _, ok := insts[0]["00280030"]; ok {
		t.Error("Pixel Spacing returned without being asked for")
	}
	_, b = get(t, srv.URL+"/dicomweb/instances?includefield=all", "")
	json.Unmarshal(b, &insts)
	if _, ok := insts[0]["00280030"]; !ok {
		t.Error("includefield=all leaves out Pixel Spacing")
	}
	if _, ok := insts[0]["7FE00010"]; ok {
		t.Error("includefield=all returns pixel data")
	}
}
