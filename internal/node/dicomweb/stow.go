package dicomweb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/dicomjson"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/node/archive"
	"net/textproto"
)

// MaxPartSize bounds one part of a STOW-RS request (one instance).
const MaxPartSize = 4 << 30

// Failure reasons of STOW-RS (PS3.18 Table 10.5.3-1 refers to PS3.4 status codes).
const (
	failureCannotUnderstand = 0xC000 // Error: Cannot understand
	failureProcessing       = 0x0110 // Processing failure
)

// Peer names who stores through STOW-RS, for the ingest's source; the node sets it from
// the request's principal.
type Peer func(r *http.Request) string

// store answers STOW-RS: each application/dicom part is spooled to a temporary file and
// ingested; the answer lists what was stored and what failed.
func (s *Service) store(w http.ResponseWriter, r *http.Request) {
	mt, params := parseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/related" {
		httpx.Error(w, http.StatusUnsupportedMediaType, `STOW-RS takes multipart/related; type="application/dicom"; got Content-Type %q`, r.Header.Get("Content-Type"))
		return
	}
	if t := params["type"]; t != "" && t != "application/dicom" {
		httpx.Error(w, http.StatusUnsupportedMediaType, `the node stores application/dicom parts only, not %q`, t)
		return
	}
	if params["boundary"] == "" {
		httpx.Error(w, http.StatusBadRequest, "multipart/related without a boundary")
		return
	}
	ctx := r.Context()
	peer := "stow"
	if s.peer != nil {
		peer = s.peer(r)
	}
	batch, err := s.archive.Begin(ctx, archive.Source{Kind: "stow", Peer: peer})
	if err != nil {
		s.fail(w, err)
		return
	}
	defer func() {
		if err := batch.End(ctx); err != nil {
			s.log.Error("stow", "err", err)
		}
	}()
	base := s.baseURL(r)
	var refs, fails []any
	var warnings []string
	mr := multipart.NewReader(r.Body, params["boundary"])
	for i := 1; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("part %d: %v", i, err))
			fails = append(fails, failed("", "", failureCannotUnderstand))
			break
		}
		if ct := part.Header.Get("Content-Type"); ct != "" {
			if pmt, _ := parseMediaType(ct); pmt != "application/dicom" {
				warnings = append(warnings, fmt.Sprintf("part %d: Content-Type %q is not application/dicom", i, ct))
				fails = append(fails, failed("", "", failureCannotUnderstand))
				continue
			}
		}
		out, err := s.ingestPart(ctx, batch, part, i)
		if err != nil {
			s.log.Error("stow: ingest", "part", i, "err", err)
			warnings = append(warnings, fmt.Sprintf("part %d: %v", i, err))
			fails = append(fails, failed("", "", failureProcessing))
			continue
		}
		switch out.Status {
		case archive.Stored, archive.Duplicate:
			item := attrs{}
			item.str(tags.ReferencedSOPClassUID, "UI", out.SOPClassUID)
			item.str(tags.ReferencedSOPInstanceUID, "UI", out.SOPUID)
			item.str(tags.RetrieveURL, "UR", base+"/studies/"+out.StudyUID+"/series/"+out.SeriesUID+"/instances/"+out.SOPUID)
			refs = append(refs, dicomjson.Object(item))
			if out.Status == archive.Duplicate {
				warnings = append(warnings, fmt.Sprintf("part %d: instance %s was already stored; kept once", i, out.SOPUID))
			}
		case archive.Quarantined:
			reason := failureProcessing
			if out.Reason == archive.ReasonUnreadable {
				reason = failureCannotUnderstand
			}
			fails = append(fails, failed("", "", reason))
			warnings = append(warnings, fmt.Sprintf("part %d: quarantined (%s): %s", i, out.Reason, out.Detail))
		}
	}
	resp := attrs{}
	if len(refs) > 0 {
		resp[dicomjson.Key(tags.ReferencedSOPSequence)] = &dicomjson.Attribute{VR: "SQ", Value: refs}
	}
	if len(fails) > 0 {
		resp[dicomjson.Key(tags.FailedSOPSequence)] = &dicomjson.Attribute{VR: "SQ", Value: fails}
	}
	for _, wmsg := range warnings {
		w.Header().Add("Warning", "299 cie "+strconv.Quote(headerSafe(wmsg)))
	}
	status := http.StatusOK
	switch {
	case len(refs) == 0 && len(fails) == 0:
		httpx.Error(w, http.StatusBadRequest, "the request holds no application/dicom part")
		return
	case len(refs) == 0:
		status = http.StatusConflict
	case len(fails) > 0:
		status = http.StatusAccepted
	}
	w.Header().Set("Content-Type", "application/dicom+json")
	w.WriteHeader(status)
	writeBody(w, dicomjson.Object(resp))
}

func failed(class, inst string, reason int) dicomjson.Object {
	a := attrs{}
	if class != "" {
		a.str(tags.ReferencedSOPClassUID, "UI", class)
	}
	if inst != "" {
		a.str(tags.ReferencedSOPInstanceUID, "UI", inst)
	}
	a[dicomjson.Key(tags.FailureReason)] = &dicomjson.Attribute{VR: "US", Value: []any{reason}}
	return dicomjson.Object(a)
}

// headerSafe keeps a message printable in one header line.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// ingestPart spools one part to a temporary file (bounded memory for any size) and
// ingests it.
func (s *Service) ingestPart(ctx context.Context, batch *archive.Batch, part *multipart.Part, i int) (archive.Outcome, error) {
	tmp, err := os.CreateTemp("", "cie-stow-*.dcm")
	if err != nil {
		return archive.Outcome{}, fmt.Errorf("spooling part %d: %w", i, err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, io.LimitReader(part, MaxPartSize+1))
	if err != nil {
		return archive.Outcome{}, fmt.Errorf("reading part %d: %w", i, err)
	}
	if n > MaxPartSize {
		return archive.Outcome{}, fmt.Errorf("part %d is larger than %d bytes", i, int64(MaxPartSize))
	}
	return batch.Ingest(ctx, tmp, n, part.FileName())
}

// writeBody writes v as JSON.
func writeBody(w io.Writer, v any) { _ = json.NewEncoder(w).Encode(v) }

// bulkdata answers a Bulk Data URI of the metadata: the value of the element at the tag
// path (sequence tag and item index pairs, then the element's tag) of one instance, as
// multipart/related; type="application/octet-stream".
func (s *Service) bulkdata(w http.ResponseWriter, r *http.Request) {
	list, err := s.instances(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	in := list[0]
	rc, err := s.archive.Open(r.Context(), in)
	if err != nil {
		s.fail(w, err)
		return
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		s.fail(w, err)
		return
	}
	f, err := dicom.Parse(bytes.NewReader(data), int64(len(data)), dicom.ParseOptions{BulkThreshold: -1})
	if err != nil {
		s.fail(w, fmt.Errorf("stored instance %s: %w", in.SOPUID, err))
		return
	}
	e, err := elementAt(f.Dataset, strings.Split(r.PathValue("path"), "/"))
	if err != nil {
		httpx.Error(w, http.StatusNotFound, "instance %s: %v", in.SOPUID, err)
		return
	}
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", `multipart/related; type="application/octet-stream"; boundary=`+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "application/octet-stream")
	part, _ := mw.CreatePart(h)
	if e.IsEncapsulated() {
		for i, fr := range e.Fragments() {
			if i == 0 {
				continue // the Basic Offset Table
			}
			v, err := fr.Value()
			if err != nil {
				return
			}
			part.Write(v)
		}
	} else if v, err := e.Value(); err == nil {
		part.Write(v)
	}
	mw.Close()
}

// elementAt finds the element a bulk data path names: tags (GGGGEEEE), each sequence tag
// followed by an item index.
func elementAt(ds *dicom.Dataset, path []string) (*dicom.Element, error) {
	for i := 0; i < len(path); i++ {
		n, err := strconv.ParseUint(path[i], 16, 32)
		if err != nil || len(path[i]) != 8 {
			return nil, fmt.Errorf("bulk data path: %q is not a tag", path[i])
		}
		e := ds.Get(dicom.Tag(n))
		if e == nil {
			return nil, fmt.Errorf("bulk data path: no element %s", dicom.Tag(n))
		}
		if i == len(path)-1 {
			if e.IsSequence() {
				return nil, fmt.Errorf("bulk data path: %s is a sequence", dicom.Tag(n))
			}
			return e, nil
		}
		if !e.IsSequence() || i+1 >= len(path) {
			return nil, fmt.Errorf("bulk data path: %s is not a sequence", dicom.Tag(n))
		}
		i++
		k, err := strconv.Atoi(path[i])
		if err != nil || k < 0 || k >= len(e.Items()) {
			return nil, fmt.Errorf("bulk data path: no item %q in %s", path[i], dicom.Tag(n))
		}
		ds = e.Items()[k]
	}
	return nil, fmt.Errorf("bulk data path is empty")
}
