package dicom

import (
	"bytes"
	"cmp"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Defaults of ParseOptions.
const (
	DefaultBulkThreshold = 64 << 10
	DefaultMaxDepth      = 64
	DefaultMaxInflated   = 1 << 30
	DefaultMaxElements   = 1 << 22
)

// ParseOptions tune Parse. The zero value is ready to use.
type ParseOptions struct {
	// BulkThreshold is the largest value (or fragment) read into memory; larger ones stay
	// in the source as (offset, length) references, read on demand and copied by WriteTo.
	// 0 means DefaultBulkThreshold; a negative value keeps every value in the source.
	BulkThreshold int
	// MaxDepth bounds the nesting of sequences; 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxInflated bounds the inflated size of a deflated data set; 0 means
	// DefaultMaxInflated.
	MaxInflated int64
	// MaxElements bounds the number of elements, items and fragments (each takes some
	// hundred bytes of memory, from as few as 8 bytes of input); 0 means
	// DefaultMaxElements.
	MaxElements int
	// VRLookup gives the VRs of implicit VR data sets; nil means DictionaryVR.
	VRLookup func(Tag) VR
}

// File is a parsed DICOM file.
type File struct {
	// Preamble is the 128-byte preamble, or nil when the file had none (and so no "DICM"
	// either). WriteTo writes it followed by "DICM" when it is not nil.
	Preamble []byte
	// Meta is the file meta group (0002,xxxx), explicit VR little endian, or nil when the
	// file had none.
	Meta *Dataset
	// Dataset is the main data set.
	Dataset *Dataset
	// TS is the transfer syntax: from (0002,0010), or guessed from the data set when the
	// file has no meta group or no transfer syntax UID. Changing it does not transcode:
	// WriteTo always writes the encoding the file was read with.
	TS TransferSyntax

	deflated *bulkRef // the compressed data set as read, for deflated files
	trailer  *bulkRef // zero bytes after the data set
}

// TrailingPadding returns the number of zero bytes found after the last element of the
// data set (some writers pad files with zeros); WriteTo writes them back.
func (f *File) TrailingPadding() int64 {
	if f.trailer == nil {
		return 0
	}
	return f.trailer.n
}

// ParseFile opens and parses the file at path. The returned closer closes the file, which
// must stay open while values are read or the File is written (bulk values are read from
// it on demand).
func ParseFile(path string, opt ParseOptions) (*File, io.Closer, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dicom: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("dicom: %w", err)
	}
	f, err := Parse(fh, st.Size(), opt)
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("dicom: parse %s: %w", path, err)
	}
	return f, fh, nil
}

// Parse reads a DICOM file of size bytes from r. Values larger than opt.BulkThreshold are
// not read but referenced, so r must stay readable while the File is used. Malformed
// input yields a *ParseError.
//
// A file no larger than the bulk threshold (so one whose values would all be read into
// memory anyway) is read with a single ReadAt into one buffer that its values share.
func Parse(r io.ReaderAt, size int64, opt ParseOptions) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("dicom: negative size %d", size)
	}
	p, err := openParser(r, size, opt)
	if err != nil {
		return nil, err
	}
	return parse(p, r)
}

// openParser returns a parser of size bytes of r: of a copy in memory if size is within
// the bulk threshold (every value would be read anyway), else reading r on demand.
func openParser(r io.ReaderAt, size int64, opt ParseOptions) (*parser, error) {
	if t := opt.BulkThreshold; t < 0 || size > int64(cmp.Or(t, DefaultBulkThreshold)) {
		return newParser(r, size, opt), nil
	}
	// size is at most the threshold (64 KiB by default): a bounded allocation.
	data := make([]byte, size)
	if k, err := r.ReadAt(data, 0); int64(k) < size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("dicom: read %d bytes at offset 0: %w", size, err)
	}
	return newMemParser(data, opt), nil
}

// ParseBytes parses a DICOM file held in data. Nothing is copied: the values, headers and
// items of the returned File are slices of data, which must therefore stay unchanged
// while the File is used (read, edited or written). ParseOptions.BulkThreshold has no
// effect, as every value is already in memory. Malformed input yields a *ParseError.
func ParseBytes(data []byte, opt ParseOptions) (*File, error) {
	return parse(newMemParser(data, opt), bytes.NewReader(data))
}

// parse reads a file with p; r is p's source, which bulk references and the compressed
// data set of a deflated file refer to.
func parse(p *parser, r io.ReaderAt) (*File, error) {
	size, opt := p.size, p.opt
	defer func() { p.release() }()
	f := &File{}
	off := int64(0)
	if size >= 132 {
		b, err := p.peek(128, 4)
		if err != nil {
			return nil, err
		}
		if string(b) == "DICM" {
			pre, err := p.peek(0, 128)
			if err != nil {
				return nil, err
			}
			f.Preamble = bytes.Clone(pre)
			off = 132
		}
	}
	if size-off >= 8 {
		b, err := p.peek(off, 8)
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint16(b) == 0x0002 && validVRBytes(b[4:6]) {
			f.Meta = &Dataset{}
			if off, err = p.parseMeta(f.Meta, off); err != nil {
				return nil, err
			}
		}
	}
	if f.Preamble == nil && f.Meta == nil {
		enc, ok := p.guess(off)
		if !ok {
			return nil, &ParseError{Offset: 0, Msg: "neither a DICOM file (no \"DICM\" at offset 128) nor a data set", Err: ErrNotDICOM}
		}
		f.TS = tsFor(enc)
	} else if el := f.Meta.getOrNil(TransferSyntaxUIDTag); el != nil && !el.sequence && !el.encaps {
		v, err := el.Value()
		if err != nil {
			return nil, err
		}
		f.TS = TransferSyntaxFor(string(v))
	} else {
		enc, _ := p.guess(off)
		f.TS = tsFor(enc)
	}
	enc := encoding{implicit: f.TS.Implicit, bigEndian: f.TS.BigEndian}
	if f.TS.Deflated {
		f.deflated = &bulkRef{r: r, off: off, n: size - off}
		data, err := inflate(io.NewSectionReader(r, off, size-off), p.opt.MaxInflated)
		if err != nil {
			pe := &ParseError{Offset: off, Msg: "deflated data set: " + err.Error()}
			if errors.Is(err, ErrTooLarge) {
				pe.Err = ErrTooLarge
			}
			return nil, pe
		}
		p.release()
		p = newMemParser(data, opt)
		p.inflated = true
		off = 0
	}
	f.Dataset = &Dataset{enc: enc}
	p.top = f
	if _, err := p.parseDataset(f.Dataset, off, p.size, false); err != nil {
		return nil, err
	}
	return f, nil
}

// inflate reads raw deflate data (or, leniently, a zlib stream, as some writers
// produce), at most max bytes.
func inflate(r *io.SectionReader, max int64) ([]byte, error) {
	var hdr [2]byte
	if _, err := r.ReadAt(hdr[:], 0); err == nil && hdr[0]&0x0F == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
		// Looks like a zlib header (RFC 1950); a raw stream can start like one too.
		if zr, err := zlib.NewReader(io.NewSectionReader(r, 0, r.Size())); err == nil {
			data, err := readMax(zr, max)
			zr.Close()
			if err == nil || errors.Is(err, ErrTooLarge) {
				return data, err
			}
		}
	}
	fr := flate.NewReader(io.NewSectionReader(r, 0, r.Size()))
	defer fr.Close()
	return readMax(fr, max)
}

func readMax(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than %d bytes when inflated: %w", max, ErrTooLarge)
	}
	return data, nil
}

func tsFor(enc encoding) TransferSyntax {
	switch {
	case enc.implicit:
		return TransferSyntaxFor(ImplicitVRLittleEndianUID)
	case enc.bigEndian:
		return TransferSyntaxFor(ExplicitVRBigEndianUID)
	}
	return TransferSyntaxFor(ExplicitVRLittleEndianUID)
}

const (
	windowSize = 64 << 10
	slabSize   = 32 << 10
	smallValue = 256 // values up to this size share slabs
)

type parser struct {
	pooled   *[]byte // winBuf, when it came from windowPool
	r        io.ReaderAt
	size     int64
	inflated bool
	opt      ParseOptions
	lookup   func(Tag) VR

	win    []byte // bytes at winOff
	winOff int64
	winBuf []byte
	slab   []byte
	depth  int
	top    *File // set while parsing the main data set, for trailing padding
	count  int   // elements, items and fragments so far

	// mem is the whole input when it is in memory (ParseBytes, small files, inflated
	// data sets): peek, keep and value return slices of it instead of copies.
	mem []byte
	// elems hands out Elements from chunks, one allocation for many elements.
	elems []Element
	// stack holds the elements of the data sets being read, innermost last; each data
	// set gets an exactly sized copy of its part when it ends.
	stack []*Element
}

// elemChunk is the number of Elements allocated at once.
const elemChunk = 32

// newElement returns a zeroed Element from the current chunk.
func (p *parser) newElement() *Element {
	if len(p.elems) == 0 {
		p.elems = make([]Element, elemChunk)
	}
	e := &p.elems[0]
	p.elems = p.elems[1:]
	return e
}

// counted counts one more element, item or fragment (whose header is at off).
func (p *parser) counted(off int64, tag Tag) error {
	p.count++
	if p.count > p.opt.MaxElements {
		return p.errf(off, tag, ErrTooLarge, "more than %d elements, items and fragments", p.opt.MaxElements)
	}
	return nil
}

func newParser(r io.ReaderAt, size int64, opt ParseOptions) *parser {
	if opt.BulkThreshold == 0 {
		opt.BulkThreshold = DefaultBulkThreshold
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = DefaultMaxDepth
	}
	if opt.MaxElements <= 0 {
		opt.MaxElements = DefaultMaxElements
	}
	if opt.MaxInflated <= 0 {
		opt.MaxInflated = DefaultMaxInflated
	}
	lookup := opt.VRLookup
	if lookup == nil {
		lookup = DictionaryVR
	}
	p := &parser{r: r, size: size, opt: opt, lookup: lookup}
	if st, ok := stackPool.Get().(*[]*Element); ok {
		p.stack = *st
	}
	return p
}

// newMemParser returns a parser of data, which values will share.
func newMemParser(data []byte, opt ParseOptions) *parser {
	p := newParser(bytes.NewReader(data), int64(len(data)), opt)
	p.mem = data
	return p
}

func (p *parser) errf(off int64, tag Tag, sentinel error, format string, args ...any) error {
	return &ParseError{Offset: off, Tag: tag, Inflated: p.inflated, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// peek returns n (at most windowSize) bytes at off, valid until the next peek. The caller
// has checked that off+n <= p.size.
func (p *parser) peek(off int64, n int) ([]byte, error) {
	if p.mem != nil {
		if n < 0 || off < 0 || off > p.size || int64(n) > p.size-off {
			return nil, p.errf(off, 0, ErrTruncated, "%d bytes wanted, %d left", n, p.size-off)
		}
		return p.mem[off : off+int64(n) : off+int64(n)], nil
	}
	if off >= p.winOff && off+int64(n) <= p.winOff+int64(len(p.win)) {
		i := off - p.winOff
		return p.win[i : i+int64(n)], nil
	}
	if n > windowSize || off < 0 || off+int64(n) > p.size {
		return nil, p.errf(off, 0, ErrTruncated, "%d bytes wanted, %d left", n, p.size-off)
	}
	if p.winBuf == nil {
		p.pooled = windowPool.Get().(*[]byte)
		p.winBuf = *p.pooled
	}
	m := min(int64(len(p.winBuf)), p.size-off)
	k, err := p.r.ReadAt(p.winBuf[:m], off)
	if int64(k) < m {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("dicom: read at offset %d: %w", off, err)
	}
	p.win, p.winOff = p.winBuf[:m], off
	return p.win[:n], nil
}

// windowPool recycles the read windows of parsers: everything a parse keeps
// is copied out of its window, so the window is free once Parse returns.
var windowPool = sync.Pool{New: func() any { b := make([]byte, windowSize); return &b }}

// stackPool recycles the element stacks of parsers (empty, all nil, once a parse ends).
var stackPool sync.Pool // of *[]*Element

// release returns the parser's window and element stack to their pools.
func (p *parser) release() {
	if p.pooled != nil {
		windowPool.Put(p.pooled)
		p.pooled, p.winBuf, p.win = nil, nil, nil
	}
	if p.stack != nil && cap(p.stack) <= 1<<16 {
		clear(p.stack[:cap(p.stack)]) // after an error, elements may be left
		st := p.stack[:0]
		stackPool.Put(&st)
	}
	p.stack = nil
}

// keep copies b into memory owned by the parsed data (small copies share slabs).
func (p *parser) keep(b []byte) []byte {
	if p.mem != nil {
		return b[:len(b):len(b)] // already a slice of p.mem, which the data owns
	}
	if len(b) > smallValue {
		return bytes.Clone(b)
	}
	if len(p.slab)+len(b) > cap(p.slab) {
		p.slab = make([]byte, 0, slabSize)
	}
	i := len(p.slab)
	p.slab = append(p.slab, b...)
	return p.slab[i:len(p.slab):len(p.slab)]
}

// value reads n bytes at off (already checked against the bounds) into memory, or
// returns a reference to them if n exceeds the bulk threshold.
func (p *parser) value(off, n int64) ([]byte, *bulkRef, error) {
	if p.mem != nil {
		b, err := p.peek(off, int(n))
		return b, nil, err
	}
	if p.opt.BulkThreshold < 0 || n > int64(p.opt.BulkThreshold) {
		return nil, &bulkRef{r: p.r, off: off, n: n}, nil
	}
	if n <= windowSize {
		b, err := p.peek(off, int(n))
		if err != nil {
			return nil, nil, err
		}
		return p.keep(b), nil, nil
	}
	b := make([]byte, n)
	if k, err := p.r.ReadAt(b, off); int64(k) < n {
		return nil, nil, fmt.Errorf("dicom: read at offset %d: %w", off, err)
	}
	return b, nil, nil
}

// guess infers the encoding of a data set from its first element header.
func (p *parser) guess(off int64) (encoding, bool) {
	if p.size-off < 8 {
		return encoding{}, false
	}
	b, err := p.peek(off, 8)
	if err != nil {
		return encoding{}, false
	}
	le, be := binary.LittleEndian.Uint16(b), binary.BigEndian.Uint16(b)
	enc := encoding{bigEndian: be < le}
	g := le
	if enc.bigEndian {
		g = be
	}
	if validVRBytes(b[4:6]) {
		return enc, g <= 0x7FE0
	}
	enc = encoding{implicit: true}
	return enc, le <= 0x7FE0 && int64(binary.LittleEndian.Uint32(b[4:])) <= p.size-off-8
}

// allZero reports whether the bytes from off to end are all zero.
func (p *parser) allZero(off, end int64) (bool, error) {
	for off < end {
		n := min(end-off, windowSize)
		b, err := p.peek(off, int(n))
		if err != nil {
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

// parseMeta reads the elements of group 0002 from off on (explicit VR little endian).
func (p *parser) parseMeta(ds *Dataset, off int64) (int64, error) {
	base := len(p.stack)
	defer p.endDataset(ds, base)
	for p.size-off >= 8 {
		b, err := p.peek(off, 8)
		if err != nil {
			return 0, err
		}
		if binary.LittleEndian.Uint16(b) != 0x0002 {
			break
		}
		e, next, err := p.parseElement(ds.enc, off, p.size)
		if err != nil {
			return 0, err
		}
		p.stack = append(p.stack, e)
		off = next
	}
	return off, nil
}

// endDataset gives ds the elements stacked from base on, and unstacks them.
func (p *parser) endDataset(ds *Dataset, base int) {
	if n := len(p.stack) - base; n > 0 {
		ds.elems = append(make([]*Element, 0, n), p.stack[base:]...)
	}
	clear(p.stack[base:])
	p.stack = p.stack[:base]
}

// parseDataset reads elements from off up to end, or, for an item of undefined length
// (undefItem), up to and including its item delimitation item.
func (p *parser) parseDataset(ds *Dataset, off, end int64, undefItem bool) (int64, error) {
	first := true
	var seen map[Tag]struct{} // tags so far, once they stop ascending
	// The elements are stacked while they are read, then copied to ds.elems at once.
	base := len(p.stack)
	defer p.endDataset(ds, base)
	for off < end {
		if end-off < 8 {
			return 0, p.errf(off, 0, ErrTruncated, "%d bytes left, too few for an element header", end-off)
		}
		b, err := p.peek(off, 8)
		if err != nil {
			return 0, err
		}
		tag := ds.enc.tag(b)
		if p.top != nil && p.depth == 0 && tag == 0 && binary.LittleEndian.Uint32(b[4:]) == 0 {
			if zero, err := p.allZero(off, end); err != nil {
				return 0, err
			} else if zero {
				p.top.trailer = &bulkRef{r: p.r, off: off, n: end - off}
				return end, nil
			}
		}
		if tag == ItemDelimTag {
			if !undefItem {
				return 0, p.errf(off, tag, nil, "item delimitation item outside an item of undefined length")
			}
			ds.delim = p.keep(b)
			return off + 8, nil
		}
		if tag.Group() == 0xFFFE {
			return 0, p.errf(off, tag, nil, "%s found where a data element was expected", tag)
		}
		if first {
			first = false
			// Some writers put implicit VR items into explicit VR data sets (and label
			// implicit files explicit, or the other way round): decide by the first element.
			rest := int64(binary.LittleEndian.Uint32(b[4:]))
			switch {
			case !ds.enc.implicit && !ds.enc.bigEndian && !validVRBytes(b[4:6]) && rest <= end-off-8:
				ds.enc.implicit = true
			case ds.enc.implicit && validVRBytes(b[4:6]) && rest > end-off-8:
				ds.enc.implicit = false
			}
		}
		e, next, err := p.parseElement(ds.enc, off, end)
		if err != nil {
			return 0, err
		}
		// A tag twice in one data set is malformed, and dangerous: an editor
		// (a de-identifier) that changes "the" element would leave the other.
		// While the tags ascend (as they must) a repeat is the previous tag;
		// once they do not, every tag is looked up in a set.
		if elems := p.stack[base:]; seen != nil || len(elems) > 0 && e.Tag <= elems[len(elems)-1].Tag {
			if seen == nil {
				seen = make(map[Tag]struct{}, len(elems)+1)
				for _, x := range elems {
					seen[x.Tag] = struct{}{}
				}
			}
			if _, dup := seen[e.Tag]; dup {
				return 0, p.errf(off, e.Tag, nil, "element %s appears twice in the same data set", e.Tag)
			}
			seen[e.Tag] = struct{}{}
		}
		p.stack = append(p.stack, e)
		off = next
	}
	if undefItem {
		return 0, p.errf(off, 0, ErrTruncated, "item of undefined length ends without an item delimitation item")
	}
	return off, nil
}

// parseElement reads the element whose header is at off.
func (p *parser) parseElement(enc encoding, off, end int64) (*Element, int64, error) {
	b, err := p.peek(off, 8)
	if err != nil {
		return nil, 0, err
	}
	order := enc.order()
	tag := enc.tag(b)
	if err := p.counted(off, tag); err != nil {
		return nil, 0, err
	}
	var vr VR
	var length uint32
	hl := int64(8)
	if enc.implicit {
		length = order.Uint32(b[4:])
		vr = p.lookup(tag)
	} else {
		if !validVRBytes(b[4:6]) {
			return nil, 0, p.errf(off, tag, nil, "invalid VR bytes %02X %02X in an explicit VR data set", b[4], b[5])
		}
		vr = VR(b[4])<<8 | VR(b[5])
		if vr.LongLength() {
			if end-off < 12 {
				return nil, 0, p.errf(off, tag, ErrTruncated, "%d bytes left, too few for a 12-byte element header", end-off)
			}
			if b, err = p.peek(off, 12); err != nil {
				return nil, 0, err
			}
			length = order.Uint32(b[8:])
			hl = 12
		} else {
			length = uint32(order.Uint16(b[6:]))
		}
	}
	e := p.newElement()
	*e = Element{Tag: tag, VR: vr, hdr: p.keep(b[:hl]), length: length}
	voff := off + hl
	if length == undefinedLength {
		switch {
		case vr == SQ:
			next, err := p.parseItems(e, enc, off, voff, end, true)
			return e, next, err
		case vr == UN:
			// CP-246: UN of undefined length is a sequence in implicit VR little endian.
			if enc.implicit {
				e.VR = SQ // the tag is unknown, the value a sequence
			}
			next, err := p.parseItems(e, encoding{implicit: true}, off, voff, end, true)
			return e, next, err
		case vr == OB || vr == OW || tag == PixelDataTag:
			next, err := p.parseFragments(e, enc, voff, end)
			return e, next, err
		}
		return nil, 0, p.errf(off, tag, nil, "undefined length is not allowed for VR %s", vr)
	}
	if int64(length) > end-voff {
		return nil, 0, p.errf(off, tag, ErrTruncated, "length %d exceeds the %d bytes left", length, end-voff)
	}
	next := voff + int64(length)
	if vr == SQ {
		if _, err := p.parseItems(e, enc, off, voff, next, false); err != nil {
			return nil, 0, err
		}
		return e, next, nil
	}
	if vr == UN && enc.implicit && length >= 8 {
		// An unknown tag in an implicit VR data set whose value starts with an item: try
		// it as a sequence, keep it as bytes if it is not one.
		if b, err := p.peek(voff, 4); err == nil && enc.tag(b) == ItemTag {
			try := &Element{Tag: tag, VR: SQ, hdr: e.hdr, length: length}
			depth := p.depth
			if _, err := p.parseItems(try, enc, off, voff, next, false); err == nil {
				return try, next, nil
			}
			p.depth = depth
		}
	}
	e.value, e.bulk, err = p.value(voff, int64(length))
	if err != nil {
		return nil, 0, err
	}
	return e, next, nil
}

// parseItems reads the items of sequence e (whose header is at eoff) from off: up to end
// for a defined length, or up to its sequence delimitation item.
func (p *parser) parseItems(e *Element, enc encoding, eoff, off, end int64, undef bool) (int64, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > p.opt.MaxDepth {
		return 0, p.errf(eoff, e.Tag, ErrTooDeep, "sequences nested more than %d deep", p.opt.MaxDepth)
	}
	e.sequence = true
	for {
		if !undef && off == end {
			return off, nil
		}
		if end-off < 8 {
			what := "sequence runs past its end"
			if undef {
				what = "sequence of undefined length ends without a sequence delimitation item"
			}
			return 0, p.errf(off, e.Tag, ErrTruncated, "%s (%d bytes left)", what, end-off)
		}
		b, err := p.peek(off, 8)
		if err != nil {
			return 0, err
		}
		tag, l := enc.tag(b), enc.order().Uint32(b[4:])
		switch tag {
		case SeqDelimTag:
			if !undef {
				return 0, p.errf(off, e.Tag, nil, "sequence delimitation item in a sequence of defined length")
			}
			e.addParts().seqDelim = p.keep(b)
			return off + 8, nil
		case ItemTag:
			if err := p.counted(off, e.Tag); err != nil {
				return 0, err
			}
			it := &Dataset{enc: enc, hdr: p.keep(b)}
			ioff := off + 8
			if l == undefinedLength {
				off, err = p.parseDataset(it, ioff, end, true)
			} else if int64(l) > end-ioff {
				return 0, p.errf(off, e.Tag, ErrTruncated, "item length %d exceeds the %d bytes left", l, end-ioff)
			} else {
				off, err = p.parseDataset(it, ioff, ioff+int64(l), false)
			}
			if err != nil {
				return 0, err
			}
			e.addParts().items = append(e.addParts().items, it)
		default:
			return 0, p.errf(off, e.Tag, nil, "%s found where an item of the sequence was expected", tag)
		}
	}
}

// parseFragments reads the fragments of encapsulated value e from off up to its sequence
// delimitation item (errors name the offset of the fragment concerned).
func (p *parser) parseFragments(e *Element, enc encoding, off, end int64) (int64, error) {
	e.encaps = true
	for {
		if end-off < 8 {
			return 0, p.errf(off, e.Tag, ErrTruncated, "encapsulated value ends without a sequence delimitation item (%d bytes left)", end-off)
		}
		b, err := p.peek(off, 8)
		if err != nil {
			return 0, err
		}
		tag, l := enc.tag(b), enc.order().Uint32(b[4:])
		switch tag {
		case SeqDelimTag:
			e.addParts().seqDelim = p.keep(b)
			return off + 8, nil
		case ItemTag:
			foff := off + 8
			if l == undefinedLength {
				return 0, p.errf(off, e.Tag, nil, "fragment of undefined length")
			}
			if int64(l) > end-foff {
				return 0, p.errf(off, e.Tag, ErrTruncated, "fragment length %d exceeds the %d bytes left", l, end-foff)
			}
			if err := p.counted(off, e.Tag); err != nil {
				return 0, err
			}
			fr := &Fragment{hdr: p.keep(b), n: int64(l)}
			if fr.value, fr.bulk, err = p.value(foff, int64(l)); err != nil {
				return 0, err
			}
			e.addParts().frags = append(e.addParts().frags, fr)
			off = foff + int64(l)
		default:
			return 0, p.errf(off, e.Tag, nil, "%s found where a fragment of the encapsulated value was expected", tag)
		}
	}
}
