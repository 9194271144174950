package viewertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

func ctSmall(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CIE_TEST_CT_SMALL")
	if p == "" {
		p = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CIE_TEST_REQUIRE_ALL") != "" {
			t.Fatalf("CT_small.dcm: %v (apt-get install python3-pydicom)", err)
		}
		t.Skipf("CT_small.dcm: %v", err)
	}
	return p
}

func TestCTSeries(t *testing.T) {
	const n = 9
	s, err := CTSeries(ctSmall(t), n, "seed")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != n {
		t.Fatalf("%d files", len(s.Files))
	}
	again, err := CTSeries(ctSmall(t), n, "seed")
	if err != nil || again.Study != s.Study || !bytes.Equal(again.Files[3], s.Files[3]) {
		t.Fatalf("not repeatable (%v)", err)
	}
	sops := map[string]bool{}
	pos := map[string]bool{}
	pixels := map[int][]byte{}
	for i, b := range s.Files {
		f, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), dicom.ParseOptions{})
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		d := f.Dataset
		if d.Text(tags.StudyInstanceUID) != s.Study || d.Text(tags.SeriesInstanceUID) != s.Series {
			t.Errorf("file %d: study/series UIDs", i)
		}
		if !strings.HasPrefix(s.Study, "2.25.") {
			t.Errorf("study UID %s", s.Study)
		}
		sop := d.Text(tags.SOPInstanceUID)
		if f.Meta.Text(tags.MediaStorageSOPInstanceUID) != sop {
			t.Errorf("file %d: meta SOP instance UID differs", i)
		}
		sops[sop] = true
		pos[d.Text(tags.ImagePositionPatient)] = true
		px, err := d.Get(tags.PixelData).Value()
		if err != nil {
			t.Fatal(err)
		}
		pixels[s.Numbers[i]] = px
	}
	if len(sops) != n || len(pos) != n {
		t.Errorf("%d SOP instance UIDs, %d positions; want %d distinct", len(sops), len(pos), n)
	}
	if s.Numbers[0] == 1 && s.Numbers[1] == 2 {
		t.Errorf("files are in instance order %v; want them shuffled", s.Numbers)
	}
	if bytes.Equal(pixels[1], pixels[(n+1)/2]) {
		t.Error("the first and the middle slice have the same pixels")
	}
	if _, err := CTSeries(ctSmall(t), 1, "x"); err == nil {
		t.Error("n = 1: no error")
	}
}

// TestEnv runs Orthanc and checks that the environment relays DICOMweb: the
// series metadata lists every slice and a frame comes back.
func TestEnv(t *testing.T) {
	ct := ctSmall(t)
	ctx := context.Background()
	env, err := Start(ctx, Options{Dir: t.TempDir(), CT: ct, Slices: 6})
	if errors.Is(err, ErrNoOrthanc) && os.Getenv("CIE_TEST_REQUIRE_ALL") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for _, base := range []string{NodeBase, HubBase} {
		url := env.URL + base + "/studies/" + env.CT.Study + "/series/" + env.CT.Series + "/metadata"
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var meta []map[string]struct{ Value []any }
		err = json.NewDecoder(res.Body).Decode(&meta)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v\n%s", url, res.StatusCode, err, env.OrthancLog())
		}
		if len(meta) != 6 {
			t.Fatalf("%s: %d instances, want 6", base, len(meta))
		}
		sop := meta[0]["00080018"].Value[0].(string)
		req, _ := http.NewRequest("GET", env.URL+base+"/studies/"+env.CT.Study+"/series/"+env.CT.Series+"/instances/"+sop+"/frames/1", nil)
		req.Header.Set("Accept", "multipart/related; type=application/octet-stream; transfer-syntax=*")
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "multipart/related") || len(b) < 128*128*2 {
			t.Errorf("%s frame: %d %s, %d bytes", base, res.StatusCode, res.Header.Get("Content-Type"), len(b))
		}
	}
	res, err := http.Get(env.URL + env.CT.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("viewer page: %d", res.StatusCode)
	}
	res, err = http.Get(env.URL + "/dicomweb-not/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("unknown path: %d", res.StatusCode)
	}
}
