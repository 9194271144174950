-- +goose Up
-- The public catalogue: the datasets nodes publish (JSON of package catalogue), replaced
-- per node by every DatasetSync the node sends.
CREATE TABLE catalogue (
    id         TEXT PRIMARY KEY,
    node       TEXT NOT NULL,
    state      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX catalogue_node ON catalogue (node);

-- +goose Down
DROP TABLE catalogue;
