-- +goose Up
-- Which nodes a hub user is a data holder or node admin of (set by `cie admin user`,
-- or at each login from the OIDC node claim).
CREATE TABLE user_nodes (
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    node      TEXT NOT NULL,
    PRIMARY KEY (user_name, node)
);
CREATE INDEX user_nodes_node ON user_nodes (node);

-- Visas the hub issued on approvals: one per approved dataset part. The token is kept
-- so that the researcher's passport and the DICOMweb relay can carry it.
CREATE TABLE access_visas (
    jti         TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    node        TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    access      TEXT NOT NULL,
    token       TEXT NOT NULL,
    issued_ms   BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT,
    revoked_by  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_visas_user ON access_visas (user_name, node, expires_ms);
CREATE INDEX access_visas_node ON access_visas (node, dataset);

-- In-app notifications: a part moved, a message arrived, a visa was issued or revoked.
CREATE TABLE notices (
    id         TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    time_ms    BIGINT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    read_ms    BIGINT
);
CREATE INDEX notices_user ON notices (user_name, time_ms);

-- A researcher's basket: catalogue datasets to ask for in the next request.
CREATE TABLE baskets (
    user_name TEXT NOT NULL,
    dataset   TEXT NOT NULL,
    node      TEXT NOT NULL,
    added_ms  BIGINT NOT NULL,
    PRIMARY KEY (user_name, dataset)
);

-- Who attached a file to a request.
ALTER TABLE access_attachments ADD COLUMN author TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE access_attachments DROP COLUMN author;
DROP TABLE baskets;
DROP TABLE notices;
DROP TABLE access_visas;
DROP TABLE user_nodes;
