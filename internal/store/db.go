package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/extra/bunotel"
	"github.com/uptrace/bun/migrate"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/workflow-runtime/workflow-runtime/migrations"
)

// Dialect names returned by (*DB).Dialect.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Options tunes Open. Every zero value means the stated default.
type Options struct {
	// MaxOpenConns caps the pool. Default: 20 on PostgreSQL, 8 on SQLite (1 for an in-memory
	// SQLite database, which exists only inside its one connection).
	MaxOpenConns int
	// MaxIdleConns is how many idle connections are kept. Default: MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than this. Default: 30 minutes on PostgreSQL,
	// unlimited on SQLite.
	ConnMaxLifetime time.Duration
	// BusyTimeout is how long an SQLite statement waits for another connection's lock before
	// failing with "database is locked". Default: 10 seconds. Ignored on PostgreSQL.
	BusyTimeout time.Duration
	// MigrationLockTimeout is how long Migrate waits for another process that holds bun's
	// migration lock. Default: 1 minute.
	MigrationLockTimeout time.Duration
	// TracerProvider, when set, gets a span per query (bunotel). Default: no query spans.
	TracerProvider trace.TracerProvider
	// MeterProvider, when set, gets the connection-pool and query metrics (bunotel). Default:
	// none.
	MeterProvider metric.MeterProvider
}

// DB is the storage of workflow-runtime: a bun.DB over PostgreSQL or SQLite. It implements the
// storage interfaces of the domain packages (see the package comment).
type DB struct {
	bun     *bun.DB
	dialect string
	opts    Options
	// hooks are the query hooks given to bun, which the prepared statements run themselves
	// (queryPrepared).
	hooks []bun.QueryHook
	// keepExecMode: the PostgreSQL URL set default_query_exec_mode, which queryPrepared keeps.
	keepExecMode bool
	// writeSem serialises InTx on SQLite (capacity 1), so that writers queue in Go, in order and
	// honouring their context, instead of in SQLite's busy handler. nil on PostgreSQL.
	writeSem chan struct{}
}

// Open connects to databaseURL (the value of WFR_DATABASE_URL):
//
//   - postgres://... or postgresql://...: PostgreSQL through pgx's database/sql driver. Any
//     libpq/pgx parameter may be given, e.g. search_path=myschema or sslmode=disable.
//   - sqlite://path/to/file.db (relative to the working directory; sqlite:///abs/path.db for
//     an absolute path): SQLite through modernc.org/sqlite (pure Go). The parent directory is
//     created. Extra modernc DSN parameters may follow a '?'.
//   - sqlite::memory: (or sqlite://:memory:): a private in-memory SQLite database, for tests.
//
// It checks the connection before returning. The schema is not touched: call Migrate.
func Open(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		db, err = openPostgres(databaseURL, opts)
	case strings.HasPrefix(databaseURL, "sqlite:"):
		db, err = openSQLite(databaseURL, opts)
	default:
		scheme, _, _ := strings.Cut(databaseURL, ":")
		return nil, fmt.Errorf("open database: WFR_DATABASE_URL has unsupported scheme %q: want postgres://, postgresql:// or sqlite://", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", schemeOf(databaseURL), err)
	}
	if opts.TracerProvider != nil || opts.MeterProvider != nil {
		hook := []bunotel.Option{bunotel.WithDBName(db.dialect)}
		if opts.TracerProvider != nil {
			hook = append(hook, bunotel.WithTracerProvider(opts.TracerProvider))
		}
		if opts.MeterProvider != nil {
			hook = append(hook, bunotel.WithMeterProvider(opts.MeterProvider))
		}
		h := bunotel.NewQueryHook(hook...)
		db.bun = db.bun.WithQueryHook(h)
		db.hooks = append(db.hooks, h)
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s database: %w", db.dialect, err)
	}
	return db, nil
}

func schemeOf(databaseURL string) string {
	if strings.HasPrefix(databaseURL, "sqlite:") {
		return DialectSQLite
	}
	return DialectPostgres
}

func openPostgres(databaseURL string, opts Options) (*DB, error) {
	config, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse WFR_DATABASE_URL: %w", err)
	}
	// bun formats every query client-side, so each SQL text is new to pgx: its default
	// (prepare and describe each new statement, then execute) would cost a second round trip
	// per query and fill the statement cache with one-off texts. Send queries as they are,
	// unless the URL chooses otherwise. The few statements written with $n parameters are
	// prepared (queryPrepared).
	if !strings.Contains(databaseURL, "default_query_exec_mode") {
		config.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		// The prepared statements' plans, made once (see queryPrepared).
		if _, set := config.RuntimeParams["plan_cache_mode"]; !set {
			config.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
		}
	}
	sqldb := stdlib.OpenDB(*config)
	maxOpen := cmp.Or(opts.MaxOpenConns, 20)
	sqldb.SetMaxOpenConns(maxOpen)
	sqldb.SetMaxIdleConns(cmp.Or(opts.MaxIdleConns, maxOpen))
	sqldb.SetConnMaxLifetime(cmp.Or(opts.ConnMaxLifetime, 30*time.Minute))
	return &DB{
		bun:          bun.NewDB(sqldb, pgdialect.New()),
		dialect:      DialectPostgres,
		opts:         opts,
		keepExecMode: strings.Contains(databaseURL, "default_query_exec_mode"),
	}, nil
}

// sqliteDSN turns a sqlite: URL into a modernc DSN and says whether it is in memory.
func sqliteDSN(databaseURL string, busyTimeout time.Duration) (dsn string, memory bool, err error) {
	rest := strings.TrimPrefix(databaseURL, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", false, errors.New("WFR_DATABASE_URL names no SQLite file: want sqlite://path/to/file.db")
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, fmt.Errorf("parse WFR_DATABASE_URL parameters: %w", err)
	}
	memory = path == ":memory:"
	// Order matters: busy_timeout first, so that switching to WAL waits for other openers.
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"foreign_keys(1)",
	}
	if !memory {
		// WAL: readers do not block the writer nor the writer the readers; NORMAL sync is
		// durable across application crashes and consistent across power loss in WAL mode.
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)")
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return "", false, fmt.Errorf("create directory of the SQLite file: %w", err)
			}
		}
	}
	query["_pragma"] = append(pragmas, query["_pragma"]...)
	// Write transactions take the write lock at BEGIN: a deferred transaction that reads and
	// then writes fails with SQLITE_BUSY at once (the busy handler cannot help it), an immediate
	// one waits busy_timeout for the lock. Read-only transactions stay deferred.
	if !query.Has("_txlock") {
		query.Set("_txlock", "immediate")
	}
	return path + "?" + query.Encode(), memory, nil
}

func openSQLite(databaseURL string, opts Options) (*DB, error) {
	dsn, memory, err := sqliteDSN(databaseURL, cmp.Or(opts.BusyTimeout, 10*time.Second))
	if err != nil {
		return nil, err
	}
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	maxOpen := cmp.Or(opts.MaxOpenConns, 8)
	if memory {
		maxOpen = 1 // each connection would open its own empty database
	}
	sqldb.SetMaxOpenConns(maxOpen)
	sqldb.SetMaxIdleConns(cmp.Or(opts.MaxIdleConns, maxOpen))
	sqldb.SetConnMaxLifetime(opts.ConnMaxLifetime)
	if memory {
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxLifetime(0)
	}
	return &DB{
		bun:      bun.NewDB(sqldb, sqlitedialect.New()),
		dialect:  DialectSQLite,
		opts:     opts,
		writeSem: make(chan struct{}, 1),
	}, nil
}

// Bun returns the bun handle, for queries that are not the service's storage: the load test's
// database counters and diagnostics (internal/bench) and tests that look at rows directly.
func (db *DB) Bun() *bun.DB { return db.bun }

// Dialect returns DialectPostgres or DialectSQLite.
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.bun.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.dialect, err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error {
	return db.bun.Close()
}

// Migrate applies the migrations of the dialect that are not applied yet. It is safe to call
// from several processes at once: bun's migration lock (a row in bun_migration_locks) lets one
// migrate while the others wait, up to Options.MigrationLockTimeout, and then find nothing
// left to do. Each migration file runs in its own transaction and is recorded in
// bun_migrations only when it succeeded.
func (db *DB) Migrate(ctx context.Context) error {
	fsys := migrations.SQLite
	if db.dialect == DialectPostgres {
		fsys = migrations.Postgres
	}
	if err := db.migrate(ctx, fsys); err != nil {
		return fmt.Errorf("migrate %s database: %w", db.dialect, err)
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, fsys fs.FS) error {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return fmt.Errorf("discover migrations: %w", err)
	}
	migrator := migrate.NewMigrator(db.bun, ms, migrate.WithMarkAppliedOnSuccess(true))

	// Only the wait for the lock is bounded: a migration that copies a large table (the
	// partitioning of executions) may take longer than MigrationLockTimeout, and ctx bounds it.
	lockCtx, cancel := context.WithTimeout(ctx, cmp.Or(db.opts.MigrationLockTimeout, time.Minute))
	defer cancel()
	// Init (CREATE TABLE IF NOT EXISTS) and Lock (INSERT of the lock row) fail rather than wait
	// when another process runs them at the same moment; retry both until the timeout.
	err := retry(lockCtx, func() error {
		if err := migrator.Init(lockCtx); err != nil {
			return fmt.Errorf("create migration tables: %w", err)
		}
		return migrator.Lock(lockCtx)
	})
	if err != nil {
		return err
	}
	defer func() {
		// Unlock even when ctx is done: a lock left behind blocks every later start.
		_ = migrator.Unlock(context.WithoutCancel(ctx))
	}()
	if _, err := migrator.Migrate(ctx); err != nil {
		return err
	}
	return nil
}

// retry calls fn until it succeeds or ctx is done, backing off from 10 ms to 500 ms.
func retry(ctx context.Context, fn func() error) error {
	backoff := 10 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}
