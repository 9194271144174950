// Package app wires the roles of the cie binary: it loads a role's
// configuration, builds its logger, runs it until a signal, and runs the demo
// (a hub and three nodes as child processes with their own data folders).
package app
