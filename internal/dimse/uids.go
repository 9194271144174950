package dimse

import "github.com/cancerimage/cie/internal/dicom"

// SOP class UIDs of the services this package provides (PS3.6 Annex A, PS3.4).
const (
	// VerificationSOPClass is the Verification SOP class (C-ECHO, PS3.4 Annex A).
	VerificationSOPClass = "1.2.840.10008.1.1"
	// PatientRootFind is the Patient Root Query/Retrieve Information Model - FIND SOP
	// class (PS3.4 C.6.1).
	PatientRootFind = "1.2.840.10008.5.1.4.1.2.1.1"
	// StudyRootFind is the Study Root Query/Retrieve Information Model - FIND SOP class
	// (PS3.4 C.6.2).
	StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1"
)

// Transfer syntax UIDs (PS3.5 10 and Annex A; PS3.6 Annex A) beyond the ones package dicom
// names.
const (
	JPEGBaselineUID       = "1.2.840.10008.1.2.4.50"
	JPEGExtendedUID       = "1.2.840.10008.1.2.4.51"
	JPEGLosslessUID       = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1UID    = "1.2.840.10008.1.2.4.70"
	JPEGLSLosslessUID     = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLosslessUID = "1.2.840.10008.1.2.4.81"
	JPEG2000LosslessUID   = "1.2.840.10008.1.2.4.90"
	JPEG2000UID           = "1.2.840.10008.1.2.4.91"
	JPEG2000MCLosslessUID = "1.2.840.10008.1.2.4.92"
	JPEG2000MCUID         = "1.2.840.10008.1.2.4.93"
	HTJ2KLosslessUID      = "1.2.840.10008.1.2.4.201"
	HTJ2KLosslessRPCLUID  = "1.2.840.10008.1.2.4.202"
	HTJ2KUID              = "1.2.840.10008.1.2.4.203"
	MPEG2MainUID          = "1.2.840.10008.1.2.4.100"
	MPEG2HighUID          = "1.2.840.10008.1.2.4.101"
	MPEG4HighUID          = "1.2.840.10008.1.2.4.102"
	MPEG4BDUID            = "1.2.840.10008.1.2.4.103"
	MPEG4High2DUID        = "1.2.840.10008.1.2.4.104"
	MPEG4High3DUID        = "1.2.840.10008.1.2.4.105"
	MPEG4StereoUID        = "1.2.840.10008.1.2.4.106"
	HEVCMainUID           = "1.2.840.10008.1.2.4.107"
	HEVCMain10UID         = "1.2.840.10008.1.2.4.108"
	RLELosslessUID        = "1.2.840.10008.1.2.5"
	SMPTE2110VideoUID     = "1.2.840.10008.1.2.7.1"
)

// uncompressedTS are the native transfer syntaxes in order of preference: explicit VR
// little endian first.
var uncompressedTS = []string{
	dicom.ExplicitVRLittleEndianUID,
	dicom.ImplicitVRLittleEndianUID,
	dicom.ExplicitVRBigEndianUID,
}

// DefaultTransferSyntaxes are the transfer syntaxes a Server accepts for storage when its
// Config names none: the uncompressed ones, deflate, and the compressed ones storescu and
// modalities offer (JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, high-throughput
// JPEG 2000, RLE, MPEG-2/4, HEVC, encapsulated uncompressed).
var DefaultTransferSyntaxes = []string{
	dicom.ExplicitVRLittleEndianUID,
	dicom.ImplicitVRLittleEndianUID,
	dicom.ExplicitVRBigEndianUID,
	dicom.DeflatedExplicitVRLittleEndianUID,
	dicom.EncapsulatedUncompressedUID,
	JPEGBaselineUID, JPEGExtendedUID, JPEGLosslessUID, JPEGLosslessSV1UID,
	JPEGLSLosslessUID, JPEGLSNearLosslessUID,
	JPEG2000LosslessUID, JPEG2000UID, JPEG2000MCLosslessUID, JPEG2000MCUID,
	HTJ2KLosslessUID, HTJ2KLosslessRPCLUID, HTJ2KUID,
	RLELosslessUID,
	MPEG2MainUID, MPEG2HighUID, MPEG4HighUID, MPEG4BDUID, MPEG4High2DUID, MPEG4High3DUID, MPEG4StereoUID,
	HEVCMainUID, HEVCMain10UID,
}

// IsStorageSOPClass reports whether uid is a storage SOP class this package accepts
// (current and retired ones; see sopclass_gen.go).
func IsStorageSOPClass(uid string) bool {
	_, ok := storageSOPClasses[uid]
	return ok
}

// StorageSOPClasses returns the UIDs of every storage SOP class a Server accepts, in no
// particular order.
func StorageSOPClasses() []string {
	out := make([]string, 0, len(storageSOPClasses))
	for uid := range storageSOPClasses {
		out = append(out, uid)
	}
	return out
}

// SOPClassName returns the name of a storage, verification or query SOP class, or "".
func SOPClassName(uid string) string {
	switch uid {
	case VerificationSOPClass:
		return "Verification"
	case PatientRootFind:
		return "Patient Root Query/Retrieve Information Model - FIND"
	case StudyRootFind:
		return "Study Root Query/Retrieve Information Model - FIND"
	}
	return storageSOPClasses[uid]
}
