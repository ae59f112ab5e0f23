package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Constraint names, as PostgreSQL reports them in PgError.ConstraintName. SQLite reports
// columns instead; sqliteConstraints maps those to the same names.
const (
	constraintWorkflowsPK        = "workflows_pkey"
	constraintDeploymentIDUnique = "workflows_deployment_id_key"
	constraintRevisionsPK        = "workflow_revisions_pkey"
	constraintWebhookPath        = "idx_triggers_webhook_path"
	constraintTriggersPK         = "triggers_pkey"
)

// sqliteConstraints maps the column list of SQLite's "UNIQUE constraint failed: <columns>"
// message to the PostgreSQL constraint name.
var sqliteConstraints = map[string]string{
	"workflows.id":            constraintWorkflowsPK,
	"workflows.deployment_id": constraintDeploymentIDUnique,
	"workflow_revisions.workflow_id, workflow_revisions.revision": constraintRevisionsPK,
	"triggers.webhook_path":             constraintWebhookPath,
	"triggers.workflow_id, triggers.id": constraintTriggersPK,
}

// errWebhookPathTaken is what interpretError makes of a violation of idx_triggers_webhook_path;
// TriggersReplace, which knows the path, turns it into the caller's message.
var errWebhookPathTaken = fmt.Errorf("webhook path is used by another deployment: %w", errdefs.ErrAlreadyExists)

// interpretError translates a driver error into the errdefs vocabulary, in this one place for
// both dialects:
//
//   - no rows: errdefs.ErrNotFound;
//   - unique violation of workflows' primary key or deployment_id, of a revision number, or a
//     PostgreSQL serialization failure or deadlock: errdefs.ErrConflict (a concurrent writer
//     won; the caller may retry);
//   - unique violation of the webhook path index: errWebhookPathTaken (errdefs.ErrAlreadyExists);
//   - unique violation of a trigger id within a workflow: errdefs.ErrAlreadyExists;
//   - foreign key violation (a revision or trigger of a missing workflow): errdefs.ErrNotFound;
//   - the database does not answer: errdefs.ErrUnavailable (the caller may retry, with the same
//     idempotency key for a trigger, whose row may have been written before the answer was
//     lost). That is a failed or broken connection to PostgreSQL (dial refused or timed out,
//     connection reset or closed, SQLSTATE class 08, the server shutting down or starting up,
//     too many connections) and SQLite busy or locked beyond its busy timeout.
//
// Anything else is returned as is. The result does not say what was being done: callers wrap.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errdefs.ErrNotFound
	}
	if unavailable(err) {
		return fmt.Errorf("%w: database: %w", errdefs.ErrUnavailable, err)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case "23505": // unique_violation
			return uniqueViolation(pgErr.ConstraintName, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s", errdefs.ErrNotFound, pgErr.Message)
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %s", errdefs.ErrConflict, pgErr.Message)
		}
		return err
	}
	if sqliteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch sqliteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation(sqliteConstraintName(sqliteErr.Error()), err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %s", errdefs.ErrNotFound, sqliteErr.Error())
		}
		return err
	}
	return err
}

// unavailable reports whether err says that the database did not answer, rather than that it
// refused the statement.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's own deadline or cancellation (which is a net.Error too)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection_exception and its subclasses
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	if sqliteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch sqliteErr.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}

func uniqueViolation(constraint string, err error) error {
	switch constraint {
	case constraintWorkflowsPK, constraintDeploymentIDUnique:
		return fmt.Errorf("workflow or deployment id exists already: %w", errdefs.ErrConflict)
	case constraintRevisionsPK:
		return fmt.Errorf("revision exists already: %w", errdefs.ErrConflict)
	case constraintWebhookPath:
		return errWebhookPathTaken
	case constraintTriggersPK:
		return fmt.Errorf("trigger id is used twice: %w", errdefs.ErrAlreadyExists)
	}
	return err
}

// sqliteConstraintName finds the constraint in a message like
// "constraint failed: UNIQUE constraint failed: triggers.webhook_path (2067)".
func sqliteConstraintName(msg string) string {
	const marker = "UNIQUE constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return ""
	}
	columns := msg[i+len(marker):]
	if j := strings.LastIndex(columns, " ("); j >= 0 {
		columns = columns[:j]
	}
	return sqliteConstraints[strings.TrimSpace(columns)]
}
