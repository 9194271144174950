package synth

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// Instance is one generated DICOM instance with its place in the plan.
type Instance struct {
	// Series is the instance's series (and through it study and patient).
	Series *Series
	// Number is the Instance Number, from 1.
	Number int
	// SOPClassUID and SOPInstanceUID identify the instance.
	SOPClassUID, SOPInstanceUID string
	// File is the instance as a Part 10 file, explicit VR little endian.
	File *dicom.File
}

// sopInstanceUID returns the SOP Instance UID of instance k (0-based) of a series.
func (g *Generator) sopInstanceUID(se *Series, k int) string {
	return g.k.uid(fmt.Sprintf("p/%d/s/%d/r/%d/i/%d", se.Study.Patient.Index, se.Study.Index, se.Index, k))
}

// sopClass returns the SOP class of a series' instances.
func sopClass(se *Series) string {
	switch se.Modality {
	case "CT":
		return CTImageStorage
	case "MR":
		return MRImageStorage
	case "PT":
		return PETImageStorage
	}
	return SegmentationStorage
}

// patientModule writes the Patient, General Study and Patient Study modules.
func (g *Generator) patientModule(e *enc, st *Study) {
	p := st.Patient
	e.str(tags.SpecificCharacterSet, "ISO_IR 192")
	e.date(tags.StudyDate, st.Time)
	e.tm(tags.StudyTime, st.Time)
	e.str(tags.AccessionNumber, st.AccessionNumber)
	e.str(tags.ReferringPhysicianName, st.ReferringPhysician)
	e.str(tags.StudyDescription, st.Description)
	e.str(tags.PatientName, p.Name)
	e.str(tags.PatientID, p.ID)
	e.str(tags.IssuerOfPatientID, st.aePrefix)
	e.date(tags.PatientBirthDate, p.BirthDate)
	e.str(tags.PatientSex, p.Sex)
	if p.NationalID != "" {
		it := e.item()
		it.str(tags.PatientID, p.NationalID)
		it.str(tags.IssuerOfPatientID, p.NationalIDIssuer)
		it.str(tags.TypeOfPatientID, "TEXT")
		e.seq(tags.OtherPatientIDsSequence, it)
	}
	age := st.Time.Year() - p.BirthDate.Year()
	if st.Time.YearDay() < p.BirthDate.YearDay() {
		age--
	}
	e.str(tags.PatientAge, fmt.Sprintf("%03dY", age))
	e.ds(tags.PatientSize, p.HeightM)
	e.ds(tags.PatientWeight, p.WeightKg)
	if p.Address != "" {
		e.str(tags.PatientAddress, p.Address)
	}
	if p.Phone != "" {
		e.str(tags.PatientTelephoneNumbers, p.Phone)
	}
	e.str(tags.StudyInstanceUID, st.UID)
	e.str(tags.StudyID, st.ID)
}

// seriesModule writes the General Series, Frame of Reference and General Equipment
// modules and the SOP Common module.
func (g *Generator) seriesModule(e *enc, se *Series, sopClassUID, sopUID string, created time.Time) {
	st := se.Study
	e.date(tags.InstanceCreationDate, created)
	e.tm(tags.InstanceCreationTime, created)
	e.str(tags.SOPClassUID, sopClassUID)
	e.str(tags.SOPInstanceUID, sopUID)
	e.date(tags.SeriesDate, se.Time)
	e.tm(tags.SeriesTime, se.Time)
	e.str(tags.Modality, se.Modality)
	e.str(tags.InstitutionName, st.Institution)
	e.str(tags.InstitutionAddress, st.InstitutionAddress)
	e.str(tags.InstitutionalDepartmentName, st.Department)
	e.str(tags.SeriesDescription, se.Description)
	e.str(tags.PerformingPhysicianName, st.performing)
	e.str(tags.OperatorsName, st.operator)
	e.str(tags.BodyPartExamined, se.BodyPart)
	if se.BodyPart == "BREAST" {
		// A paired body part needs Laterality (Type 2C); a bilateral scan leaves it empty.
		e.str(tags.Laterality, "")
	}
	e.str(tags.ProtocolName, se.Protocol)
	e.str(tags.SeriesInstanceUID, se.UID)
	e.is(tags.SeriesNumber, se.Number)
	e.str(tags.FrameOfReferenceUID, st.FrameOfReferenceUID)
	e.str(tags.PositionReferenceIndicator, "")
	e.date(tags.PerformedProcedureStepStartDate, st.Time)
	e.tm(tags.PerformedProcedureStepStartTime, st.Time)
	e.str(tags.PerformedProcedureStepID, st.ID)
	e.str(tags.PerformedProcedureStepDescription, st.Description)
	if se.Modality != "SEG" {
		e.str(tags.Manufacturer, se.sc.manufacturer)
		e.str(tags.ManufacturerModelName, se.sc.model)
		e.str(tags.StationName, se.station)
		e.str(tags.DeviceSerialNumber, se.serial)
		e.str(tags.SoftwareVersions, se.sc.software)
		e.seq(tags.AnatomicRegionSequence, e.code(se.region))
	}
}

// image builds instance k of an image series whose tissue labels are lab.
func (g *Generator) image(se *Series, k int, lab []tissue) (*Instance, error) {
	st := se.Study
	ds := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
	e := newEnc(ds)
	class := sopClass(se)
	uid := g.sopInstanceUID(se, k)
	gm := se.geom
	acq := se.Time.Add(time.Duration(k) * 350 * time.Millisecond)
	if se.kind == kindPET {
		acq = se.Time
	}
	g.patientModule(e, st)
	g.seriesModule(e, se, class, uid, acq.Add(40*time.Second))
	e.date(tags.AcquisitionDate, acq)
	e.tm(tags.AcquisitionTime, acq)
	e.date(tags.ContentDate, acq)
	e.tm(tags.ContentTime, acq)
	e.is(tags.AcquisitionNumber, 1)
	e.is(tags.InstanceNumber, k+1)
	if se.Modality != "PT" { // PET says it with Patient Orientation Code Sequence
		e.str(tags.PatientPosition, map[bool]string{true: "HFP", false: "HFS"}[se.anat == anatBreast && se.Modality == "MR"])
	}
	z := gm.z(k)
	e.ds(tags.ImagePositionPatient, gm.x0, gm.y0, z)
	e.ds(tags.ImageOrientationPatient, 1, 0, 0, 0, 1, 0)
	e.ds(tags.SliceLocation, z)
	e.ds(tags.SliceThickness, gm.thickness)
	e.us(tags.SamplesPerPixel, 1)
	e.str(tags.PhotometricInterpretation, "MONOCHROME2")
	e.us(tags.Rows, uint16(gm.rows))
	e.us(tags.Columns, uint16(gm.cols))
	e.ds(tags.PixelSpacing, gm.spacing, gm.spacing)
	e.us(tags.BitsAllocated, 16)
	e.us(tags.PixelRepresentation, 0)
	e.str(tags.BurnedInAnnotation, "NO")
	if se.contrast != "" {
		e.str(tags.ContrastBolusAgent, se.contrast)
		e.str(tags.ContrastBolusRoute, "IV")
		e.ds(tags.ContrastBolusVolume, float64(60+10*(st.Patient.Index%5)))
	}
	vals := g.pixels(se, k, lab)
	var slope, intercept float64 = 1, 0
	switch se.Modality {
	case "CT":
		g.ctModule(e, se, k)
		intercept = -1024
		e.us(tags.BitsStored, 12)
		e.us(tags.HighBit, 11)
		e.ds(tags.RescaleIntercept, intercept)
		e.ds(tags.RescaleSlope, 1)
		e.str(tags.RescaleType, "HU")
	case "MR":
		g.mrModule(e, se)
		e.us(tags.BitsStored, 12)
		e.us(tags.HighBit, 11)
	case "PT":
		slope = g.petModule(e, se, k)
		e.us(tags.BitsStored, 16)
		e.us(tags.HighBit, 15)
		e.ds(tags.RescaleIntercept, 0)
		e.ds(tags.RescaleSlope, slope)
	}
	pix := make([]byte, 2*len(vals))
	var lo, hi uint16 = math.MaxUint16, 0
	for i, v := range vals {
		var s float64
		switch se.Modality {
		case "CT":
			s = v - intercept
		case "PT":
			s = v / slope
		default:
			s = v
		}
		limit := 4095.0
		if se.Modality == "PT" {
			limit = 65535
		}
		u := uint16(math.Max(0, math.Min(limit, math.Round(s))))
		lo, hi = min(lo, u), max(hi, u)
		binary.LittleEndian.PutUint16(pix[2*i:], u)
	}
	e.us(tags.SmallestImagePixelValue, lo)
	e.us(tags.LargestImagePixelValue, hi)
	c, w := window(se, slope)
	e.ds(tags.WindowCenter, c)
	e.ds(tags.WindowWidth, w)
	e.set(tags.PixelData, dicom.OW, pix)
	if *e.err != nil {
		return nil, fmt.Errorf("synth: %s instance %d: %w", se.UID, k+1, *e.err)
	}
	f, err := dicom.NewFile(ds, dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID), class, uid, g.sourceAE(se))
	if err != nil {
		return nil, fmt.Errorf("synth: %s instance %d: %w", se.UID, k+1, err)
	}
	return &Instance{Series: se, Number: k + 1, SOPClassUID: class, SOPInstanceUID: uid, File: f}, nil
}

// sourceAE is the AE title of the modality (or the configured one).
func (g *Generator) sourceAE(se *Series) string {
	if g.opt.SourceAE != "" {
		return g.opt.SourceAE
	}
	if se.Modality == "SEG" {
		return se.Study.aePrefix + "AI"
	}
	return se.station
}

// window returns Window Center and Width (in rescaled units).
func window(se *Series, slope float64) (float64, float64) {
	switch se.kind {
	case kindCTLung:
		return -600, 1500
	case kindCTSoft, kindCTAC:
		return 40, 400
	case kindPET:
		return math.Round(2.5 * se.petSUV1()), math.Round(5 * se.petSUV1())
	case kindMRADC:
		return 1500, 3000
	case kindMRDWI:
		return 200, 400
	case kindMRT1Dyn:
		return 500, 1000
	}
	return 600, 1200
}

// ctModule writes the CT Image module's acquisition attributes.
func (g *Generator) ctModule(e *enc, se *Series, k int) {
	p := se.Study.Patient
	lowDose := se.kind == kindCTAC
	e.str(tags.ImageType, "ORIGINAL", "PRIMARY", "AXIAL")
	kvp := 120.0
	if p.WeightKg < 65 && !lowDose {
		kvp = 100
	}
	mas := math.Round(p.WeightKg*2.2 + float64(k%7))
	if lowDose {
		mas = math.Round(p.WeightKg * 0.5)
	}
	rot := 0.5
	e.ds(tags.KVP, kvp)
	e.ds(tags.DataCollectionDiameter, 500)
	e.ds(tags.ReconstructionDiameter, float64(se.geom.cols)*se.geom.spacing)
	e.ds(tags.DistanceSourceToDetector, 1085.6)
	e.ds(tags.DistanceSourceToPatient, 595)
	e.ds(tags.GantryDetectorTilt, 0)
	e.ds(tags.TableHeight, 140+float64(p.Index%20))
	e.str(tags.RotationDirection, "CW")
	e.is(tags.ExposureTime, int(rot*1000))
	e.is(tags.XRayTubeCurrent, int(mas/rot))
	e.is(tags.Exposure, int(mas))
	e.str(tags.FilterType, "FLAT")
	e.is(tags.GeneratorPower, int(kvp*mas/rot/1000))
	e.ds(tags.FocalSpots, 1.2)
	e.str(tags.ConvolutionKernel, se.kernel)
	e.ds(tags.RevolutionTime, rot)
	e.ds(tags.SingleCollimationWidth, 0.6)
	e.ds(tags.TotalCollimationWidth, 38.4)
	e.ds(tags.TableSpeed, 46)
	e.ds(tags.TableFeedPerRotation, 46*rot)
	e.ds(tags.SpiralPitchFactor, 1.2)
	e.ds(tags.CTDIvol, math.Round(mas*kvp*kvp/120/120*0.068*100)/100)
	e.seq(tags.CTDIPhantomTypeCodeSequence, e.code(codeBodyPhantom))
	e.ds(tags.SpacingBetweenSlices, se.geom.thickness)
}

// mrModule writes the MR Image module's acquisition attributes.
func (g *Generator) mrModule(e *enc, se *Series) {
	b := se.sc.fieldT
	type seq struct {
		scan, variant, options, acqType, name string
		tr, te, flip                          float64
		etl                                   int
	}
	var s seq
	imageType := []string{"ORIGINAL", "PRIMARY", "M", "ND"}
	switch se.kind {
	case kindMRT2:
		s = seq{"SE", `SK\SP\OSP`, "PFP", "2D", "*tse2d1_25", 5200, 104, 150, 25}
	case kindMRDWI:
		s = seq{"EP", `SK\SP`, "PFP\\FS", "2D", "*ep_b800t", 4800, 72, 90, 1}
		imageType = []string{"ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"}
	case kindMRADC:
		s = seq{"EP", `SK\SP`, "PFP\\FS", "2D", "*ep_b50_800", 4800, 72, 90, 1}
		imageType = []string{"DERIVED", "PRIMARY", "DIFFUSION", "ADC"}
	default:
		s = seq{"GR", `SP\SK`, "PFP\\FS", "3D", "*fl3d1", 4.4, 1.7, 12, 1}
	}
	if b < 2 {
		s.tr, s.te = s.tr*1.1, s.te*1.05
	}
	e.str(tags.ImageType, imageType...)
	e.str(tags.ScanningSequence, s.scan)
	e.str(tags.SequenceVariant, s.variant)
	e.str(tags.ScanOptions, s.options)
	e.str(tags.MRAcquisitionType, s.acqType)
	e.str(tags.SequenceName, s.name)
	e.str(tags.AngioFlag, "N")
	e.ds(tags.RepetitionTime, math.Round(s.tr*100)/100)
	e.ds(tags.EchoTime, math.Round(s.te*100)/100)
	e.ds(tags.NumberOfAverages, 1)
	e.ds(tags.ImagingFrequency, math.Round(42.577478*b*1e4)/1e4) // 1H gyromagnetic ratio / 2π, MHz/T (CODATA 2018)
	e.str(tags.ImagedNucleus, "1H")
	e.is(tags.EchoNumbers, 1)
	e.ds(tags.MagneticFieldStrength, b)
	e.ds(tags.SpacingBetweenSlices, se.geom.thickness)
	e.is(tags.NumberOfPhaseEncodingSteps, se.geom.rows*3/4)
	e.is(tags.EchoTrainLength, s.etl)
	e.ds(tags.PercentSampling, 100)
	e.ds(tags.PercentPhaseFieldOfView, 100)
	e.ds(tags.PixelBandwidth, 200)
	e.str(tags.ReceiveCoilName, map[anatomy]string{anatBreast: "BreastCoil", anatPelvis: "Body18"}[se.anat])
	e.str(tags.TransmitCoilName, "Body")
	e.us(tags.AcquisitionMatrix, 0, uint16(se.geom.cols), uint16(se.geom.rows*3/4), 0)
	e.str(tags.InPlanePhaseEncodingDirection, "ROW")
	e.ds(tags.FlipAngle, s.flip)
	e.ds(tags.SAR, 1.2)
	if se.temporal > 0 {
		e.is(tags.TemporalPositionIdentifier, se.temporal)
		e.is(tags.NumberOfTemporalPositions, se.temporals)
	}
}

// petDose returns the injected FDG activity (Bq) and the injection time of a series.
func (se *Series) petDose() (float64, time.Time) {
	p := se.Study.Patient
	dose := math.Round(p.WeightKg*3.5) * 1e6 // 3.5 MBq/kg (EANM procedure guideline range)
	return dose, se.Time.Add(-time.Duration(55+p.Index%15) * time.Minute)
}

// petSUV1 returns the activity concentration (Bq/ml) at the series' start of SUV 1.
func (se *Series) petSUV1() float64 {
	dose, inj := se.petDose()
	dt := se.Time.Sub(inj).Seconds()
	return dose * math.Exp(-math.Ln2*dt/f18HalfLife) / (se.Study.Patient.WeightKg * 1000)
}

// petModule writes the PET Series, PET Isotope and PET Image modules and returns the
// rescale slope.
func (g *Generator) petModule(e *enc, se *Series, k int) float64 {
	dose, inj := se.petDose()
	e.str(tags.ImageType, "ORIGINAL", "PRIMARY")
	e.str(tags.SeriesType, "WHOLE BODY", "IMAGE")
	e.str(tags.Units, "BQML")
	e.str(tags.CountsSource, "EMISSION")
	e.str(tags.CorrectedImage, "NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN")
	e.str(tags.RandomsCorrectionMethod, "DLYD")
	e.str(tags.AttenuationCorrectionMethod, "measured,CT")
	e.str(tags.ScatterCorrectionMethod, "Model-based")
	e.str(tags.DecayCorrection, "START")
	e.str(tags.ReconstructionMethod, "OSEM 3i21s")
	e.str(tags.CollimatorType, "NONE")
	e.us(tags.NumberOfSlices, uint16(se.geom.slices))
	e.is(tags.AxialAcceptance, 17)
	e.is(tags.AxialMash, 5, 6)
	e.ds(tags.ReconstructionDiameter, float64(se.geom.cols)*se.geom.spacing)
	e.ds(tags.SpacingBetweenSlices, se.geom.thickness)
	e.str(tags.ConvolutionKernel, "Gaussian 4.0")
	ri := e.item()
	ri.str(tags.Radiopharmaceutical, "Fludeoxyglucose")
	ri.tm(tags.RadiopharmaceuticalStartTime, inj)
	ri.str(tags.RadiopharmaceuticalStartDateTime, inj.Format("20060102150405"))
	ri.ds(tags.RadionuclideTotalDose, dose)
	ri.ds(tags.RadionuclideHalfLife, f18HalfLife)
	ri.ds(tags.RadionuclidePositronFraction, f18PositronFraction)
	ri.seq(tags.RadionuclideCodeSequence, ri.code(codeF18))
	ri.seq(tags.RadiopharmaceuticalCodeSequence, ri.code(codeFDG))
	e.seq(tags.RadiopharmaceuticalInformationSequence, ri)
	e.seq(tags.PatientOrientationCodeSequence)
	e.seq(tags.PatientGantryRelationshipCodeSequence)
	e.is(tags.ImageIndex, k+1)
	e.ds(tags.FrameReferenceTime, 0)
	e.is(tags.ActualFrameDuration, 120000)
	e.ds(tags.DecayFactor, 1)
	e.ds(tags.DoseCalibrationFactor, 1)
	e.ds(tags.SliceSensitivityFactor, 1)
	maxSUV := math.Max(15, se.Study.Patient.lesion.suv) * 1.5
	return math.Round(maxSUV*se.petSUV1()/32000*10000) / 10000
}
