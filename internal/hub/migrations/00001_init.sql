-- +goose Up
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users(name),
    label      TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

-- A registered node. nkey is the public key it authenticates with on the
-- bus; audit_key the note verifier key of its audit checkpoints.
CREATE TABLE nodes (
    name           TEXT PRIMARY KEY,
    nkey           TEXT NOT NULL UNIQUE,
    audit_key      TEXT NOT NULL,
    registered_ms  BIGINT NOT NULL,
    registered_by  TEXT NOT NULL,
    logged         INTEGER NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT 'never',
    state_ms       BIGINT,
    last_seen_ms   BIGINT,
    version        TEXT NOT NULL DEFAULT '',
    http_url       TEXT NOT NULL DEFAULT '',
    dimse_addr     TEXT NOT NULL DEFAULT ''
);

-- Checkpoints of node audit logs that the hub has witnessed (cosigned).
CREATE TABLE witnessed (
    node          TEXT NOT NULL REFERENCES nodes(name),
    size          BIGINT NOT NULL,
    root          TEXT NOT NULL,
    checkpoint    TEXT NOT NULL,
    witnessed_ms  BIGINT NOT NULL,
    PRIMARY KEY (node, size)
);

-- Small settings of the hub, e.g. the hash of the last logged config.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE witnessed;
DROP TABLE nodes;
DROP TABLE tokens;
DROP TABLE users;
