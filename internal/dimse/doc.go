// Package dimse is cie's DICOM network layer: the upper layer protocol of PS3.8 (association
// negotiation with presentation contexts, P-DATA fragmentation, release, abort, ARTIM and
// idle timeouts, maximum PDU length) and the DIMSE-C services of PS3.7 that a node needs:
// C-ECHO, C-STORE and C-FIND, as service class provider (Server) and as service class user
// (Dial, Association).
//
// # Server
//
// A Server accepts associations from the calling AE titles its Config allows, for the
// Verification SOP class, every storage SOP class (the table in sopclass_gen.go, generated
// by ./gen from the innolitics dicom-standard sops.json: go generate ./internal/dimse) and,
// when a FindHandler is set, the Patient Root and Study Root Query/Retrieve FIND models. It
// accepts the uncompressed transfer syntaxes (explicit VR little endian preferred), deflate
// and the compressed ones (JPEG, JPEG-LS, JPEG 2000, RLE, MPEG, HEVC, high-throughput JPEG
// 2000) for storage.
//
// The data set of a C-STORE request is written to a spool file as its fragments arrive, so
// memory stays bounded whatever the size of the instance; the StoreHandler receives it once
// complete and the C-STORE response is sent only after the handler returns, so a success
// status can mean "durably stored". A FindHandler yields its matches one by one; each
// becomes a pending C-FIND response, and a C-CANCEL from the peer stops it.
//
// # Hostile peers
//
// Every length field is checked against the bytes that contain it and against a hard cap
// before anything is allocated: PDUs longer than the maximum length this side announced
// (or, before association, than MaxAssociatePDULength), command sets longer than
// MaxCommandLength and C-FIND identifiers longer than MaxIdentifierLength are protocol
// errors answered with A-ABORT. Malformed PDUs never panic.
//
// Sources: DICOM PS3.8 (upper layer), PS3.7 (DIMSE messages, Annex C status codes, Annex E
// command dictionary), PS3.4 (service classes), PS3.5 (transfer syntaxes), PS3.6 Annex A
// (UIDs).
package dimse

//go:generate go run ./gen -in ../../../shared/reference/dicom-standard/sops.json -out sopclass_gen.go
