// Package dicom is cie's streaming DICOM codec: it reads and writes DICOM Part 10 files
// (PS3.10) and raw data sets in every transfer syntax's element encoding (PS3.5): implicit
// VR little endian, explicit VR little and big endian, and deflated explicit VR little
// endian, with defined and undefined lengths, sequences nested to any depth (bounded by
// ParseOptions.MaxDepth), encapsulated pixel data (Basic Offset Table and fragments),
// private elements and UN elements of undefined length (read as implicit VR little endian
// sequences, CP-246).
//
// # Fidelity
//
// Parse keeps, for every element, the exact bytes of its encoding: the header as read and
// either the value bytes or, for values larger than ParseOptions.BulkThreshold, an
// (offset, length) reference into the source. File.WriteTo re-emits those bytes for every
// element the caller did not change, so text in any character set, odd lengths, private
// data, offset tables and pixel data are copied byte for byte, never re-encoded. Only what
// the caller changed with Dataset.Set, SetSequence or Delete is encoded anew, together with
// what depends on it: the defined lengths of enclosing sequences and items, and the group
// length (gggg,0000) of a changed group, including (0002,0000) when the meta group
// changes. A group length that was wrong in the file is kept as it was unless its group
// changed. For a deflated file whose data set did not change, the original compressed
// bytes are written back; otherwise the data set is deflated anew (raw deflate, RFC 1951,
// PS3.5 A.5).
//
// ParseBytes parses a file that is already in memory without copying anything: values,
// headers and items are slices of the caller's buffer, which must stay unchanged while the
// File is used. Parse does the same with one read of its own when the whole file is within
// ParseOptions.BulkThreshold.
//
// Values are exposed as the raw bytes of the file: text is not decoded (see package
// internal/dicom/charset) and numbers of a big endian data set are not swapped (see
// Dataset.ByteOrder). Pixel data is never looked at sample by sample.
//
// # Files without a file meta group
//
// A file without the 128-byte preamble and "DICM" is accepted in two shapes: a file meta
// group (0002,xxxx) directly at offset 0, or a bare data set. For a bare data set the
// encoding is guessed from its first element (explicit or implicit VR, little or big
// endian) and File.Meta is nil; WriteTo writes it back in the same shape, so fidelity
// holds for such files too. The same guess is made when the meta group has no transfer
// syntax UID, or when the data set is found to be implicit VR although the meta group
// says explicit (or the other way round). Zero bytes after the last element (padding some
// writers add) are kept and written back; see File.TrailingPadding.
//
// # Hostile input
//
// No length field is trusted: every length is checked against the bytes left in its
// enclosing item, sequence or file before anything is read or allocated, nesting deeper
// than ParseOptions.MaxDepth is an error, inflated data is bounded by
// ParseOptions.MaxInflated and the number of elements by ParseOptions.MaxElements, and
// malformed input yields a *ParseError (errors.Is
// ErrMalformed) that names the offset and tag where parsing stopped, never a panic.
//
// # Value representations in implicit VR data sets
//
// An implicit VR data set does not carry VRs; the codec asks the data dictionary
// (DictionaryVR, generated from PS3.6 into package dict) or ParseOptions.VRLookup. An
// element whose VR is unknown (a private element) is kept as UN; if its value has
// undefined length, or a defined length and starts with an item tag, it is read as a
// sequence (and kept as raw bytes if that fails).
package dicom
