// Package storetest is the contract suite of deployments.Store (Run) and the helpers that give
// any package's tests a fresh, migrated database (OpenPostgres, OpenSQLite).
//
// PostgreSQL comes from WFR_TEST_DATABASE_URL, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. When it is unset the PostgreSQL
// tests are skipped, unless CI=true: then they fail, as does an unreachable server (under CI a
// missing database is a broken pipeline, never a reason to skip).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// EnvDatabaseURL names the variable with the PostgreSQL server for tests.
const EnvDatabaseURL = "WFR_TEST_DATABASE_URL"

// OpenPostgres returns a migrated store in a new schema of the WFR_TEST_DATABASE_URL database
// (search_path points at it), so that tests and packages running in parallel do not see each
// other's rows. The schema is dropped and the pool closed when the test ends. Skips when
// WFR_TEST_DATABASE_URL is unset, unless CI=true (then it fails).
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	// Registered after the schema's cleanup, so it runs before it: close, then drop.
	return openAndMigrate(t, PostgresSchemaURL(t), store.Options{MaxOpenConns: 10})
}

// PostgresSchemaURL creates a new, empty schema in the WFR_TEST_DATABASE_URL database, drops it
// when the test ends, and returns a URL whose search_path points at it (for processes and
// stores the test opens itself). Skips or fails like PostgresURL.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	baseURL := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := store.Open(ctx, baseURL, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("storetest: %s: %v", EnvDatabaseURL, err)
	}
	schema := "wfr_test_" + randomHex(t, 8)
	if _, err := admin.Bun().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("storetest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Bun().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})

	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresURL returns WFR_TEST_DATABASE_URL, skipping the test when it is unset (failing it
// when CI=true).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u == "" {
		testenv.Unavailable(t, "%s is not set: set it to run the PostgreSQL tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvDatabaseURL)
	}
	return u
}

// EachBackend runs f as parallel subtests "sqlite" and "postgres", each on a fresh migrated
// store of its own.
func EachBackend(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": OpenSQLite, "postgres": OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

// OpenSQLite returns a migrated store in a new SQLite file (WAL) under t.TempDir(), closed when
// the test ends.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wfr.db")
	return openAndMigrate(t, "sqlite://"+path, store.Options{})
}

func openAndMigrate(t testing.TB, databaseURL string, opts store.Options) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, databaseURL, opts)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return db
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
