// Package deid de-identifies DICOM data sets by the Basic Application Level
// Confidentiality Profile of PS3.15 Annex E (Table E.1-1, in package
// profile), with its options, keyed pseudonyms and a quarantine for what
// cannot be made safe automatically.
//
// An Engine applies the profile to a parsed file in place:
//
//   - every attribute of the table, at any depth inside sequences, gets its
//     action (X remove, Z empty or dummy, D dummy, U pseudonymous UID,
//     K keep, C clean), after the chosen options; combined actions (X/Z, X/D,
//     Z/D, X/Z/D, X/Z/U*) are resolved by the attribute's Type in the
//     object's IOD (package iod) so that the output stays valid;
//   - private elements are removed, unless Retain Safe Private is chosen and
//     the element is on the safe-private list;
//   - UIDs become 2.25.<decimal> of a keyed HMAC-SHA256, patient IDs and
//     accession numbers keyed pseudonyms: the same with the same key, in
//     every run and process, so references stay consistent across a set;
//   - dates are removed, kept, or shifted by a per-patient number of days
//     derived from the key (intervals within a patient are kept);
//   - the result is marked (Patient Identity Removed, De-identification
//     Method and its Code Sequence of CID 7050, Longitudinal Temporal
//     Information Modified).
//
// Files that cannot be made safe (burned-in annotation, secondary capture
// and ultrasound images for which there is no pixel-cleaning rule, unknown
// SOP classes) are refused with a *QuarantineError naming the reason.
package deid
