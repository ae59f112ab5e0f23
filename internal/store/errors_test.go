package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// TestInterpretError covers the translations the contract suite cannot provoke on demand
// (deadlocks, serialization failures); the others are exercised against real databases.
func TestInterpretError(t *testing.T) {
	t.Parallel()
	other := errors.New("other")
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, nil},
		{"no rows", fmt.Errorf("scan: %w", sql.ErrNoRows), errdefs.ErrNotFound},
		{"pg deadlock", &pgconn.PgError{Code: "40P01"}, errdefs.ErrConflict},
		{"pg serialization", &pgconn.PgError{Code: "40001"}, errdefs.ErrConflict},
		{"pg foreign key", &pgconn.PgError{Code: "23503"}, errdefs.ErrNotFound},
		{"pg workflows pk", &pgconn.PgError{Code: "23505", ConstraintName: constraintWorkflowsPK}, errdefs.ErrConflict},
		{"pg webhook path", &pgconn.PgError{Code: "23505", ConstraintName: constraintWebhookPath}, errWebhookPathTaken},
		{"pg other unique", &pgconn.PgError{Code: "23505", ConstraintName: "idx_executions_cron_fire"}, nil},
		{"pg other code", &pgconn.PgError{Code: "23514"}, nil},
		{"pg admin shutdown", &pgconn.PgError{Code: "57P01"}, errdefs.ErrUnavailable},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, errdefs.ErrUnavailable},
		{"pg too many connections", &pgconn.PgError{Code: "53300"}, errdefs.ErrUnavailable},
		{"refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), errdefs.ErrUnavailable},
		{"bad conn", driver.ErrBadConn, errdefs.ErrUnavailable},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), nil},
		{"other", other, other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			got := interpretError(tt.err)
			if tt.want == nil {
				is.Equal(got, tt.err) // returned as is
				return
			}
			is.True(errors.Is(got, tt.want)) // translated
		})
	}
}

func TestSQLiteConstraintName(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(sqliteConstraintName("constraint failed: UNIQUE constraint failed: triggers.webhook_path (2067)"), constraintWebhookPath)
	is.Equal(sqliteConstraintName("UNIQUE constraint failed: workflow_revisions.workflow_id, workflow_revisions.revision"), constraintRevisionsPK)
	is.Equal(sqliteConstraintName("UNIQUE constraint failed: executions.id (1555)"), "") // not one of ours
	is.Equal(sqliteConstraintName("CHECK constraint failed: x"), "")                     // not unique
}
