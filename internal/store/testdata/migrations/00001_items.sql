-- +goose Up
-- Portable subset: TEXT keys assigned by the app, BIGINT unix milliseconds, INTEGER 0/1 flags.
CREATE TABLE items (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    n          BIGINT NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    note       TEXT,
    created_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE items;
