package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestPostgresDownIsUnavailable: with the server stopped, a read and a write answer
// errdefs.ErrUnavailable (which the API maps to unavailable), not an unknown error.
func TestPostgresDownIsUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pg := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, pg.URL(), store.Options{})
	is.NoErr(err)
	t.Cleanup(func() { _ = db.Close() })
	is.NoErr(db.Migrate(ctx))
	_, err = db.ExecutionGet(ctx, uuid.NewString())
	is.True(errors.Is(err, errdefs.ErrNotFound)) // up: answers

	pg.Stop()
	_, err = db.ExecutionGet(ctx, uuid.NewString())
	t.Logf("read with the server down: %v", err)
	is.True(errors.Is(err, errdefs.ErrUnavailable)) // read: a broken or refused connection
	_, err = db.ExecutionTouchDue(ctx, time.Now(), time.Now(), time.Now(), 1)
	t.Logf("write with the server down: %v", err)
	is.True(errors.Is(err, errdefs.ErrUnavailable)) // write: connection refused
}

// TestSQLiteBusyIsUnavailable: a writer that waits for another process's write lock beyond
// its busy timeout gets errdefs.ErrUnavailable.
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	url := "sqlite://" + filepath.Join(t.TempDir(), "wfr.db")
	holder, err := store.Open(ctx, url, store.Options{})
	is.NoErr(err)
	t.Cleanup(func() { _ = holder.Close() })
	is.NoErr(holder.Migrate(ctx))
	// The second handle stands for another process: its own pool, its own busy timeout.
	waiter, err := store.Open(ctx, url, store.Options{BusyTimeout: 50 * time.Millisecond})
	is.NoErr(err)
	t.Cleanup(func() { _ = waiter.Close() })

	tx, err := holder.Bun().BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	is.NoErr(err)
	defer func() { _ = tx.Rollback() }()
	_, err = waiter.ExecutionTouchDue(ctx, time.Now(), time.Now(), time.Now(), 1)
	t.Logf("write while another connection holds the lock: %v", err)
	is.True(errors.Is(err, errdefs.ErrUnavailable))
}
