package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
	"github.com/workflow-runtime/workflow-runtime/migrations"
)

const partitionsMigration = "20261202000001_partitions"

// v7At returns a UUIDv7 of time at.
func v7At(at time.Time) string {
	u := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[:6], ms[2:])
	return u.String()
}

// The two keys of executions that do not contain the partition key, a cron fire's (workflow,
// trigger, scheduled time) and (workflow, idempotency key), hold across partitions: a second
// execution with the key, whose id falls in another partition, is not written, also when both
// are written at once.
func TestPartitionedExecutionKeys(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenPostgres(t)
	d := storetest.NewDeployment("wf-keys")
	is.NoErr(storetest.Create(ctx, db, d))
	now := time.Now().UTC().Truncate(time.Microsecond)
	// The initial partition ends at the migration; ids 30 days on go to the default one.
	past, later := now.Add(-24*time.Hour), now.Add(30*24*time.Hour)
	partition := func(id string) string {
		var name string
		is.NoErr(db.Bun().NewRaw("SELECT tableoid::regclass::text FROM executions WHERE id = ?", id).Scan(ctx, &name))
		return name
	}

	cron := newExecution(d.WorkflowID)
	cron.ID, cron.TriggerType, cron.TriggerID = v7At(past), execution.TriggerCron, "hourly"
	_, inserted, err := db.ExecutionInsert(ctx, cron)
	is.NoErr(err)
	is.True(inserted)
	again := *cron
	again.ID = v7At(later)
	got, inserted, err := db.ExecutionInsert(ctx, &again)
	is.NoErr(err)
	is.True(!inserted)
	is.Equal(got.ID, cron.ID)
	is.Equal(partition(cron.ID), "executions_initial")

	keyed := newExecution(d.WorkflowID)
	keyed.ID, keyed.IdempotencyKey = v7At(later), "request-1"
	_, inserted, err = db.ExecutionInsert(ctx, keyed)
	is.NoErr(err)
	is.True(inserted)
	is.Equal(partition(keyed.ID), "executions_default")
	retry := *keyed
	retry.ID = v7At(past)
	got, inserted, err = db.ExecutionInsert(ctx, &retry)
	is.NoErr(err)
	is.True(!inserted)
	is.Equal(got.ID, keyed.ID)

	// At once, from two connections, into two partitions: one row per key.
	for i := range 20 {
		var wg sync.WaitGroup
		results := make(chan bool, 2)
		for _, at := range []time.Time{past, later} {
			e := newExecution(d.WorkflowID)
			e.ID, e.TriggerType, e.TriggerID, e.ScheduledAt = v7At(at), execution.TriggerCron, "race", now.Add(time.Duration(i)*time.Minute)
			wg.Go(func() {
				_, inserted, err := db.ExecutionInsert(ctx, e)
				if err != nil {
					t.Error(err)
				}
				results <- inserted
			})
		}
		wg.Wait()
		close(results)
		n := 0
		for r := range results {
			if r {
				n++
			}
		}
		is.Equal(n, 1)
	}
	var rows int
	is.NoErr(db.Bun().NewRaw("SELECT count(*) FROM executions WHERE trigger_id = 'race'").Scan(ctx, &rows))
	is.Equal(rows, 20)
}

// The partitions migration converts a database filled at the previous schema: every row is
// kept, the indexes keep their names, the keys and the foreign keys still hold; its down
// migration converts back.
func TestPartitionsMigrationUpgrades(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.PostgresSchemaURL(t), store.Options{MaxOpenConns: 4})
	is.NoErr(err)
	t.Cleanup(func() { _ = db.Close() })
	// previous: the migrations before the partitions migration; through: those and it (the
	// later ones change the indexes, which this test compares across it).
	previous, through := fstest.MapFS{}, fstest.MapFS{}
	entries, err := fs.ReadDir(migrations.Postgres, ".")
	is.NoErr(err)
	var up, down []byte
	for _, e := range entries {
		data, err := fs.ReadFile(migrations.Postgres, e.Name())
		is.NoErr(err)
		switch {
		case e.Name() == partitionsMigration+".tx.up.sql":
			up = data
		case e.Name() == partitionsMigration+".tx.down.sql":
			down = data
		case e.Name() < partitionsMigration:
			previous[e.Name()] = &fstest.MapFile{Data: data}
		default:
			continue
		}
		through[e.Name()] = &fstest.MapFile{Data: data}
	}
	is.True(up != nil && down != nil)
	is.NoErr(db.MigrateFS(ctx, previous))
	isPartitioned := func() map[string]bool {
		var names []string
		is.NoErr(db.Bun().NewRaw(`SELECT c.relname FROM pg_class AS c WHERE c.relname IN ('executions', 'fire_ledger')
			AND c.relnamespace = current_schema()::regnamespace AND c.relkind = 'p'`).Scan(ctx, &names))
		out := map[string]bool{}
		for _, n := range names {
			out[n] = true
		}
		return out
	}
	indexes := func() []string {
		var names []string
		is.NoErr(db.Bun().NewRaw(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
			AND tablename IN ('executions', 'fire_ledger') ORDER BY indexname`).Scan(ctx, &names))
		return names
	}
	is.Equal(len(isPartitioned()), 0)
	before := indexes()

	// Fill at the previous schema: 300 executions (cron ones, keyed ones) and their fires.
	var ids []string
	for i := range 3 {
		d := storetest.NewDeployment(fmt.Sprintf("wf-up-%d", i))
		is.NoErr(storetest.Create(ctx, db, d))
		var fires []scheduler.Fire
		for k := range 100 {
			e := newExecution(d.WorkflowID)
			e.DeploymentID = d.ID
			e.CreatedAt = e.CreatedAt.Add(-time.Duration(k) * time.Minute)
			switch k % 3 {
			case 0:
				e.TriggerType, e.TriggerID, e.ScheduledAt = execution.TriggerCron, "hourly", e.CreatedAt
				fires = append(fires, scheduler.Fire{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "hourly",
					NominalAt: e.ScheduledAt, ScheduledAt: e.ScheduledAt, FiredAt: e.ScheduledAt, Outcome: scheduler.OutcomeFired, ExecutionID: e.ID})
			case 1:
				e.IdempotencyKey = fmt.Sprintf("key-%d", k)
			}
			_, inserted, err := db.ExecutionInsert(ctx, e)
			is.NoErr(err)
			is.True(inserted)
			ids = append(ids, e.ID)
		}
		is.NoErr(db.FireRecord(ctx, fires))
	}
	count := func(table string) int {
		var n int
		is.NoErr(db.Bun().NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n))
		return n
	}
	is.Equal(count("executions"), 300)
	is.Equal(count("fire_ledger"), 102)

	is.NoErr(db.MigrateFS(ctx, through))
	is.Equal(isPartitioned(), map[string]bool{"executions": true, "fire_ledger": true})
	is.Equal(count("executions"), 300)
	is.Equal(count("executions_initial"), 300) // every row made before the migration
	is.Equal(count("fire_ledger"), 102)
	is.Equal(indexes(), before) // the same names (the partitions' own indexes are not listed under the tables)
	for _, id := range ids {
		_, err := db.ExecutionGet(ctx, id)
		is.NoErr(err)
	}
	// The keys hold on the rows that were moved.
	var dup execution.Execution
	is.NoErr(db.Bun().NewRaw(`SELECT workflow_id, trigger_id, scheduled_at FROM executions WHERE trigger_type = 'CRON' LIMIT 1`).
		Scan(ctx, &dup.WorkflowID, &dup.TriggerID, &dup.ScheduledAt))
	e := newExecution(dup.WorkflowID)
	e.TriggerType, e.TriggerID, e.ScheduledAt = execution.TriggerCron, dup.TriggerID, dup.ScheduledAt.UTC()
	_, inserted, err := db.ExecutionInsert(ctx, e)
	is.NoErr(err)
	is.True(!inserted)
	k := newExecution("wf-up-0")
	k.IdempotencyKey = "key-1"
	_, inserted, err = db.ExecutionInsert(ctx, k)
	is.NoErr(err)
	is.True(!inserted)
	// The foreign keys hold: no execution of an unknown workflow.
	_, _, err = db.ExecutionInsert(ctx, newExecution("wf-unknown"))
	is.True(errors.Is(err, errdefs.ErrNotFound))

	// Down: back to plain tables, every row kept.
	is.NoErr(db.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, stmt := range strings.Split(string(down), "--bun:split") {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	}))
	is.Equal(len(isPartitioned()), 0)
	is.Equal(count("executions"), 300)
	is.Equal(count("fire_ledger"), 102)
	is.True(slices.Equal(indexes(), before))
}
