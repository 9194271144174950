package dicom

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Dataset is an ordered list of elements: a file's meta group, its main data set or an
// item of a sequence. Elements are kept in the order of the file; Set inserts new ones in
// tag order.
type Dataset struct {
	elems []*Element
	enc   encoding

	// Framing of an item as read (nil for data sets that are not items).
	hdr   []byte // item header
	delim []byte // item delimitation item, for undefined length

	// Groups in which elements were added, replaced or deleted (a few at most:
	// a list is cheaper than a map).
	changedGroups []uint16
}

// Implicit reports whether the data set is encoded with implicit VR.
func (d *Dataset) Implicit() bool { return d.enc.implicit }

// ByteOrder returns the byte order of the data set's numbers: values of binary VRs (US,
// UL, SS, SL, FL, FD, AT, OW, ...) are in this order as returned by Element.Value and as
// given to Set.
func (d *Dataset) ByteOrder() binary.ByteOrder { return d.enc.order() }

// Len returns the number of elements (not counting elements inside items).
func (d *Dataset) Len() int { return len(d.elems) }

// Elements returns the elements in order. The slice must not be modified; use Set and
// Delete.
func (d *Dataset) Elements() []*Element { return d.elems }

// Get returns the element with the tag, or nil.
func (d *Dataset) Get(tag Tag) *Element {
	if i := d.index(tag); i >= 0 {
		return d.elems[i]
	}
	return nil
}

// getOrNil is Get on a data set that may be nil.
func (d *Dataset) getOrNil(tag Tag) *Element {
	if d == nil {
		return nil
	}
	return d.Get(tag)
}

func (d *Dataset) index(tag Tag) int {
	for i, e := range d.elems {
		if e.Tag == tag {
			return i
		}
	}
	return -1
}

// Set adds an element with the value, or replaces the element with the tag, keeping its
// place. The value must be encoded as the data set expects (text padded to even length
// as its VR requires, numbers in ByteOrder) and is not copied. Set refuses sequences
// (VR SQ), item tags, odd lengths and values too long for the VR's length field.
func (d *Dataset) Set(tag Tag, vr VR, value []byte) error {
	switch {
	case tag.Group() == 0xFFFE:
		return fmt.Errorf("dicom: set %s: %w: item and delimiter tags are not elements", tag, ErrInvalidValue)
	case vr == SQ:
		return fmt.Errorf("dicom: set %s: %w: a sequence cannot be set from bytes", tag, ErrInvalidValue)
	case !validVRBytes([]byte{byte(vr >> 8), byte(vr)}):
		return fmt.Errorf("dicom: set %s: %w: VR %#04x is not two upper case letters", tag, ErrInvalidValue, uint16(vr))
	case len(value)%2 != 0:
		return fmt.Errorf("dicom: set %s: %w: odd value length %d", tag, ErrInvalidValue, len(value))
	case !d.enc.implicit && !vr.LongLength() && len(value) > 0xFFFF:
		return fmt.Errorf("dicom: set %s: %w: %d bytes do not fit the 2-byte length of VR %s", tag, ErrInvalidValue, len(value), vr)
	case int64(len(value)) >= undefinedLength:
		return fmt.Errorf("dicom: set %s: %w: %d bytes do not fit a 4-byte length", tag, ErrInvalidValue, len(value))
	}
	d.put(&Element{Tag: tag, VR: vr, value: value, changed: true})
	return nil
}

// put adds e, or replaces the element with its tag in place.
func (d *Dataset) put(e *Element) {
	tag := e.Tag
	d.markGroup(tag)
	if i := d.index(tag); i >= 0 {
		d.elems[i] = e
		return
	}
	i := len(d.elems)
	for i > 0 && d.elems[i-1].Tag > tag {
		i--
	}
	d.elems = append(d.elems, nil)
	copy(d.elems[i+1:], d.elems[i:])
	d.elems[i] = e
}

// NewItem returns an empty data set encoded like d (implicit or explicit VR, byte order),
// to be filled with Set and given to SetSequence as an item.
func (d *Dataset) NewItem() *Dataset { return &Dataset{enc: d.enc} }

// SetSequence adds a sequence element (VR SQ) with the items, or replaces the element with
// the tag, keeping its place; nil or no items make an empty sequence. The sequence and any
// new items (from NewItem) are written with defined lengths; items taken from another
// sequence keep their own framing.
func (d *Dataset) SetSequence(tag Tag, items []*Dataset) error {
	if tag.Group() == 0xFFFE {
		return fmt.Errorf("dicom: set %s: %w: item and delimiter tags are not elements", tag, ErrInvalidValue)
	}
	for i, it := range items {
		if it == nil {
			return fmt.Errorf("dicom: set %s: %w: item %d is nil", tag, ErrInvalidValue, i)
		}
	}
	d.put(&Element{Tag: tag, VR: SQ, parts: &parts{items: items}, sequence: true, changed: true})
	return nil
}

// Delete removes the element with the tag and reports whether there was one.
func (d *Dataset) Delete(tag Tag) bool {
	i := d.index(tag)
	if i < 0 {
		return false
	}
	d.markGroup(tag)
	d.elems = append(d.elems[:i], d.elems[i+1:]...)
	return true
}

// DeleteFunc removes, in one pass, every element (not counting elements inside items) for
// which del returns true, and returns how many it removed. del sees the elements in
// order and may change their items, but must not add or delete elements of d. Deleting
// many elements this way costs one pass over the data set, where Delete moves the
// elements after each deleted one.
func (d *Dataset) DeleteFunc(del func(*Element) bool) int {
	j := 0
	for i, e := range d.elems {
		if del(e) {
			d.markGroup(e.Tag)
			continue
		}
		if i != j {
			d.elems[j] = e
		}
		j++
	}
	n := len(d.elems) - j
	clear(d.elems[j:])
	d.elems = d.elems[:j]
	return n
}

func (d *Dataset) markGroup(tag Tag) {
	if g := tag.Group(); !slices.Contains(d.changedGroups, g) {
		d.changedGroups = append(d.changedGroups, g)
	}
}

// Walk calls fn for every element in order, descending into the items of sequences after
// their sequence element; path holds the tags of the enclosing sequences (empty at the top
// level, and only valid during the call). Walk stops at the first error fn returns.
func (d *Dataset) Walk(fn func(path []Tag, e *Element) error) error {
	return d.walk(nil, fn)
}

func (d *Dataset) walk(path []Tag, fn func([]Tag, *Element) error) error {
	for _, e := range d.elems {
		if err := fn(path, e); err != nil {
			return err
		}
		for _, it := range e.Items() {
			if err := it.walk(append(path, e.Tag), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirty reports whether anything in the data set must be encoded anew.
func (d *Dataset) dirty() bool {
	if len(d.changedGroups) > 0 {
		return true
	}
	for _, e := range d.elems {
		if e.dirty() {
			return true
		}
	}
	return false
}

// groupDirty reports whether group g of the data set changed.
func (d *Dataset) groupDirty(g uint16) bool {
	if slices.Contains(d.changedGroups, g) {
		return true
	}
	for _, e := range d.elems {
		if e.Tag.Group() == g && e.dirty() {
			return true
		}
	}
	return false
}
