// Package store is workflow-runtime's storage: one bun.DB over PostgreSQL (production) or SQLite
// (the embedded default), chosen by WFR_DATABASE_URL, with the schema of migrations/. It
// implements deployments.Store; the packages that own the other tables (executions, ...) reach
// them through (*DB).Bun. Both backends pass the one contract suite in storetest.
//
// # Dialects
//
// postgres:// and postgresql:// URLs open pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib)
// under bun's pgdialect. sqlite://path opens modernc.org/sqlite (pure Go, no cgo) under bun's
// sqlitedialect. The two schemas in migrations/ have the same tables, columns, constraints and
// index names; only the types differ (JSONB/TIMESTAMPTZ/UUID against TEXT).
//
// Timestamps: bun writes them in UTC with microseconds ('2006-01-02 15:04:05.999999+00:00').
// PostgreSQL keeps microseconds in TIMESTAMPTZ; SQLite keeps the text, which sorts in time order
// because the offset is always +00:00 and '+' sorts before '.' and the digits. Nanoseconds are
// truncated on write, and every time is returned in UTC.
//
// # SQLite concurrency
//
// The DSN sets, on every connection: busy_timeout (Options.BusyTimeout, 10 s) first, so that
// any statement that meets another connection's lock waits instead of failing with "database
// is locked"; journal_mode=WAL, so that readers and the one writer do not block each other;
// synchronous=NORMAL (safe in WAL mode); foreign_keys=1; and _txlock=immediate, so that write
// transactions take the write lock at BEGIN. That last one matters: a deferred transaction
// that reads and then writes upgrades its lock at the first write, and when another writer got
// there first SQLite returns SQLITE_BUSY at once, without calling the busy handler (waiting
// could deadlock). An immediate transaction waits at BEGIN, before it has read anything.
// Reads run in read-only transactions, which modernc begins deferred: in WAL mode they see a
// snapshot and never wait for the writer.
//
// On top of that, InTx queues SQLite writers in Go (a one-slot semaphore that honours the
// context), so that in-process writers wait in order instead of polling in SQLite's busy
// handler; busy_timeout still covers writers in other processes and writes made through Bun.
// The pool holds 8 connections (Options.MaxOpenConns). An in-memory database (sqlite::memory:)
// lives inside one connection, so its pool has exactly one.
//
// # PostgreSQL concurrency
//
// InTx is READ COMMITTED; DeploymentGetForUpdate and DeploymentGetByIDForUpdate lock the
// workflows row with SELECT ... FOR UPDATE, so writers of one workflow queue on its row.
// Two writers that create the same workflow race on its primary key: the loser gets
// apperr.ErrConflict and may retry (and then finds the row). Reads run in REPEATABLE READ
// READ ONLY transactions so that the row, its revision and its triggers come from one snapshot.
//
// # Errors
//
// Driver errors are translated in one function, interpretError (errors.go), for both dialects:
// sql.ErrNoRows is apperr.ErrNotFound; a unique violation is recognised by constraint name
// (PostgreSQL: *pgconn.PgError code 23505 and ConstraintName; SQLite: *sqlite.Error code
// SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY and the "table.column" list of its message, mapped
// to the same names) and becomes apperr.ErrConflict for workflows' keys and revision numbers,
// or apperr.ErrAlreadyExists for a webhook path taken by another deployment (TriggersReplace
// names the path) or a repeated trigger id; a foreign key violation is apperr.ErrNotFound; a
// PostgreSQL serialization failure or deadlock is apperr.ErrConflict. Every method wraps the
// result with what it was doing: "get deployment <id>: not found".
//
// # Migrations
//
// Migrate applies migrations/<dialect>/*.tx.up.sql with bun's migrator: each file in one
// transaction, recorded in bun_migrations when it succeeded, under bun's lock row in
// bun_migration_locks. Concurrent Migrate calls (several replicas starting) wait for the lock,
// up to Options.MigrationLockTimeout, then find nothing to do. A process killed while holding
// the lock leaves the row behind; delete it from bun_migration_locks to recover.
package store
