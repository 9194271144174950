package tags_test

import (
	"testing"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/dict"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

func TestConstantsMatchDictionary(t *testing.T) {
	for kw, tag := range map[string]dicom.Tag{
		"PatientName":           tags.PatientName,
		"SOPInstanceUID":        tags.SOPInstanceUID,
		"PixelData":             tags.PixelData,
		"TransferSyntaxUID":     tags.TransferSyntaxUID,
		"ReferencedSOPSequence": tags.ReferencedSOPSequence,
	} {
		e, ok := dict.ByKeyword(kw)
		if !ok {
			t.Fatalf("%s not in the dictionary", kw)
		}
		if dicom.Tag(e.Tag) != tag {
			t.Errorf("tags.%s = %s, dictionary says %08X", kw, tag, e.Tag)
		}
	}
	if tags.PatientName != dicom.NewTag(0x0010, 0x0010) {
		t.Errorf("PatientName = %s", tags.PatientName)
	}
}
