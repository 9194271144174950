package index

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/charset"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// ErrMissingUID is returned by FromDataset for a data set without a Study, Series or SOP
// Instance UID: it cannot be indexed.
var ErrMissingUID = errors.New("missing identifying UID")

// Record is what the index keeps of one instance. Text is UTF-8.
type Record struct {
	PatientID, PatientName, BirthDate, Sex                                   string
	StudyUID, StudyDate, StudyTime, Accession, StudyID, StudyDesc, Referring string
	SeriesUID, Modality, SeriesDesc, BodyPart, PerformedDate, PerformedTime  string
	SeriesNumber                                                             *int
	// Manufacturer is the series' Manufacturer (0008,0070) as the file gives it.
	Manufacturer                         string
	SOPUID, SOPClassUID, TransferSyntax  string
	InstanceNumber                       *int
	Rows, Columns, Frames, BitsAllocated int
	// Size and SHA256 describe the stored file; BlobKey is where it is.
	Size    int64
	SHA256  string
	BlobKey string
	// Source says where the instance came from (e.g. "dimse:PACS1", "stow", "upload").
	Source string
}

// FromDataset reads the indexed attributes of a data set; ts is its transfer syntax UID.
func FromDataset(ds *dicom.Dataset, ts string) (Record, error) {
	cs := charset.Default()
	if e := ds.Get(dicom.SpecificCharacterSetTag); e != nil {
		if s, err := charset.Parse(strings.Split(ds.Text(dicom.SpecificCharacterSetTag), `\`)); err == nil {
			cs = s
		}
	}
	text := func(t dicom.Tag) string {
		e := ds.Get(t)
		if e == nil || e.IsSequence() || e.IsEncapsulated() {
			return ""
		}
		v, err := e.Value()
		if err != nil {
			return ""
		}
		vr := e.VR
		if vr == dicom.UN {
			vr = dicom.DictionaryVR(t)
		}
		if charset.UsesSpecificCharset(vr.String()) {
			return strings.TrimRight(cs.DecodeLossy(vr.String(), v), " \x00")
		}
		return dicom.TrimText(v)
	}
	num := func(t dicom.Tag) *int {
		s := strings.TrimSpace(text(t))
		if i := strings.IndexByte(s, '\\'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil
		}
		return &n
	}
	us := func(t dicom.Tag) int {
		e := ds.Get(t)
		if e == nil {
			return 0
		}
		v, err := e.Value()
		if err != nil || len(v) < 2 {
			return 0
		}
		return int(ds.ByteOrder().Uint16(v))
	}
	r := Record{
		PatientID: text(tags.PatientID), PatientName: text(tags.PatientName), BirthDate: text(tags.PatientBirthDate), Sex: text(tags.PatientSex),
		StudyUID: text(tags.StudyInstanceUID), StudyDate: text(tags.StudyDate), StudyTime: text(tags.StudyTime),
		Accession: text(tags.AccessionNumber), StudyID: text(tags.StudyID), StudyDesc: text(tags.StudyDescription),
		Referring: text(tags.ReferringPhysicianName),
		SeriesUID: text(tags.SeriesInstanceUID), Modality: text(tags.Modality), SeriesDesc: text(tags.SeriesDescription),
		BodyPart: text(tags.BodyPartExamined), PerformedDate: text(tags.PerformedProcedureStepStartDate),
		PerformedTime: text(tags.PerformedProcedureStepStartTime), SeriesNumber: num(tags.SeriesNumber),
		Manufacturer: text(tags.Manufacturer),
		SOPUID:       text(tags.SOPInstanceUID), SOPClassUID: text(tags.SOPClassUID), TransferSyntax: ts,
		InstanceNumber: num(tags.InstanceNumber), Rows: us(tags.Rows), Columns: us(tags.Columns), BitsAllocated: us(tags.BitsAllocated),
	}
	if f := num(tags.NumberOfFrames); f != nil {
		r.Frames = *f
	} else if ds.Get(dicom.PixelDataTag) != nil {
		r.Frames = 1
	}
	switch {
	case r.StudyUID == "":
		return r, fmt.Errorf("index: %w: no Study Instance UID (0020,000D)", ErrMissingUID)
	case r.SeriesUID == "":
		return r, fmt.Errorf("index: %w: no Series Instance UID (0020,000E)", ErrMissingUID)
	case r.SOPUID == "":
		return r, fmt.Errorf("index: %w: no SOP Instance UID (0008,0018)", ErrMissingUID)
	}
	return r, nil
}
