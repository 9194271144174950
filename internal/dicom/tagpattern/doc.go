// Package tagpattern reads the tag patterns of the DICOM standard's tables, as the
// innolitics dicom-standard JSON writes them: "(0010,0010)" for one tag, "(60xx,3000)"
// for a repeating group, with x for any hex digit. The code generators of the data
// dictionary (internal/dicom/dict/gen) and of the confidentiality profile
// (internal/deid/profile/gen) use it.
package tagpattern
