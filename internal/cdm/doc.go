// Package cdm is the node's common data model for clinical data, modelled on the EUCAIM
// CDM (itself based on HL7 mCODE), and its import from CSV files with a mapping and from
// FHIR R4 bundles.
//
// # Tables
//
// The tables live in the node's SQL store (migration 00006_cdm.sql of package
// node/migrations), one per CDM entity: cdm_patient, cdm_cancer_condition,
// cdm_tumor_marker_test, cdm_histologic_grade, cdm_cancer_stage, cdm_treatment
// (procedure, surgery, radiotherapy, medication by kind) and cdm_image_study (a study of
// the index in the patient's history); cdm_imports logs every import.
//
// # Linked to the images by pseudonym
//
// Every patient_id is the node's pseudonym of the patient: deid.Pseudonyms.PatientID
// under the node's de-identification key (config deid.key_file) of the Issuer of Patient
// ID and the Patient ID, exactly as the de-identification names the patient of a DICOM
// file in the index (patients.patient_id, studies.patient_id). An import of the
// hospital's own IDs pseudonymizes them with that key (Identity.Pseudonyms); a mapping
// (patient_id.pseudonymized) or bundle option says when the input holds pseudonyms
// already. Study UIDs of cdm_image_study are pseudonymized the same way (2.25 UIDs)
// unless the node retains UIDs. There is no foreign key to the index: clinical data may
// come before the images.
//
// # Import
//
// A CSV import reads a Mapping (YAML, or a CSV template like EUCAIM's: local variable →
// entity → element → standard → example, with value maps from local values to standard
// codes such as "F" → "SNOMEDCT248152002"). FHIR bundles carry Patient, Condition
// (primary cancer, with mCODE's histology-morphology-behavior extension), Observation
// (mCODE tumor marker tests, TNM categories and stage groups by their SNOMED CT or LOINC
// codes, histologic grade), Procedure, MedicationAdministration/-Statement and
// ImagingStudy. A line or entry that cannot be read is reported with its number and the
// reason; the rest is imported. Rows are keyed by their natural key (patient, code,
// date: see model.go) and carry a hash of their content, so importing the same file
// again changes nothing, and a corrected file updates only the rows that changed.
//
// # What a search evaluates
//
// The federated search (package query) evaluates these columns, all joined to the
// index on patient_id (studies.patient_id = cdm_patient.patient_id):
//
//   - sex: cdm_patient.birth_sex, SNOMED CT 248152002 (female) or 248153007 (male), the
//     codes of the EUCAIM explorer's key SNOMEDCT263495000 "Gender".
//   - age at diagnosis: cdm_cancer_condition.age_at_diagnosis (whole years, NULL when
//     unknown).
//   - diagnosis: cdm_cancer_condition.code_system and code (SNOMED CT in the explorer's
//     key SNOMEDCT439401001 "Diagnosis", e.g. 254837009 breast cancer); morphology and
//     topography (body site) likewise.
//   - year of diagnosis: cdm_cancer_condition.year_of_diagnosis.
//   - tumor markers: cdm_tumor_marker_test.code (LOINC test, e.g. 2857-1 PSA, 16112-5
//     ER) with value_code (coded result, e.g. SNOMED CT 10828004 positive) or value_num
//     and unit.
//   - histologic grade: cdm_histologic_grade.value_code.
//   - stage: cdm_cancer_stage.kind (T, N, M, group) and value_code (the EUCAIM
//     hyper-ontology's cT/cN/cM codes in the demo, SNOMED CT from FHIR) or display
//     ("cM0").
//   - vital status: cdm_patient.vital_status ("alive", "deceased").
//
// Store.StudiesClinical shows the join.
package cdm
