-- +goose Up
-- Every content version of a dataset: its hash tree's root and where the tree is kept
-- (the blob store, one tree per version). A published dataset whose studies or their
-- content change gets a new version; the old versions stay.
CREATE TABLE dataset_versions (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    root       TEXT NOT NULL,
    tree_key   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    notes      TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);
INSERT INTO dataset_versions (dataset_id, version, root, tree_key, actor, notes, created_ms)
    SELECT id, version, root, tree_key, '', '', created_ms FROM datasets;

-- +goose Down
DROP TABLE dataset_versions;
