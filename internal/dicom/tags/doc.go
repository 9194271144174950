// Package tags names every tag of the DICOM data dictionary (PS3.6) by its keyword, as a
// dicom.Tag constant: tags.PatientName is (0010,0010). The constants are generated with
// the dictionary of package dict (see its go:generate line).
package tags
