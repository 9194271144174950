// Package cli defines the cobra commands of the cie binary: the roles (hub,
// node, demo) and the tools (migrate, admin, audit, version).
package cli
