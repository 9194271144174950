-- +goose Up
-- The Manufacturer (0008,0070) of each series, as the federated search matches it (key
-- C25392); rows indexed before this migration keep it empty.
ALTER TABLE series ADD COLUMN manufacturer TEXT NOT NULL DEFAULT '';
CREATE INDEX series_manufacturer ON series (manufacturer);

-- +goose Down
DROP INDEX series_manufacturer;
ALTER TABLE series DROP COLUMN manufacturer;
