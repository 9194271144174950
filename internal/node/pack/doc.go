// Package pack keeps many small objects (the node's DICOM instances) in a few large,
// append-only segment files, so that storing one costs a write to an open file and
// making it durable one flush of that file, shared by concurrent writers (group commit).
// A file per object costs far more on a local disk: a new inode, a rename, and flushes
// of the file and of its folder.
//
// A segment is a sequence of records; each record is a header, a label and a payload:
//
//	offset  size  field
//	0       4     magic "CIEp"
//	4       1     version (1)
//	5       3     reserved, zero
//	8       4     label length (at most MaxLabel)
//	12      8     payload length
//	20      4     CRC-32C (Castagnoli) of the payload
//	24      4     CRC-32C of bytes 0–23 and the label
//	28            label, then payload
//
// All integers are little-endian. A record is found by its Loc (segment, payload offset
// and length), which callers keep in their own index. Segments are never rewritten: a
// store appends to the newest segment it made itself, and starts a new one when that
// is full or when it opens, so a record torn by a crash is only ever at the end of a
// segment that nothing appends to again. Scan reads a segment's records back in order,
// checking each header's checksum before trusting its lengths, and stops at the first
// torn or foreign record; callers use it to rebuild what their index lost.
package pack
