package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// List page sizes: a ListParams.Limit of 0 or less means defaultListLimit; more than
// maxListLimit is capped.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

var (
	_ deployments.Store = (*DB)(nil)
	_ deployments.Tx    = (*tx)(nil)
)

// workflowRow is a row of workflows.
type workflowRow struct {
	bun.BaseModel `bun:"table:workflows"`

	ID               string    `bun:"id,pk"`
	DeploymentID     string    `bun:"deployment_id"`
	Name             string    `bun:"name"`
	Description      string    `bun:"description"`
	CurrentRevision  int32     `bun:"current_revision"`
	DeploymentStatus string    `bun:"deployment_status"`
	DeployedAt       time.Time `bun:"deployed_at,nullzero"`
	PausedAt         time.Time `bun:"paused_at,nullzero"`
	DeploymentConfig string    `bun:"deployment_config"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
}

// revisionRow is a row of workflow_revisions.
type revisionRow struct {
	bun.BaseModel `bun:"table:workflow_revisions"`

	WorkflowID string    `bun:"workflow_id,pk"`
	Revision   int32     `bun:"revision,pk"`
	Definition string    `bun:"definition"`
	CreatedAt  time.Time `bun:"created_at"`
}

// triggerRow is a row of triggers.
type triggerRow struct {
	bun.BaseModel `bun:"table:triggers"`

	WorkflowID          string    `bun:"workflow_id,pk"`
	ID                  string    `bun:"id,pk"`
	Kind                string    `bun:"kind"`
	CronExpression      *string   `bun:"cron_expression"`
	Timezone            *string   `bun:"timezone"`
	JitterWindowSeconds int64     `bun:"jitter_window_seconds"`
	RepeatedHour        string    `bun:"repeated_hour"`
	SkippedHour         string    `bun:"skipped_hour"`
	AfterBlackout       string    `bun:"after_blackout"`
	WebhookPath         *string   `bun:"webhook_path"`
	WebhookSecret       []byte    `bun:"webhook_secret"` // sealed (internal/webhook.Box), never plaintext
	CreatedAt           time.Time `bun:"created_at"`
}

// Trigger kinds (triggers.kind).
const (
	kindCron    = "cron"
	kindWebhook = "webhook"
)

// DeploymentGet implements deployments.Store.
func (db *DB) DeploymentGet(ctx context.Context, id string) (*deployments.Deployment, error) {
	var d *deployments.Deployment
	err := db.inReadTx(ctx, func(ctx context.Context, rtx bun.Tx) error {
		var err error
		d, err = db.deploymentGet(ctx, rtx, "deployment_id", id, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return d, nil
}

// DeploymentGetByWorkflow implements deployments.Store.
func (db *DB) DeploymentGetByWorkflow(ctx context.Context, workflowID string) (*deployments.Deployment, error) {
	var d *deployments.Deployment
	err := db.inReadTx(ctx, func(ctx context.Context, rtx bun.Tx) error {
		var err error
		d, err = db.deploymentGet(ctx, rtx, "id", workflowID, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get deployment of workflow %s: %w", workflowID, err)
	}
	return d, nil
}

// DeploymentList implements deployments.Store. A Limit of 0 or less means 100; more than 1000
// is capped at 1000.
func (db *DB) DeploymentList(ctx context.Context, params *deployments.ListParams) ([]*deployments.Deployment, error) {
	if params == nil {
		params = &deployments.ListParams{}
	}
	limit := params.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)

	var list []*deployments.Deployment
	err := db.inReadTx(ctx, func(ctx context.Context, rtx bun.Tx) error {
		var rows []workflowRow
		q := rtx.NewSelect().Model(&rows).
			Where("id > ?", params.AfterWorkflowID).
			OrderExpr("id ASC").
			Limit(int64(limit))
		if len(params.Statuses) > 0 {
			q = q.Where("deployment_status IN (?)", bun.List(params.Statuses))
		}
		if err := q.Scan(ctx); err != nil {
			return interpretError(err)
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}

		var revisions []revisionRow
		err := rtx.NewSelect().Model(&revisions).
			Join("JOIN workflows AS w ON w.id = revision_row.workflow_id AND w.current_revision = revision_row.revision").
			Where("revision_row.workflow_id IN (?)", bun.List(ids)).
			Scan(ctx)
		if err != nil {
			return interpretError(err)
		}
		definitions := make(map[string]string, len(revisions))
		for _, r := range revisions {
			definitions[r.WorkflowID] = r.Definition
		}

		var triggers []triggerRow
		err = rtx.NewSelect().Model(&triggers).
			Where("workflow_id IN (?)", bun.List(ids)).
			OrderExpr("workflow_id ASC, id ASC").
			Scan(ctx)
		if err != nil {
			return interpretError(err)
		}
		byWorkflow := make(map[string][]triggerRow, len(rows))
		for _, t := range triggers {
			byWorkflow[t.WorkflowID] = append(byWorkflow[t.WorkflowID], t)
		}

		list = make([]*deployments.Deployment, 0, len(rows))
		for i := range rows {
			def, ok := definitions[rows[i].ID]
			if !ok {
				return errMissingRevision(&rows[i])
			}
			d, err := toDeployment(&rows[i], def, byWorkflow[rows[i].ID])
			if err != nil {
				return err
			}
			list = append(list, d)
		}
		return loadTriggerCalendars(ctx, rtx, list)
	})
	if err != nil {
		return nil, fmt.Errorf("list deployments after %q: %w", params.AfterWorkflowID, err)
	}
	return list, nil
}

// InTx implements deployments.Store. On SQLite the transaction is BEGIN IMMEDIATE and InTx
// calls queue in Go first (one writer at a time); on PostgreSQL it is READ COMMITTED and
// concurrency is governed by row locks (DeploymentGetForUpdate). InTx must not be nested.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx deployments.Tx) error) error {
	if db.writeSem != nil {
		select {
		case db.writeSem <- struct{}{}:
			defer func() { <-db.writeSem }()
		case <-ctx.Done():
			return fmt.Errorf("begin transaction: %w", ctx.Err())
		}
	}
	btx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", interpretError(err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = btx.Rollback()
		}
	}()
	if err := fn(ctx, &tx{db: db, tx: btx}); err != nil {
		return err
	}
	committed = true
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", interpretError(err))
	}
	return nil
}

// inReadTx runs fn in a read-only transaction, so that the several SELECTs of one read see one
// snapshot: REPEATABLE READ on PostgreSQL; a deferred (shared-lock) transaction on SQLite, which
// in WAL mode does not wait for the writer.
func (db *DB) inReadTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == DialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	btx, err := db.bun.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", interpretError(err))
	}
	defer func() { _ = btx.Rollback() }()
	return fn(ctx, btx)
}

// deploymentGet reads the workflows row whose column equals value, its current revision and
// its triggers. forUpdate locks the row on PostgreSQL.
func (db *DB) deploymentGet(ctx context.Context, idb bun.IDB, column, value string, forUpdate bool) (*deployments.Deployment, error) {
	if column == "deployment_id" {
		// Not a UUID, not a deployment; PostgreSQL would reject the comparison with the
		// UUID column.
		if _, err := uuid.Parse(value); err != nil {
			return nil, errdefs.ErrNotFound
		}
	}
	var row workflowRow
	q := idb.NewSelect().Model(&row).Where("? = ?", bun.Ident(column), value)
	if forUpdate && db.dialect == DialectPostgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, interpretError(err)
	}

	var rev revisionRow
	err := idb.NewSelect().Model(&rev).
		Where("workflow_id = ? AND revision = ?", row.ID, row.CurrentRevision).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errMissingRevision(&row)
	}
	if err != nil {
		return nil, interpretError(err)
	}

	var triggers []triggerRow
	err = idb.NewSelect().Model(&triggers).
		Where("workflow_id = ?", row.ID).
		OrderExpr("id ASC").
		Scan(ctx)
	if err != nil {
		return nil, interpretError(err)
	}
	d, err := toDeployment(&row, rev.Definition, triggers)
	if err != nil {
		return nil, err
	}
	if err := loadTriggerCalendars(ctx, idb, []*deployments.Deployment{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// errMissingRevision reports a workflows row whose current revision is not stored: a caller
// that inserted the row but not the revision yet, or a damaged database. Not ErrNotFound: the
// deployment exists.
func errMissingRevision(row *workflowRow) error {
	return fmt.Errorf("revision %d of workflow %s is not stored", row.CurrentRevision, row.ID)
}

func toDeployment(row *workflowRow, definition string, triggers []triggerRow) (*deployments.Deployment, error) {
	d := &deployments.Deployment{
		ID:         row.DeploymentID,
		WorkflowID: row.ID,
		Revision:   row.CurrentRevision,
		Status:     deployments.Status(row.DeploymentStatus),
		DeployedAt: utc(row.DeployedAt),
		PausedAt:   utc(row.PausedAt),
		CreatedAt:  utc(row.CreatedAt),
		UpdatedAt:  utc(row.UpdatedAt),
	}
	if err := json.Unmarshal([]byte(definition), &d.Definition); err != nil {
		return nil, fmt.Errorf("decode definition of workflow %s revision %d: %w", row.ID, row.CurrentRevision, err)
	}
	if row.DeploymentConfig != "" {
		if err := json.Unmarshal([]byte(row.DeploymentConfig), &d.Config); err != nil {
			return nil, fmt.Errorf("decode deployment_config of workflow %s: %w", row.ID, err)
		}
	}
	if len(triggers) > 0 {
		d.Triggers = make([]deployments.Trigger, 0, len(triggers))
	}
	for _, t := range triggers {
		trigger := deployments.Trigger{ID: t.ID}
		switch t.Kind {
		case kindCron:
			repeated, skipped, err := dstPolicies(t.RepeatedHour, t.SkippedHour)
			var after policy.AfterBlackout
			if err == nil {
				after, err = policy.ParseAfterBlackout(t.AfterBlackout) // "" is unset (DROP)
			}
			if err != nil {
				return nil, fmt.Errorf("decode trigger %s of workflow %s: %w", t.ID, row.ID, err)
			}
			trigger.Cron = &deployments.CronSchedule{
				Expression:          deref(t.CronExpression),
				Timezone:            deref(t.Timezone),
				JitterWindowSeconds: uint32(t.JitterWindowSeconds), //nolint:gosec // written from a uint32
				RepeatedHour:        repeated,
				SkippedHour:         skipped,
				AfterBlackout:       after,
			}
		case kindWebhook:
			trigger.Webhook = &deployments.Webhook{Path: deref(t.WebhookPath), SealedSecret: t.WebhookSecret}
		default:
			return nil, fmt.Errorf("trigger %s of workflow %s has unknown kind %q", t.ID, row.ID, t.Kind)
		}
		d.Triggers = append(d.Triggers, trigger)
	}
	return d, nil
}

// tx is deployments.Tx over one bun transaction.
type tx struct {
	db *DB
	tx bun.Tx
}

// DeploymentGetForUpdate implements deployments.Tx.
func (t *tx) DeploymentGetForUpdate(ctx context.Context, workflowID string) (*deployments.Deployment, error) {
	d, err := t.db.deploymentGet(ctx, t.tx, "id", workflowID, true)
	if err != nil {
		return nil, fmt.Errorf("get deployment of workflow %s for update: %w", workflowID, err)
	}
	return d, nil
}

// DeploymentGetByIDForUpdate implements deployments.Tx.
func (t *tx) DeploymentGetByIDForUpdate(ctx context.Context, id string) (*deployments.Deployment, error) {
	d, err := t.db.deploymentGet(ctx, t.tx, "deployment_id", id, true)
	if err != nil {
		return nil, fmt.Errorf("get deployment %s for update: %w", id, err)
	}
	return d, nil
}

// DeploymentInsert implements deployments.Tx.
func (t *tx) DeploymentInsert(ctx context.Context, d *deployments.Deployment) error {
	row, err := toWorkflowRow(d)
	if err != nil {
		return fmt.Errorf("insert deployment of workflow %s: %w", d.WorkflowID, err)
	}
	if _, err := t.tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("insert deployment of workflow %s: %w", d.WorkflowID, interpretError(err))
	}
	return nil
}

// DeploymentUpdate implements deployments.Tx. errdefs.ErrNotFound when the workflow has no row.
func (t *tx) DeploymentUpdate(ctx context.Context, d *deployments.Deployment) error {
	row, err := toWorkflowRow(d)
	if err != nil {
		return fmt.Errorf("update deployment of workflow %s: %w", d.WorkflowID, err)
	}
	res, err := t.tx.NewUpdate().Model(row).
		Column("current_revision", "deployment_status", "deployed_at", "paused_at", "deployment_config", "name", "description", "updated_at").
		WherePK().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update deployment of workflow %s: %w", d.WorkflowID, interpretError(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("update deployment of workflow %s: %w", d.WorkflowID, errdefs.ErrNotFound)
	}
	return nil
}

// RevisionInsert implements deployments.Tx. errdefs.ErrConflict when the revision exists
// already (revisions are immutable), errdefs.ErrNotFound when the workflow has no row.
func (t *tx) RevisionInsert(ctx context.Context, d *deployments.Deployment) error {
	definition, err := json.Marshal(d.Definition)
	if err != nil {
		return fmt.Errorf("insert revision %d of workflow %s: encode definition: %w", d.Revision, d.WorkflowID, err)
	}
	row := &revisionRow{
		WorkflowID: d.WorkflowID,
		Revision:   d.Revision,
		Definition: string(definition),
		CreatedAt:  changedAt(d),
	}
	if _, err := t.tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("insert revision %d of workflow %s: %w", d.Revision, d.WorkflowID, interpretError(err))
	}
	return nil
}

// TriggersReplace implements deployments.Tx. The triggers are inserted one by one so that a
// taken webhook path can be named in the error.
func (t *tx) TriggersReplace(ctx context.Context, d *deployments.Deployment) error {
	_, err := t.tx.NewDelete().Model((*triggerRow)(nil)).
		Where("workflow_id = ?", d.WorkflowID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("replace triggers of workflow %s: delete: %w", d.WorkflowID, interpretError(err))
	}
	createdAt := changedAt(d)
	for _, trigger := range d.Triggers {
		row := &triggerRow{WorkflowID: d.WorkflowID, ID: trigger.ID, CreatedAt: createdAt}
		switch {
		case trigger.Cron != nil && trigger.Webhook == nil:
			row.Kind = kindCron
			row.CronExpression = &trigger.Cron.Expression
			row.Timezone = &trigger.Cron.Timezone
			row.JitterWindowSeconds = int64(trigger.Cron.JitterWindowSeconds)
			repeated, skipped, after, err := cronPolicyText(trigger.Cron)
			if err != nil {
				return fmt.Errorf("replace triggers of workflow %s: trigger %q: %w", d.WorkflowID, trigger.ID, err)
			}
			row.RepeatedHour, row.SkippedHour, row.AfterBlackout = repeated, skipped, after
		case trigger.Webhook != nil && trigger.Cron == nil:
			row.Kind = kindWebhook
			row.WebhookPath = &trigger.Webhook.Path
			if trigger.Webhook.HasSecret() {
				row.WebhookSecret = trigger.Webhook.SealedSecret
			}
		default:
			return fmt.Errorf("replace triggers of workflow %s: trigger %q must have exactly one of cron and webhook", d.WorkflowID, trigger.ID)
		}
		if _, err := t.tx.NewInsert().Model(row).Exec(ctx); err != nil {
			err = interpretError(err)
			if errors.Is(err, errWebhookPathTaken) {
				return fmt.Errorf("webhook path %q is used by another deployment: %w", trigger.Webhook.Path, errdefs.ErrAlreadyExists)
			}
			return fmt.Errorf("replace triggers of workflow %s: insert trigger %s: %w", d.WorkflowID, trigger.ID, err)
		}
		if trigger.Cron != nil {
			if err := insertTriggerCalendars(ctx, t.tx, d.WorkflowID, trigger.ID, trigger.Cron.BlackoutCalendars); err != nil {
				return fmt.Errorf("replace triggers of workflow %s: %w", d.WorkflowID, err)
			}
		}
	}
	return nil
}

func toWorkflowRow(d *deployments.Deployment) (*workflowRow, error) {
	config, err := json.Marshal(d.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return &workflowRow{
		ID:               d.WorkflowID,
		DeploymentID:     d.ID,
		Name:             d.Definition.Name,
		Description:      d.Definition.Description,
		CurrentRevision:  d.Revision,
		DeploymentStatus: string(d.Status),
		DeployedAt:       utc(d.DeployedAt),
		PausedAt:         utc(d.PausedAt),
		DeploymentConfig: string(config),
		CreatedAt:        utc(d.CreatedAt),
		UpdatedAt:        utc(d.UpdatedAt),
	}, nil
}

// changedAt is the created_at of rows written with d (its revision, its triggers): its
// UpdatedAt, the deployments service's now.
func changedAt(d *deployments.Deployment) time.Time {
	return utc(d.UpdatedAt)
}

// utc returns t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// dstPolicies reads the stored DST policies of a cron trigger (triggers.repeated_hour,
// triggers.skipped_hour; "" is the classic-cron default); an unknown text is an error.
func dstPolicies(repeated, skipped string) (policy.RepeatedHour, policy.SkippedHour, error) {
	r, err := policy.ParseRepeatedHour(repeated)
	if err != nil {
		return 0, 0, err
	}
	k, err := policy.ParseSkippedHour(skipped)
	if err != nil {
		return 0, 0, err
	}
	return r, k, nil
}

// cronPolicyText is the stored form of c's policies (triggers.repeated_hour, skipped_hour,
// after_blackout), as dstPolicies and policy.ParseAfterBlackout read it.
func cronPolicyText(c *deployments.CronSchedule) (repeated, skipped, after string, err error) {
	r, err := c.RepeatedHour.MarshalText()
	if err != nil {
		return "", "", "", err
	}
	k, err := c.SkippedHour.MarshalText()
	if err != nil {
		return "", "", "", err
	}
	a, err := c.AfterBlackout.MarshalText()
	if err != nil {
		return "", "", "", err
	}
	return string(r), string(k), string(a), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
