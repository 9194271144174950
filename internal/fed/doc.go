// Package fed is the wire contract between the hub and its nodes.
//
// It is the only package that both internal/hub and internal/node import: the
// NATS subjects each side publishes and subscribes to, the message types sent
// on them, and the protocol version. A change to a message type is a change of
// Version. Messages are JSON; every message carries the Version it was written
// with so that either side can refuse what it does not understand.
package fed
