package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Prepared statements on PostgreSQL.
//
// bun writes every value into the SQL text, so PostgreSQL parses and plans each of its
// statements afresh. For most that costs little; for a few it is most of their time: a history
// query plans an index scan per partition (about 2 ms at 11 partitions, against 0.2 ms to run),
// and the worker's batch statements run hundreds of times a second. Those few are written with
// $n parameters and sent through queryPrepared: pgx prepares each text once per connection
// (its statement cache, 512 texts) and binds the values, and PostgreSQL keeps the statement's
// plan. It plans the first five executions with their values and then, when a plan made
// without them (generic) costs no more, uses that one and plans no more: the history queries
// do (their filters are not the partition key, so the values do not prune partitions); a
// statement whose values prune partitions keeps its per-execution plans.
//
// bun's query hook (bunotel) does not see these: queryPrepared makes their span itself, with
// the same name and attributes (the operation, the statement's text), when Options has a
// TracerProvider. They are not in bunotel's query-duration histogram.
//
// A URL that sets default_query_exec_mode (a transaction-pooling proxy may need
// simple_protocol) sends these as every other query: its mode is kept and pgx fills the
// parameters in.

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
	if db.tracer != nil {
		op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
		var span trace.Span
		ctx, span = db.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("db.system", "postgresql"),
			attribute.String("db.operation", op),
			attribute.String("db.statement", query),
		))
		defer func() {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
	}
	if db.keepExecMode {
		return db.bun.DB.QueryContext(ctx, query, args...)
	}
	return db.bun.DB.QueryContext(ctx, query, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
}

// scanPrepared runs query as queryPrepared does and scans its rows into dest (a bun model:
// a pointer to a slice of rows or to one row).
func (db *DB) scanPrepared(ctx context.Context, dest any, query string, args pgParams) error {
	rows, err := db.queryPrepared(ctx, query, args)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	return db.bun.ScanRows(ctx, rows, dest)
}
