package dicomweb

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/archive/archivetest"
)

// TestRetrieveZip: a study and a series retrieved as application/zip (by Accept header
// or accept query parameter) are ZIP archives of exactly the stored files, named
// study/series/instance.dcm, offered as an attachment; what is not asked for is 406.
func TestRetrieveZip(t *testing.T) {
	a := archivetest.Open(t)
	mux := http.NewServeMux()
	New(a, "/dicomweb", nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux, func(h http.HandlerFunc) http.HandlerFunc { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ct, mr := corpusFile(t, "CT_small.dcm"), corpusFile(t, "MR_small.dcm")
	if resp, out := stow(t, srv.URL, [][]byte{ct, mr}); resp.StatusCode != 200 {
		t.Fatalf("STOW: %d %v", resp.StatusCode, out)
	}
	var insts []map[string]any
	_, b := get(t, srv.URL+"/dicomweb/instances", "")
	if err := json.Unmarshal(b, &insts); err != nil || len(insts) != 2 {
		t.Fatalf("instances: %s", b)
	}
	val := func(m map[string]any, tag string) string { return m[tag].(map[string]any)["Value"].([]any)[0].(string) }
	study, series, sop := val(insts[0], "0020000D"), val(insts[0], "0020000E"), val(insts[0], "00080018")
	stored, err := a.Index().Instances(context.Background(), study, "", "")
	if err != nil {
		t.Fatal(err)
	}

	check := func(resp *http.Response, body []byte, wantName string) map[string][]byte {
		t.Helper()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ZipType {
			t.Fatalf("zip retrieve: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="`+wantName+`"` {
			t.Errorf("Content-Disposition %q, want filename %s", cd, wantName)
		}
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("not a ZIP: %v", err)
		}
		out := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc) // checks the CRC too
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			out[f.Name] = data
		}
		return out
	}
	direct := func(in string) []byte {
		for _, s := range stored {
			if s.SOPUID == in {
				rc, err := a.Open(context.Background(), s)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				data, _ := io.ReadAll(rc)
				return data
			}
		}
		t.Fatalf("%s not stored", in)
		return nil
	}
	for _, c := range []struct{ url, accept string }{
		{"/dicomweb/studies/" + study, ZipType},
		{"/dicomweb/studies/" + study, `application/zip, multipart/related; type="application/dicom"`},
		{"/dicomweb/studies/" + study + "?accept=application%2Fzip", `multipart/related; type="application/dicom"`},
	} {
		resp, body := get(t, srv.URL+c.url, c.accept)
		files := check(resp, body, "study-"+study+".zip")
		if len(files) != len(stored) {
			t.Fatalf("%s: %d files, %d stored", c.url, len(files), len(stored))
		}
		for _, s := range stored {
			data, ok := files[ZipEntryName(s)]
			if !ok || !bytes.Equal(data, direct(s.SOPUID)) {
				t.Fatalf("%s: %s missing or different (have %v)", c.url, ZipEntryName(s), len(files))
			}
			f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{})
			if err != nil || f.Dataset.Text(tags.SOPInstanceUID) != s.SOPUID {
				t.Fatalf("%s: not the instance: %v", ZipEntryName(s), err)
			}
		}
	}
	resp, body := get(t, srv.URL+"/dicomweb/studies/"+study+"/series/"+series, ZipType)
	if files := check(resp, body, "series-"+series+".zip"); len(files) != 1 || files[study+"/"+series+"/"+sop+".dcm"] == nil {
		t.Fatalf("series zip: %d files", len(files))
	}
	// multipart stays the default; an unknown type is 406; an unknown study 404.
	if resp, _ := get(t, srv.URL+"/dicomweb/studies/"+study, ""); !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/related") {
		t.Errorf("default retrieve: %q", resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, srv.URL+"/dicomweb/studies/"+study, "application/x-tar"); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("tar: %d, want 406", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/dicomweb/studies/2.25.1", ZipType); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") == ZipType {
		t.Errorf("unknown study as zip: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
