// Package archive is the node's ingest pipeline and store of instances: every way DICOM
// reaches a node (DIMSE C-STORE, STOW-RS, a zip upload, cie ingest) goes through
// Archive.Ingest, which parses the file, de-identifies it with the node's profile
// (package deid), stores it and indexes it (package index). Stored instances are read
// back with Archive.Open.
//
// # Where instances are kept
//
// On a local disk (a file:// blob store), instances are records appended to pack
// segments (package pack) in the blob store's folder: one write to an open file, no new
// file, folder entry or rename per instance. In an object store (S3), each instance is an
// object. Either way the index row's blob key says where the file is: a pack location
// ("pack:SEGMENT:OFFSET:LENGTH") or an object key. Instances larger than 32 MiB are
// always objects (streamed, not held in memory).
//
// # Durability and duplicates
//
// Ingest returns only after the de-identified file and its index row are safe, so a
// caller that acknowledges on return (a C-STORE response, a STOW-RS 200) never
// acknowledges an instance that a crash or a power loss could lose. The index
// transaction commits with SQLite's synchronous=NORMAL (it survives the process being
// killed, not a power loss, until the log is flushed).
//
//   - With packs, Ingest waits for one flush of the pack segment, shared with every
//     concurrent ingest (group commit, package groupcommit) and run while the index row
//     is written. The pack record carries the instance whole, so an index row lost with
//     the database's last commits is rebuilt from it: after an unclean stop, Recover
//     reads the records of the segments written since the last mark and indexes again
//     those the index lacks (recover.go, packs.go).
//   - With objects, the file is written under a temporary name and renamed into place
//     without an fsync (blob.Store.PutUnsynced), and then one flush of the blob files and
//     folders and one of the SQLite log, run at the same time, serve every ingest that
//     waits for them.
//
// A killed process never leaves a partial file under a real key or a torn record that
// is read (the rename comes last; a pack record is checksummed and indexed only after it
// is written). A power loss can leave an index row whose file or record did not reach
// the disk, never acknowledged, and Recover removes such rows at the next start. The
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
