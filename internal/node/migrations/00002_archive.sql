-- +goose Up
-- The archive index: what the node stores, by patient, study, series and instance. Every
-- identifier here is the de-identified one (pseudonyms and 2.25 UIDs); text is UTF-8.
CREATE TABLE patients (
    patient_id   TEXT PRIMARY KEY,
    patient_name TEXT NOT NULL DEFAULT '',
    birth_date   TEXT NOT NULL DEFAULT '',
    sex          TEXT NOT NULL DEFAULT '',
    num_studies  INTEGER NOT NULL DEFAULT 0,
    created_ms   BIGINT NOT NULL
);

CREATE TABLE studies (
    study_uid      TEXT PRIMARY KEY,
    patient_id     TEXT NOT NULL REFERENCES patients(patient_id) ON DELETE CASCADE,
    patient_name   TEXT NOT NULL DEFAULT '',
    birth_date     TEXT NOT NULL DEFAULT '',
    sex            TEXT NOT NULL DEFAULT '',
    study_date     TEXT NOT NULL DEFAULT '',
    study_time     TEXT NOT NULL DEFAULT '',
    accession      TEXT NOT NULL DEFAULT '',
    study_id       TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    referring      TEXT NOT NULL DEFAULT '',
    modalities     TEXT NOT NULL DEFAULT '',
    num_series     INTEGER NOT NULL DEFAULT 0,
    num_instances  INTEGER NOT NULL DEFAULT 0,
    size           BIGINT NOT NULL DEFAULT 0,
    created_ms     BIGINT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX studies_patient ON studies (patient_id);
CREATE INDEX studies_date ON studies (study_date, study_time);
CREATE INDEX studies_accession ON studies (accession);
CREATE INDEX studies_updated ON studies (updated_ms);

CREATE TABLE series (
    series_uid     TEXT PRIMARY KEY,
    study_uid      TEXT NOT NULL REFERENCES studies(study_uid) ON DELETE CASCADE,
    modality       TEXT NOT NULL DEFAULT '',
    series_number  INTEGER,
    description    TEXT NOT NULL DEFAULT '',
    body_part      TEXT NOT NULL DEFAULT '',
    performed_date TEXT NOT NULL DEFAULT '',
    performed_time TEXT NOT NULL DEFAULT '',
    num_instances  INTEGER NOT NULL DEFAULT 0,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX series_study ON series (study_uid, series_number);
CREATE INDEX series_modality ON series (modality, study_uid);

CREATE TABLE instances (
    sop_uid         TEXT PRIMARY KEY,
    series_uid      TEXT NOT NULL REFERENCES series(series_uid) ON DELETE CASCADE,
    study_uid       TEXT NOT NULL,
    sop_class_uid   TEXT NOT NULL DEFAULT '',
    instance_number INTEGER,
    transfer_syntax TEXT NOT NULL DEFAULT '',
    img_rows        INTEGER NOT NULL DEFAULT 0,
    img_columns     INTEGER NOT NULL DEFAULT 0,
    frames          INTEGER NOT NULL DEFAULT 0,
    bits_allocated  INTEGER NOT NULL DEFAULT 0,
    size            BIGINT NOT NULL DEFAULT 0,
    sha256          TEXT NOT NULL DEFAULT '',
    blob_key        TEXT NOT NULL,
    source          TEXT NOT NULL DEFAULT '',
    ingested_ms     BIGINT NOT NULL
);
CREATE INDEX instances_series ON instances (series_uid, instance_number);
CREATE INDEX instances_study ON instances (study_uid);

-- Files that could not be made safe automatically: kept at the node as received (they may
-- identify someone), until a data holder releases or deletes them.
CREATE TABLE quarantine (
    id          TEXT PRIMARY KEY,
    received_ms BIGINT NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    size        BIGINT NOT NULL DEFAULT 0,
    blob_key    TEXT NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_ms);

-- One row per ingest: a DIMSE association, a STOW-RS request, a zip upload.
CREATE TABLE ingests (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    started_ms  BIGINT NOT NULL,
    ended_ms    BIGINT,
    stored      INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    bytes       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ingests_started ON ingests (started_ms);

-- +goose Down
DROP TABLE ingests;
DROP TABLE quarantine;
DROP TABLE instances;
DROP TABLE series;
DROP TABLE studies;
DROP TABLE patients;
