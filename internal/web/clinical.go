package web

import "time"

// ClinicalData is the Data of the "node-clinical" page: the node's CDM tables, its
// imports and the report of the import just done.
type ClinicalData struct {
	Message string
	// Tables count the rows of each CDM table.
	Tables []ClinicalTable
	// Linked counts the CDM patients that have images in the index.
	Linked uint64
	// Studies are some studies of the index with their patients' clinical data.
	Studies []ClinicalStudy
	// Imports are the last imports, newest first.
	Imports []ClinicalImport
	// Report is the import just done, if any.
	Report *ClinicalReport
}

// ClinicalTable is a CDM table and its number of rows.
type ClinicalTable struct {
	Name, Label string
	Rows        uint64
}

// ClinicalStudy is a study of the index joined with its patient's clinical data.
type ClinicalStudy struct {
	StudyUID, PatientID, Sex, Age, Diagnosis string
}

// ClinicalImport is one logged import.
type ClinicalImport struct {
	Time                                            time.Time
	Actor, Source, Format                           string
	Records, Problems, Inserted, Updated, Unchanged uint64
}

// ClinicalReport is what an import did.
type ClinicalReport struct {
	Source, Format        string
	Lines, Records, Count uint64 // Count: problems in all
	Problems              []ClinicalProblem
	Changes               []ClinicalChange
}

// ClinicalProblem is a line or entry that was not imported.
type ClinicalProblem struct {
	Line   uint64
	Reason string
}

// ClinicalChange counts what an import did to one table.
type ClinicalChange struct {
	Table                        string
	Inserted, Updated, Unchanged uint64
}
