// Package search is the node's side of the federated search: it evaluates a parsed
// EUCAIM query (package query) on the node's index and clinical data (package cdm) per
// published dataset, releases the counts under the node's disclosure policy (package
// disclosure) and answers the hub's SearchRequest and AtlasRequest (package fed).
//
// # What matches
//
// A study of a published dataset matches when one of its series, taken with the
// study's patient, satisfies the whole AND/OR tree. Modality, body part (DICOM
// Modality and Body Part Examined, by the vocabulary's DICOM values) and manufacturer
// (the Manufacturer contains the vocabulary's text, upper case) are tested on that
// series, so "MR AND breast" needs an MR series of the breast. The other keys are
// tested on the patient: the patient has a CDM row that satisfies the leaf (sex:
// cdm_patient.birth_sex, or the index's DICOM Patient's Sex when the CDM has none; age
// and year of diagnosis and diagnosis: cdm_cancer_condition; tumour markers:
// cdm_tumor_marker_test by the hyper-ontology code or the LOINC codes of markerTests;
// grade and stage: cdm_histologic_grade, cdm_cancer_stage by the hyper-ontology code,
// with or without its "EUCAIM_Hyper-Ontology_V1.0." prefix). The leaves on a cancer
// condition (diagnosis, age and year of diagnosis) that are children of one AND, alone
// or as an OR of such leaves, must hold on the same condition: "breast cancer AND age 40–60" is a breast cancer
// diagnosed at 40–60, not a breast cancer and some other cancer at 40–60. Other patient
// leaves, and condition leaves under an OR or in different groups, are tested each on
// its own. NOT_EQUALS needs a known value that differs. Tumour assessments
// (BI-RADS, PI-RADS) have no CDM table: Supported is false for them, and the node
// answers them as unsupported rather than with a zero.
//
// # Where it is evaluated
//
// Searches are evaluated in memory, on a snapshot of the published data: datasets,
// their studies and series, and their patients' clinical rows, read from the store in
// one read transaction (about 0.2 s for 10,000 studies). A query is compiled to a
// predicate over it (a leaf on clinical data decided once per patient, a leaf on a
// value once per distinct value) and takes under a millisecond on 10,000 studies
// (BenchmarkThreeClauses). The snapshot is read again at the first search after a
// change: the index, the dataset store and the CDM importer mark each change they
// commit (store.DB.MarkChanged). Writes the node's process does not make (another
// process on the same store, such as an offline "cie clinical import --node-config")
// are seen within Evaluator.MaxAge (a minute): an older snapshot is re-read in the
// background. The node reads the first snapshot when it starts (Service.Warm). The
// same semantics written in SQL (oracle_test.go) are the reference the evaluator is
// tested against, with random queries on SQLite and PostgreSQL.
//
// # Subjects are pseudonyms
//
// subjects_count counts distinct patient pseudonyms (studies.patient_id). The
// de-identification names a patient by Issuer of Patient ID and Patient ID, so one
// person whose studies come under two issuers (the demo's synth gives PET-CT studies
// the second hospital's issuer) has two pseudonyms and counts twice. The node cannot
// know better without the hospital's own identity map.
//
// # What leaves the node
//
// Every published dataset answers, also with nothing matched (so "no answer" never
// tells "zero"). Its subjects and studies counts are released by
// disclosure.Releaser: noise per researcher and question, "< threshold" below it,
// the same answer again for the same question this period, and refusal past the
// budget. Age range (rounded outward to multiples of 5 years), sexes, modalities and
// body parts are given only when the subjects count is not suppressed. The atlas gives
// totals over published datasets (subjects, studies; studies by modality and body
// part; subjects by cancer type) with small-cell suppression and no noise.
package search
