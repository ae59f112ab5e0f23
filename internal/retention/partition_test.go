package retention_test

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/retention"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// idAt returns a UUIDv7 of time at, as execution.Service makes them at that time.
func idAt(at time.Time) string {
	u := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[:6], ms[2:])
	return u.String()
}

func partitionNames(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	parts, ok, err := db.PartitionList(context.Background(), table)
	if err != nil || !ok {
		t.Fatalf("list partitions of %s: %v (partitioned: %v)", table, err, ok)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	return names
}

// partitionOf is the partition that holds the execution id.
func partitionOf(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var name string
	if err := db.Bun().NewRaw("SELECT tableoid::regclass::text FROM executions WHERE id = ?", id).Scan(context.Background(), &name); err != nil {
		t.Fatal(err)
	}
	return name
}

// The janitor makes the partitions of the coming periods, and drops a past partition once every
// row in it has expired; a partition that holds an unfinished execution, or the newest
// executions of a deployment (keep-last), stays, and its expired rows go by row deletes.
func TestJanitorPartitions(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenPostgres(t)
	day := 24 * time.Hour
	now := time.Now().UTC()
	clock := now
	j := retention.NewJanitor(db, retention.JanitorConfig{
		RetentionAge: 48 * time.Hour, KeepLast: 1, PartitionPeriod: day, PartitionsAhead: 2,
		Now: func() time.Time { return clock },
	})

	// First pass: today's partition (from the end of the migration's initial one) and two more
	// days, for both tables.
	res, err := j.RunOnce(ctx)
	is.NoErr(err)
	is.Equal(res.PartitionsCreated, 6)
	today := now.Truncate(day)
	p1, p2 := today.Add(day), today.Add(2*day)
	for _, table := range []string{retention.TableExecutions, retention.TableFireLedger} {
		names := partitionNames(t, db, table)
		is.True(slices.Contains(names, store.PartitionName(table, p1)))
		is.True(slices.Contains(names, store.PartitionName(table, p2)))
		is.True(!slices.Contains(names, store.PartitionName(table, today.Add(3*day)))) // not yet
	}
	again, err := j.RunOnce(ctx)
	is.NoErr(err)
	is.Equal(again.PartitionsCreated, 0) // nothing more to make the same day

	// In day p1: three finished executions of a and its fires. In day p2: the newest execution
	// of a (kept: keep-last 1) and an execution of b that is still RUNNING.
	a := deploy(t, db, "wf-a", deployments.StatusDeployed)
	b := deploy(t, db, "wf-b", deployments.StatusDeployed)
	insert := func(d *deployments.Deployment, at time.Time, s execution.Status) string {
		t.Helper()
		at = at.Truncate(time.Microsecond)
		e := &execution.Execution{
			ID: idAt(at), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
			Status: s, TriggerType: execution.TriggerManual, CreatedAt: at, UpdatedAt: at,
		}
		_, inserted, err := db.ExecutionInsert(ctx, e)
		is.NoErr(err)
		is.True(inserted)
		return e.ID
	}
	var old []string
	for i := range 3 {
		old = append(old, insert(a, p1.Add(time.Duration(i)*time.Hour), execution.StatusSucceeded))
	}
	newest := insert(a, p2.Add(time.Hour), execution.StatusFailed)
	running := insert(b, p2.Add(2*time.Hour), execution.StatusRunning)
	is.Equal(partitionOf(t, db, old[0]), store.PartitionName(retention.TableExecutions, p1))
	is.Equal(partitionOf(t, db, newest), store.PartitionName(retention.TableExecutions, p2))
	var fires []scheduler.Fire
	for i := range 4 {
		at := p1.Add(time.Duration(i) * time.Hour)
		fires = append(fires, scheduler.Fire{WorkflowID: a.WorkflowID, DeploymentID: a.ID, TriggerID: "hourly",
			NominalAt: at, ScheduledAt: at, FiredAt: at, Outcome: scheduler.OutcomeFired})
	}
	is.NoErr(db.FireRecord(ctx, fires))

	// Ten days on: day p1 has expired whole, for both tables; day p2 has not (RUNNING, keep-last).
	clock = now.Add(10 * day)
	res, err = j.RunOnce(ctx)
	is.NoErr(err)
	is.True(res.PartitionsDropped >= 2)
	is.Equal(res.ExecutionsDeleted, int64(3)) // the three of p1, with their partition
	is.Equal(res.FiresDeleted, int64(4))
	is.Equal(res.PartitionsCreated, 2*10) // ten more days ahead, both tables
	for _, table := range []string{retention.TableExecutions, retention.TableFireLedger} {
		names := partitionNames(t, db, table)
		is.True(!slices.Contains(names, store.PartitionName(table, p1))) // dropped
		is.True(slices.Contains(names, store.PartitionName(table, clock.Truncate(day).Add(2*day))))
	}
	is.True(slices.Contains(partitionNames(t, db, retention.TableExecutions), store.PartitionName(retention.TableExecutions, p2)))
	for _, id := range old {
		_, err := db.ExecutionGet(ctx, id)
		is.True(err != nil) // gone with the partition
	}
	for _, id := range []string{newest, running} {
		_, err := db.ExecutionGet(ctx, id)
		is.NoErr(err)
	}
	left, err := db.FireList(ctx, &scheduler.FireListParams{DeploymentID: a.ID})
	is.NoErr(err)
	is.Equal(len(left), 0)
}

// A row beyond the partitions made so far goes to the default partition (the insert does not
// fail), and when its period comes the janitor makes the partition and moves the row into it:
// PostgreSQL would refuse to create a partition whose rows the default partition holds.
func TestPartitionDefaultHoldsRows(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	db := storetest.OpenPostgres(t)
	day := 24 * time.Hour
	now := time.Now().UTC()
	clock := now
	j := retention.NewJanitor(db, retention.JanitorConfig{
		PartitionPeriod: day, PartitionsAhead: 1, Now: func() time.Time { return clock },
	})
	_, err := j.RunOnce(ctx)
	is.NoErr(err)

	d := deploy(t, db, "wf-later", deployments.StatusDeployed)
	later := now.Add(30 * day).Truncate(time.Microsecond)
	e := &execution.Execution{
		ID: idAt(later), DeploymentID: d.ID, WorkflowID: d.WorkflowID, Revision: 1,
		Status: execution.StatusPending, TriggerType: execution.TriggerCron, TriggerID: "nightly",
		ScheduledAt: later, CreatedAt: later, UpdatedAt: later,
	}
	_, inserted, err := db.ExecutionInsert(ctx, e)
	is.NoErr(err)
	is.True(inserted)
	is.Equal(partitionOf(t, db, e.ID), "executions_default")
	is.NoErr(db.FireRecord(ctx, []scheduler.Fire{{WorkflowID: d.WorkflowID, DeploymentID: d.ID, TriggerID: "nightly",
		NominalAt: later, ScheduledAt: later, FiredAt: later, Outcome: scheduler.OutcomeFired, ExecutionID: e.ID}}))

	clock = later
	res, err := j.RunOnce(ctx)
	is.NoErr(err)
	is.Equal(res.PartitionsCreated, 2*30) // the days after the first pass's up to the one after later's, both tables
	is.Equal(partitionOf(t, db, e.ID), store.PartitionName(retention.TableExecutions, later.Truncate(day)))
	var fireParts []string
	is.NoErr(db.Bun().NewRaw("SELECT tableoid::regclass::text FROM fire_ledger").Scan(ctx, &fireParts))
	is.Equal(fireParts, []string{store.PartitionName(retention.TableFireLedger, later.Truncate(day))})

	// The key of the moved cron execution still holds.
	dup := *e
	dup.ID = idAt(now)
	got, inserted, err := db.ExecutionInsert(ctx, &dup)
	is.NoErr(err)
	is.True(!inserted)
	is.Equal(got.ID, e.ID)
}
