package dicomweb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/dicomjson"
	"github.com/cancerimage/cie/internal/dicom/dict"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/index"
)

// Service is the DICOMweb service over an archive.
type Service struct {
	archive *archive.Archive
	log     *slog.Logger
	prefix  string
	peer    Peer
}

// New returns the service; prefix is the path it is mounted at (e.g. "/dicomweb").
// peer, if not nil, names who stores through STOW-RS.
func New(a *archive.Archive, prefix string, peer Peer, log *slog.Logger) *Service {
	return &Service{archive: a, log: log, prefix: strings.TrimSuffix(prefix, "/"), peer: peer}
}

// Register adds the service's routes to mux, each wrapped by guard (authentication and
// access policy), which finds the route's operation with OpOf.
func (s *Service) Register(mux *http.ServeMux, guard func(http.HandlerFunc) http.HandlerFunc) {
	p := s.prefix
	route := func(pattern string, op Op, h http.HandlerFunc) { mux.HandleFunc(pattern, withOp(op, guard(h))) }
	// QIDO-RS
	route("GET "+p+"/studies", OpSearch, s.search(index.StudyLevel))
	route("GET "+p+"/series", OpSearch, s.search(index.SeriesLevel))
	route("GET "+p+"/instances", OpSearch, s.search(index.InstanceLevel))
	route("GET "+p+"/studies/{study}/series", OpSearch, s.search(index.SeriesLevel))
	route("GET "+p+"/studies/{study}/instances", OpSearch, s.search(index.InstanceLevel))
	route("GET "+p+"/studies/{study}/series/{series}/instances", OpSearch, s.search(index.InstanceLevel))
	// WADO-RS
	route("GET "+p+"/studies/{study}", OpRetrieve, s.retrieve)
	route("GET "+p+"/studies/{study}/series/{series}", OpRetrieve, s.retrieve)
	route("GET "+p+"/studies/{study}/series/{series}/instances/{instance}", OpRetrieve, s.retrieve)
	route("GET "+p+"/studies/{study}/metadata", OpMetadata, s.metadata)
	route("GET "+p+"/studies/{study}/series/{series}/metadata", OpMetadata, s.metadata)
	route("GET "+p+"/studies/{study}/series/{series}/instances/{instance}/metadata", OpMetadata, s.metadata)
	route("GET "+p+"/studies/{study}/series/{series}/instances/{instance}/bulkdata/{path...}", OpBulkdata, s.bulkdata)
	s.registerPixels(route)
	// STOW-RS
	route("POST "+p+"/studies", OpStore, s.store)
	route(p+"/", OpNone, func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusNotFound, "no such DICOMweb resource: %s %s", r.Method, r.URL.Path)
	})
}

// baseURL is the absolute URL of the service as the client reached it.
func (s *Service) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fwd := r.Header.Get("X-Forwarded-Proto"); fwd == "https" || fwd == "http" {
		scheme = fwd
	}
	prefix := s.prefix
	if fp := r.Header.Get("X-Forwarded-Prefix"); fp != "" && strings.HasPrefix(fp, "/") && !strings.ContainsAny(fp, " \"<>") {
		prefix = strings.TrimSuffix(fp, "/")
	}
	return scheme + "://" + r.Host + prefix
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, index.ErrNotFound):
		httpx.Error(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, index.ErrBadQuery):
		httpx.Error(w, http.StatusBadRequest, "%v", err)
	default:
		s.log.Error("dicomweb", "err", err)
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
	}
}

// writeJSON writes a DICOM JSON answer.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/dicom+json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// search answers QIDO-RS at a level.
func (s *Service) search(level index.Level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !acceptsJSON(r) {
			httpx.Error(w, http.StatusNotAcceptable, "QIDO-RS answers application/dicom+json (or application/json); Accept: %s", r.Header.Get("Accept"))
			return
		}
		q := index.Query{Level: level, StudyUID: r.PathValue("study"), SeriesUID: r.PathValue("series"), Match: map[dicom.Tag]string{}}
		include := map[dicom.Tag]bool{}
		includeAll := false
		for key, vals := range r.URL.Query() {
			switch key {
			case "limit", "offset":
				n, err := strconv.Atoi(vals[0])
				if err != nil || n < 0 {
					httpx.Error(w, http.StatusBadRequest, "%s=%q is not a non-negative integer", key, vals[0])
					return
				}
				if key == "limit" {
					q.Limit = n
				} else {
					q.Offset = n
				}
			case "fuzzymatching":
				if vals[0] == "true" {
					w.Header().Add("Warning", `299 cie "fuzzymatching is not supported; matching is exact"`)
				}
			case "includefield":
				for _, v := range vals {
					for _, f := range strings.Split(v, ",") {
						if f == "all" {
							includeAll = true
							continue
						}
						t, err := ParseAttr(f)
						if err != nil {
							httpx.Error(w, http.StatusBadRequest, "includefield: %v", err)
							return
						}
						include[t] = true
					}
				}
			default:
				t, err := ParseAttr(key)
				if err != nil {
					httpx.Error(w, http.StatusBadRequest, "%v", err)
					return
				}
				if !index.Matchable(t, level) {
					httpx.Error(w, http.StatusBadRequest, "cannot match on %s (%s) in a %s search", key, t, level)
					return
				}
				q.Match[t] = vals[0]
			}
		}
		if scope, ok := scopeOf(r.Context()); ok {
			q.Scoped, q.Datasets = true, scope
		}
		matches, err := s.archive.Index().Search(r.Context(), q)
		if err != nil {
			s.fail(w, err)
			return
		}
		base := s.baseURL(r)
		out := make([]dicomjson.Object, 0, len(matches))
		for _, m := range matches {
			obj := s.qidoObject(base, level, m, include, includeAll)
			if level == index.InstanceLevel && (includeAll || len(include) > 0) {
				if err := s.includeStored(r, obj, *m.Instance, include, includeAll); err != nil {
					s.fail(w, err)
					return
				}
			}
			out = append(out, obj)
		}
		writeJSON(w, out)
	}
}

// parseAttr reads an attribute given by keyword or by eight hex digits.
func ParseAttr(s string) (dicom.Tag, error) {
	if len(s) == 8 {
		if n, err := strconv.ParseUint(s, 16, 32); err == nil {
			return dicom.Tag(n), nil
		}
	}
	if e, ok := dict.ByKeyword(s); ok && e.Mask == 0xFFFFFFFF {
		return dicom.Tag(e.Tag), nil
	}
	return 0, fmt.Errorf("%q is neither an attribute keyword nor a tag (GGGGEEEE)", s)
}

func acceptsJSON(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	if acc == "" {
		return true
	}
	for _, part := range acceptList(acc) {
		mt, _ := parseMediaType(part)
		switch mt {
		case "application/dicom+json", "application/json", "*/*", "application/*":
			return true
		}
	}
	return false
}

// attrs builds DICOM JSON attributes.
type attrs dicomjson.Object

func (a attrs) str(t dicom.Tag, vr, v string) {
	if v == "" {
		a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: vr}
		return
	}
	var vals []any
	if vr == "CS" {
		for _, x := range strings.Split(v, `\`) {
			vals = append(vals, x)
		}
	} else {
		vals = []any{v}
	}
	a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: vr, Value: vals}
}

func (a attrs) pn(t dicom.Tag, v string) {
	if v == "" {
		a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: "PN"}
		return
	}
	g := strings.SplitN(v, "=", 3)
	pn := dicomjson.PersonName{Alphabetic: g[0]}
	if len(g) > 1 {
		pn.Ideographic = g[1]
	}
	if len(g) > 2 {
		pn.Phonetic = g[2]
	}
	a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: "PN", Value: []any{pn}}
}

func (a attrs) num(t dicom.Tag, vr string, n *int) {
	if n == nil {
		a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: vr}
		return
	}
	a[dicomjson.Key(t)] = &dicomjson.Attribute{VR: vr, Value: []any{*n}}
}

func intp(n int) *int { return &n }

// qidoObject is one QIDO-RS result: the attributes of PS3.18 Tables 10.6.3-3 to -5 for
// its level (and the study's attributes at series and instance level).
func (s *Service) qidoObject(base string, level index.Level, m index.Match, include map[dicom.Tag]bool, all bool) dicomjson.Object {
	a := attrs{}
	st := m.Study
	a.str(dicom.SpecificCharacterSetTag, "CS", "ISO_IR 192")
	a.str(tags.StudyInstanceUID, "UI", st.UID)
	studyURL := base + "/studies/" + st.UID
	if level == index.StudyLevel || all || include[tags.StudyDate] || level > index.StudyLevel {
		a.str(tags.StudyDate, "DA", st.Date)
		a.str(tags.StudyTime, "TM", st.Time)
		a.str(tags.AccessionNumber, "SH", st.Accession)
		a.pn(tags.ReferringPhysicianName, st.Referring)
		a.pn(tags.PatientName, st.PatientName)
		a.str(tags.PatientID, "LO", st.PatientID)
		a.str(tags.PatientBirthDate, "DA", st.BirthDate)
		a.str(tags.PatientSex, "CS", st.Sex)
		a.str(tags.StudyID, "SH", st.ID)
		a.str(tags.StudyDescription, "LO", st.Description)
		a.str(tags.ModalitiesInStudy, "CS", st.Modalities)
		a.num(tags.NumberOfStudyRelatedSeries, "IS", intp(st.NumSeries))
		a.num(tags.NumberOfStudyRelatedInstances, "IS", intp(st.NumInstances))
	}
	if level == index.StudyLevel {
		a.str(tags.InstanceAvailability, "CS", "ONLINE")
		a.str(tags.RetrieveURL, "UR", studyURL)
		return dicomjson.Object(a)
	}
	se := m.Series
	seriesURL := studyURL + "/series/" + se.UID
	a.str(tags.SeriesInstanceUID, "UI", se.UID)
	a.str(tags.Modality, "CS", se.Modality)
	a.str(tags.SeriesDescription, "LO", se.Description)
	a.num(tags.SeriesNumber, "IS", se.Number)
	a.str(tags.BodyPartExamined, "CS", se.BodyPart)
	a.str(tags.PerformedProcedureStepStartDate, "DA", se.PerformedDate)
	a.str(tags.PerformedProcedureStepStartTime, "TM", se.PerformedTime)
	a.num(tags.NumberOfSeriesRelatedInstances, "IS", intp(se.NumInstances))
	if level == index.SeriesLevel {
		a.str(tags.RetrieveURL, "UR", seriesURL)
		return dicomjson.Object(a)
	}
	in := m.Instance
	a.str(tags.SOPClassUID, "UI", in.SOPClassUID)
	a.str(tags.SOPInstanceUID, "UI", in.SOPUID)
	a.str(tags.InstanceAvailability, "CS", "ONLINE")
	a.str(tags.RetrieveURL, "UR", seriesURL+"/instances/"+in.SOPUID)
	a.num(tags.InstanceNumber, "IS", in.InstanceNumber)
	if in.Rows > 0 {
		a.num(tags.Rows, "US", intp(in.Rows))
		a.num(tags.Columns, "US", intp(in.Columns))
		a.num(tags.BitsAllocated, "US", intp(in.BitsAllocated))
		a.num(tags.NumberOfFrames, "IS", intp(in.Frames))
	}
	// Available Transfer Syntax UID (PS3.4 C.6.1.1.5.1) is the attribute that names it in
	// query results; (0002,0010) is kept for the node's own clients that read it.
	a.str(tags.AvailableTransferSyntaxUID, "UI", in.TransferSyntax)
	a.str(tags.TransferSyntaxUID, "UI", in.TransferSyntax)
	return dicomjson.Object(a)
}

// instances lists what a WADO-RS path names.
func (s *Service) instances(r *http.Request) ([]index.Instance, error) {
	return s.archive.Index().Instances(r.Context(), r.PathValue("study"), r.PathValue("series"), r.PathValue("instance"))
}

// retrieve answers WADO-RS study, series and instance retrieve: multipart/related of
// application/dicom parts, or one ZIP archive (application/zip).
func (s *Service) retrieve(w http.ResponseWriter, r *http.Request) {
	form, ts := retrieveAccept(r)
	if form == formNone {
		httpx.Error(w, http.StatusNotAcceptable, `the node sends instances as multipart/related; type="application/dicom" or as application/zip; Accept: %s`, r.Header.Get("Accept"))
		return
	}
	list, err := s.instances(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if form == formZip {
		s.writeZip(w, r, list)
		return
	}
	if ts != "*" {
		for _, in := range list {
			if in.TransferSyntax != ts {
				httpx.Error(w, http.StatusNotAcceptable, "instance %s is stored in transfer syntax %s; the node does not transcode to %s (ask with transfer-syntax=*)", in.SOPUID, in.TransferSyntax, ts)
				return
			}
		}
	}
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	for _, in := range list {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", `application/dicom; transfer-syntax=`+in.TransferSyntax)
		h.Set("Content-Length", strconv.FormatInt(in.Size, 10))
		part, err := mw.CreatePart(h)
		if err != nil {
			return
		}
		rc, err := s.archive.Open(r.Context(), in)
		if err != nil {
			s.log.Error("retrieve: instance missing from the blob store", "sop", in.SOPUID, "key", in.BlobKey, "err", err)
			return // the client sees a truncated multipart body, never a wrong one
		}
		_, err = copyBlob(part, rc)
		rc.Close()
		if err != nil {
			return
		}
	}
	_ = mw.Close()
}

// copyBufs are the buffers of copyBlob.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// copyBlob copies a stored object to w through a pooled buffer. (io.Copy would hand
// the copy to the blob reader's WriteTo, which allocates and clears a new 1 MiB buffer
// for every object: most of the cost of retrieving a series of small instances.)
func copyBlob(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(w, struct{ io.Reader }{r}, *bp)
}

// metadata answers WADO-RS metadata: the instances' stored DICOM JSON with Bulk Data URIs
// made absolute.
func (s *Service) metadata(w http.ResponseWriter, r *http.Request) {
	if !acceptsJSON(r) {
		httpx.Error(w, http.StatusNotAcceptable, "metadata is application/dicom+json; Accept: %s", r.Header.Get("Accept"))
		return
	}
	list, err := s.instances(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	base := s.baseURL(r)
	w.Header().Set("Content-Type", "application/dicom+json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "[")
	for i, in := range list {
		data, err := s.archive.Metadata(r.Context(), in)
		if err != nil {
			s.log.Error("metadata", "sop", in.SOPUID, "err", err)
			return // the client sees truncated JSON, never a wrong answer
		}
		prefix := base + "/studies/" + in.StudyUID + "/series/" + in.SeriesUID + "/instances/" + in.SOPUID + "/"
		data = []byte(strings.ReplaceAll(string(data), `"BulkDataURI":"bulkdata/`, `"BulkDataURI":"`+prefix+`bulkdata/`))
		if i > 0 {
			io.WriteString(w, ",")
		}
		w.Write(data)
	}
	io.WriteString(w, "]\n")
}

// includeStored adds to an instance's QIDO-RS result the attributes asked for with
// includefield that the index does not keep, from the instance's stored metadata (bulk
// data left out).
func (s *Service) includeStored(r *http.Request, obj dicomjson.Object, in index.Instance, include map[dicom.Tag]bool, all bool) error {
	data, err := s.archive.Metadata(r.Context(), in)
	if err != nil {
		return err
	}
	var stored map[string]*dicomjson.Attribute
	if err := json.Unmarshal(data, &stored); err != nil {
		return fmt.Errorf("metadata of %s: %w", in.SOPUID, err)
	}
	for key, a := range stored {
		if _, have := obj[key]; have || a.BulkDataURI != "" {
			continue
		}
		if !all {
			n, err := strconv.ParseUint(key, 16, 32)
			if err != nil || !include[dicom.Tag(n)] {
				continue
			}
		}
		obj[key] = a
	}
	return nil
}
