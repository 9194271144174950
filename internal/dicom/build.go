package dicom

import (
	"cmp"
	"errors"
	"fmt"
	"io"
)

// Implementation identity written into the file meta groups that NewFile makes.
const (
	// ImplementationClassUID is cie's implementation class UID, under the 2.25 UUID root
	// (PS3.5 B.2), derived once from a random UUID.
	ImplementationClassUID = "2.25.165051145629198404142230097749279026567"
	// ImplementationVersionName is cie's implementation version name (at most 16 characters).
	ImplementationVersionName = "CIE_1"
)

// NewDataset returns an empty data set in the element encoding of ts, to be filled with Set
// and SetSequence and written with NewFile or Dataset.WriteTo.
func NewDataset(ts TransferSyntax) *Dataset {
	return &Dataset{enc: encoding{implicit: ts.Implicit, bigEndian: ts.BigEndian}}
}

// ParseDataset reads a bare data set (no preamble, no meta group) of size bytes encoded
// in transfer syntax ts, such as the data set of a DIMSE message (PS3.7 6.3.1). A
// deflated ts is inflated first. As with Parse, large values are referenced, not read,
// so r must stay readable while the data set is used.
func ParseDataset(r io.ReaderAt, size int64, ts TransferSyntax, opt ParseOptions) (*Dataset, error) {
	if size < 0 {
		return nil, fmt.Errorf("dicom: negative size %d", size)
	}
	var p *parser
	if ts.Deflated {
		data, err := inflate(io.NewSectionReader(r, 0, size), cmp.Or(max(opt.MaxInflated, 0), DefaultMaxInflated))
		if err != nil {
			pe := &ParseError{Msg: "deflated data set: " + err.Error()}
			if errors.Is(err, ErrTooLarge) {
				pe.Err = ErrTooLarge
			}
			return nil, pe
		}
		p = newMemParser(data, opt)
		p.inflated = true
	} else {
		var err error
		if p, err = openParser(r, size, opt); err != nil {
			return nil, err
		}
	}
	defer p.release()
	ds := NewDataset(ts)
	if _, err := p.parseDataset(ds, 0, p.size, false); err != nil {
		return nil, err
	}
	return ds, nil
}

// WriteTo writes the elements of the data set in its own encoding, with no preamble, meta
// group or deflation: the form of a DIMSE command or data set. Unchanged elements are
// written byte for byte as read.
func (d *Dataset) WriteTo(w io.Writer) (int64, error) {
	f := File{Dataset: d}
	return f.WriteTo(w)
}

// NewFile wraps a data set into a Part 10 file: a zero preamble, "DICM" and a file meta
// group (PS3.10 7.1) naming the SOP class and instance, the transfer syntax ts (which
// must match the data set's encoding), cie's implementation, and the source AE title
// when it is not empty. A deflated ts is deflated when the file is written.
func NewFile(ds *Dataset, ts TransferSyntax, sopClassUID, sopInstanceUID, sourceAE string) (*File, error) {
	if ds == nil {
		return nil, fmt.Errorf("dicom: new file: %w: no data set", ErrInvalidValue)
	}
	if ds.enc.implicit != ts.Implicit || ds.enc.bigEndian != ts.BigEndian {
		return nil, fmt.Errorf("dicom: new file: %w: data set encoding does not match transfer syntax %s", ErrInvalidValue, ts.UID)
	}
	if sopClassUID == "" || sopInstanceUID == "" || ts.UID == "" {
		return nil, fmt.Errorf("dicom: new file: %w: SOP class, SOP instance and transfer syntax UIDs are required", ErrInvalidValue)
	}
	meta := &Dataset{}
	sets := []struct {
		tag Tag
		vr  VR
		val []byte
	}{
		{NewTag(2, 1), OB, []byte{0, 1}},
		{NewTag(2, 2), UI, PadText(UI, sopClassUID)},
		{NewTag(2, 3), UI, PadText(UI, sopInstanceUID)},
		{TransferSyntaxUIDTag, UI, PadText(UI, ts.UID)},
		{NewTag(2, 0x12), UI, PadText(UI, ImplementationClassUID)},
		{NewTag(2, 0x13), SH, PadText(SH, ImplementationVersionName)},
	}
	if sourceAE != "" {
		sets = append(sets, struct {
			tag Tag
			vr  VR
			val []byte
		}{NewTag(2, 0x16), AE, PadText(AE, sourceAE)})
	}
	for _, s := range sets {
		if err := meta.Set(s.tag, s.vr, s.val); err != nil {
			return nil, fmt.Errorf("dicom: new file: %w", err)
		}
	}
	if err := meta.Set(FileMetaGroupLengthTag, UL, []byte{0, 0, 0, 0}); err != nil {
		return nil, err
	}
	var n int64
	for _, e := range meta.elems[1:] {
		n += elementSize(meta.enc, e)
	}
	meta.elems[0].value = []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	return &File{Preamble: make([]byte, 128), Meta: meta, Dataset: ds, TS: ts}, nil
}

// Text returns the value of the element with the tag as text with its padding trimmed
// (TrimText), or "" when there is no such element or it is a sequence or encapsulated.
// The bytes are not decoded from the data set's character set (see package charset).
func (d *Dataset) Text(tag Tag) string {
	e := d.Get(tag)
	if e == nil || e.sequence || e.encaps {
		return ""
	}
	v, err := e.Value()
	if err != nil {
		return ""
	}
	return TrimText(v)
}
