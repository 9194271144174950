// Package hub is the hub role of cie: the embedded NATS bus that nodes dial,
// the registry of nodes and their state, the witness of node audit logs, the
// hub's own audit log, its web pages and its JSON API.
//
// It imports nothing of internal/node; the two meet only in internal/fed.
package hub
