// Package store is workflow-runtime's storage: one bun.DB over PostgreSQL (production) or SQLite
// (the embedded default), chosen by WFR_DATABASE_URL, with the schema of migrations/. It
// implements the storage interfaces its consumers declare (deployments.Store and Tx,
// execution.Store, scheduler.Store, calendars.Store, backfill.Store, monitoring.Store and
// JanitorStore, schedulehealth.Store, watch.Store, webhook.Store). Only tests and the load
// test's counters query the tables around it, through (*DB).Bun. Both backends pass the one
// contract suite in storetest.
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
// The store reads no clock: every time it writes is its caller's, a field of what is written
// (CreatedAt, UpdatedAt, FiredAt) or a now parameter, so that a caller on a test clock writes
// rows of that clock. A zero time is written as it is.
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
// errdefs.ErrConflict and may retry (and then finds the row). Reads run in REPEATABLE READ
// READ ONLY transactions so that the row, its revision and its triggers come from one snapshot.
//
// # Prepared statements
//
// bun writes values into the SQL text, and the pgx connections send queries as they are (simple
// protocol), so PostgreSQL plans each statement afresh. The statements that run per execution
// or plan many partitions (the trigger's insert, the single and batched claim and outcome, the
// history query) are written with $n parameters instead and sent as prepared statements, planned
// once per connection under a generic plan (prepared.go: queryPrepared, and why).
//
// # Errors
//
// Driver errors are translated in one function, interpretError (errors.go), for both dialects:
// sql.ErrNoRows is errdefs.ErrNotFound; a unique violation is recognised by constraint name
// (PostgreSQL: *pgconn.PgError code 23505 and ConstraintName; SQLite: *sqlite.Error code
// SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY and the "table.column" list of its message, mapped
// to the same names) and becomes errdefs.ErrConflict for workflows' keys and revision numbers,
// or errdefs.ErrAlreadyExists for a webhook path taken by another deployment (TriggersReplace
// names the path) or a repeated trigger id; a foreign key violation is errdefs.ErrNotFound; a
// PostgreSQL serialization failure or deadlock is errdefs.ErrConflict; a database that does not
// answer (a failed or broken connection, SQLite busy beyond its timeout) is
// errdefs.ErrUnavailable. Every method wraps the result once with what it was doing and on
// what: "get deployment <id>: not found". The services above pass such an error on as it is
// when they would only repeat those words.
//
// # Partitions
//
// On PostgreSQL, executions and fire_ledger are partitioned by time with native declarative
// range partitioning (migration 20261202000001), so that retention drops a whole partition
// instead of deleting its rows one by one; SQLite keeps them as plain tables, and every method
// behaves the same on both.
//
// executions is partitioned by id. Execution ids are UUIDv7 (execution.Service): the first 48
// bits are the creation time in Unix milliseconds, so a range of ids is a range of creation
// times, and the bound of a time t is UUIDv7Floor(t). By id rather than by created_at because a
// unique index of a partitioned table must contain the partition key: the primary key (id) does,
// so it stays one unique index over every partition, and the statements that name an execution
// by id (the worker's read, claim and outcome, GetExecution, CancelExecution) are pruned to one
// partition at planning time. Partitioned by created_at, the key would have had to become
// (id, created_at) and each of those statements would probe every partition. fire_ledger is
// partitioned by scheduled_at, which its unique key (workflow_id, trigger_id, scheduled_at,
// outcome) contains, so FireRecord's ON CONFLICT DO NOTHING is unchanged; its primary key
// becomes (id, scheduled_at), unique because its id (a new UUIDv7 per row) is.
//
// The two keys of executions that do not contain id, (workflow_id, idempotency_key) and
// (workflow_id, trigger_id, scheduled_at) of cron executions, cannot be unique indexes any more
// (a retried request or a repeated backfill may come days later, with an id in another
// partition). They stay plain indexes under their names, and a BEFORE INSERT trigger,
// executions_unique_keys, keeps them unique over every partition: it takes a transaction-scoped
// advisory lock on the workflow, looks the key up in the whole table, and skips the row when it
// is taken, which is what the inserts' ON CONFLICT DO NOTHING did with the unique indexes; the
// callers then read the execution that holds the key, as before. The lock serialises the keyed
// inserts of one workflow until their transactions end (manual and webhook triggers without an
// idempotency key do not run the trigger); it is per workflow and not per key so that a backfill
// of thousands of fires takes one lock entry, not thousands (PostgreSQL's lock table is bounded).
// Two statements that insert keyed rows of several workflows in opposite orders at the same time
// can deadlock; PostgreSQL then aborts one (errdefs.ErrConflict).
//
// Each table has a default partition, which takes any row no other partition covers, so that an
// insert never fails (ids of a clock far ahead, a scheduled time beyond the partitions made);
// and an initial partition, every row up to the migration. The retention janitor
// (internal/retention) makes the partitions of the coming periods (PartitionCreate, period
// WFR_RETENTION_PARTITION_PERIOD); PostgreSQL refuses to create a partition whose rows the
// default partition holds, so PartitionCreate moves them into the new partition in the same
// transaction. It drops a partition (PartitionDropExpired) only when every row in it has expired
// under every rule: see internal/retention. A query without the partition key (history, by
// created_at) is planned over every partition, which costs planning time in proportion to their
// number: keep the period such that retention spans tens of partitions, not hundreds.
//
// # Migrations
//
// Migrate applies migrations/<dialect>/*.tx.up.sql with bun's migrator: each file in one
// transaction, recorded in bun_migrations when it succeeded, under bun's lock row in
// bun_migration_locks. Concurrent Migrate calls (several replicas starting) wait for the lock,
// up to Options.MigrationLockTimeout, then find nothing to do. A process killed while holding
// the lock leaves the row behind; delete it from bun_migration_locks to recover.
package store
