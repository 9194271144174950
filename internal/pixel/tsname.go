package pixel

import "github.com/cancerimage/cie/internal/dicom"

// Transfer syntax UIDs this package decodes, besides the native ones of package dicom.
const (
	JPEGBaselineUID = "1.2.840.10008.1.2.4.50"
	JPEGExtendedUID = "1.2.840.10008.1.2.4.51"
	RLELosslessUID  = "1.2.840.10008.1.2.5"
)

// tsNames are the names of the transfer syntaxes of PS3.6 Annex A.
var tsNames = map[string]string{
	dicom.ImplicitVRLittleEndianUID:         "Implicit VR Little Endian",
	dicom.ExplicitVRLittleEndianUID:         "Explicit VR Little Endian",
	dicom.EncapsulatedUncompressedUID:       "Encapsulated Uncompressed Explicit VR Little Endian",
	dicom.DeflatedExplicitVRLittleEndianUID: "Deflated Explicit VR Little Endian",
	dicom.ExplicitVRBigEndianUID:            "Explicit VR Big Endian",
	JPEGBaselineUID:                         "JPEG Baseline (Process 1)",
	JPEGExtendedUID:                         "JPEG Extended (Process 2 & 4)",
	"1.2.840.10008.1.2.4.57":                "JPEG Lossless, Non-Hierarchical (Process 14)",
	"1.2.840.10008.1.2.4.70":                "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
	"1.2.840.10008.1.2.4.80":                "JPEG-LS Lossless Image Compression",
	"1.2.840.10008.1.2.4.81":                "JPEG-LS Lossy (Near-Lossless) Image Compression",
	"1.2.840.10008.1.2.4.90":                "JPEG 2000 Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.91":                "JPEG 2000 Image Compression",
	"1.2.840.10008.1.2.4.92":                "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.93":                "JPEG 2000 Part 2 Multi-component Image Compression",
	dicom.JPIPReferencedUID:                 "JPIP Referenced",
	dicom.JPIPReferencedDeflateUID:          "JPIP Referenced Deflate",
	"1.2.840.10008.1.2.4.100":               "MPEG2 Main Profile / Main Level",
	"1.2.840.10008.1.2.4.101":               "MPEG2 Main Profile / High Level",
	"1.2.840.10008.1.2.4.102":               "MPEG-4 AVC/H.264 High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.103":               "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
	"1.2.840.10008.1.2.4.104":               "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
	"1.2.840.10008.1.2.4.105":               "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
	"1.2.840.10008.1.2.4.106":               "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
	"1.2.840.10008.1.2.4.107":               "HEVC/H.265 Main Profile / Level 5.1",
	"1.2.840.10008.1.2.4.108":               "HEVC/H.265 Main 10 Profile / Level 5.1",
	"1.2.840.10008.1.2.4.110":               "JPEG XL Lossless",
	"1.2.840.10008.1.2.4.111":               "JPEG XL JPEG Recompression",
	"1.2.840.10008.1.2.4.112":               "JPEG XL",
	"1.2.840.10008.1.2.4.201":               "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.202":               "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
	"1.2.840.10008.1.2.4.203":               "High-Throughput JPEG 2000 Image Compression",
	RLELosslessUID:                          "RLE Lossless",
}

// TransferSyntaxName returns the name of a transfer syntax (PS3.6 Annex A), or "unknown
// transfer syntax" for a UID it does not know.
func TransferSyntaxName(uid string) string {
	if n, ok := tsNames[uid]; ok {
		return n
	}
	return "unknown transfer syntax"
}

// Decodable reports whether this package can decode pixel data in the transfer syntax
// (native syntaxes, RLE Lossless, JPEG baseline and extended with 8-bit samples). A
// JPEG Extended file with 12-bit samples is still refused by Frames.Decode.
func Decodable(uid string) bool {
	switch uid {
	case dicom.ImplicitVRLittleEndianUID, dicom.ExplicitVRLittleEndianUID, dicom.DeflatedExplicitVRLittleEndianUID,
		dicom.ExplicitVRBigEndianUID, dicom.EncapsulatedUncompressedUID, JPEGBaselineUID, JPEGExtendedUID, RLELosslessUID:
		return true
	}
	return false
}
