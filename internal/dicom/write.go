package dicom

import (
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

var dicm = []byte("DICM")

// writerPool recycles the 64 KiB buffers of WriteTo.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// WriteTo writes the file: preamble and "DICM" (if Preamble is not nil), the meta group
// (if Meta is not nil) and the data set, in the encoding they were read with. Elements
// the caller did not change are written byte for byte as read; bulk values are copied
// from the source, which must still be open.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(cw)
	defer func() { bw.Reset(nil); writerPool.Put(bw) }()
	err := f.write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return cw.n, fmt.Errorf("dicom: write: %w", err)
	}
	return cw.n, nil
}

func (f *File) write(w *bufio.Writer) error {
	if f.Preamble != nil {
		if len(f.Preamble) != 128 {
			return fmt.Errorf("preamble of %d bytes, want 128", len(f.Preamble))
		}
		w.Write(f.Preamble)
		w.Write(dicm)
	}
	if f.Meta != nil {
		if err := writeDataset(w, f.Meta); err != nil {
			return fmt.Errorf("meta group: %w", err)
		}
	}
	if f.Dataset == nil {
		return nil
	}
	if f.deflated != nil && !f.Dataset.dirty() {
		_, err := w.ReadFrom(io.NewSectionReader(f.deflated.r, f.deflated.off, f.deflated.n))
		return err
	}
	if f.TS.Deflated {
		fw, err := flate.NewWriter(w, flate.DefaultCompression)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(fw, 64<<10)
		if err := writeDataset(bw, f.Dataset); err != nil {
			return err
		}
		if err := f.writeTrailer(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return fw.Close()
	}
	if err := writeDataset(w, f.Dataset); err != nil {
		return err
	}
	return f.writeTrailer(w)
}

func (f *File) writeTrailer(w *bufio.Writer) error {
	if f.trailer == nil {
		return nil
	}
	return writeValue(w, nil, f.trailer)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeDataset writes the elements of d (not an item's framing).
func writeDataset(w *bufio.Writer, d *Dataset) error {
	dirty := d.dirty()
	for _, e := range d.elems {
		if dirty && e.Tag.IsGroupLength() && !e.changed && !e.sequence && !e.encaps && e.Len() == 4 && d.groupDirty(e.Tag.Group()) {
			if err := writeGroupLength(w, d, e); err != nil {
				return err
			}
			continue
		}
		if err := writeElement(w, d.enc, e); err != nil {
			return err
		}
	}
	return nil
}

// writeGroupLength writes group length element e with its value recomputed from the
// elements of its group that follow it.
func writeGroupLength(w *bufio.Writer, d *Dataset, e *Element) error {
	var n int64
	after := false
	for _, x := range d.elems {
		if x == e {
			after = true
			continue
		}
		if after && x.Tag.Group() == e.Tag.Group() {
			n += elementSize(d.enc, x)
		}
	}
	if n >= undefinedLength {
		return fmt.Errorf("group %04X: length %d does not fit a group length", e.Tag.Group(), n)
	}
	w.Write(e.hdr)
	var v [4]byte
	d.enc.order().PutUint32(v[:], uint32(n))
	_, err := w.Write(v[:])
	return err
}

// headerSize returns the size of the header that encodeHeader makes.
func headerSize(enc encoding, vr VR) int64 {
	if !enc.implicit && vr.LongLength() {
		return 12
	}
	return 8
}

// encodeHeader encodes a new element header into w's free buffer (no allocation) and
// returns it, for w.Write.
func encodeHeader(w *bufio.Writer, enc encoding, tag Tag, vr VR, length uint32) []byte {
	b := append(w.AvailableBuffer(), make([]byte, headerSize(enc, vr))...)
	enc.putTag(b, tag)
	o := enc.order()
	switch {
	case enc.implicit:
		o.PutUint32(b[4:], length)
	case vr.LongLength():
		b[4], b[5] = byte(vr>>8), byte(vr)
		o.PutUint32(b[8:], length)
	default:
		b[4], b[5] = byte(vr>>8), byte(vr)
		o.PutUint16(b[6:], uint16(length))
	}
	return b
}

// elementSize returns the number of bytes writeElement writes for e.
func elementSize(enc encoding, e *Element) int64 {
	switch {
	case e.changed && e.sequence:
		return headerSize(enc, SQ) + itemsSize(e)
	case e.changed:
		return headerSize(enc, e.VR) + int64(len(e.value))
	case e.sequence:
		n := int64(len(e.hdr)) + int64(len(e.seqDelim()))
		for _, it := range e.Items() {
			n += itemSize(it)
		}
		return n
	case e.encaps:
		n := int64(len(e.hdr)) + int64(len(e.seqDelim()))
		for _, fr := range e.Fragments() {
			n += int64(len(fr.hdr)) + fr.n
		}
		return n
	}
	return int64(len(e.hdr)) + e.Len()
}

func itemsSize(e *Element) int64 {
	var n int64
	for _, it := range e.Items() {
		n += itemSize(it)
	}
	return n
}

func itemSize(it *Dataset) int64 {
	hl := int64(len(it.hdr))
	if it.hdr == nil {
		hl = 8 // a new item: tag and defined length
	}
	return hl + contentSize(it) + int64(len(it.delim))
}

func contentSize(d *Dataset) int64 {
	var n int64
	for _, e := range d.elems {
		n += elementSize(d.enc, e)
	}
	return n
}

// patchLength returns a copy of hdr, in w's free buffer, with its trailing 4-byte length
// replaced by n, for w.Write.
func patchLength(w *bufio.Writer, enc encoding, hdr []byte, n int64) ([]byte, error) {
	if n >= undefinedLength {
		return nil, fmt.Errorf("length %d does not fit 4 bytes", n)
	}
	b := append(w.AvailableBuffer(), hdr...)
	enc.order().PutUint32(b[len(b)-4:], uint32(n))
	return b, nil
}

func writeElement(w *bufio.Writer, enc encoding, e *Element) error {
	switch {
	case e.changed && !e.sequence:
		w.Write(encodeHeader(w, enc, e.Tag, e.VR, uint32(len(e.value))))
		_, err := w.Write(e.value)
		return err
	case e.sequence:
		hdr := e.hdr
		if e.changed {
			n := itemsSize(e)
			if n >= undefinedLength {
				return fmt.Errorf("%s: length %d does not fit 4 bytes", e.Tag, n)
			}
			hdr = encodeHeader(w, enc, e.Tag, SQ, uint32(n))
		} else if e.length != undefinedLength && e.dirty() {
			n := itemsSize(e)
			var err error
			if hdr, err = patchLength(w, enc, hdr, n); err != nil {
				return fmt.Errorf("%s: %w", e.Tag, err)
			}
		}
		w.Write(hdr)
		for _, it := range e.Items() {
			if err := writeItem(w, it); err != nil {
				return fmt.Errorf("%s: %w", e.Tag, err)
			}
		}
		_, err := w.Write(e.seqDelim())
		return err
	case e.encaps:
		w.Write(e.hdr)
		for _, fr := range e.Fragments() {
			w.Write(fr.hdr)
			if err := writeValue(w, fr.value, fr.bulk); err != nil {
				return fmt.Errorf("%s: %w", e.Tag, err)
			}
		}
		_, err := w.Write(e.seqDelim())
		return err
	}
	w.Write(e.hdr)
	if err := writeValue(w, e.value, e.bulk); err != nil {
		return fmt.Errorf("%s: %w", e.Tag, err)
	}
	return nil
}

func writeItem(w *bufio.Writer, it *Dataset) error {
	hdr := it.hdr
	if hdr == nil {
		hdr = make([]byte, 8)
		it.enc.putTag(hdr, ItemTag)
	}
	// Item headers are 8 bytes: tag and 4-byte length, in the item's byte order.
	if len(hdr) == 8 && it.enc.order().Uint32(hdr[4:]) != undefinedLength && (it.hdr == nil || it.dirty()) {
		var err error
		if hdr, err = patchLength(w, it.enc, hdr, contentSize(it)); err != nil {
			return err
		}
	}
	w.Write(hdr)
	if err := writeDataset(w, it); err != nil {
		return err
	}
	_, err := w.Write(it.delim)
	return err
}

func writeValue(w *bufio.Writer, value []byte, bulk *bulkRef) error {
	if bulk == nil {
		_, err := w.Write(value)
		return err
	}
	n, err := w.ReadFrom(io.NewSectionReader(bulk.r, bulk.off, bulk.n))
	if err == nil && n != bulk.n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("copy %d bytes from offset %d of the source: %w", bulk.n, bulk.off, err)
	}
	return nil
}
