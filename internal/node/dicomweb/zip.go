package dicomweb

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cancerimage/cie/internal/node/index"
)

// ZipType is the media type of a retrieve answered as one ZIP archive of the DICOM
// files (PS3.18 lists application/zip among the media types of the Retrieve
// transaction for whole instances).
const ZipType = "application/zip"

// retrieveForm is how a retrieve is answered.
type retrieveForm int

const (
	formNone      retrieveForm = iota // nothing the node can send was asked for
	formMultipart                     // multipart/related; type="application/dicom"
	formZip                           // application/zip
)

// retrieveAccept reads what a retrieve asks for: the accept query parameter (PS3.18
// 8.3.3.1; it takes the place of the Accept header, so that a plain link can ask for
// a ZIP) or else the Accept header. The first media range the node can answer wins;
// for multipart it also returns the transfer syntax wanted ("*" for as stored).
func retrieveAccept(r *http.Request) (retrieveForm, string) {
	acc := r.Header.Get("Accept")
	if q := r.URL.Query()["accept"]; len(q) > 0 {
		acc = strings.Join(q, ",")
	}
	if strings.TrimSpace(acc) == "" {
		return formMultipart, "*"
	}
	for _, part := range acceptList(acc) {
		mt, params := parseMediaType(part)
		switch {
		case mt == "*/*" || mt == "multipart/*":
			return formMultipart, "*"
		case mt == "multipart/related" && (params["type"] == "" || params["type"] == "application/dicom"):
			ts := params["transfer-syntax"]
			if ts == "" {
				ts = "*"
			}
			return formMultipart, ts
		case mt == ZipType:
			return formZip, "*"
		}
	}
	return formNone, ""
}

// zipName is the file name a ZIP of what r names is offered under.
func zipName(r *http.Request) string {
	switch {
	case r.PathValue("instance") != "":
		return "instance-" + r.PathValue("instance") + ".zip"
	case r.PathValue("series") != "":
		return "series-" + r.PathValue("series") + ".zip"
	}
	return "study-" + r.PathValue("study") + ".zip"
}

// ZipEntryName is the name of an instance's file in a retrieved ZIP:
// {study}/{series}/{instance}.dcm (UIDs are digits and dots only).
func ZipEntryName(in index.Instance) string {
	return in.StudyUID + "/" + in.SeriesUID + "/" + in.SOPUID + ".dcm"
}

// writeZip streams list as a ZIP archive: each instance's stored file read from the
// blob store and deflated as it goes (one pooled copy buffer and one compressor,
// whatever the number or size of the files). A file missing from the blob store once
// the answer has started aborts the answer, so the client sees a broken transfer,
// never a complete-looking archive with files left out.
func (s *Service) writeZip(w http.ResponseWriter, r *http.Request, list []index.Instance) {
	for _, in := range list {
		if !uidChars(in.StudyUID) || !uidChars(in.SeriesUID) || !uidChars(in.SOPUID) {
			s.fail(w, fmt.Errorf("instance %q has a UID that cannot name a file", in.SOPUID))
			return
		}
	}
	w.Header().Set("Content-Type", ZipType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+zipName(r)+`"`)
	w.WriteHeader(http.StatusOK)
	zw := zip.NewWriter(w)
	var fw *flate.Writer
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			var err error
			fw, err = flate.NewWriter(out, flate.BestSpeed)
			return fw, err
		}
		fw.Reset(out)
		return fw, nil
	})
	for _, in := range list {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: ZipEntryName(in), Method: zip.Deflate, Modified: in.Ingested})
		if err != nil {
			s.abort("zip", in, err)
		}
		rc, err := s.archive.Open(r.Context(), in)
		if err != nil {
			s.abort("zip: instance missing from the blob store", in, err)
		}
		n, err := copyBlob(f, rc)
		rc.Close()
		if err == nil && n != in.Size {
			err = fmt.Errorf("stored object has %d bytes, the index says %d", n, in.Size)
		}
		if err != nil {
			s.abort("zip", in, err)
		}
	}
	if err := zw.Close(); err != nil {
		s.abort("zip: closing", index.Instance{}, err)
	}
}

// abort ends an answer that has started: logged, and the connection cut
// (http.ErrAbortHandler).
func (s *Service) abort(msg string, in index.Instance, err error) {
	s.log.Warn(msg, "sop", in.SOPUID, "key", in.BlobKey, "err", err)
	panic(http.ErrAbortHandler)
}

// uidChars reports whether s is a non-empty string of digits and dots.
func uidChars(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
