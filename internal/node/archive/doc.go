// Package archive is the node's ingest pipeline and store of instances: every way DICOM
// reaches a node (DIMSE C-STORE, STOW-RS, a zip upload, cie ingest) goes through
// Archive.Ingest, which parses the file, de-identifies it with the node's profile
// (package deid), writes it to the blob store and indexes it (package index).
//
// # Durability and duplicates
//
// Ingest returns only after the de-identified file and its index row are on disk, so a
// caller that acknowledges on return (a C-STORE response, a STOW-RS 200) never
// acknowledges an instance that a crash or a power loss could lose. To make that cheap
// when many instances arrive at once, the flushes are shared (group commit, package
// groupcommit): the file is written under a temporary name and renamed into place without
// an fsync (blob.Store.PutUnsynced), the index transaction commits (SQLite with
// synchronous=NORMAL), and then one flush of the blob files and folders and one of the
// SQLite log, run at the same time, serve every ingest that waits for them. A killed
// process never leaves a partial file under a real key (the rename comes last); a power
// loss can leave an index row whose file did not reach the disk, never acknowledged, and
// Recover removes such rows at the next start (recover.go). The same SOP Instance UID
// (after de-identification: the same original UID under the same key) is stored once;
// later copies are reported as duplicates and not written.
//
// # Quarantine
//
// A file that cannot be parsed, or that the de-identification engine refuses (burned-in
// annotation, a class without a pixel-cleaning rule, ...), is kept as received under
// quarantine/ in the blob store with its reason, never indexed and never served. A data
// holder may release it (de-identify it anyway, with the full profile) or delete it; both
// are written to the node's audit log.
package archive
