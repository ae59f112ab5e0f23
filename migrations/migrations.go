// Package migrations holds the SQL schema of workflow-runtime, one directory per dialect, embedded
// in the binary and applied by bun's migrate package (see server/store.(*DB).Migrate).
//
// Files follow bun's naming: <14-digit version>_<name>.tx.up.sql and .tx.down.sql; ".tx" makes
// bun run each file in one transaction, so a failed migration leaves nothing half-applied (both
// PostgreSQL and SQLite have transactional DDL). Statements are separated by "--bun:split" lines.
// Both dialects carry the same tables, columns, constraints and indexes; only the types differ
// (JSONB/TIMESTAMPTZ/UUID on PostgreSQL, TEXT on SQLite).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql
var postgres embed.FS

//go:embed sqlite/*.sql
var sqlite embed.FS

// Postgres is the migrations of the PostgreSQL schema, at the root of the FS.
var Postgres fs.FS = mustSub(postgres, "postgres")

// SQLite is the migrations of the SQLite schema, at the root of the FS.
var SQLite fs.FS = mustSub(sqlite, "sqlite")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // unreachable: dir is a literal embedded above
	}
	return sub
}
