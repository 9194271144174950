-- +goose Up
-- Copied from internal/disclosure/migration.sql (package disclosure owns it; a test keeps the two equal).
-- The privacy budget ledger of package disclosure. disclosure_accounts holds
-- what each researcher has spent in each budget period (ε in millionths);
-- disclosure_answers every question answered in a period, by its hash, with
-- the answer released, so the same question again gets the same answer at no
-- cost.
CREATE TABLE disclosure_accounts (
    researcher      TEXT NOT NULL,
    period_start_ms BIGINT NOT NULL,
    spent_micro     BIGINT NOT NULL,
    answers         INTEGER NOT NULL,
    PRIMARY KEY (researcher, period_start_ms)
);
CREATE TABLE disclosure_answers (
    researcher      TEXT NOT NULL,
    period_start_ms BIGINT NOT NULL,
    query_hash      TEXT NOT NULL,
    cost_micro      BIGINT NOT NULL,
    answer          TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    PRIMARY KEY (researcher, period_start_ms, query_hash)
);
CREATE INDEX disclosure_answers_by_time ON disclosure_answers (researcher, created_ms);

-- +goose Down
DROP TABLE disclosure_answers;
DROP TABLE disclosure_accounts;
