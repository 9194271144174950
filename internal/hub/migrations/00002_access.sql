-- +goose Up
-- Access negotiation: requests, the datasets they ask for (parts, each decided by its
-- node's data holders), their conversation and attachments.
CREATE TABLE access_requests (
    id          TEXT PRIMARY KEY,
    researcher  TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    model       TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX access_requests_researcher ON access_requests (researcher, created_ms);

CREATE TABLE access_parts (
    request_id TEXT NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
    node       TEXT NOT NULL,
    dataset    TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (request_id, node, dataset)
);
CREATE INDEX access_parts_node ON access_parts (node, state);

CREATE TABLE access_messages (
    request_id TEXT NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    time_ms    BIGINT NOT NULL,
    author     TEXT NOT NULL,
    node       TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE access_attachments (
    request_id TEXT NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    PRIMARY KEY (request_id, name)
);

-- +goose Down
DROP TABLE access_attachments;
DROP TABLE access_messages;
DROP TABLE access_parts;
DROP TABLE access_requests;
