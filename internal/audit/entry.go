package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// maxEntrySize is the largest entry tlog-tiles can store.
const maxEntrySize = 1<<16 - 1

// Event is something that happened and must be kept in the audit trail.
type Event struct {
	// Type says what happened, e.g. "node.registered", "node.connected",
	// "node.disconnected", "login", "config.changed".
	Type string `json:"type"`
	// Actor is who did it: a user name, a node name, or "system".
	Actor string `json:"actor"`
	// Subject is what it was done to, if anything (a node, dataset, user…).
	Subject string `json:"subject,omitempty"`
	// Fields holds further details.
	Fields map[string]string `json:"fields,omitempty"`
}

// Entry is one event as stored in the log: the event, when it was appended,
// its own index and the leaf hash of the entry before it. Its JSON encoding is
// the log entry (see the package documentation).
type Entry struct {
	// Index is the entry's position in the log, starting at 0.
	Index uint64 `json:"index"`
	// Time is when the entry was appended (UTC).
	Time time.Time `json:"time"`
	Event
	// Prev is the RFC 6962 leaf hash of entry Index-1; empty for entry 0.
	Prev []byte `json:"prev,omitempty"`
}

// leafHash is the RFC 6962 leaf hash of an entry's bytes.
func leafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }

// marshalEntry encodes e as it is stored.
func marshalEntry(e Entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding entry: %w", err)
	}
	if len(b) > maxEntrySize {
		return nil, fmt.Errorf("entry is %d bytes, more than the %d a log entry can hold", len(b), maxEntrySize)
	}
	return b, nil
}

// parseEntry decodes stored entry bytes; trailing data is an error.
func parseEntry(data []byte) (Entry, error) {
	var e Entry
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not a valid entry: %w", err)
	}
	if d.More() {
		return Entry{}, errors.New("not a valid entry: trailing data")
	}
	return e, nil
}
