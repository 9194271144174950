package node

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/web"
)

// Limits of an upload from the archive page.
const (
	maxUploadPart  = 4 << 30 // one file or zip
	maxZipEntries  = 100000
	maxUploadNotes = 50 // problem lines shown
)

// archiveRoles may use the archive pages.
var archiveRoles = []string{auth.RoleDataHolder, auth.RoleNodeAdmin}

func (n *Node) registerArchivePages(mux *http.ServeMux) {
	mux.HandleFunc("GET /archive", n.archivePage)
	mux.HandleFunc("POST /archive/upload", n.archiveUpload)
	mux.HandleFunc("POST /archive/quarantine/{id}/{action}", n.quarantineAction)
}

// archiveData gathers what the archive page shows.
func (n *Node) archiveData(ctx context.Context, r *http.Request) (web.ArchiveData, error) {
	d := web.ArchiveData{DICOMweb: "http://" + r.Host + DICOMwebPrefix, DIMSE: n.dimseAddress()}
	c, err := n.archive.Index().Counts(ctx)
	if err != nil {
		return d, err
	}
	d.Patients, d.Studies, d.Series, d.Instances, d.Bytes = uint64(c.Patients), uint64(c.Studies), uint64(c.Series), uint64(c.Instances), uint64(c.Bytes)
	runs, err := n.archive.Recent(ctx, 20)
	if err != nil {
		return d, err
	}
	for _, x := range runs {
		row := web.IngestRow{Source: x.Source, Started: x.Started, Stored: uint64(x.Stored), Duplicates: uint64(x.Duplicates),
			Quarantined: uint64(x.Quarantined), Failed: uint64(x.Failed), Bytes: uint64(x.Bytes)}
		if x.Ended != nil {
			row.Ended = *x.Ended
		}
		d.Ingests = append(d.Ingests, row)
	}
	q, total, err := n.archive.Quarantine(ctx, 100)
	if err != nil {
		return d, err
	}
	d.QuarantineTotal = uint64(total)
	for _, x := range q {
		d.Quarantine = append(d.Quarantine, web.QuarantineRow{ID: x.ID, Source: x.Source, Name: x.Name, Reason: x.Reason,
			Detail: x.Detail, Received: x.Received, Size: uint64(x.Size)})
	}
	studies, err := n.archive.Index().Search(ctx, index.Query{Limit: 20})
	if err != nil {
		return d, err
	}
	for _, m := range studies {
		s := m.Study
		row := web.StudyRow{UID: s.UID, PatientID: s.PatientID, Date: s.Date, Description: s.Description, Modalities: s.Modalities,
			Series: uint64(s.NumSeries), Instances: uint64(s.NumInstances)}
		if series, err := n.archive.Index().Search(ctx, index.Query{Level: index.SeriesLevel, StudyUID: s.UID, Limit: 1}); err == nil && len(series) > 0 {
			row.ViewerURL = n.viewerURL(s.UID, series[0].Series.UID)
		}
		d.RecentStudies = append(d.RecentStudies, row)
	}
	return d, nil
}

// viewerURL is the viewer page of a series.
func (n *Node) viewerURL(study, series string) string {
	return n.viewer.URL(DICOMwebPrefix, study, series) + "&back=/archive"
}

func (n *Node) archivePage(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.gate.RequireRole(w, r, "The archive is for the node's data holders and administrators.", archiveRoles...); !ok {
		return
	}
	d, err := n.archiveData(r.Context(), r)
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d.Message = r.URL.Query().Get("done")
	n.gate.Render(w, r, http.StatusOK, "archive", "archive", "Archive", d)
}

// formSession checks a form post: a session of an archive role, and its CSRF token.
func (n *Node) formSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool) {
	sess, ok := n.gate.RequireRole(w, r, "The archive is for the node's data holders and administrators.", archiveRoles...)
	if !ok {
		return sess, false
	}
	if !n.sessions.CheckCSRF(r, sess) {
		n.gate.RenderError(w, r, http.StatusForbidden, "The form has expired (CSRF check failed). Reload the page and try again.")
		return sess, false
	}
	return sess, true
}

func (n *Node) quarantineAction(w http.ResponseWriter, r *http.Request) {
	sess, ok := n.formSession(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var msg string
	var err error
	switch r.PathValue("action") {
	case "release":
		var out archive.Outcome
		out, err = n.archive.Release(r.Context(), id, sess.User)
		msg = fmt.Sprintf("Released %s: stored as instance %s.", id, out.SOPUID)
	case "delete":
		err = n.archive.Delete(r.Context(), id, sess.User)
		msg = fmt.Sprintf("Deleted %s from the quarantine.", id)
	default:
		n.gate.RenderError(w, r, http.StatusNotFound, "No such action.")
		return
	}
	switch {
	case errors.Is(err, archive.ErrNotQuarantined):
		n.gate.RenderError(w, r, http.StatusNotFound, err.Error())
		return
	case err != nil:
		msg = "Not done: " + err.Error()
	}
	http.Redirect(w, r, "/archive?"+url.Values{"done": {msg}}.Encode(), http.StatusSeeOther)
}

// archiveUpload ingests the files and zips of a multipart form, streaming each to a
// temporary file first (bounded memory for any size).
func (n *Node) archiveUpload(w http.ResponseWriter, r *http.Request) {
	sess, ok := n.gate.RequireRole(w, r, "The archive is for the node's data holders and administrators.", archiveRoles...)
	if !ok {
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		n.gate.RenderError(w, r, http.StatusBadRequest, "The upload is not a multipart form: "+err.Error())
		return
	}
	ctx := r.Context()
	batch, err := n.archive.Begin(ctx, archive.Source{Kind: "upload", Peer: sess.User})
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	res := &web.UploadResult{}
	csrfOK := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Problems = append(res.Problems, "reading the upload: "+err.Error())
			break
		}
		if part.FormName() == "csrf" {
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			csrfOK = n.sessions.CheckCSRF(&http.Request{Header: http.Header{"X-Csrf-Token": {string(b)}}}, sess)
			continue
		}
		if part.FormName() != "files" || part.FileName() == "" {
			continue
		}
		if !csrfOK {
			n.gate.RenderError(w, r, http.StatusForbidden, "The form has expired (CSRF check failed). Reload the page and try again.")
			return
		}
		if err := n.uploadPart(ctx, batch, part, res); err != nil {
			res.Problems = append(res.Problems, err.Error())
		}
	}
	if err := batch.End(ctx); err != nil {
		n.log.Error("upload", "err", err)
	}
	if len(res.Problems) > maxUploadNotes {
		res.Problems = append(res.Problems[:maxUploadNotes], fmt.Sprintf("… and %d more", len(res.Problems)-maxUploadNotes))
	}
	d, err := n.archiveData(ctx, r)
	if err != nil {
		n.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d.Upload = res
	n.gate.Render(w, r, http.StatusOK, "archive", "archive", "Archive", d)
}

// uploadPart spools one uploaded file and ingests it, or every entry of it if it is a zip.
func (n *Node) uploadPart(ctx context.Context, batch *archive.Batch, part *multipart.Part, res *web.UploadResult) error {
	name := path.Base(part.FileName())
	tmp, err := os.CreateTemp("", "cie-upload-*")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	size, err := io.Copy(tmp, io.LimitReader(part, maxUploadPart+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if size > maxUploadPart {
		return fmt.Errorf("%s: larger than %d bytes", name, int64(maxUploadPart))
	}
	if zr, err := zip.NewReader(tmp, size); err == nil {
		if len(zr.File) > maxZipEntries {
			return fmt.Errorf("%s: more than %d entries", name, maxZipEntries)
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			if err := n.uploadZipEntry(ctx, batch, name, zf, res); err != nil {
				res.Problems = append(res.Problems, err.Error())
			}
		}
		return nil
	}
	out, err := batch.Ingest(ctx, tmp, size, name)
	n.count(res, name, out, err)
	return nil
}

func (n *Node) uploadZipEntry(ctx context.Context, batch *archive.Batch, zipName string, zf *zip.File, res *web.UploadResult) error {
	name := zipName + ":" + zf.Name
	if zf.UncompressedSize64 > maxUploadPart {
		return fmt.Errorf("%s: larger than %d bytes", name, int64(maxUploadPart))
	}
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "cie-upload-*")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	size, err := io.Copy(tmp, io.LimitReader(rc, maxUploadPart+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	out, err := batch.Ingest(ctx, tmp, size, name)
	n.count(res, name, out, err)
	return nil
}

func (n *Node) count(res *web.UploadResult, name string, out archive.Outcome, err error) {
	res.Files++
	switch {
	case err != nil:
		res.Failed++
		res.Problems = append(res.Problems, name+": "+err.Error())
	case out.Status == archive.Stored:
		res.Stored++
	case out.Status == archive.Duplicate:
		res.Stored++
		res.Duplicates++
	case out.Status == archive.Quarantined:
		res.Quarantined++
		res.Problems = append(res.Problems, fmt.Sprintf("%s: quarantined (%s): %s", name, out.Reason, strings.TrimSpace(out.Detail)))
	}
}

// dimseAddress is the node's C-STORE address as "AE@host:port", or "" when off.
func (n *Node) dimseAddress() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dimseAE
}
