// Package synth generates realistic synthetic cancer-imaging data, deterministically
// from a seed: patients with a clinical row (sex, age at diagnosis, cancer type with
// its SNOMED CT code, stage, vital status), and per patient studies, series and
// instances as DICOM Part 10 files (explicit VR little endian) built with package
// internal/dicom.
//
// The data looks like what a hospital's PACS would send: CT, MR and PET studies whose
// descriptions, body parts, protocols and acquisition attributes fit the cancer type
// (lung: chest CT and FDG PET/CT; prostate: MR pelvis with T2, DWI and ADC; breast: MR
// breast with T2 and dynamic T1, staging CT; colon: CT abdomen and pelvis; pelvis: MR
// and CT of the pelvis), with identifying values planted on purpose (names with the
// country's letters, identifiers, birth dates, addresses, telephone numbers,
// physicians, operators, institutions, stations, device serial numbers) so that
// de-identification has something to remove. Pixel data is a phantom volume per
// series (a body ellipse with tissue classes, in Hounsfield units, MR intensities or
// PET activity) holding an ellipsoid lesion at a per-patient position; some CT and MR
// series get a DICOM Segmentation (BINARY, one segment) of the lesion.
//
// A Generator never holds more than one series' worth of data: patients are planned
// one at a time (cheaply, without pixels) and instances are built as they are
// iterated, so millions of instances can be streamed. The same Options give
// byte-identical files; UIDs are 2.25 UIDs derived from the seed, the node and the
// object's place in the plan, so different nodes and seeds never share one.
//
// Facts (SNOMED CT, DCM and EUCAIM codes, SOP class UIDs) are in codes.go, each with
// its source.
package synth
