-- +goose Up
-- Study searches (QIDO-RS, C-FIND) return studies newest first: ORDER BY study_date DESC,
-- study_time DESC, study_uid. An index in exactly that order serves the sort without a
-- temporary B-tree (so LIMIT/OFFSET pages stop early) and date range matching alike; it
-- replaces studies_date.
CREATE INDEX studies_order ON studies (study_date DESC, study_time DESC, study_uid);
DROP INDEX studies_date;
-- Patient names match case-insensitively on lower(patient_name): exact values, and on
-- SQLite wildcard values with a literal prefix (as a range of lower(patient_name)).
CREATE INDEX studies_patient_name ON studies (lower(patient_name));

-- +goose Down
DROP INDEX studies_patient_name;
CREATE INDEX studies_date ON studies (study_date, study_time);
DROP INDEX studies_order;
