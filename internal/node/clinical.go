package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/deid/profile"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/web"
)

// clinicalIdentity is how the node's clinical imports name patients and studies: with
// the pseudonyms of its de-identification.
func clinicalIdentity(ps *deid.Pseudonyms, opts deid.Options) cdm.Identity {
	return cdm.Identity{Pseudonyms: ps, RetainUIDs: slices.Contains(opts.Options, profile.RetainUIDs)}
}

// OpenClinical opens the CDM tables of a node that may be running, for an offline import
// (cie clinical import --node-config): its store, and the pseudonyms of its existing
// de-identification key (never a new one: another key gives other pseudonyms). The
// returned function closes the store.
func OpenClinical(ctx context.Context, cfg Config, log *slog.Logger) (*cdm.Importer, func() error, error) {
	key, err := os.ReadFile(cfg.Deid.KeyFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("the node's de-identification key %s does not exist (config field deid.key_file): start the node once, or import pseudonymized IDs through its API", cfg.Deid.KeyFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config field deid.key_file: %w", err)
	}
	ps, err := deid.NewPseudonyms(key)
	if err != nil {
		return nil, nil, fmt.Errorf("config field deid.key_file %s: %w", cfg.Deid.KeyFile, err)
	}
	opts, err := deid.ParseOptions(cfg.Deid.Options)
	if err != nil {
		return nil, nil, fmt.Errorf("config field deid.options: %w", err)
	}
	db, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return &cdm.Importer{Store: cdm.NewStore(db), Identity: clinicalIdentity(ps, opts), Log: log}, db.Close, nil
}

// clinicalForm is an import as a multipart form carries it (the page's form and the API).
type clinicalForm struct {
	in   cdm.Input
	csrf string
}

// readClinicalForm reads the parts of an import: file (the CSV or bundle), mapping,
// format, pseudonymized, identifier_system, issuers and csrf.
func readClinicalForm(r *http.Request) (*clinicalForm, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("not a multipart form: %w", err)
	}
	f := &clinicalForm{}
	var mapping []byte
	var haveFile bool
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the form: %w", err)
		}
		switch part.FormName() {
		case "file":
			b, err := readPart(part, cdm.MaxImportSize)
			if err != nil {
				return nil, err
			}
			f.in.Source, f.in.Data, haveFile = path.Base(part.FileName()), bytes.NewReader(b), true
			if f.in.Source == "." || f.in.Source == "/" {
				f.in.Source = "upload"
			}
		case "mapping":
			if mapping, err = readPart(part, 1<<20); err != nil {
				return nil, err
			}
		default:
			b, err := readPart(part, 4096)
			if err != nil {
				return nil, err
			}
			v := strings.TrimSpace(string(b))
			switch part.FormName() {
			case "csrf":
				f.csrf = v
			case "format":
				f.in.Format = v
			case "pseudonymized":
				f.in.Bundle.Pseudonymized = v == "true" || v == "on" || v == "1"
			case "identifier_system":
				f.in.Bundle.IdentifierSystem = v
			case "issuers":
				for _, s := range strings.Split(v, ",") {
					f.in.Bundle.Issuers = append(f.in.Bundle.Issuers, strings.TrimSpace(s))
				}
			}
		}
	}
	if !haveFile {
		return nil, errors.New("no file: send the CSV or FHIR bundle as the form field \"file\"")
	}
	if len(bytes.TrimSpace(mapping)) > 0 {
		m, err := cdm.ReadMapping(bytes.NewReader(mapping))
		if err != nil {
			return nil, err
		}
		f.in.Mapping = m
	}
	return f, nil
}

func readPart(p *multipart.Part, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.FormName(), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p.FormName(), limit)
	}
	return b, nil
}

// importClinical imports and records the import in the node's audit log.
func (n *Node) importClinical(ctx context.Context, actor string, in cdm.Input) (*cdm.Report, error) {
	rep, err := n.clinical.Import(ctx, actor, in)
	if err != nil {
		return nil, err
	}
	t := rep.Changes.Total()
	if _, err := n.audit.Append(ctx, audit.Event{Type: "clinical.imported", Actor: actor, Subject: rep.Source, Fields: map[string]string{
		"format": rep.Format, "sha256": rep.SHA256, "records": strconv.Itoa(rep.Records), "problems": strconv.Itoa(rep.ProblemCount),
		"inserted": strconv.Itoa(t.Inserted), "updated": strconv.Itoa(t.Updated), "unchanged": strconv.Itoa(t.Unchanged)}}); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return rep, nil
}

// apiClinicalImport is POST /api/v1/clinical/import: a multipart form (see
// readClinicalForm), or a FHIR bundle as the body (application/fhir+json or
// application/json, options as query parameters).
func (n *Node) apiClinicalImport(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if p.Role != auth.RoleDataHolder && p.Role != auth.RoleNodeAdmin {
		httpx.Error(w, http.StatusForbidden, "clinical data of node %s is imported by its data holders and administrators; %s has role %s", n.cfg.Name, p.User, p.Role)
		return
	}
	var in cdm.Input
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		f, err := readClinicalForm(r)
		if err != nil {
			httpx.Error(w, http.StatusBadRequest, "%v", err)
			return
		}
		in = f.in
	case "application/fhir+json", "application/json":
		q := r.URL.Query()
		in = cdm.Input{Source: q.Get("source"), Format: cdm.FormatFHIR, Data: http.MaxBytesReader(w, r.Body, cdm.MaxImportSize),
			Bundle: cdm.BundleOptions{IdentifierSystem: q.Get("identifier_system"), Pseudonymized: q.Get("pseudonymized") == "true"}}
		if s := q.Get("issuers"); s != "" {
			in.Bundle.Issuers = strings.Split(s, ",")
		}
		if in.Source == "" {
			in.Source = "bundle.json"
		}
	default:
		httpx.Error(w, http.StatusUnsupportedMediaType, "send multipart/form-data (file, mapping, …) or a FHIR bundle as application/fhir+json, not %q", mt)
		return
	}
	rep, err := n.importClinical(r.Context(), p.User, in)
	var ie *cdm.InputError
	switch {
	case errors.As(err, &ie):
		httpx.Error(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
	default:
		httpx.JSON(w, http.StatusOK, rep)
	}
}

func (n *Node) registerClinicalPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /clinical", n.clinicalPage)
	mux.HandleFunc("POST /clinical/import", n.clinicalImport)
}

// clinicalTableLabels name the CDM tables on the page.
var clinicalTableLabels = map[string]string{
	"cdm_patient": "Patients", "cdm_cancer_condition": "Cancer conditions", "cdm_tumor_marker_test": "Tumour marker tests",
	"cdm_histologic_grade": "Histologic grades", "cdm_cancer_stage": "Stages", "cdm_treatment": "Treatments",
	"cdm_image_study": "Imaging time points",
}

// clinicalData gathers what the page shows.
func (n *Node) clinicalData(ctx context.Context) (web.ClinicalData, error) {
	var d web.ClinicalData
	st := n.clinical.Store
	counts, err := st.Counts(ctx)
	if err != nil {
		return d, err
	}
	for _, t := range cdm.Tables {
		d.Tables = append(d.Tables, web.ClinicalTable{Name: t, Label: clinicalTableLabels[t], Rows: uint64(counts[t])})
	}
	linked, err := st.LinkedPatients(ctx)
	if err != nil {
		return d, err
	}
	d.Linked = uint64(linked)
	joined, err := st.StudiesClinical(ctx, 10)
	if err != nil {
		return d, err
	}
	for _, j := range joined {
		row := web.ClinicalStudy{StudyUID: j.StudyUID, PatientID: j.PatientID, Sex: sexLabel(j.BirthSex), Diagnosis: j.Diagnosis.Display}
		if row.Diagnosis == "" {
			row.Diagnosis = j.Diagnosis.Code
		}
		if j.AgeAtDiagnosis != nil {
			row.Age = strconv.Itoa(*j.AgeAtDiagnosis)
		}
		d.Studies = append(d.Studies, row)
	}
	imps, err := st.RecentImports(ctx, 20)
	if err != nil {
		return d, err
	}
	for _, x := range imps {
		d.Imports = append(d.Imports, web.ClinicalImport{Time: x.Created, Actor: x.Actor, Source: x.Source, Format: x.Format,
			Records: uint64(x.Records), Problems: uint64(x.Problems), Inserted: uint64(x.Inserted), Updated: uint64(x.Updated), Unchanged: uint64(x.Unchanged)})
	}
	return d, nil
}

func sexLabel(code string) string {
	switch code {
	case cdm.SexFemale:
		return "female"
	case cdm.SexMale:
		return "male"
	}
	return code
}

func (n *Node) clinicalPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "Clinical data is for the node's data holders and administrators.", archiveRoles...); !ok {
		return
	}
	d, err := n.clinicalData(r.Context())
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	n.gate.Render(w, r, http.StatusOK, "node-clinical", "clinical", "Clinical data", d)
}

// clinicalImport imports the page form's file and shows the report.
func (n *Node) clinicalImport(w http.ResponseWriter, r *http.Request) {
	sess, ok := n.gate.RequireRole(w, r, "Clinical data is for the node's data holders and administrators.", archiveRoles...)
	if !ok {
		return
	}
	ctx := r.Context()
	f, ferr := readClinicalForm(r)
	if ferr == nil && !n.sessions.CheckCSRF(&http.Request{Header: http.Header{"X-Csrf-Token": {f.csrf}}}, sess) {
		n.gate.RenderError(w, r, http.StatusForbidden, "The form has expired (CSRF check failed). Reload the page and try again.")
		return
	}
	var rep *cdm.Report
	var msg string
	if ferr != nil {
		msg = "Not imported: " + ferr.Error()
	} else if rep, ferr = n.importClinical(ctx, sess.User, f.in); ferr != nil {
		msg = "Not imported: " + ferr.Error()
	}
	d, err := n.clinicalData(ctx)
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d.Message = msg
	if rep != nil {
		cr := &web.ClinicalReport{Source: rep.Source, Format: rep.Format, Lines: uint64(rep.Lines), Records: uint64(rep.Records), Count: uint64(rep.ProblemCount)}
		for _, p := range rep.Problems {
			cr.Problems = append(cr.Problems, web.ClinicalProblem{Line: uint64(p.Line), Reason: p.Reason})
		}
		for _, t := range cdm.Tables {
			if c, ok := rep.Changes[t]; ok {
				cr.Changes = append(cr.Changes, web.ClinicalChange{Table: t, Inserted: uint64(c.Inserted), Updated: uint64(c.Updated), Unchanged: uint64(c.Unchanged)})
			}
		}
		d.Report = cr
	}
	status := http.StatusOK
	if ferr != nil {
		status = http.StatusBadRequest
	}
	n.gate.Render(w, r, status, "node-clinical", "clinical", "Clinical data", d)
}
