// Package dicomjson writes data sets in the DICOM JSON Model of PS3.18 Annex F.2, as the
// node's DICOMweb services (QIDO-RS, WADO-RS metadata) answer them.
//
// Each attribute becomes "GGGGEEEE": {"vr": …, "Value": […]} with text decoded from the
// data set's Specific Character Set into UTF-8, person names split into their
// Alphabetic, Ideographic and Phonetic groups, IS, DS and the binary numeric VRs as JSON
// numbers, AT as "GGGGEEEE" strings, sequences as arrays of objects, and binary values
// (OB, OW, UN, …) either inline (base64) or, above a threshold or always for pixel data,
// as a Bulk Data URI the caller makes. An attribute without a value has only "vr".
package dicomjson
