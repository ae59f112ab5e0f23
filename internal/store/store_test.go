package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// dialects are the backends every test here runs against.
var dialects = []struct {
	name string
	open func(t testing.TB) *store.DB
}{
	{store.DialectSQLite, storetest.OpenSQLite},
	{store.DialectPostgres, storetest.OpenPostgres},
}

func TestContract(t *testing.T) {
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) deployments.Store { return d.open(t) })
		})
	}
}

// forEachDialect runs test against a fresh database of each dialect, in parallel.
func forEachDialect(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			is.New(t).Equal(db.Dialect(), d.name) // dialect
			test(t, db)
		})
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		is.NoErr(db.Migrate(ctx)) // second run: nothing to do
		is.NoErr(db.Migrate(ctx)) // third run

		// Concurrent migrators wait for bun's lock instead of failing.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- db.Migrate(ctx) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			is.NoErr(err) // concurrent Migrate
		}

		var applied, names int
		is.NoErr(db.Bun().NewSelect().TableExpr("bun_migrations").ColumnExpr("count(*)").Scan(ctx, &applied))
		is.NoErr(db.Bun().NewSelect().TableExpr("bun_migrations").ColumnExpr("count(DISTINCT name)").Scan(ctx, &names))
		is.True(names >= 2)      // 000001 and later
		is.Equal(applied, names) // each migration recorded once
	})
}

func TestDeploymentStatusCheck(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		d := storetest.NewDeployment("check")
		is.NoErr(storetest.Create(ctx, db, d))

		_, err := db.Bun().ExecContext(ctx, "UPDATE workflows SET deployment_status = 'RUNNING' WHERE id = ?", d.WorkflowID)
		is.True(err != nil)                                                         // CHECK rejects an unknown status
		is.True(strings.Contains(strings.ToLower(err.Error()), "check constraint")) // and says so

		for _, s := range []string{"DRAFT", "DEPLOYED", "PAUSED", "ARCHIVED"} {
			_, err := db.Bun().ExecContext(ctx, "UPDATE workflows SET deployment_status = ? WHERE id = ?", s, d.WorkflowID)
			is.NoErr(err) // allowed status
		}

		// The column default of the original schema.
		_, err = db.Bun().ExecContext(ctx,
			"INSERT INTO workflows (id, deployment_id, current_revision) VALUES ('defaults', '6f1b0d1e-0000-4000-8000-000000000001', 1)")
		is.NoErr(err)
		var status, config string
		is.NoErr(db.Bun().QueryRowContext(ctx,
			"SELECT deployment_status, deployment_config FROM workflows WHERE id = 'defaults'").Scan(&status, &config))
		is.Equal(status, "DRAFT") // default status
		is.Equal(config, "{}")    // default config
	})
}

// The policies are stored as their text (the triggers' DST columns, the config's JSON), as when
// they were strings, read back as written, and an unknown stored policy fails the read.
func TestPoliciesStoredAsText(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		d := storetest.NewDeployment("policies")
		d.Triggers[0].Cron.RepeatedHour, d.Triggers[0].Cron.SkippedHour = policy.RepeatedHourOnce, policy.SkippedHourShift
		d.Triggers = append(d.Triggers, deployments.Trigger{ID: "classic", Cron: &deployments.CronSchedule{Expression: "0 3 * * *", Timezone: "UTC"}})
		d.Config.OverlapPolicy, d.Config.MisfirePolicy = policy.OverlapCancelOther, policy.MisfireFireAll
		is.NoErr(storetest.Create(ctx, db, d))

		var repeated, skipped []string
		rows, err := db.Bun().QueryContext(ctx, "SELECT repeated_hour, skipped_hour FROM triggers WHERE workflow_id = ? AND kind = 'cron' ORDER BY id", d.WorkflowID)
		is.NoErr(err)
		for rows.Next() {
			var r, k string
			is.NoErr(rows.Scan(&r, &k))
			repeated, skipped = append(repeated, r), append(skipped, k)
		}
		is.NoErr(rows.Err())
		is.NoErr(rows.Close())
		is.Equal(repeated, []string{"", "ONCE"}) // "classic", "nightly": the default is ""
		is.Equal(skipped, []string{"", "SHIFT"})
		var config string
		is.NoErr(db.Bun().QueryRowContext(ctx, "SELECT deployment_config FROM workflows WHERE id = ?", d.WorkflowID).Scan(&config))
		is.True(strings.Contains(config, `"overlap_policy": "CANCEL_OTHER"`) || strings.Contains(config, `"overlap_policy":"CANCEL_OTHER"`)) // JSONB or TEXT
		is.True(strings.Contains(config, `"misfire_policy": "FIRE_ALL"`) || strings.Contains(config, `"misfire_policy":"FIRE_ALL"`))

		got, err := db.DeploymentGet(ctx, d.ID)
		is.NoErr(err)
		is.Equal(got.Config.OverlapPolicy, policy.OverlapCancelOther)
		is.Equal(got.Config.MisfirePolicy, policy.MisfireFireAll)
		for _, tr := range got.Triggers {
			switch tr.ID {
			case "nightly":
				is.Equal(tr.Cron.RepeatedHour, policy.RepeatedHourOnce)
				is.Equal(tr.Cron.SkippedHour, policy.SkippedHourShift)
			case "classic":
				is.Equal(tr.Cron.RepeatedHour, policy.RepeatedHourDefault)
				is.Equal(tr.Cron.SkippedHour, policy.SkippedHourDefault)
			}
		}

		// A config no deploy could write (the DST columns have CHECKs): the read fails loudly.
		_, err = db.Bun().ExecContext(ctx, `UPDATE workflows SET deployment_config = '{"overlap_policy":"SOMETIMES"}' WHERE id = ?`, d.WorkflowID)
		is.NoErr(err)
		_, err = db.DeploymentGet(ctx, d.ID)
		is.True(errors.Is(err, policy.ErrUnknown)) // not read as SKIP
	})
}

// The after-blackout policy is stored as its text in triggers.after_blackout, as when it was a
// string ("" when unset), read back as written; an unknown stored text, which only a row
// written past the column's CHECK can hold, fails the read naming the workflow and trigger.
func TestAfterBlackoutStoredAsText(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		d := storetest.NewDeployment("after-blackout")
		d.Triggers[0].Cron.AfterBlackout = policy.AfterBlackoutFireOnce
		d.Triggers = append(d.Triggers,
			deployments.Trigger{ID: "classic", Cron: &deployments.CronSchedule{Expression: "0 3 * * *", Timezone: "UTC"}},
			deployments.Trigger{ID: "dropped", Cron: &deployments.CronSchedule{Expression: "0 4 * * *", Timezone: "UTC",
				AfterBlackout: policy.AfterBlackoutDrop}})
		is.NoErr(storetest.Create(ctx, db, d))

		var stored []string
		rows, err := db.Bun().QueryContext(ctx, "SELECT after_blackout FROM triggers WHERE workflow_id = ? AND kind = 'cron' ORDER BY id", d.WorkflowID)
		is.NoErr(err)
		for rows.Next() {
			var a string
			is.NoErr(rows.Scan(&a))
			stored = append(stored, a)
		}
		is.NoErr(rows.Err())
		is.NoErr(rows.Close())
		is.Equal(stored, []string{"", "DROP", "FIRE_ONCE"}) // "classic", "dropped", "nightly"

		got, err := db.DeploymentGet(ctx, d.ID)
		is.NoErr(err)
		after := map[string]policy.AfterBlackout{}
		for _, tr := range got.Triggers {
			if tr.Cron != nil {
				after[tr.ID] = tr.Cron.AfterBlackout
			}
		}
		is.Equal(after, map[string]policy.AfterBlackout{
			"nightly": policy.AfterBlackoutFireOnce, "dropped": policy.AfterBlackoutDrop, "classic": policy.AfterBlackoutUnspecified,
		})

		// Write past the CHECK: Postgres drops it in this test's schema, SQLite ignores it on one
		// connection.
		conn, err := db.Bun().Conn(ctx)
		is.NoErr(err)
		defer func() { is.NoErr(conn.Close()) }()
		if db.Dialect() == store.DialectPostgres {
			_, err = conn.ExecContext(ctx, "ALTER TABLE triggers DROP CONSTRAINT triggers_after_blackout_check")
		} else {
			_, err = conn.ExecContext(ctx, "PRAGMA ignore_check_constraints = ON")
		}
		is.NoErr(err)
		_, err = conn.ExecContext(ctx, "UPDATE triggers SET after_blackout = 'SOMETIMES' WHERE workflow_id = ? AND id = 'dropped'", d.WorkflowID)
		is.NoErr(err)
		if db.Dialect() == store.DialectSQLite {
			_, err = conn.ExecContext(ctx, "PRAGMA ignore_check_constraints = OFF")
			is.NoErr(err)
		}
		_, err = db.DeploymentGet(ctx, d.ID)
		is.True(errors.Is(err, policy.ErrUnknown))                        // not read as DROP
		is.True(strings.Contains(err.Error(), "trigger dropped"))         // names the trigger
		is.True(strings.Contains(err.Error(), "workflow after-blackout")) // and the workflow
	})
}

func TestRevisionsAreImmutable(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		d := storetest.NewDeployment("immutable")
		is.NoErr(storetest.Create(ctx, db, d))
		for range 3 {
			err := db.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
				cur, err := tx.DeploymentGetForUpdate(ctx, d.WorkflowID)
				if err != nil {
					return err
				}
				cur.Revision++
				cur.Definition.Name = fmt.Sprintf("v%d", cur.Revision)
				if err := tx.RevisionInsert(ctx, cur); err != nil {
					return err
				}
				return tx.DeploymentUpdate(ctx, cur)
			})
			is.NoErr(err)
		}

		var revisions []int
		is.NoErr(db.Bun().NewSelect().TableExpr("workflow_revisions").Column("revision").
			Where("workflow_id = ?", d.WorkflowID).OrderExpr("revision").Scan(ctx, &revisions))
		is.Equal(revisions, []int{1, 2, 3, 4}) // n+1 rows: every revision kept

		var first string
		is.NoErr(db.Bun().QueryRowContext(ctx,
			"SELECT definition FROM workflow_revisions WHERE workflow_id = ? AND revision = 1", d.WorkflowID).Scan(&first))
		is.True(strings.Contains(first, d.Definition.Name)) // revision 1 unchanged

		_, err := db.Bun().ExecContext(ctx,
			"UPDATE workflow_revisions SET definition = '{}' WHERE workflow_id = ?", d.WorkflowID)
		is.True(err != nil)                                 // UPDATE rejected
		is.True(strings.Contains(err.Error(), "immutable")) // by the trigger
	})
}

func TestErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := t.Context()
		_, err := db.DeploymentGetByWorkflow(ctx, "nope")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		is.Equal(err.Error(), "get deployment of workflow nope: not found") // says what was done

		// A workflows row whose revision is missing is damage, not "not found".
		_, err = db.Bun().ExecContext(ctx,
			"INSERT INTO workflows (id, deployment_id, current_revision) VALUES ('orphan', '6f1b0d1e-0000-4000-8000-000000000002', 1)")
		is.NoErr(err)
		_, err = db.DeploymentGetByWorkflow(ctx, "orphan")
		is.True(err != nil && !errors.Is(err, errdefs.ErrNotFound)) // missing revision
		_, err = db.DeploymentList(ctx, nil)
		is.True(err != nil && !errors.Is(err, errdefs.ErrNotFound)) // missing revision in a list

		is.NoErr(db.Ping(ctx))
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("UnknownScheme", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		_, err := store.Open(ctx, "mysql://localhost/db", store.Options{})
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "WFR_DATABASE_URL")) // names the variable
		is.True(strings.Contains(err.Error(), `"mysql"`))          // and the scheme
	})

	t.Run("BadPostgresURL", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		_, err := store.Open(ctx, "postgres://localhost:notaport/db", store.Options{})
		is.True(err != nil) // unparsable
		_, err = store.Open(ctx, "postgres://nobody@127.0.0.1:1/db?connect_timeout=1", store.Options{})
		is.True(err != nil) // unreachable: Open pings
	})

	t.Run("BadSQLiteURL", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		_, err := store.Open(ctx, "sqlite://", store.Options{})
		is.True(err != nil) // no path
		_, err = store.Open(ctx, "sqlite://x.db?%zz", store.Options{})
		is.True(err != nil) // bad parameters
		_, err = store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db")+"?_txlock=sometimes", store.Options{})
		is.True(err != nil) // rejected by the driver
		file := filepath.Join(t.TempDir(), "file")
		is.NoErr(os.WriteFile(file, nil, 0o600))
		_, err = store.Open(ctx, "sqlite://"+file+"/sub/x.db", store.Options{})
		is.True(err != nil) // parent cannot be created
	})

	t.Run("SQLiteMemory", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		for _, u := range []string{"sqlite::memory:", "sqlite://:memory:"} {
			db, err := store.Open(ctx, u, store.Options{})
			is.NoErr(err)
			is.Equal(db.Dialect(), store.DialectSQLite)
			is.NoErr(db.Migrate(ctx))
			d := storetest.NewDeployment("mem")
			is.NoErr(storetest.Create(ctx, db, d))
			got, err := db.DeploymentGet(ctx, d.ID)
			is.NoErr(err)
			is.Equal(got.WorkflowID, "mem") // one database across calls
			is.NoErr(db.Close())
		}
	})

	t.Run("PostgresURLWithScheme", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		u := storetest.PostgresURL(t)
		db, err := store.Open(ctx, "postgresql://"+strings.TrimPrefix(u, "postgres://"), store.Options{})
		is.NoErr(err)
		defer func() { is.NoErr(db.Close()) }()
		is.Equal(db.Dialect(), store.DialectPostgres)
	})
}

// TestOpenSQLiteRelativePath is not parallel: it changes the working directory.
func TestOpenSQLiteRelativePath(t *testing.T) {
	ctx := t.Context()
	is := is.New(t)
	dir := t.TempDir()
	t.Chdir(dir)
	db, err := store.Open(ctx, "sqlite://data/workflow-runtime.db", store.Options{})
	is.NoErr(err)
	defer func() { is.NoErr(db.Close()) }()
	is.NoErr(db.Migrate(ctx))
	_, err = os.Stat(filepath.Join(dir, "data", "workflow-runtime.db"))
	is.NoErr(err) // file under ./data

	var mode string
	is.NoErr(db.Bun().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	is.Equal(mode, "wal") // WAL
	var fk, busy int
	is.NoErr(db.Bun().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	is.Equal(fk, 1) // foreign keys on
	is.NoErr(db.Bun().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	is.Equal(busy, 10000) // 10 s default
}

// TestSQLiteTwoHandles writes one file through two pools at once, as two processes would: the
// writers of different handles meet in SQLite's lock (busy_timeout, BEGIN IMMEDIATE), not in
// InTx's queue, and still none fails with "database is locked".
func TestSQLiteTwoHandles(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	var handles []*store.DB
	for range 2 {
		db, err := store.Open(ctx, "sqlite://"+path, store.Options{})
		is.NoErr(err)
		t.Cleanup(func() { _ = db.Close() })
		is.NoErr(db.Migrate(ctx)) // concurrent-safe, idempotent
		handles = append(handles, db)
	}
	d := storetest.NewDeployment("two-handles")
	is.NoErr(storetest.Create(ctx, handles[0], d))

	const writers, rounds = 8, 10
	errs := make(chan error, writers*rounds)
	var wg sync.WaitGroup
	for w := range writers {
		db := handles[w%2]
		wg.Go(func() {
			for range rounds {
				errs <- db.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
					cur, err := tx.DeploymentGetForUpdate(ctx, d.WorkflowID)
					if err != nil {
						return err
					}
					cur.Revision++
					if err := tx.RevisionInsert(ctx, cur); err != nil {
						return err
					}
					return tx.DeploymentUpdate(ctx, cur)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // no "database is locked"
	}
	got, err := handles[1].DeploymentGet(ctx, d.ID)
	is.NoErr(err)
	is.Equal(got.Revision, int32(1+writers*rounds)) // no lost update
}
