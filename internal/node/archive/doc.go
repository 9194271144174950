// Package archive is the node's ingest pipeline and store of instances: every way DICOM
// reaches a node (DIMSE C-STORE, STOW-RS, a zip upload, cie ingest) goes through
// Archive.Ingest, which parses the file, de-identifies it with the node's profile
// (package deid), writes it to the blob store and indexes it (package index).
//
// # Durability and duplicates
//
// Ingest returns only after the de-identified file is durably in the blob store and its
// index transaction has committed, so a caller that acknowledges on return (a C-STORE
// response, a STOW-RS 200) never acknowledges an instance that a crash could lose. The
// order is blob first, index last: a crash in between leaves an unindexed blob, which the
// next ingest of the same instance overwrites, never an index row without its file. The
// same SOP Instance UID (after de-identification: the same original UID under the same
// key) is stored once; later copies are reported as duplicates and not written.
//
// # Quarantine
//
// A file that cannot be parsed, or that the de-identification engine refuses (burned-in
// annotation, a class without a pixel-cleaning rule, ...), is kept as received under
// quarantine/ in the blob store with its reason, never indexed and never served. A data
// holder may release it (de-identify it anyway, with the full profile) or delete it; both
// are written to the node's audit log.
package archive
