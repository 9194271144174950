package dicom

import (
	"bytes"
	"testing"
)

func TestNewFileRoundTrip(t *testing.T) {
	for _, uid := range []string{ImplicitVRLittleEndianUID, ExplicitVRLittleEndianUID, ExplicitVRBigEndianUID, DeflatedExplicitVRLittleEndianUID} {
		t.Run(uid, func(t *testing.T) {
			ts := TransferSyntaxFor(uid)
			ds := NewDataset(ts)
			must(t, ds.Set(NewTag(0x0008, 0x0016), UI, PadText(UI, "1.2.840.10008.5.1.4.1.1.7")))
			must(t, ds.Set(NewTag(0x0008, 0x0018), UI, PadText(UI, "1.2.3.4")))
			must(t, ds.Set(NewTag(0x0010, 0x0010), PN, PadText(PN, "Doe^Jane")))
			item := ds.NewItem()
			must(t, item.Set(NewTag(0x0008, 0x0100), SH, PadText(SH, "T-D0050")))
			must(t, ds.SetSequence(NewTag(0x0008, 0x2218), []*Dataset{item}))
			f, err := NewFile(ds, ts, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4", "CIE")
			must(t, err)
			var buf bytes.Buffer
			if _, err := f.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			g, err := Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), ParseOptions{})
			must(t, err)
			if g.TS.UID != uid {
				t.Errorf("transfer syntax %q, want %q", g.TS.UID, uid)
			}
			if got := g.Dataset.Text(NewTag(0x0010, 0x0010)); got != "Doe^Jane" {
				t.Errorf("patient name %q", got)
			}
			if got := g.Meta.Text(NewTag(2, 3)); got != "1.2.3.4" {
				t.Errorf("media storage SOP instance %q", got)
			}
			seq := g.Dataset.Get(NewTag(0x0008, 0x2218))
			if seq == nil || len(seq.Items()) != 1 || seq.Items()[0].Text(NewTag(0x0008, 0x0100)) != "T-D0050" {
				t.Errorf("sequence did not survive: %+v", seq)
			}
			gl := g.Meta.Get(FileMetaGroupLengthTag)
			v, _ := gl.Value()
			var want int64
			for _, e := range g.Meta.Elements()[1:] {
				want += elementSize(g.Meta.enc, e)
			}
			if n := int64(v[0]) | int64(v[1])<<8 | int64(v[2])<<16 | int64(v[3])<<24; n != want {
				t.Errorf("meta group length %d, want %d", n, want)
			}
			// Written again unchanged, the bytes are the same.
			var again bytes.Buffer
			if _, err := g.WriteTo(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Errorf("rewrite differs")
			}
		})
	}
}

func TestParseDatasetRoundTrip(t *testing.T) {
	for _, uid := range []string{ImplicitVRLittleEndianUID, ExplicitVRLittleEndianUID, DeflatedExplicitVRLittleEndianUID} {
		ts := TransferSyntaxFor(uid)
		ds := NewDataset(ts)
		must(t, ds.Set(NewTag(0x0000, 0x0100), US, []byte{0x01, 0x00}))
		must(t, ds.Set(NewTag(0x0010, 0x0020), LO, PadText(LO, "ID1")))
		var buf bytes.Buffer
		if _, err := ds.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		if ts.Deflated {
			// A bare data set is written in its element encoding; deflating is the
			// transport's business. Parse the plain bytes as explicit VR.
			ts = TransferSyntaxFor(ExplicitVRLittleEndianUID)
		}
		got, err := ParseDataset(bytes.NewReader(raw), int64(len(raw)), ts, ParseOptions{})
		must(t, err)
		if got.Text(NewTag(0x0010, 0x0020)) != "ID1" || got.Len() != 2 {
			t.Errorf("%s: got %d elements, patient ID %q", uid, got.Len(), got.Text(NewTag(0x0010, 0x0020)))
		}
	}
	if _, err := ParseDataset(bytes.NewReader([]byte{1, 2, 3}), 3, TransferSyntaxFor(ImplicitVRLittleEndianUID), ParseOptions{}); err == nil {
		t.Error("3 bytes parsed as a data set")
	}
}

func TestNewFileRefusesMismatch(t *testing.T) {
	ds := NewDataset(TransferSyntaxFor(ImplicitVRLittleEndianUID))
	if _, err := NewFile(ds, TransferSyntaxFor(ExplicitVRLittleEndianUID), "1.2", "1.2.3", ""); err == nil {
		t.Error("implicit data set accepted as explicit")
	}
	if _, err := NewFile(ds, TransferSyntaxFor(ImplicitVRLittleEndianUID), "", "1.2.3", ""); err == nil {
		t.Error("empty SOP class accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
