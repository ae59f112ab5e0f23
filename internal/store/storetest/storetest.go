package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// Run is the contract suite of deployments.Store. newStore returns an empty, migrated store
// of its own for each subtest (the subtests run in parallel).
//
// Timestamps are compared at microsecond precision: both backends keep microseconds (the
// PostgreSQL TIMESTAMPTZ precision) and return UTC.
func Run(t *testing.T, newStore func(t *testing.T) deployments.Store) {
	t.Helper()
	tests := []struct {
		name string
		test func(t *testing.T, s deployments.Store)
	}{
		{"InsertAndGet", testInsertAndGet},
		{"RevisionHistory", testRevisionHistory},
		{"TriggersReplace", testTriggersReplace},
		{"WebhookPathUnique", testWebhookPathUnique},
		{"DuplicateInsertConflict", testDuplicateInsertConflict},
		{"NotFound", testNotFound},
		{"ListFilterAndPaging", testListFilterAndPaging},
		{"JSONRoundTrip", testJSONRoundTrip},
		{"TimestampsRoundTrip", testTimestampsRoundTrip},
		{"RollbackOnError", testRollbackOnError},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newStore(t))
		})
	}
}

// NewDeployment returns a valid DEPLOYED deployment of workflowID at revision 1, with one cron
// and one webhook trigger (path "/hooks/<workflowID>") and a full config.
func NewDeployment(workflowID string) *deployments.Deployment {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &deployments.Deployment{
		ID:         uuid.NewString(),
		WorkflowID: workflowID,
		Revision:   1,
		Status:     deployments.StatusDeployed,
		DeployedAt: now,
		Definition: deployments.Definition{
			ID:          workflowID,
			Name:        "Workflow " + workflowID,
			Description: "does things",
			Nodes: []deployments.Node{
				{ID: "fetch", Type: "http", Params: map[string]any{"url": "https://example.com"}},
				{ID: "store", Type: "db", DependsOn: []string{"fetch"}},
			},
		},
		Triggers: []deployments.Trigger{
			{ID: "nightly", Cron: &deployments.CronSchedule{Expression: "0 2 * * *", Timezone: "Europe/Paris", JitterWindowSeconds: 300}},
			{ID: "push", Webhook: &deployments.Webhook{Path: "/hooks/" + workflowID}},
		},
		Config: deployments.Config{
			OverlapPolicy:    policy.OverlapSkip,
			ExecutionTimeout: deployments.DefaultExecutionTimeout,
			Retry: deployments.RetryPolicy{
				MaxAttempts:        3,
				InitialBackoff:     deployments.DefaultInitialBackoff,
				MaxBackoff:         deployments.DefaultMaxBackoff,
				BackoffCoefficient: deployments.DefaultBackoffCoefficient,
			},
			CatchUpWindow: deployments.DefaultCatchUpWindow,
			MisfirePolicy: policy.MisfireFireOnce,
		},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// Create stores d as a new deployment: row, revision and triggers, in one transaction.
func Create(ctx context.Context, s deployments.Store, d *deployments.Deployment) error {
	return s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		if err := tx.DeploymentInsert(ctx, d); err != nil {
			return err
		}
		if err := tx.RevisionInsert(ctx, d); err != nil {
			return err
		}
		return tx.TriggersReplace(ctx, d)
	})
}

// bump stores a new revision of workflowID, read under the row lock, and returns it.
func bump(ctx context.Context, s deployments.Store, workflowID string, change func(d *deployments.Deployment)) (*deployments.Deployment, error) {
	var out *deployments.Deployment
	err := s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		d, err := tx.DeploymentGetForUpdate(ctx, workflowID)
		if err != nil {
			return err
		}
		d.Revision++
		d.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		if change != nil {
			change(d)
		}
		if err := tx.RevisionInsert(ctx, d); err != nil {
			return err
		}
		if err := tx.DeploymentUpdate(ctx, d); err != nil {
			return err
		}
		if err := tx.TriggersReplace(ctx, d); err != nil {
			return err
		}
		out = d
		return nil
	})
	return out, err
}

func testInsertAndGet(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	want := NewDeployment("orders")
	is.NoErr(Create(ctx, s, want))

	got, err := s.DeploymentGet(ctx, want.ID)
	is.NoErr(err)
	is.Equal(got, want) // by deployment id

	got, err = s.DeploymentGetByWorkflow(ctx, want.WorkflowID)
	is.NoErr(err)
	is.Equal(got, want) // by workflow id

	err = s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		got, err := tx.DeploymentGetForUpdate(ctx, want.WorkflowID)
		is.NoErr(err)
		is.Equal(got, want) // for update, by workflow id
		got, err = tx.DeploymentGetByIDForUpdate(ctx, want.ID)
		is.NoErr(err)
		is.Equal(got, want) // for update, by deployment id
		return nil
	})
	is.NoErr(err)

	// A deployment without triggers reads back with nil Triggers.
	bare := NewDeployment("bare")
	bare.Triggers = nil
	bare.Status = deployments.StatusDraft
	bare.DeployedAt = time.Time{}
	is.NoErr(Create(ctx, s, bare))
	got, err = s.DeploymentGetByWorkflow(ctx, "bare")
	is.NoErr(err)
	is.Equal(got, bare) // no triggers, never deployed
}

func testRevisionHistory(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	d := NewDeployment("history")
	is.NoErr(Create(ctx, s, d))

	for n := 2; n <= 4; n++ {
		next, err := bump(ctx, s, d.WorkflowID, func(d *deployments.Deployment) {
			d.Definition.Description = fmt.Sprintf("revision %d", d.Revision)
		})
		is.NoErr(err)
		is.Equal(next.Revision, int32(n)) // revision n

		got, err := s.DeploymentGetByWorkflow(ctx, d.WorkflowID)
		is.NoErr(err)
		is.Equal(got.Revision, int32(n))                                    // current revision moved
		is.Equal(got.Definition.Description, fmt.Sprintf("revision %d", n)) // its definition is read
		is.Equal(got.ID, d.ID)                                              // same deployment
	}

	// Stored revisions are immutable: writing revision 2 again is a conflict.
	err := s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		old := *d
		old.Revision = 2
		old.Definition.Description = "rewritten"
		return tx.RevisionInsert(ctx, &old)
	})
	is.True(errors.Is(err, errdefs.ErrConflict)) // revision 2 exists
}

func testTriggersReplace(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	d := NewDeployment("replace")
	is.NoErr(Create(ctx, s, d))

	// Out of order on purpose: reads return them ordered by id.
	newTriggers := []deployments.Trigger{
		{ID: "z-hook", Webhook: &deployments.Webhook{Path: "/other"}},
		{ID: "a-cron", Cron: &deployments.CronSchedule{Expression: "*/5 * * * *", Timezone: "UTC"}},
		{ID: "m-cron", Cron: &deployments.CronSchedule{Expression: "0 0 12 * * ?", Timezone: "America/New_York", JitterWindowSeconds: 4_000_000_000}},
	}
	_, err := bump(ctx, s, d.WorkflowID, func(d *deployments.Deployment) { d.Triggers = newTriggers })
	is.NoErr(err)
	got, err := s.DeploymentGetByWorkflow(ctx, d.WorkflowID)
	is.NoErr(err)
	want := slices.Clone(newTriggers)
	slices.SortFunc(want, func(a, b deployments.Trigger) int { return strings.Compare(a.ID, b.ID) })
	is.Equal(got.Triggers, want) // replaced, ordered by id

	// Archiving deletes the triggers.
	_, err = bump(ctx, s, d.WorkflowID, func(d *deployments.Deployment) {
		d.Status = deployments.StatusArchived
		d.Triggers = nil
	})
	is.NoErr(err)
	got, err = s.DeploymentGetByWorkflow(ctx, d.WorkflowID)
	is.NoErr(err)
	is.Equal(len(got.Triggers), 0)                   // no triggers left
	is.Equal(got.Status, deployments.StatusArchived) // archived

	// A trigger must be exactly one of cron and webhook.
	err = s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		bad := *d
		bad.Triggers = []deployments.Trigger{{ID: "none"}}
		return tx.TriggersReplace(ctx, &bad)
	})
	is.True(err != nil) // neither cron nor webhook

	// Two triggers with one id.
	err = s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		dup := *d
		dup.Triggers = []deployments.Trigger{
			{ID: "same", Webhook: &deployments.Webhook{Path: "/a"}},
			{ID: "same", Webhook: &deployments.Webhook{Path: "/b"}},
		}
		return tx.TriggersReplace(ctx, &dup)
	})
	is.True(errors.Is(err, errdefs.ErrAlreadyExists)) // duplicate trigger id
}

func testWebhookPathUnique(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	a := NewDeployment("hook-a")
	a.Triggers = []deployments.Trigger{{ID: "push", Webhook: &deployments.Webhook{Path: "/shared"}}}
	is.NoErr(Create(ctx, s, a))

	b := NewDeployment("hook-b")
	b.Triggers = []deployments.Trigger{{ID: "push", Webhook: &deployments.Webhook{Path: "/shared"}}}
	err := Create(ctx, s, b)
	is.True(errors.Is(err, errdefs.ErrAlreadyExists))                                             // path taken
	is.Equal(err.Error(), `webhook path "/shared" is used by another deployment: already exists`) // names the path
	_, err = s.DeploymentGetByWorkflow(ctx, b.WorkflowID)
	is.True(errors.Is(err, errdefs.ErrNotFound)) // the whole transaction rolled back
	_, err = s.DeploymentGet(ctx, b.ID)
	is.True(errors.Is(err, errdefs.ErrNotFound)) // nothing stored

	// The owner may keep its path across revisions.
	_, err = bump(ctx, s, a.WorkflowID, nil)
	is.NoErr(err)

	// Once the owner is archived (triggers deleted), the path is free.
	_, err = bump(ctx, s, a.WorkflowID, func(d *deployments.Deployment) {
		d.Status = deployments.StatusArchived
		d.Triggers = nil
	})
	is.NoErr(err)
	is.NoErr(Create(ctx, s, b)) // path free again
	got, err := s.DeploymentGetByWorkflow(ctx, b.WorkflowID)
	is.NoErr(err)
	is.Equal(got.Triggers, b.Triggers)
}

func testDuplicateInsertConflict(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	d := NewDeployment("dup")
	is.NoErr(Create(ctx, s, d))

	again := NewDeployment("dup")
	err := Create(ctx, s, again)
	is.True(errors.Is(err, errdefs.ErrConflict)) // same workflow id

	sameID := NewDeployment("dup-other")
	sameID.ID = d.ID
	err = Create(ctx, s, sameID)
	is.True(errors.Is(err, errdefs.ErrConflict)) // same deployment id

	got, err := s.DeploymentGetByWorkflow(ctx, "dup")
	is.NoErr(err)
	is.Equal(got.ID, d.ID) // the first one stays
}

func testNotFound(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	_, err := s.DeploymentGet(ctx, uuid.NewString())
	is.True(errors.Is(err, errdefs.ErrNotFound)) // unknown deployment id
	_, err = s.DeploymentGet(ctx, "not-a-uuid")
	is.True(errors.Is(err, errdefs.ErrNotFound)) // malformed deployment id
	_, err = s.DeploymentGetByWorkflow(ctx, "missing")
	is.True(errors.Is(err, errdefs.ErrNotFound)) // unknown workflow

	err = s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		_, err := tx.DeploymentGetForUpdate(ctx, "missing")
		is.True(errors.Is(err, errdefs.ErrNotFound)) // for update, unknown workflow
		_, err = tx.DeploymentGetByIDForUpdate(ctx, uuid.NewString())
		is.True(errors.Is(err, errdefs.ErrNotFound)) // for update, unknown deployment
		err = tx.DeploymentUpdate(ctx, NewDeployment("missing"))
		is.True(errors.Is(err, errdefs.ErrNotFound)) // update of no row
		return nil
	})
	is.NoErr(err)

	err = s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		return tx.RevisionInsert(ctx, NewDeployment("missing"))
	})
	is.True(errors.Is(err, errdefs.ErrNotFound)) // revision of no workflow
}

func testListFilterAndPaging(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	statuses := []deployments.Status{deployments.StatusDraft, deployments.StatusDeployed, deployments.StatusPaused, deployments.StatusArchived}
	var all, live []string
	for i := range 23 {
		d := NewDeployment(fmt.Sprintf("wf-%02d", i))
		d.Status = statuses[i%len(statuses)]
		is.NoErr(Create(ctx, s, d))
		all = append(all, d.WorkflowID)
		if d.Status == deployments.StatusDeployed || d.Status == deployments.StatusPaused {
			live = append(live, d.WorkflowID)
		}
	}

	collect := func(params deployments.ListParams) (ids []string, pages int) {
		for {
			page, err := s.DeploymentList(ctx, &params)
			is.NoErr(err)
			is.True(len(page) <= params.Limit || params.Limit <= 0) // page size bounded
			pages++
			for _, d := range page {
				is.True(slices.Contains(params.Statuses, d.Status) || len(params.Statuses) == 0) // status filter
				is.Equal(len(d.Definition.Nodes), 2)                                             // definition read
				is.Equal(len(d.Triggers), 2)                                                     // triggers read
				ids = append(ids, d.WorkflowID)
			}
			if len(page) == 0 || len(page) < params.Limit {
				return ids, pages
			}
			params.AfterWorkflowID = page[len(page)-1].WorkflowID
		}
	}

	ids, pages := collect(deployments.ListParams{
		Statuses: []deployments.Status{deployments.StatusDeployed, deployments.StatusPaused},
		Limit:    3,
	})
	is.Equal(ids, live) // filtered, in workflow id order, no gaps or repeats
	is.Equal(pages, 5)  // 12 rows in 4 pages of 3, then an empty page

	ids, _ = collect(deployments.ListParams{Limit: 5})
	is.Equal(ids, all) // no filter: everything

	page, err := s.DeploymentList(ctx, &deployments.ListParams{})
	is.NoErr(err)
	is.Equal(len(page), len(all)) // default limit covers all

	page, err = s.DeploymentList(ctx, nil)
	is.NoErr(err)
	is.Equal(len(page), len(all)) // nil params: first page of all

	page, err = s.DeploymentList(ctx, &deployments.ListParams{AfterWorkflowID: "wf-99"})
	is.NoErr(err)
	is.Equal(len(page), 0) // past the end
}

func testJSONRoundTrip(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	d := NewDeployment("json")
	// JSON semantics: numbers read back as float64, arrays as []any, objects as map[string]any.
	d.Definition.Nodes = []deployments.Node{
		{
			ID:   "transform",
			Type: "script",
			Params: map[string]any{
				"language": "js",
				"timeout":  float64(30),
				"ratio":    0.25,
				"enabled":  true,
				"nothing":  nil,
				"headers":  map[string]any{"X-Token": "secret", "nested": map[string]any{"deep": []any{"a", float64(1), false}}},
				"unicode":  "héllo ✓ \"quoted\" 'single' ?",
			},
		},
		{ID: "after", Type: "noop", DependsOn: []string{"transform"}},
	}
	d.Config = deployments.Config{
		OverlapPolicy:    policy.OverlapBufferAll,
		ExecutionTimeout: 90 * time.Second,
		Retry: deployments.RetryPolicy{
			MaxAttempts:        5,
			InitialBackoff:     1500 * time.Millisecond,
			MaxBackoff:         time.Hour,
			BackoffCoefficient: 1.5,
		},
		CatchUpWindow: 0,
		MisfirePolicy: policy.MisfireFireAll,
	}
	is.NoErr(Create(ctx, s, d))
	got, err := s.DeploymentGet(ctx, d.ID)
	is.NoErr(err)
	is.Equal(got.Definition, d.Definition) // definition with nested params
	is.Equal(got.Config, d.Config)         // config
}

func testTimestampsRoundTrip(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	paris, err := time.LoadLocation("Europe/Paris")
	is.NoErr(err)
	d := NewDeployment("times")
	d.CreatedAt = time.Date(2024, 3, 31, 2, 30, 0, 123456789, paris) // nanoseconds, not UTC
	d.UpdatedAt = time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC)
	d.DeployedAt = time.Date(2026, 1, 1, 0, 0, 0, 1000, time.FixedZone("X", -5*3600))
	d.PausedAt = time.Date(2025, 12, 1, 8, 0, 0, 2000, paris)
	is.NoErr(Create(ctx, s, d))

	got, err := s.DeploymentGet(ctx, d.ID)
	is.NoErr(err)
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"created_at", got.CreatedAt, d.CreatedAt},
		{"updated_at", got.UpdatedAt, d.UpdatedAt},
		{"deployed_at", got.DeployedAt, d.DeployedAt},
		{"paused_at", got.PausedAt, d.PausedAt},
	} {
		is.Equal(c.got.Location(), time.UTC)                     // read back in UTC
		is.Equal(c.got, c.want.UTC().Truncate(time.Microsecond)) // same instant, microseconds
	}

	// DeployedAt zero is NULL and reads back zero. An update writes the caller's UpdatedAt
	// (the store reads no clock) and keeps created_at.
	updated := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
	_, err = bump(ctx, s, d.WorkflowID, func(d *deployments.Deployment) {
		d.Status = deployments.StatusPaused
		d.DeployedAt = time.Time{}
		d.PausedAt = time.Time{}
		d.UpdatedAt = updated
	})
	is.NoErr(err)
	got, err = s.DeploymentGet(ctx, d.ID)
	is.NoErr(err)
	is.True(got.DeployedAt.IsZero())                                      // never deployed
	is.True(got.PausedAt.IsZero())                                        // never paused
	is.Equal(got.UpdatedAt, updated)                                      // the caller's time
	is.Equal(got.CreatedAt, d.CreatedAt.UTC().Truncate(time.Microsecond)) // kept
}

func testRollbackOnError(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	d := NewDeployment("rollback")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
		is.NoErr(tx.DeploymentInsert(ctx, d))
		is.NoErr(tx.RevisionInsert(ctx, d))
		return boom
	})
	is.Equal(err, boom) // fn's error returned as is
	_, err = s.DeploymentGetByWorkflow(ctx, d.WorkflowID)
	is.True(errors.Is(err, errdefs.ErrNotFound)) // rolled back

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = s.InTx(canceled, func(context.Context, deployments.Tx) error { return nil })
	is.True(errors.Is(err, context.Canceled)) // canceled context
}

// testConcurrentWriters runs writers goroutines, each doing rounds transactions on one shared
// workflow and rounds on its own, plus readers, and checks that no write was lost and no
// transaction failed (no "database is locked" on SQLite).
func testConcurrentWriters(t *testing.T, s deployments.Store) {
	is := is.New(t)
	ctx := t.Context()
	const (
		writers = 16
		rounds  = 8
	)
	// upsert creates workflowID or stores its next revision. A concurrent creator may win the
	// insert (ErrConflict): retry, as the deployment service does.
	upsert := func(workflowID string) error {
		for attempt := 0; ; attempt++ {
			err := s.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
				d, err := tx.DeploymentGetForUpdate(ctx, workflowID)
				if errors.Is(err, errdefs.ErrNotFound) {
					d = NewDeployment(workflowID)
					if err := tx.DeploymentInsert(ctx, d); err != nil {
						return err
					}
				} else if err != nil {
					return err
				} else {
					d.Revision++
					d.Definition.Description = fmt.Sprintf("revision %d", d.Revision)
					if err := tx.DeploymentUpdate(ctx, d); err != nil {
						return err
					}
				}
				if err := tx.RevisionInsert(ctx, d); err != nil {
					return err
				}
				return tx.TriggersReplace(ctx, d)
			})
			if errors.Is(err, errdefs.ErrConflict) && attempt < 10 {
				continue
			}
			return err
		}
	}

	errs := make(chan error, 4*writers*rounds)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("own-%02d", w)
			for range rounds {
				errs <- upsert("shared")
				errs <- upsert(own)
				_, err := s.DeploymentGetByWorkflow(ctx, "shared")
				if errors.Is(err, errdefs.ErrNotFound) {
					err = nil
				}
				errs <- err
				_, err = s.DeploymentList(ctx, &deployments.ListParams{Limit: 5})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // every transaction and read succeeded
	}

	shared, err := s.DeploymentGetByWorkflow(ctx, "shared")
	is.NoErr(err)
	is.Equal(shared.Revision, int32(writers*rounds))                                    // no lost update
	is.Equal(shared.Definition.Description, fmt.Sprintf("revision %d", writers*rounds)) // last revision read
	for w := range writers {
		own, err := s.DeploymentGetByWorkflow(ctx, fmt.Sprintf("own-%02d", w))
		is.NoErr(err)
		is.Equal(own.Revision, int32(rounds)) // every round stored
		is.Equal(len(own.Triggers), 2)
	}
	list, err := s.DeploymentList(ctx, &deployments.ListParams{Limit: 100})
	is.NoErr(err)
	is.Equal(len(list), writers+1) // shared + one per writer
}
