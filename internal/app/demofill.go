package app

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dimse"
	"github.com/cancerimage/cie/internal/synth"
)

// DemoSeed makes the demo's generated data; the same seed gives the same data.
const DemoSeed = 20261122

// DemoPatients is the default number of generated patients per demo node.
const DemoPatients = 50

// DemoSynth is the generated data of a demo node: patients (0: DemoPatients) with CT,
// MR and PET studies of 128×128 images, 16 to 24 slices a series, at most 3 series a
// study (a segmentation of the lesion in 40 % of the studies that can have one).
// Smaller than synth.DemoOptions so that a first demo start stays around two minutes.
func DemoSynth(node string, patients int) synth.Options {
	o := synth.DemoOptions(node, DemoSeed)
	if patients <= 0 {
		patients = DemoPatients
	}
	o.Patients = patients
	o.MinSlices, o.MaxSlices = 16, 24
	o.MaxSeriesPerStudy = 3
	o.SourceAE = "DEMO-PACS"
	return o
}

// fillDemo sends generated data to every node that has none, through C-STORE into the
// node's DIMSE service, so that the demo shows the real pipeline (de-identification
// included). It writes each node's clinical table beside its data.
func fillDemo(ctx context.Context, o DemoOptions, df *DemoFile) error {
	var wg sync.WaitGroup
	errs := make([]error, len(df.Nodes))
	var mu sync.Mutex
	for i, n := range df.Nodes {
		holder := demoUser(df, n.Name+"-holder")
		has, err := nodeHasStudies(ctx, n.URL, holder.Token)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		wg.Add(1)
		go func(i int, n DemoNode) {
			defer wg.Done()
			errs[i] = fillNode(ctx, o, n, func(msg string) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintln(o.Out, msg)
			})
		}(i, n)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("filling node %s: %w", df.Nodes[i].Name, err)
		}
	}
	return nil
}

func demoUser(df *DemoFile, name string) DemoUser {
	for _, u := range df.Users {
		if u.Name == name {
			return u
		}
	}
	return DemoUser{}
}

// nodeHasStudies asks the node's QIDO-RS whether it stores any study.
func nodeHasStudies(ctx context.Context, url, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/dicomweb/studies?limit=1", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("asking %s for its studies: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return false, fmt.Errorf("asking %s for its studies: %s: %s", url, resp.Status, b)
	}
	var list []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return false, fmt.Errorf("asking %s for its studies: %w", url, err)
	}
	return len(list) > 0, nil
}

// fillNode generates one node's data and sends it with C-STORE.
func fillNode(ctx context.Context, o DemoOptions, n DemoNode, say func(string)) error {
	ae, addr, ok := strings.Cut(n.DIMSE, "@")
	if !ok {
		return fmt.Errorf("node %s has no DIMSE address (%q)", n.Name, n.DIMSE)
	}
	g, err := synth.New(DemoSynth(n.Name, o.Patients))
	if err != nil {
		return err
	}
	sum := g.Summary()
	say(fmt.Sprintf("Filling %s with generated data over C-STORE: %d patients, %d studies, %d series, %d instances ...",
		n.Name, sum.Patients, sum.Studies, sum.Series, sum.Instances))
	f, err := os.Create(filepath.Join(o.Dir, n.Name, "clinical.csv"))
	if err != nil {
		return err
	}
	if err := synth.WriteClinicalCSV(f, g.Clinical()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ts := dicom.ExplicitVRLittleEndianUID
	var pcs []dimse.PresentationContext
	for _, c := range []string{synth.CTImageStorage, synth.MRImageStorage, synth.PETImageStorage, synth.SegmentationStorage} {
		pcs = append(pcs, dimse.PresentationContext{AbstractSyntax: c, TransferSyntaxes: []string{ts}})
	}
	as, err := dimse.Dial(ctx, addr, "DEMO-PACS", ae, pcs, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	sent, last := 0, time.Now()
	var buf bytes.Buffer
	err = g.Walk(func(in *synth.Instance) error {
		buf.Reset()
		if _, err := in.File.Dataset.WriteTo(&buf); err != nil {
			return err
		}
		st, err := as.Store(ctx, in.SOPClassUID, in.SOPInstanceUID, ts, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return fmt.Errorf("C-STORE of %s: %w", in.SOPInstanceUID, err)
		}
		if !st.IsSuccess() {
			return fmt.Errorf("C-STORE of %s: status %s", in.SOPInstanceUID, st)
		}
		sent++
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			say(fmt.Sprintf("  %s: %d of %d instances", n.Name, sent, sum.Instances))
		}
		return nil
	})
	if err != nil {
		as.Abort()
		return err
	}
	if err := as.Release(ctx); err != nil {
		return err
	}
	took := time.Since(start)
	say(fmt.Sprintf("  %s: %d instances stored in %.1f s (%.0f/s)", n.Name, sent, took.Seconds(), float64(sent)/took.Seconds()))
	return nil
}

// demoClinicalMapping maps the generated clinical table (synth.WriteClinicalCSV) to the
// CDM; ISSUERS stands for the node's Issuer of Patient ID values.
//
//go:embed demo-clinical-mapping.yaml
var demoClinicalMapping string

// importDemoClinical imports each node's generated clinical table (DIR/NODE/clinical.csv,
// written when the node was filled) through the node's API as its data holder, with
// the mapping it writes beside it (DIR/NODE/clinical-mapping.yaml), so that the demo's
// patients have sex, age at diagnosis and cancer type joined to their studies. It runs
// at every start: a re-import changes nothing.
func importDemoClinical(ctx context.Context, o DemoOptions, df *DemoFile) error {
	for _, n := range df.Nodes {
		csvPath := filepath.Join(o.Dir, n.Name, "clinical.csv")
		data, err := os.ReadFile(csvPath)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		g, err := synth.New(DemoSynth(n.Name, o.Patients))
		if err != nil {
			return err
		}
		mapping := strings.Replace(demoClinicalMapping, "ISSUERS", strings.Join(g.PatientIDIssuers(), ", "), 1)
		if err := os.WriteFile(filepath.Join(o.Dir, n.Name, "clinical-mapping.yaml"), []byte(mapping), 0o644); err != nil {
			return err
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, part := range []struct {
			field, name string
			data        []byte
		}{{"file", "clinical.csv", data}, {"mapping", "clinical-mapping.yaml", []byte(mapping)}} {
			w, err := mw.CreateFormFile(part.field, part.name)
			if err != nil {
				return err
			}
			if _, err := w.Write(part.data); err != nil {
				return err
			}
		}
		if err := mw.Close(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, "POST", n.URL+"/api/v1/clinical/import", &body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+demoUser(df, n.Name+"-holder").Token)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("importing the clinical data of %s: %w", n.Name, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("importing the clinical data of %s: %s: %s", n.Name, resp.Status, b)
		}
		var rep struct {
			Records      int `json:"records"`
			ProblemCount int `json:"problem_count"`
			Changes      map[string]struct {
				Inserted int `json:"inserted"`
			} `json:"changes"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("importing the clinical data of %s: %w", n.Name, err)
		}
		if rep.ProblemCount > 0 {
			return fmt.Errorf("importing the clinical data of %s: %d lines not imported: %s", n.Name, rep.ProblemCount, b)
		}
		if ins := rep.Changes["cdm_patient"].Inserted; ins > 0 {
			fmt.Fprintf(o.Out, "Imported the clinical data of %s: %d patients (under %d issuers).\n", n.Name, ins, len(g.PatientIDIssuers()))
		}
	}
	return nil
}

// publishDemoDatasets makes and publishes, at every node that has none, one dataset of
// its CT studies and one of its MR studies, through the node's API as its data holder,
// so that the hub's catalogue has something to show. Their cancer types are those of the
// node's generated patients.
func publishDemoDatasets(ctx context.Context, o DemoOptions, df *DemoFile) error {
	for _, n := range df.Nodes {
		holder := demoUser(df, n.Name+"-holder")
		var existing []json.RawMessage
		if err := demoAPI(ctx, "GET", n.URL+"/api/v1/datasets", holder.Token, nil, &existing); err != nil {
			return err
		}
		if len(existing) > 0 {
			continue
		}
		g, err := synth.New(DemoSynth(n.Name, o.Patients))
		if err != nil {
			return err
		}
		var cancers, parts []catalogue.Code
		seen := map[string]bool{}
		for c := range g.Clinical() {
			if t, ok := catalogue.LookupCode(catalogue.KindCancerType, catalogue.SystemSNOMED, c.CancerCode); ok && !seen[t.Code.Code] {
				seen[t.Code.Code] = true
				cancers = append(cancers, t.Code)
				// The explorer's body parts are named like its cancer types ("Lung Cancer": "Lung").
				if b, ok := catalogue.LookupDisplay(catalogue.KindBodyPart, strings.TrimSuffix(t.Code.Display, " Cancer")); ok {
					parts = append(parts, b.Code)
				}
			}
		}
		place := strings.ToUpper(n.Name[:1]) + n.Name[1:]
		for _, m := range []struct{ modality, title, desc string }{
			{"CT", "CT studies, " + place, "Every CT study of the demo node " + n.Name + ": staging and follow-up CT, some with a segmentation of the lesion. Generated data."},
			{"MR", "MR studies, " + place, "Every MR study of the demo node " + n.Name + ". Generated data."},
		} {
			body := map[string]any{
				"title": m.title, "description": m.desc, "keywords": []string{"demo", m.modality, "oncology"},
				"cancer_types": cancers, "body_parts": parts, "access_rights": "RESTRICTED",
				"license":                "https://creativecommons.org/licenses/by-nc/4.0/",
				"contact":                map[string]string{"name": "Data desk", "email": "data@" + n.Name + ".example"},
				"publisher":              map[string]string{"name": place + " University Hospital (demo)"},
				"interoperability_level": "Tier 2", "query": map[string]string{"ModalitiesInStudy": m.modality},
			}
			var d struct {
				ID string `json:"id"`
			}
			if err := demoAPI(ctx, "POST", n.URL+"/api/v1/datasets", holder.Token, body, &d); err != nil {
				if strings.Contains(err.Error(), "no studies") {
					continue // none of that modality at this node
				}
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			if err := demoAPI(ctx, "POST", n.URL+"/api/v1/datasets/"+d.ID+"/publish", holder.Token, nil, nil); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			fmt.Fprintf(o.Out, "Published dataset %q of %s.\n", m.title, n.Name)
		}
	}
	return nil
}

// demoAPI calls a node's JSON API.
func demoAPI(ctx context.Context, method, url, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
