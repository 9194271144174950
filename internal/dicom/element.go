package dicom

import (
	"bytes"
	"fmt"
	"io"
)

// undefinedLength is the length field value meaning "undefined length".
const undefinedLength = 0xFFFFFFFF

// bulkRef is a value left in the source: n bytes at off in r.
type bulkRef struct {
	r   io.ReaderAt
	off int64
	n   int64
}

func (b *bulkRef) load() ([]byte, error) {
	buf := make([]byte, b.n)
	if _, err := b.r.ReadAt(buf, b.off); err != nil && !(err == io.EOF && b.n == 0) {
		return nil, fmt.Errorf("dicom: read %d value bytes at offset %d: %w", b.n, b.off, err)
	}
	return buf, nil
}

// Element is one data element: its tag and VR and either a value, the items of a sequence
// or the fragments of an encapsulated value. An element read from a file keeps the exact
// bytes of its encoding, which File.WriteTo writes back unless the element was replaced.
type Element struct {
	// Tag is the element's tag.
	Tag Tag
	// VR is the element's VR: as read in explicit VR data sets, from the dictionary (DictionaryVR) in implicit
	// ones (UN when unknown; SQ for values read as a sequence).
	VR VR

	encaps   bool     // encapsulated value: parts.frags holds its fragments
	sequence bool     // value was read as a sequence
	changed  bool     // made by Set: encode anew
	length   uint32   // length field as read
	hdr      []byte   // header bytes as read; nil for an element made by Set
	value    []byte   // value bytes when in memory
	bulk     *bulkRef // value bytes when left in the source
	parts    *parts   // of sequences and encapsulated values only (most elements have none)
}

// parts are the items or fragments of an element, kept apart to keep Element small.
type parts struct {
	items    []*Dataset // items of a sequence
	frags    []*Fragment
	seqDelim []byte // sequence delimitation item as read, for undefined lengths
}

// addParts returns e's parts, making them if e has none.
func (e *Element) addParts() *parts {
	if e.parts == nil {
		e.parts = &parts{}
	}
	return e.parts
}

// seqDelim returns the sequence delimitation item as read, or nil.
func (e *Element) seqDelim() []byte {
	if e.parts == nil {
		return nil
	}
	return e.parts.seqDelim
}

// Fragment is one item of an encapsulated value: the first one of pixel data is the Basic
// Offset Table (possibly empty), the others hold compressed data.
type Fragment struct {
	hdr   []byte
	value []byte
	bulk  *bulkRef
	n     int64
}

// Len returns the fragment's length in bytes.
func (f *Fragment) Len() int64 { return f.n }

// Value returns the fragment's bytes, reading them from the source if they were not kept
// in memory. The returned slice must not be modified.
func (f *Fragment) Value() ([]byte, error) {
	if f.bulk != nil {
		return f.bulk.load()
	}
	return f.value, nil
}

// Reader returns a reader of the fragment's bytes, streaming them from the source.
func (f *Fragment) Reader() io.Reader {
	if f.bulk != nil {
		return io.NewSectionReader(f.bulk.r, f.bulk.off, f.bulk.n)
	}
	return bytes.NewReader(f.value)
}

// UndefinedLength reports whether the element was read with undefined length (a sequence
// or encapsulated value ended by a sequence delimitation item).
func (e *Element) UndefinedLength() bool { return !e.changed && e.length == undefinedLength }

// IsSequence reports whether the element holds items (VR SQ, or UN read as a sequence).
func (e *Element) IsSequence() bool { return e.sequence }

// IsEncapsulated reports whether the element holds fragments (encapsulated pixel data).
func (e *Element) IsEncapsulated() bool { return e.encaps }

// Items returns the items of a sequence, nil for other elements. Items may be changed
// with their Set and Delete methods; enclosing lengths are recomputed on write.
func (e *Element) Items() []*Dataset {
	if e.parts == nil {
		return nil
	}
	return e.parts.items
}

// Fragments returns the fragments of an encapsulated value (the first one is the Basic
// Offset Table), nil for other elements.
func (e *Element) Fragments() []*Fragment {
	if e.parts == nil {
		return nil
	}
	return e.parts.frags
}

// Len returns the length of the value in bytes, or -1 for sequences and encapsulated
// values of undefined length.
func (e *Element) Len() int64 {
	switch {
	case e.bulk != nil:
		return e.bulk.n
	case e.changed && e.sequence:
		return itemsSize(e)
	case e.changed || (!e.sequence && !e.encaps):
		return int64(len(e.value))
	case e.length == undefinedLength:
		return -1
	}
	return int64(e.length)
}

// Value returns the value bytes as they are in the file (numbers in the data set's byte
// order, text in its character set), reading them from the source if they were not kept
// in memory. The returned slice must not be modified. Sequences and encapsulated values
// return ErrNoValue.
func (e *Element) Value() ([]byte, error) {
	if e.sequence || e.encaps {
		return nil, fmt.Errorf("%s: %w", e.Tag, ErrNoValue)
	}
	if e.bulk != nil {
		return e.bulk.load()
	}
	return e.value, nil
}

// ValueReader returns a reader of the value bytes, streaming them from the source.
func (e *Element) ValueReader() (io.Reader, error) {
	if e.sequence || e.encaps {
		return nil, fmt.Errorf("%s: %w", e.Tag, ErrNoValue)
	}
	if e.bulk != nil {
		return io.NewSectionReader(e.bulk.r, e.bulk.off, e.bulk.n), nil
	}
	return bytes.NewReader(e.value), nil
}

// dirty reports whether the element or anything inside it must be encoded anew.
func (e *Element) dirty() bool {
	if e.changed {
		return true
	}
	for _, it := range e.Items() {
		if it.dirty() {
			return true
		}
	}
	return false
}
