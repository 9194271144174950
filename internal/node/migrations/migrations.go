// Package migrations holds the node's SQL schema as goose migrations,
// embedded in the binary. They are written in the SQL subset that SQLite and
// PostgreSQL share.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS

// Table is the goose version table of the node.
const Table = "cie_node_migrations"
