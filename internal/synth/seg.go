package synth

import (
	"fmt"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// segAlgorithm names the algorithm that made a segmentation: the generator itself,
// which knows the phantom's lesion exactly.
const (
	segAlgorithmName    = "cie synth phantom"
	segAlgorithmVersion = "1"
)

// segmentation builds the DICOM Segmentation (PS3.3 A.51) of a SEG series: BINARY,
// one segment (the lesion), one frame per source slice that contains it.
func (g *Generator) segmentation(se *Series) (*Instance, error) {
	src := se.Source
	if src == nil {
		return nil, fmt.Errorf("synth: segmentation %s has no source series", se.UID)
	}
	st := se.Study
	frames := g.lesionFrames(src)
	if len(frames) == 0 {
		return nil, fmt.Errorf("synth: segmentation %s: the lesion is in no slice of %s", se.UID, src.UID)
	}
	ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
	e := newEnc(ds)
	uid := g.sopInstanceUID(se, 0)
	created := se.Time
	g.patientModule(e, st)
	g.seriesModule(e, se, SegmentationStorage, uid, created)
	e.str(tags.ImageType, "DERIVED", "PRIMARY")
	e.date(tags.ContentDate, created)
	e.tm(tags.ContentTime, created)
	e.is(tags.InstanceNumber, 1)
	e.str(tags.ContentLabel, "LESION")
	e.str(tags.ContentDescription, "Lesion of the synthetic phantom")
	e.str(tags.ContentCreatorName, st.performing)

	// Enhanced General Equipment.
	e.str(tags.Manufacturer, "cie")
	e.str(tags.ManufacturerModelName, "cie synth")
	e.str(tags.DeviceSerialNumber, st.aePrefix+"-SEG-0001")
	e.str(tags.SoftwareVersions, segAlgorithmVersion)
	e.str(tags.StationName, st.aePrefix+"AI")

	// Image Pixel and Segmentation Image.
	gm := src.geom
	e.us(tags.SamplesPerPixel, 1)
	e.str(tags.PhotometricInterpretation, "MONOCHROME2")
	e.us(tags.Rows, uint16(gm.rows))
	e.us(tags.Columns, uint16(gm.cols))
	e.us(tags.BitsAllocated, 1)
	e.us(tags.BitsStored, 1)
	e.us(tags.HighBit, 0)
	e.us(tags.PixelRepresentation, 0)
	e.str(tags.LossyImageCompression, "00")
	e.str(tags.SegmentationType, "BINARY")
	e.str(tags.BurnedInAnnotation, "NO")

	seg := e.item()
	seg.us(tags.SegmentNumber, 1)
	seg.str(tags.SegmentLabel, "Lesion")
	seg.str(tags.SegmentDescription, st.Patient.cancer.diagnosis.Meaning)
	seg.str(tags.SegmentAlgorithmType, "AUTOMATIC")
	seg.str(tags.SegmentAlgorithmName, segAlgorithmName)
	seg.seq(tags.SegmentedPropertyCategoryCodeSequence, seg.code(codeSegCategory))
	seg.seq(tags.SegmentedPropertyTypeCodeSequence, seg.code(codeSegType))
	seg.seq(tags.AnatomicRegionSequence, seg.code(st.Patient.cancer.site))
	e.seq(tags.SegmentSequence, seg)

	// Multi-frame Dimension: segment number, then position.
	dimOrg := g.k.uid(fmt.Sprintf("p/%d/s/%d/r/%d/dim", st.Patient.Index, st.Index, se.Index))
	org := e.item()
	org.str(tags.DimensionOrganizationUID, dimOrg)
	e.seq(tags.DimensionOrganizationSequence, org)
	e.str(tags.DimensionOrganizationType, "3D")
	d1 := e.item()
	d1.str(tags.DimensionOrganizationUID, dimOrg)
	d1.at(tags.DimensionIndexPointer, tags.ReferencedSegmentNumber)
	d1.at(tags.FunctionalGroupPointer, tags.SegmentIdentificationSequence)
	d1.str(tags.DimensionDescriptionLabel, "ReferencedSegmentNumber")
	d2 := e.item()
	d2.str(tags.DimensionOrganizationUID, dimOrg)
	d2.at(tags.DimensionIndexPointer, tags.ImagePositionPatient)
	d2.at(tags.FunctionalGroupPointer, tags.PlanePositionSequence)
	d2.str(tags.DimensionDescriptionLabel, "ImagePositionPatient")
	e.seq(tags.DimensionIndexSequence, d1, d2)

	// Shared functional groups: orientation and pixel measures.
	shared := e.item()
	po := shared.item()
	po.ds(tags.ImageOrientationPatient, 1, 0, 0, 0, 1, 0)
	shared.seq(tags.PlaneOrientationSequence, po)
	pm := shared.item()
	pm.ds(tags.PixelSpacing, gm.spacing, gm.spacing)
	pm.ds(tags.SliceThickness, gm.thickness)
	pm.ds(tags.SpacingBetweenSlices, gm.thickness)
	shared.seq(tags.PixelMeasuresSequence, pm)
	e.seq(tags.SharedFunctionalGroupsSequence, shared)

	// Per-frame functional groups and the frames' bits.
	les := lesionOf(st)
	n := gm.rows * gm.cols
	bits := make([]byte, (n*len(frames)+7)/8)
	bits = append(bits, make([]byte, len(bits)%2)...)
	perFrame := make([]*enc, len(frames))
	refs := make([]*enc, 0, src.Instances)
	for k := range src.Instances {
		ri := e.item()
		ri.str(tags.ReferencedSOPClassUID, sopClass(src))
		ri.str(tags.ReferencedSOPInstanceUID, g.sopInstanceUID(src, k))
		refs = append(refs, ri)
	}
	for f, k := range frames {
		z := gm.z(k)
		fg := e.item()
		der := fg.item()
		srcImg := der.item()
		srcImg.str(tags.ReferencedSOPClassUID, sopClass(src))
		srcImg.str(tags.ReferencedSOPInstanceUID, g.sopInstanceUID(src, k))
		srcImg.seq(tags.PurposeOfReferenceCodeSequence, srcImg.code(codeSourceImage))
		der.seq(tags.SourceImageSequence, srcImg)
		der.seq(tags.DerivationCodeSequence, der.code(codeSegmentation))
		fg.seq(tags.DerivationImageSequence, der)
		fc := fg.item()
		fc.ul(tags.DimensionIndexValues, 1, uint32(f+1))
		fg.seq(tags.FrameContentSequence, fc)
		pp := fg.item()
		pp.ds(tags.ImagePositionPatient, gm.x0, gm.y0, z)
		fg.seq(tags.PlanePositionSequence, pp)
		si := fg.item()
		si.us(tags.ReferencedSegmentNumber, 1)
		fg.seq(tags.SegmentIdentificationSequence, si)
		perFrame[f] = fg

		i0, i1, j0, j1 := lesionRect(gm, les)
		for i := i0; i <= i1; i++ {
			for j := j0; j <= j1; j++ {
				if les.in(gm.x0+float64(j)*gm.spacing, gm.y0+float64(i)*gm.spacing, z) {
					b := f*n + i*gm.cols + j
					bits[b/8] |= 1 << (b % 8)
				}
			}
		}
	}
	e.seq(tags.PerFrameFunctionalGroupsSequence, perFrame...)
	e.is(tags.NumberOfFrames, len(frames))

	// Common Instance Reference: the source series.
	rs := e.item()
	rs.str(tags.SeriesInstanceUID, src.UID)
	rs.seq(tags.ReferencedInstanceSequence, refs...)
	e.seq(tags.ReferencedSeriesSequence, rs)
	e.set(tags.PixelData, dicom.OB, bits)
	if *e.err != nil {
		return nil, fmt.Errorf("synth: segmentation %s: %w", se.UID, *e.err)
	}
	f, err := dicom.NewFile(ds, dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID), SegmentationStorage, uid, g.sourceAE(se))
	if err != nil {
		return nil, fmt.Errorf("synth: segmentation %s: %w", se.UID, err)
	}
	return &Instance{Series: se, Number: 1, SOPClassUID: SegmentationStorage, SOPInstanceUID: uid, File: f}, nil
}
