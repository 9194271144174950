-- +goose Up
-- Searches' audit events, written durably before the answer leaves the node and moved
-- into the audit log in batches (package search, auditqueue.go): appending each one
-- to the tamper-evident log on its own costs several file syncs per search.
CREATE TABLE search_audit_queue (
    id         TEXT PRIMARY KEY, -- time-ordered: 16 hex digits of Unix nanoseconds, then 8 random
    event      TEXT NOT NULL,    -- the audit.Event, JSON
    created_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE search_audit_queue;
