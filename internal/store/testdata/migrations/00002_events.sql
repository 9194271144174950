-- +goose Up
CREATE TABLE events (
    writer  INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    item_id TEXT REFERENCES items (id) ON DELETE CASCADE,
    body    TEXT NOT NULL,
    PRIMARY KEY (writer, seq)
);
CREATE INDEX events_item ON events (item_id);

-- +goose Down
DROP TABLE events;
