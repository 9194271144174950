package fed

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Version is the protocol version of the messages in this package.
const Version = 1

// HeartbeatInterval is how often a node tells the hub it is alive.
const HeartbeatInterval = 2 * time.Second

// OfflineAfter is how long the hub waits without a heartbeat before it shows
// a node as offline. It is well inside the 10 s the hub promises.
const OfflineAfter = 3 * HeartbeatInterval

// ErrBadName is returned for a node name that cannot be used in a subject.
var ErrBadName = errors.New("invalid node name")

// ErrVersion is returned for a message written with another protocol version.
var ErrVersion = errors.New("unsupported protocol version")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidNodeName reports whether name can name a node: lower-case letters,
// digits and dashes, starting with a letter, at most 63 characters. Such a
// name is safe as a single NATS subject token and as a folder name.
func ValidNodeName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1-63 lower-case letters, digits or dashes, starting with a letter", ErrBadName, name)
	}
	return nil
}

// Subject prefixes. Everything a node publishes starts with NodePrefix+name,
// everything the hub sends to a node starts with HubPrefix+name.
const (
	root       = "cie.v1"
	NodePrefix = root + ".node."
	HubPrefix  = root + ".hub."
)

// NodeSubjects returns the subject tree a node may publish on.
func NodeSubjects(node string) string { return NodePrefix + node + ".>" }

// HubSubjects returns the subject tree on which the hub sends requests to node
// and that only node may subscribe to.
func HubSubjects(node string) string { return HubPrefix + node + ".>" }

// InboxPrefix is the reply-inbox prefix a node uses for its own requests, so
// that its replies cannot be read by another node.
func InboxPrefix(node string) string { return "_INBOX_" + node }

// Subjects a node publishes on (requests to the hub or events).
func HelloSubject(node string) string      { return NodePrefix + node + ".hello" }
func HeartbeatSubject(node string) string  { return NodePrefix + node + ".heartbeat" }
func CheckpointSubject(node string) string { return NodePrefix + node + ".checkpoint" }

// Subjects the hub sends requests on; the node answers.
func PingSubject(node string) string { return HubPrefix + node + ".ping" }

// Wildcards the hub subscribes to, for all nodes.
const (
	AllHello      = NodePrefix + "*.hello"
	AllHeartbeat  = NodePrefix + "*.heartbeat"
	AllCheckpoint = NodePrefix + "*.checkpoint"
)

// NodeFromSubject returns the node name in a subject under NodePrefix.
func NodeFromSubject(subject string) (string, error) {
	if len(subject) <= len(NodePrefix) || subject[:len(NodePrefix)] != NodePrefix {
		return "", fmt.Errorf("subject %q is not a node subject", subject)
	}
	rest := subject[len(NodePrefix):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			rest = rest[:i]
			break
		}
	}
	if err := ValidNodeName(rest); err != nil {
		return "", err
	}
	return rest, nil
}
