package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/node"
	"github.com/cancerimage/cie/internal/synth"
)

// TestPublishToCatalogue: a data holder makes a dataset from the node's CT studies and
// publishes it; the hub's public catalogue shows it (JSON, JSON-LD, Turtle, FAIR Data
// Point) without login; the content hash tree finds a changed file.
func TestPublishToCatalogue(t *testing.T) {
	a := startArchiveNode(t)
	a.storeGenerated(t, synth.Options{Seed: 11, Node: "cat", Patients: 3, Rows: 32, Columns: 32, MinSlices: 4, MaxSlices: 4})
	post := func(path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", a.nodeURL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	meta := map[string]any{
		"title": "Lung CT at diagnosis", "description": "Chest CT of generated lung cancer patients.", "keywords": []string{"lung", "CT"},
		"cancer_types":  []catalogue.Code{catalogue.Terms(catalogue.KindCancerType)[0].Code},
		"body_parts":    []catalogue.Code{catalogue.Terms(catalogue.KindBodyPart)[0].Code},
		"access_rights": "RESTRICTED", "license": "https://creativecommons.org/licenses/by-nc/4.0/",
		"contact": map[string]string{"email": "data@alpha.example"}, "publisher": map[string]string{"name": "Alpha Hospital"},
		"interoperability_level": "Tier 2", "query": map[string]string{"ModalitiesInStudy": "CT"},
	}
	code, d := post("/api/v1/datasets", meta)
	if code != 201 || d["state"] != "draft" || d["studies"].(float64) < 1 || len(d["content_hash"].(string)) != 64 {
		t.Fatalf("create: %d %v", code, d)
	}
	id := d["id"].(string)
	if code, d := post("/api/v1/datasets", map[string]any{"title": "x", "query": map[string]string{"ModalitiesInStudy": "XX"}}); code != 400 {
		t.Fatalf("a dataset without studies: %d %v", code, d)
	}
	// Not in the catalogue while a draft.
	if resp, _ := fetch(t, a.hubURL+"/api/v1/catalogue/"+id, "", ""); resp.StatusCode != 404 {
		t.Fatalf("a draft in the catalogue: %d", resp.StatusCode)
	}
	if code, d := post("/api/v1/datasets/"+id+"/publish", nil); code != 200 || d["state"] != "published" {
		t.Fatalf("publish: %d %v", code, d)
	}
	// The hub's catalogue, no login: JSON, JSON-LD, Turtle and the FAIR Data Point.
	waitFor(t, 10*time.Second, "dataset in the catalogue", func() bool {
		resp, _ := fetch(t, a.hubURL+"/api/v1/catalogue/"+id, "", "application/json")
		return resp.StatusCode == 200
	})
	_, b := fetch(t, a.hubURL+"/api/v1/catalogue/"+id, "", "application/json")
	var got catalogue.Dataset
	if err := json.Unmarshal(b, &got); err != nil || got.Title != "Lung CT at diagnosis" || got.Node != "alpha" || got.State != catalogue.StatePublished {
		t.Fatalf("catalogue JSON: %v %s", err, b)
	}
	if resp, b := fetch(t, a.hubURL+"/api/v1/catalogue", "", "text/turtle"); resp.StatusCode != 200 || !strings.Contains(string(b), "dcat:Dataset") || !strings.Contains(string(b), id) {
		t.Fatalf("catalogue Turtle: %d %s", resp.StatusCode, b)
	}
	if resp, b := fetch(t, a.hubURL+"/api/v1/catalogue", "", "application/ld+json"); resp.StatusCode != 200 || !json.Valid(b) || !strings.Contains(string(b), id) {
		t.Fatalf("catalogue JSON-LD: %d", resp.StatusCode)
	}
	if resp, b := fetch(t, a.hubURL+"/fdp", "", ""); resp.StatusCode != 200 || !strings.Contains(string(b), "fdp") {
		t.Fatalf("FAIR Data Point: %d %s", resp.StatusCode, b)
	}
	// The catalogue pages, no login: search and facets, and the dataset's page.
	for _, c := range []struct {
		path string
		want bool
	}{
		{"/catalogue", true},
		{"/catalogue?q=lung", true},
		{"/catalogue?q=diagnosis+chest", true},
		{"/catalogue?q=prostate", false},
		{"/catalogue?node=alpha", true},
		{"/catalogue?node=beta", false},
		{"/catalogue?access=PUBLIC", false},
	} {
		resp, b := fetch(t, a.hubURL+c.path, "", "")
		if resp.StatusCode != 200 || strings.Contains(string(b), `data-dataset="`+id+`"`) != c.want {
			t.Errorf("%s: %d, lists the dataset: %v, want %v", c.path, resp.StatusCode, !c.want, c.want)
		}
	}
	if resp, b := fetch(t, a.hubURL+"/catalogue/"+id, "", ""); resp.StatusCode != 200 || !strings.Contains(string(b), "Lung CT at diagnosis") || !strings.Contains(string(b), "Alpha Hospital") {
		t.Errorf("dataset page: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, a.hubURL+"/catalogue/nosuch", "", ""); resp.StatusCode != 404 {
		t.Errorf("unknown dataset page: %d", resp.StatusCode)
	}

	// Verify: untouched, then one stored file changed on disk.
	verify := func() map[string]any {
		req, _ := http.NewRequest("GET", a.nodeURL+"/api/v1/datasets/"+id+"/verify", nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	if v := verify(); v["ok"] != true {
		t.Fatalf("verify untouched: %v", v)
	}
	if out := cie(t, false, "dataset", "verify", id, "--node", a.nodeURL, "--token", a.token); !strings.Contains(out, ": OK:") {
		t.Fatalf("cie dataset verify: %s", out)
	}
	// Change one byte of a stored instance, in place in its pack segment.
	recs := packedInstances(t, filepath.Join(a.dir, "alpha", "blobs", node.PacksDir))
	if len(recs) == 0 {
		t.Fatal("no stored instance found")
	}
	victim := recs[0].Label
	seg, err := os.OpenFile(recs[0].Segment, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := recs[0].Loc.Offset + recs[0].Loc.Length - 1
	if _, err := seg.WriteAt([]byte{recs[0].Data[recs[0].Loc.Length-1] ^ 0xff}, at); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	v := verify()
	changes, _ := v["changes"].([]any)
	if v["ok"] != false || len(changes) != 1 || !strings.Contains(victim, changes[0].(map[string]any)["Instance"].(string)) {
		t.Fatalf("verify after tampering with %s: %v", victim, v)
	}
	if out := cie(t, true, "dataset", "verify", id, "--node", a.nodeURL, "--token", a.token); !strings.Contains(out, ": changed") || !strings.Contains(out, "CHANGED") {
		t.Fatalf("cie dataset verify after tampering: %s", out)
	}
	// Invalidated: the catalogue says so.
	if code, _ := post("/api/v1/datasets/"+id+"/invalidate", nil); code != 200 {
		t.Fatalf("invalidate: %d", code)
	}
	waitFor(t, 10*time.Second, "invalidated in the catalogue", func() bool {
		_, b := fetch(t, a.hubURL+"/api/v1/catalogue/"+id, "", "application/json")
		return json.Unmarshal(b, &got) == nil && got.State == catalogue.StateInvalidated
	})
}

// TestVisaKeysReachNode: the node fetches the hub's visa keys over the bus when it
// connects, and has the same key ids the hub publishes as JWKS.
func TestVisaKeysReachNode(t *testing.T) {
	a := startArchiveNode(t)
	resp, b := fetch(t, a.hubURL+"/.well-known/jwks.json", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("JWKS: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v %s", err, b)
	}
	want := map[string]bool{}
	for _, k := range set.Keys {
		want[k.Kid] = true
	}
	waitFor(t, 20*time.Second, "the node holds the hub's visa keys", func() bool {
		var st struct {
			VisaKeys []string `json:"visa_keys"`
		}
		if code, err := getJSON(context.Background(), a.nodeURL+"/api/v1/status", a.token, &st); err != nil || code != 200 {
			return false
		}
		if len(st.VisaKeys) != len(want) {
			return false
		}
		for _, k := range st.VisaKeys {
			if !want[k] {
				return false
			}
		}
		return true
	})
}
