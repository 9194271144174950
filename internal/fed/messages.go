package fed

import (
	"encoding/json"
	"fmt"
	"time"
)

// Header is embedded in every message.
type Header struct {
	// V is the protocol Version the sender speaks.
	V int `json:"v"`
}

// Check returns ErrVersion if the message is of another version.
func (h Header) Check() error {
	if h.V != Version {
		return fmt.Errorf("%w: got %d, want %d", ErrVersion, h.V, Version)
	}
	return nil
}

// Hello is sent by a node when it connects (and after every reconnect).
type Hello struct {
	Header
	Node      string    `json:"node"`
	Version   string    `json:"version"`    // the node's software version
	Started   time.Time `json:"started"`    // when the node process started
	AuditKey  string    `json:"audit_key"`  // the node's checkpoint verifier key (note format)
	HTTPURL   string    `json:"http_url"`   // the node's own HTTP listener, if any
	DIMSEAddr string    `json:"dimse_addr"` // the node's DICOM listener, if any
}

// Welcome is the hub's reply to Hello.
type Welcome struct {
	Header
	Hub      string    `json:"hub"`       // the hub's name (its audit log origin)
	Version  string    `json:"version"`   // the hub's software version
	Time     time.Time `json:"time"`      // the hub's clock
	AuditKey string    `json:"audit_key"` // the hub's verifier key, for witness cosignatures
	Error    string    `json:"error,omitempty"`
}

// Heartbeat is published by a node every HeartbeatInterval.
type Heartbeat struct {
	Header
	Node string    `json:"node"`
	Time time.Time `json:"time"`
}

// CheckpointRequest carries a node's latest signed audit checkpoint to the hub
// for witnessing, with a consistency proof from the last checkpoint the hub
// witnessed (OldSize, zero if none).
type CheckpointRequest struct {
	Header
	Node       string   `json:"node"`
	Checkpoint []byte   `json:"checkpoint"` // signed note
	OldSize    uint64   `json:"old_size"`
	Proof      [][]byte `json:"proof"`
}

// CheckpointReply is the hub's answer: the checkpoint with the hub's
// cosignature added, or an error saying why it refused to witness it.
type CheckpointReply struct {
	Header
	Witnessed []byte `json:"witnessed,omitempty"`
	// Size is the size of the last checkpoint the hub witnessed for this node,
	// so that a node can send a proof from there.
	Size  uint64 `json:"size"`
	Error string `json:"error,omitempty"`
}

// Ping is a request from the hub; the node answers with Pong.
type Ping struct {
	Header
	Time time.Time `json:"time"`
}

// Pong answers Ping.
type Pong struct {
	Header
	Node string    `json:"node"`
	Time time.Time `json:"time"`
}

// Message is implemented by every message type of this package (they embed
// Header).
type Message interface {
	setVersion()
	version() Header
}

// Marshal encodes m, stamping the Version into its header.
func Marshal(m Message) ([]byte, error) {
	m.setVersion()
	return json.Marshal(m)
}

func (h *Header) setVersion() { h.V = Version }

// Unmarshal decodes data into m and checks its version.
func Unmarshal(data []byte, m Message) error {
	if err := json.Unmarshal(data, m); err != nil {
		return fmt.Errorf("decoding %T: %w", m, err)
	}
	return m.version().Check()
}

func (h *Header) version() Header { return *h }
