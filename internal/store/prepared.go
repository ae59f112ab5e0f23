package store

import (
	"context"
	"database/sql"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// Prepared statements on PostgreSQL.
//
// bun writes every value into the SQL text, so PostgreSQL parses and plans each of its
// statements afresh. For most that costs little; for a few it is most of their time: a history
// query plans an index scan per partition (about 2 ms at 11 partitions, against 0.2 ms to run),
// and the worker's and the trigger's statements run hundreds of times a second, each planned in
// 0.2 to 0.6 ms and run in 0.1 to 0.2. Those few are written with $n parameters and sent
// through queryPrepared and execPrepared: pgx prepares each text once per connection (its
// statement cache, 512 texts) and binds the values, and PostgreSQL plans it once, without the
// values (a generic plan: the connection's plan_cache_mode is force_generic_plan, which only
// prepared statements heed). By default PostgreSQL would plan the first five executions with
// their values and then keep planning them when the generic plan costs more: a statement that
// names an execution by id is planned with its values over one partition, and without them over
// all (they are pruned when it runs, from the id), so the default would plan it every time.
// These statements are written so that a generic plan is as good as one with the values: the
// partition key, when they have it, is compared with parameters the executor prunes by (id =
// $n, id BETWEEN $n AND $m; not id = ANY($n), which PostgreSQL 15 does not prune by).
//
// bun does not run these, so it does not run its query hooks for them either: DB keeps the hooks
// it gave bun (bunotel's, when Options asks for spans or metrics) and runs them around each,
// with the statement's text (its values are not in it).
//
// A URL that sets default_query_exec_mode (a transaction-pooling proxy may need
// simple_protocol) sends these as every other query: its mode is kept and pgx fills the
// parameters in.

// executionColumns and executionColumnsQualified list executionRow's columns ("id,
// deployment_id, …", and "executions.id, …"): the prepared statements return them rather than
// *. PostgreSQL refuses to run a prepared statement whose result's columns changed since it
// was prepared, so with * a migration that adds a column to executions would fail the next
// call of each statement on each connection once (pgx then prepares it again); with a list,
// a process keeps reading the columns it knows.
var (
	executionColumns          = rowColumns[executionRow]("")
	executionColumnsQualified = rowColumns[executionRow]("executions.")
)

// rowColumns lists the columns of the bun model R (its fields' bun tags), each after prefix.
func rowColumns[R any](prefix string) string {
	t := reflect.TypeFor[R]()
	var cols []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("bun"), ",")
		if f.Anonymous || name == "" || name == "-" {
			continue
		}
		cols = append(cols, prefix+name)
	}
	return strings.Join(cols, ", ")
}

// pgParams collects the values of a statement's $n parameters.
type pgParams []any

// add appends v and returns its placeholder.
func (p *pgParams) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// queryPrepared runs query, whose parameters are $1, $2, … (PostgreSQL only), as a prepared
// statement cached per connection, and returns its rows.
func (db *DB) queryPrepared(ctx context.Context, query string, args pgParams) (rows *sql.Rows, err error) {
	ctx, event := db.beforePrepared(ctx, query)
	defer func() { db.afterPrepared(ctx, event, nil, err) }()
	return db.bun.DB.QueryContext(ctx, query, db.withExecMode(args)...)
}

// execPrepared runs the statement query as queryPrepared does and returns the number of rows it
// changed.
func (db *DB) execPrepared(ctx context.Context, query string, args pgParams) (n int64, err error) {
	ctx, event := db.beforePrepared(ctx, query)
	var res sql.Result
	defer func() { db.afterPrepared(ctx, event, res, err) }()
	if res, err = db.bun.DB.ExecContext(ctx, query, db.withExecMode(args)...); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// beforePrepared runs the hooks' BeforeQuery for a prepared statement.
func (db *DB) beforePrepared(ctx context.Context, query string) (context.Context, *bun.QueryEvent) {
	if len(db.hooks) == 0 {
		return ctx, nil
	}
	event := &bun.QueryEvent{DB: db.bun, Query: query, QueryTemplate: query, StartTime: time.Now()}
	for _, h := range db.hooks {
		ctx = h.BeforeQuery(ctx, event)
	}
	return ctx, event
}

// afterPrepared runs the hooks' AfterQuery, in reverse order, for the statement of event.
func (db *DB) afterPrepared(ctx context.Context, event *bun.QueryEvent, res sql.Result, err error) {
	if event == nil {
		return
	}
	event.Result, event.Err = res, err
	for i := len(db.hooks) - 1; i >= 0; i-- {
		db.hooks[i].AfterQuery(ctx, event)
	}
}

// scanPrepared runs query as queryPrepared does and scans its rows into dest, a pointer to a
// slice of rows (a bun model).
func (db *DB) scanPrepared(ctx context.Context, dest any, query string, args pgParams) error {
	rows, err := db.queryPrepared(ctx, query, args)
	if err != nil {
		return err
	}
	return db.bun.ScanRows(ctx, rows, dest) // closes rows
}

// scanOnePrepared runs query as queryPrepared does and scans its first row into dest, a pointer
// to a struct; no row is sql.ErrNoRows, as bun's Scan says.
func (db *DB) scanOnePrepared(ctx context.Context, dest any, query string, args pgParams) error {
	rows, err := db.queryPrepared(ctx, query, args)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := db.bun.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	for rows.Next() { // the statement's end, and its error if it failed after the first row
	}
	return rows.Err()
}

// withExecMode puts pgx's mode for the cached statement before args, unless the URL chose one.
func (db *DB) withExecMode(args pgParams) []any {
	if db.keepExecMode {
		return args
	}
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}
