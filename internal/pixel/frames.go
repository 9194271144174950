package pixel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Frames gives access to the frames of one image's pixel data. It is made by Open and
// holds only where each frame is, never the frames themselves. It is safe for concurrent
// use when the underlying source is (files opened by dicom.ParseFile are).
type Frames struct {
	ds   *dicom.Dataset
	info Info
	pix  *dicom.Element
	// frags are the data fragments of encapsulated pixel data (without the Basic Offset
	// Table); spans say which of them make each frame.
	frags []*dicom.Fragment
	spans []span
}

// span is one encapsulated frame: n fragments from first, cut to limit bytes when
// limit >= 0 (Extended Offset Table Lengths).
type span struct {
	first, n int
	limit    int64
}

// Open reads and checks the Image Pixel module of f and locates its frames. It reads at
// most the Basic Offset Table and the first two bytes of each fragment, never pixel data.
func Open(f *dicom.File) (*Frames, error) {
	if f == nil || f.Dataset == nil {
		return nil, fmt.Errorf("pixel: %w", ErrNoPixelData)
	}
	return OpenDataset(f.Dataset, f.TS)
}

// OpenDataset is Open for a data set whose transfer syntax is ts.
func OpenDataset(ds *dicom.Dataset, ts dicom.TransferSyntax) (*Frames, error) {
	pix := ds.Get(tags.PixelData)
	if pix == nil {
		if ds.Get(tags.FloatPixelData) != nil || ds.Get(tags.DoubleFloatPixelData) != nil {
			return nil, unsupported(ts.UID, "float pixel data")
		}
		return nil, fmt.Errorf("pixel: %w", ErrNoPixelData)
	}
	in, err := ReadInfo(ds, ts)
	if err != nil {
		return nil, err
	}
	fr := &Frames{ds: ds, info: in, pix: pix}
	if !pix.IsEncapsulated() {
		if ts.Encapsulated {
			return nil, malformed("transfer syntax %s (%s) but pixel data is not encapsulated", ts.UID, TransferSyntaxName(ts.UID))
		}
		// Checked in bits, so that neither a large frame count nor a large frame
		// overflows: frameBits < 2^16 * 2^16 * 3 * 32 < 2^39, and Frames < 2^31.
		have := pix.Len() * 8
		if fb := in.frameBits(); have/fb < int64(in.Frames) {
			return nil, malformed("%d frames of %d bytes do not fit in %d bytes of pixel data",
				in.Frames, in.FrameSize(), pix.Len())
		}
		return fr, nil
	}
	if !ts.Encapsulated {
		return nil, malformed("encapsulated pixel data in transfer syntax %s (%s)", ts.UID, TransferSyntaxName(ts.UID))
	}
	all := pix.Fragments()
	if len(all) == 0 {
		return nil, malformed("encapsulated pixel data without a Basic Offset Table item")
	}
	fr.frags = all[1:]
	if err := fr.locate(all[0]); err != nil {
		return nil, err
	}
	return fr, nil
}

// Info returns the checked Image Pixel attributes.
func (fr *Frames) Info() Info { return fr.info }

// Dataset returns the data set the frames belong to.
func (fr *Frames) Dataset() *dicom.Dataset { return fr.ds }

// Count returns the number of frames.
func (fr *Frames) Count() int { return fr.info.Frames }

// fragOffsets returns the offset of each fragment's item header, counted from the first
// fragment after the Basic Offset Table, as offset tables count them.
func (fr *Frames) fragOffsets() []int64 {
	offs := make([]int64, len(fr.frags)+1)
	for i, f := range fr.frags {
		offs[i+1] = offs[i] + 8 + f.Len()
	}
	return offs
}

// locate fills fr.spans by the rules in the package documentation.
func (fr *Frames) locate(bot *dicom.Fragment) error {
	n := fr.info.Frames
	if len(fr.frags) == 0 {
		return malformed("encapsulated pixel data has no fragments")
	}
	if n > len(fr.frags) {
		return malformed("%d frames in %d fragments", n, len(fr.frags))
	}
	// Extended Offset Table.
	if eot := fr.ds.Get(tags.ExtendedOffsetTable); eot != nil {
		return fr.locateEOT(eot)
	}
	// Basic Offset Table.
	if bot.Len() > 0 {
		if bot.Len()%4 != 0 || bot.Len()/4 != int64(n) {
			// A table that does not match the frame count is ignored, as other readers do,
			// when the fragments can be attributed otherwise.
			if err := fr.locateSimple(); err == nil {
				return nil
			}
			return malformed("Basic Offset Table of %d bytes for %d frames", bot.Len(), n)
		}
		b, err := bot.Value()
		if err != nil {
			return fmt.Errorf("pixel: read Basic Offset Table: %w", err)
		}
		offs := make([]int64, n)
		for i := range offs {
			offs[i] = int64(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return fr.spansAt(offs, nil, "Basic Offset Table")
	}
	return fr.locateSimple()
}

// locateSimple attributes fragments without an offset table.
func (fr *Frames) locateSimple() error {
	n := fr.info.Frames
	switch {
	case len(fr.frags) == n:
		fr.spans = make([]span, n)
		for i := range fr.spans {
			fr.spans[i] = span{first: i, n: 1, limit: -1}
		}
		return nil
	case n == 1:
		fr.spans = []span{{first: 0, n: len(fr.frags), limit: -1}}
		return nil
	}
	// JPEG family: a frame starts with a fragment starting with SOI (FFD8).
	if !isJPEGFamily(fr.info.TS.UID) {
		return malformed("%d frames in %d fragments and no offset table", n, len(fr.frags))
	}
	var starts []int
	var head [2]byte
	for i, f := range fr.frags {
		if f.Len() < 2 {
			continue
		}
		if _, err := io.ReadFull(f.Reader(), head[:]); err != nil {
			return fmt.Errorf("pixel: read fragment %d: %w", i+1, err)
		}
		if head[0] == 0xFF && head[1] == 0xD8 {
			if len(starts) == n {
				return malformed("more than %d JPEG start-of-image markers in %d fragments", n, len(fr.frags))
			}
			starts = append(starts, i)
		}
	}
	if len(starts) != n || starts[0] != 0 {
		return malformed("%d frames but %d fragments starting a JPEG image (of %d fragments)", n, len(starts), len(fr.frags))
	}
	fr.spans = make([]span, n)
	for i, s := range starts {
		end := len(fr.frags)
		if i+1 < n {
			end = starts[i+1]
		}
		fr.spans[i] = span{first: s, n: end - s, limit: -1}
	}
	return nil
}

// locateEOT reads the Extended Offset Table and its lengths.
func (fr *Frames) locateEOT(eot *dicom.Element) error {
	n := fr.info.Frames
	ol := fr.ds.Get(tags.ExtendedOffsetTableLengths)
	if ol == nil {
		return malformed("Extended Offset Table without Extended Offset Table Lengths")
	}
	if eot.Len() != 8*int64(n) || ol.Len() != 8*int64(n) {
		return malformed("Extended Offset Table of %d bytes and lengths of %d bytes for %d frames", eot.Len(), ol.Len(), n)
	}
	ob, err := eot.Value()
	if err != nil {
		return fmt.Errorf("pixel: read Extended Offset Table: %w", err)
	}
	lb, err := ol.Value()
	if err != nil {
		return fmt.Errorf("pixel: read Extended Offset Table Lengths: %w", err)
	}
	order := fr.ds.ByteOrder()
	offs := make([]int64, n)
	lens := make([]int64, n)
	for i := 0; i < n; i++ {
		o, l := order.Uint64(ob[8*i:]), order.Uint64(lb[8*i:])
		if o > 1<<62 || l > 1<<62 {
			return malformed("Extended Offset Table entry %d out of range", i)
		}
		offs[i], lens[i] = int64(o), int64(l)
	}
	return fr.spansAt(offs, lens, "Extended Offset Table")
}

// spansAt turns frame offsets (of fragment item headers) into spans; lens, if not nil,
// are the frames' byte lengths.
func (fr *Frames) spansAt(offs, lens []int64, table string) error {
	starts := fr.fragOffsets()
	index := make(map[int64]int, len(starts))
	for i, o := range starts[:len(fr.frags)] {
		index[o] = i
	}
	fr.spans = make([]span, len(offs))
	for i, o := range offs {
		first, ok := index[o]
		if !ok {
			return malformed("%s: frame %d at offset %d, which is not the start of a fragment", table, i, o)
		}
		if i > 0 && o <= offs[i-1] {
			return malformed("%s: offsets not increasing at frame %d", table, i)
		}
		end := len(fr.frags)
		if i+1 < len(offs) {
			e, ok := index[offs[i+1]]
			if !ok {
				return malformed("%s: frame %d at offset %d, which is not the start of a fragment", table, i+1, offs[i+1])
			}
			end = e
		}
		sp := span{first: first, n: end - first, limit: -1}
		if lens != nil {
			var total int64
			for _, f := range fr.frags[first:end] {
				total += f.Len()
			}
			if lens[i] > total {
				return malformed("%s: frame %d of %d bytes in fragments of %d bytes", table, i, lens[i], total)
			}
			sp.limit = lens[i]
		}
		fr.spans[i] = sp
	}
	if fr.spans[0].first != 0 {
		return malformed("%s: first frame does not start at the first fragment", table)
	}
	return nil
}

// isJPEGFamily reports whether a transfer syntax's frames are JPEG (ISO 10918 or JPEG-LS)
// codestreams that start with SOI.
func isJPEGFamily(uid string) bool {
	switch uid {
	case JPEGBaselineUID, JPEGExtendedUID, "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
		"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81":
		return true
	}
	return false
}

// check returns ErrFrameRange unless 0 <= i < Count().
func (fr *Frames) check(i int) error {
	if i < 0 || i >= fr.info.Frames {
		return fmt.Errorf("%w: frame %d of %d", ErrFrameRange, i, fr.info.Frames)
	}
	return nil
}

// Size returns the size in bytes of frame i as stored (what Raw returns).
func (fr *Frames) Size(i int) (int64, error) {
	if err := fr.check(i); err != nil {
		return 0, err
	}
	if fr.frags == nil {
		return fr.info.FrameSize(), nil
	}
	sp := fr.spans[i]
	if sp.limit >= 0 {
		return sp.limit, nil
	}
	var n int64
	for _, f := range fr.frags[sp.first : sp.first+sp.n] {
		n += f.Len()
	}
	return n, nil
}

// Reader returns a reader of frame i as stored (the concatenated fragments of an
// encapsulated frame; the bytes of a native frame in the data set's byte order) and its
// size. It streams from the source: nothing is read before the caller reads.
func (fr *Frames) Reader(i int) (io.Reader, int64, error) {
	size, err := fr.Size(i)
	if err != nil {
		return nil, 0, err
	}
	if fr.frags != nil {
		sp := fr.spans[i]
		rs := make([]io.Reader, sp.n)
		for k, f := range fr.frags[sp.first : sp.first+sp.n] {
			rs[k] = f.Reader()
		}
		return io.LimitReader(io.MultiReader(rs...), size), size, nil
	}
	start := int64(i) * fr.info.frameBits()
	if start%8 != 0 {
		b, err := fr.Raw(i)
		if err != nil {
			return nil, 0, err
		}
		return bytes.NewReader(b), size, nil
	}
	ra, err := fr.readerAt()
	if err != nil {
		return nil, 0, err
	}
	return io.NewSectionReader(ra, start/8, size), size, nil
}

// readerAt returns random access to the native pixel data.
func (fr *Frames) readerAt() (io.ReaderAt, error) {
	r, err := fr.pix.ValueReader()
	if err != nil {
		return nil, fmt.Errorf("pixel: pixel data: %w", err)
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return nil, errors.New("pixel: pixel data source has no random access")
	}
	return ra, nil
}

// Raw returns frame i as stored (see Reader). A bit-packed frame that does not start on
// a byte boundary in the file is returned shifted to start at bit 0 of its first byte.
func (fr *Frames) Raw(i int) ([]byte, error) {
	size, err := fr.Size(i)
	if err != nil {
		return nil, err
	}
	if fr.frags != nil {
		sp := fr.spans[i]
		if sp.n == 1 {
			b, err := fr.frags[sp.first].Value()
			if err != nil {
				return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
			}
			return b[:size], nil
		}
		out := make([]byte, 0, size)
		for _, f := range fr.frags[sp.first : sp.first+sp.n] {
			b, err := f.Value()
			if err != nil {
				return nil, fmt.Errorf("pixel: frame %d: %w", i, err)
			}
			out = append(out, b...)
		}
		return out[:size], nil
	}
	ra, err := fr.readerAt()
	if err != nil {
		return nil, err
	}
	bits := fr.info.frameBits()
	start := int64(i) * bits
	shift := uint(start % 8)
	n := size
	if shift != 0 && (start+bits+7)/8-start/8 > size {
		n++
	}
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, start/8); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("pixel: read frame %d (%d bytes at %d): %w", i, n, start/8, err)
	}
	if shift != 0 {
		// Bits are packed from the least significant bit (PS3.5 8.1.1): bit k of the
		// frame is bit (shift+k) of the data.
		for k := int64(0); k < size; k++ {
			v := buf[k] >> shift
			if k+1 < n {
				v |= buf[k+1] << (8 - shift)
			}
			buf[k] = v
		}
		buf = buf[:size]
	}
	return buf, nil
}
