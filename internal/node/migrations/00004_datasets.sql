-- +goose Up
-- Datasets a data holder made from stored studies: the catalogue metadata (JSON of package
-- catalogue), its state and version, and the content hash tree's root (the tree itself is
-- in the blob store, under tree_key).
CREATE TABLE datasets (
    id         TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    body       TEXT NOT NULL,
    root       TEXT NOT NULL,
    tree_key   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE dataset_studies (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    study_uid  TEXT NOT NULL,
    PRIMARY KEY (dataset_id, study_uid)
);
CREATE INDEX dataset_studies_study ON dataset_studies (study_uid);

-- +goose Down
DROP TABLE dataset_studies;
DROP TABLE datasets;
