// Package dicomweb serves the node's archive over DICOMweb (PS3.18): QIDO-RS search of
// studies, series and instances (DICOM JSON), WADO-RS retrieve of studies, series and
// instances (multipart/related; type="application/dicom"), their metadata (DICOM JSON
// with Bulk Data URIs), bulk data, and STOW-RS store (multipart/related application/dicom
// parts, each through the archive's ingest pipeline).
//
// The service is mounted under a prefix (the node uses /dicomweb) behind the caller's
// authentication; it knows nothing of users. Each route is marked with its operation
// (OpOf: search, retrieve, metadata, bulkdata, frames, rendered, thumbnail, store) for the
// guard that Register wraps around it, and a guard may scope a request's searches to the
// studies of some datasets (WithScope). Errors are JSON {"error": "..."} with the
// status PS3.18 asks for: 400 for a query it cannot read, 404 for what is not stored, 406
// for a representation it cannot produce (a transfer syntax it would have to transcode
// to), 409 when no instance of a STOW-RS request was stored.
package dicomweb
