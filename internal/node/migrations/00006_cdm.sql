-- +goose Up
-- The common data model (package cdm): clinical data modelled on the EUCAIM CDM, which
-- is based on mCODE. Every patient_id is the node's pseudonym of the patient, the same
-- the de-identification gives the DICOM PatientID (patients.patient_id of the index), so
-- clinical rows join the images without a foreign key: clinical data may arrive before
-- the images or without them. Codes are (system, code) pairs with FHIR system URIs
-- (http://snomed.info/sct, http://loinc.org, ...). Each row's id is a hash of its
-- natural key and hash a hash of its content, so a re-import changes nothing.
CREATE TABLE cdm_patient (
    patient_id     TEXT PRIMARY KEY,
    birth_sex      TEXT NOT NULL DEFAULT '', -- SNOMED CT: 248152002 female, 248153007 male
    birth_year     INTEGER,
    vital_status   TEXT NOT NULL DEFAULT '', -- alive, deceased
    last_follow_up TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD
    source         TEXT NOT NULL DEFAULT '',
    hash           TEXT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX cdm_patient_sex ON cdm_patient (birth_sex);

CREATE TABLE cdm_cancer_condition (
    id                TEXT PRIMARY KEY,
    patient_id        TEXT NOT NULL,
    code_system       TEXT NOT NULL,
    code              TEXT NOT NULL,
    display           TEXT NOT NULL DEFAULT '',
    age_at_diagnosis  INTEGER,
    year_of_diagnosis INTEGER,
    date_of_diagnosis TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD, as given (not shifted)
    morphology_system TEXT NOT NULL DEFAULT '',
    morphology        TEXT NOT NULL DEFAULT '',
    topography_system TEXT NOT NULL DEFAULT '',
    topography        TEXT NOT NULL DEFAULT '',
    source            TEXT NOT NULL DEFAULT '',
    hash              TEXT NOT NULL,
    updated_ms        BIGINT NOT NULL
);
CREATE INDEX cdm_cancer_condition_patient ON cdm_cancer_condition (patient_id);
CREATE INDEX cdm_cancer_condition_code ON cdm_cancer_condition (code, code_system);

CREATE TABLE cdm_tumor_marker_test (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    code_system  TEXT NOT NULL, -- the test, e.g. LOINC 2857-1 (PSA)
    code         TEXT NOT NULL,
    value_system TEXT NOT NULL DEFAULT '', -- a coded result, e.g. SNOMED 10828004 positive
    value_code   TEXT NOT NULL DEFAULT '',
    value_num    DOUBLE PRECISION,        -- a quantity, in unit
    unit         TEXT NOT NULL DEFAULT '',
    value_text   TEXT NOT NULL DEFAULT '', -- the value as given
    effective    TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE INDEX cdm_tumor_marker_test_patient ON cdm_tumor_marker_test (patient_id);
CREATE INDEX cdm_tumor_marker_test_code ON cdm_tumor_marker_test (code, code_system);

CREATE TABLE cdm_histologic_grade (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    value_system TEXT NOT NULL,
    value_code   TEXT NOT NULL,
    effective    TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE INDEX cdm_histologic_grade_patient ON cdm_histologic_grade (patient_id);

CREATE TABLE cdm_cancer_stage (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    kind         TEXT NOT NULL, -- T, N, M or group
    value_system TEXT NOT NULL,
    value_code   TEXT NOT NULL,
    display      TEXT NOT NULL DEFAULT '', -- e.g. cT2
    effective    TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE INDEX cdm_cancer_stage_patient ON cdm_cancer_stage (patient_id);
CREATE INDEX cdm_cancer_stage_value ON cdm_cancer_stage (kind, value_code);

-- Treatments: procedures, surgery, radiotherapy and medication, one table (kind).
CREATE TABLE cdm_treatment (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    kind        TEXT NOT NULL, -- procedure, surgery, radiotherapy, medication
    code_system TEXT NOT NULL,
    code        TEXT NOT NULL,
    display     TEXT NOT NULL DEFAULT '',
    start_date  TEXT NOT NULL DEFAULT '',
    end_date    TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX cdm_treatment_patient ON cdm_treatment (patient_id);

-- An imaging study's place in the patient's history (the study UID is the index's).
CREATE TABLE cdm_image_study (
    study_uid   TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    time_point  TEXT NOT NULL DEFAULT '', -- e.g. diagnosis, follow-up
    offset_days INTEGER,                  -- days since diagnosis
    source      TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX cdm_image_study_patient ON cdm_image_study (patient_id);

-- One row per import: what it read and did.
CREATE TABLE cdm_imports (
    id         TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    source     TEXT NOT NULL,
    format     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    records    INTEGER NOT NULL,
    problems   INTEGER NOT NULL,
    inserted   INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    unchanged  INTEGER NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX cdm_imports_created ON cdm_imports (created_ms);

-- +goose Down
DROP TABLE cdm_imports;
DROP TABLE cdm_image_study;
DROP TABLE cdm_treatment;
DROP TABLE cdm_cancer_stage;
DROP TABLE cdm_histologic_grade;
DROP TABLE cdm_tumor_marker_test;
DROP TABLE cdm_cancer_condition;
DROP TABLE cdm_patient;
