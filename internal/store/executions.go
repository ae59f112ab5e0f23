package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// The stores of execution's consumers: a method missing here fails the build.
var (
	_ execution.ServiceStore = (*DB)(nil)
	_ execution.WorkerStore  = (*DB)(nil)
	_ execution.SweeperStore = (*DB)(nil)
)

// executionRow is a row of executions.
type executionRow struct {
	bun.BaseModel `bun:"table:executions"`

	ID              string    `bun:"id,pk"`
	DeploymentID    string    `bun:"deployment_id"`
	WorkflowID      string    `bun:"workflow_id"`
	Revision        int32     `bun:"revision"`
	Status          string    `bun:"status"`
	TriggerType     string    `bun:"trigger_type"`
	TriggerID       *string   `bun:"trigger_id"`
	TriggerData     string    `bun:"trigger_data"`
	IdempotencyKey  *string   `bun:"idempotency_key"`
	ScheduledAt     time.Time `bun:"scheduled_at,nullzero"`
	NominalAt       time.Time `bun:"nominal_at,nullzero"`
	StartedAt       time.Time `bun:"started_at,nullzero"`
	FinishedAt      time.Time `bun:"finished_at,nullzero"`
	Output          *string   `bun:"output"`
	Error           *string   `bun:"error"`
	Attempt         int32     `bun:"attempt"`
	Deaths          int32     `bun:"deaths"`
	FencingToken    *int64    `bun:"fencing_token"`
	CancelRequested bool      `bun:"cancel_requested"`
	AvailableAt     time.Time `bun:"available_at,nullzero"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

func toExecutionRow(e *execution.Execution) *executionRow {
	return &executionRow{
		ID:              e.ID,
		DeploymentID:    e.DeploymentID,
		WorkflowID:      e.WorkflowID,
		Revision:        e.Revision,
		Status:          string(e.Status),
		TriggerType:     string(e.TriggerType),
		TriggerID:       nilIfEmpty(e.TriggerID),
		TriggerData:     string(e.TriggerData),
		IdempotencyKey:  nilIfEmpty(e.IdempotencyKey),
		ScheduledAt:     utc(e.ScheduledAt),
		NominalAt:       utc(cmp.Or(e.NominalAt, e.ScheduledAt)),
		StartedAt:       utc(e.StartedAt),
		FinishedAt:      utc(e.FinishedAt),
		Output:          nilIfEmpty(string(e.Output)),
		Error:           nilIfEmpty(e.Error),
		Attempt:         e.Attempt,
		CancelRequested: e.CancelRequested,
		AvailableAt:     utc(e.AvailableAt),
		CreatedAt:       utc(e.CreatedAt),
		UpdatedAt:       utc(e.UpdatedAt),
	}
}

func (r *executionRow) toExecution() *execution.Execution {
	e := &execution.Execution{
		ID:              r.ID,
		DeploymentID:    r.DeploymentID,
		WorkflowID:      r.WorkflowID,
		Revision:        r.Revision,
		Status:          execution.Status(r.Status),
		TriggerType:     execution.TriggerType(r.TriggerType),
		TriggerID:       deref(r.TriggerID),
		IdempotencyKey:  deref(r.IdempotencyKey),
		ScheduledAt:     utc(r.ScheduledAt),
		NominalAt:       utc(cmp.Or(r.NominalAt, r.ScheduledAt)), // NULL: a row of an older binary
		StartedAt:       utc(r.StartedAt),
		FinishedAt:      utc(r.FinishedAt),
		Error:           deref(r.Error),
		Attempt:         r.Attempt,
		Deaths:          r.Deaths,
		CancelRequested: r.CancelRequested,
		AvailableAt:     utc(r.AvailableAt),
		CreatedAt:       utc(r.CreatedAt),
		UpdatedAt:       utc(r.UpdatedAt),
	}
	if r.TriggerData != "" {
		e.TriggerData = []byte(r.TriggerData)
	}
	if r.Output != nil {
		e.Output = []byte(*r.Output)
	}
	if r.FencingToken != nil {
		e.FencingToken = *r.FencingToken
	}
	return e
}

// ExecutionInsert implements execution.ServiceStore. The insert does nothing on a conflict with
// either uniqueness key; the existing row is then read by that key. e's DeploymentID must be its
// workflow's (execution.Service takes both from one deployment): reads by deployment go through
// the workflow (workflowOfDeployment).
func (db *DB) ExecutionInsert(ctx context.Context, e *execution.Execution) (*execution.Execution, bool, error) {
	row := toExecutionRow(e)
	res, err := db.bun.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("insert execution of %s: %w", e.WorkflowID, interpretError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return row.toExecution(), true, nil
	}
	var existing executionRow
	q := db.bun.NewSelect().Model(&existing).Where("workflow_id = ?", e.WorkflowID)
	switch {
	case e.IdempotencyKey != "":
		q = q.Where("idempotency_key = ?", e.IdempotencyKey)
	case e.TriggerType == execution.TriggerCron:
		q = q.Where("trigger_type = 'CRON' AND trigger_id = ? AND scheduled_at = ?", e.TriggerID, utc(e.ScheduledAt))
	default:
		return nil, false, fmt.Errorf("insert execution %s: id taken: %w", e.ID, errdefs.ErrConflict)
	}
	if err := q.Limit(1).Scan(ctx); err != nil {
		return nil, false, fmt.Errorf("find the execution that holds the key of %s: %w", e.ID, interpretError(err))
	}
	return existing.toExecution(), false, nil
}

// ExecutionInsertMany implements execution.ServiceStore: ExecutionInsert for the cron fires of
// one workflow in one INSERT, whose RETURNING names the rows it inserted (a fire whose key is
// taken is skipped: by ON CONFLICT on SQLite, by the executions_unique_keys trigger on
// PostgreSQL, which takes the workflow's advisory lock once for the statement), then one read
// of the rows that hold the keys of the others.
// More than insertManyRows fires are made in parts of that many, one statement each: that
// bounds a statement's text (bun writes the values into it; a synchronous backfill may make
// 10,000 fires) and, on PostgreSQL, how long one transaction holds the workflow's lock, which
// the scheduler's live fires of that workflow wait for.
func (db *DB) ExecutionInsertMany(ctx context.Context, es []*execution.Execution) ([]execution.InsertResult, error) {
	out := make([]execution.InsertResult, 0, len(es))
	if len(es) == 0 {
		return out, nil
	}
	workflowID := es[0].WorkflowID
	for _, e := range es {
		if e.TriggerType != execution.TriggerCron || e.TriggerID == "" || e.ScheduledAt.IsZero() || e.IdempotencyKey != "" || e.WorkflowID != workflowID {
			return nil, fmt.Errorf("insert %d executions of %s: execution %s is not a cron fire of that workflow", len(es), workflowID, e.ID)
		}
	}
	for part := range slices.Chunk(es, insertManyRows) {
		got, err := db.insertMany(ctx, workflowID, part)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// insertManyRows is how many rows one statement of ExecutionInsertMany inserts at most.
const insertManyRows = 500

// insertMany is ExecutionInsertMany for at most insertManyRows fires of workflowID.
func (db *DB) insertMany(ctx context.Context, workflowID string, es []*execution.Execution) ([]execution.InsertResult, error) {
	out := make([]execution.InsertResult, len(es))
	rows := make([]*executionRow, len(es))
	for i, e := range es {
		rows[i] = toExecutionRow(e)
	}
	var inserted []string
	err := db.bun.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &inserted)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("insert %d executions of %s: %w", len(es), workflowID, interpretError(err))
	}
	isNew := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		isNew[id] = true
	}
	type fireKey struct {
		trigger string
		at      time.Time
	}
	var (
		taken    = map[fireKey][]int{} // the fires not inserted, by key
		triggers []string
		times    []time.Time
	)
	for i, row := range rows {
		if isNew[row.ID] {
			out[i] = execution.InsertResult{Execution: row.toExecution(), Inserted: true}
			continue
		}
		k := fireKey{es[i].TriggerID, utc(es[i].ScheduledAt)}
		if len(taken[k]) == 0 {
			triggers, times = append(triggers, k.trigger), append(times, k.at)
		}
		taken[k] = append(taken[k], i)
	}
	if len(taken) == 0 {
		return out, nil
	}
	var existing []executionRow
	err = db.bun.NewSelect().Model(&existing).
		Where("workflow_id = ?", workflowID).
		Where("trigger_type = 'CRON'").
		Where("trigger_id IN (?)", bun.List(triggers)).
		Where("scheduled_at IN (?)", bun.List(times)).
		Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("find the executions that hold the keys of %d fires of %s: %w", len(taken), workflowID, interpretError(err))
	}
	for _, r := range existing {
		if r.TriggerID == nil {
			continue
		}
		for _, i := range taken[fireKey{*r.TriggerID, utc(r.ScheduledAt)}] {
			out[i] = execution.InsertResult{Execution: r.toExecution()}
		}
	}
	for i := range out {
		if out[i].Execution == nil { // neither inserted nor found: the id itself was taken
			return nil, fmt.Errorf("insert execution %s: id taken: %w", es[i].ID, errdefs.ErrConflict)
		}
	}
	return out, nil
}

// ExecutionTrigger implements execution.TriggerStore: the deployment's check and the insert in one
// statement (INSERT … SELECT from workflows WHERE DEPLOYED), the hot path of TriggerWorkflow.
// Only when it inserts nothing does it look further, to say why.
func (db *DB) ExecutionTrigger(ctx context.Context, e *execution.Execution, webhookPath string) (*execution.Execution, bool, error) {
	row := toExecutionRow(e)
	var got struct {
		DeploymentID string  `bun:"deployment_id"`
		WorkflowID   string  `bun:"workflow_id"`
		Revision     int32   `bun:"revision"`
		TriggerID    *string `bun:"trigger_id"`
	}
	var err error
	if db.dialect == DialectPostgres {
		err = db.triggerPostgres(ctx, row, webhookPath, &got)
	} else {
		err = db.triggerQuery(row, webhookPath).Scan(ctx, &got)
	}
	switch {
	case err == nil:
		row.DeploymentID, row.WorkflowID, row.Revision, row.TriggerID = got.DeploymentID, got.WorkflowID, got.Revision, got.TriggerID
		return row.toExecution(), true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("record execution: %w", interpretError(err))
	}
	// Nothing inserted: no such workflow or webhook, not DEPLOYED, or the key is taken.
	existing, err := db.triggerNotInserted(ctx, e, webhookPath, nil)
	return existing, false, err
}

// triggerPostgres is triggerQuery's statement on PostgreSQL, prepared. Its two texts (by
// workflow id, by webhook path) take the same values.
func (db *DB) triggerPostgres(ctx context.Context, row *executionRow, webhookPath string, got any) error {
	var args pgParams
	var from, match, triggerID string
	if webhookPath != "" {
		from, match, triggerID = `workflows AS w JOIN triggers AS t ON t.workflow_id = w.id`, `t.webhook_path = `+args.add(webhookPath), `t.id`
	} else {
		from, match = `workflows AS w`, `w.id = `+args.add(row.WorkflowID)
		triggerID = args.add(row.TriggerID) + `::text`
	}
	query := `INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
			trigger_id, trigger_data, idempotency_key, scheduled_at, nominal_at, available_at, created_at, updated_at,
			attempt, cancel_requested)
		SELECT ` + args.add(row.ID) + `::uuid, w.deployment_id, w.id, w.current_revision, ` +
		args.add(row.Status) + `::text, ` + args.add(row.TriggerType) + `::text, ` + triggerID + `, ` +
		args.add(row.TriggerData) + `::text, ` + args.add(row.IdempotencyKey) + `::text, ` +
		args.add(nullTime(row.ScheduledAt)) + `::timestamptz, ` + args.add(nullTime(row.NominalAt)) + `::timestamptz, ` +
		args.add(nullTime(row.AvailableAt)) + `::timestamptz, ` + args.add(row.CreatedAt) + `::timestamptz, ` +
		args.add(row.UpdatedAt) + `::timestamptz, 0, false
		FROM ` + from + `
		WHERE ` + match + ` AND w.deployment_status = ` + args.add(string(deployments.StatusDeployed)) + `
		ON CONFLICT DO NOTHING RETURNING deployment_id, workflow_id, revision, trigger_id`
	return db.scanOnePrepared(ctx, got, query, args)
}

// triggerQuery is ExecutionTrigger's statement: the row inserted from its workflow (by id, or by
// a trigger's webhook path) if that is DEPLOYED.
func (db *DB) triggerQuery(row *executionRow, webhookPath string) *bun.RawQuery {
	q := db.bun.NewSelect().TableExpr("workflows AS w").
		ColumnExpr("?, w.deployment_id, w.id, w.current_revision, ?, ?", row.ID, row.Status, row.TriggerType)
	if webhookPath != "" {
		q = q.ColumnExpr("t.id").Join("JOIN triggers AS t ON t.workflow_id = w.id").Where("t.webhook_path = ?", webhookPath)
	} else {
		q = q.ColumnExpr("?", row.TriggerID).Where("w.id = ?", row.WorkflowID)
	}
	q = q.ColumnExpr("?, ?, ?, ?, ?, ?, ?, ?, ?",
		row.TriggerData, row.IdempotencyKey, row.ScheduledAt, row.NominalAt, row.AvailableAt, row.CreatedAt, row.UpdatedAt, 0, false).
		Where("w.deployment_status = ?", deployments.StatusDeployed)
	return db.bun.NewRaw(`INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
		trigger_id, trigger_data, idempotency_key, scheduled_at, nominal_at, available_at, created_at, updated_at,
		attempt, cancel_requested) ? ON CONFLICT DO NOTHING RETURNING deployment_id, workflow_id, revision, trigger_id`, q)
}

// triggerLookups remembers, across the rows of one batch that were not inserted, what
// triggerNotInserted has read: one read per workflow, webhook path and idempotency key.
type triggerLookups struct {
	refs     map[string]refResult
	existing map[[2]string]existingResult
}

type refResult struct {
	ref *execution.DeploymentRef
	err error
}

type existingResult struct {
	e   *execution.Execution
	err error
}

// triggerNotInserted says why a trigger inserted nothing: no such workflow or webhook
// (errdefs.ErrNotFound), not DEPLOYED (errdefs.ErrFailedPrecondition), or the idempotency key is
// taken (the execution that holds it). memo may be nil.
func (db *DB) triggerNotInserted(ctx context.Context, e *execution.Execution, webhookPath string, memo *triggerLookups) (*execution.Execution, error) {
	refKey := "w:" + e.WorkflowID
	if webhookPath != "" {
		refKey = "h:" + webhookPath
	}
	r, ok := memo.ref(refKey)
	if !ok {
		if webhookPath != "" {
			r.ref, r.err = db.DeploymentRefByWebhookPath(ctx, webhookPath)
		} else {
			r.ref, r.err = db.DeploymentRef(ctx, e.WorkflowID)
		}
		memo.setRef(refKey, r)
	}
	if r.err != nil {
		return nil, r.err
	}
	ref := r.ref
	if ref.Status != deployments.StatusDeployed {
		return nil, fmt.Errorf("workflow %s is %s, not DEPLOYED: %w", ref.WorkflowID, ref.Status, errdefs.ErrFailedPrecondition)
	}
	if e.IdempotencyKey == "" {
		return nil, fmt.Errorf("record execution %s: id taken: %w", e.ID, errdefs.ErrConflict)
	}
	key := [2]string{ref.WorkflowID, e.IdempotencyKey}
	x, ok := memo.existingFor(key)
	if !ok {
		var existing executionRow
		err := db.bun.NewSelect().Model(&existing).
			Where("workflow_id = ?", ref.WorkflowID).
			Where("idempotency_key = ?", e.IdempotencyKey).
			Scan(ctx)
		if err != nil {
			x.err = fmt.Errorf("find the execution that holds key %q: %w", e.IdempotencyKey, interpretError(err))
		} else {
			x.e = existing.toExecution()
		}
		memo.setExisting(key, x)
	}
	if x.err != nil {
		return nil, x.err
	}
	got := *x.e // each caller gets its own copy
	return &got, nil
}

func (m *triggerLookups) ref(k string) (refResult, bool) {
	if m == nil {
		return refResult{}, false
	}
	r, ok := m.refs[k]
	return r, ok
}

func (m *triggerLookups) setRef(k string, r refResult) {
	if m != nil {
		m.refs[k] = r
	}
}

func (m *triggerLookups) existingFor(k [2]string) (existingResult, bool) {
	if m == nil {
		return existingResult{}, false
	}
	x, ok := m.existing[k]
	return x, ok
}

func (m *triggerLookups) setExisting(k [2]string, x existingResult) {
	if m != nil {
		m.existing[k] = x
	}
}

// triggerBatchColumns are the columns of the VALUES list of ExecutionTriggerBatch, with their
// PostgreSQL types: a VALUES list in a CTE types its literals as text unless told otherwise.
var triggerBatchColumns = []struct{ name, pgType string }{
	{"id", "uuid"},
	{"workflow_id", "text"},
	{"webhook_path", "text"},
	{"status", "text"},
	{"trigger_type", "text"},
	{"trigger_data", "text"},
	{"idempotency_key", "text"},
	{"scheduled_at", "timestamptz"},
	{"nominal_at", "timestamptz"},
	{"available_at", "timestamptz"},
	{"created_at", "timestamptz"},
	{"updated_at", "timestamptz"},
}

// ExecutionTriggerBatch implements execution.TriggerStore: ExecutionTrigger's INSERT … SELECT
// over all rows at once, the rows given as arrays on PostgreSQL (triggerBatchPostgres) and as a
// VALUES list in a CTE on SQLite (which names no columns of a bare VALUES; a CTE can). A manual row joins its workflow by id, a webhook row through its
// trigger (the LEFT JOIN finds no trigger for a manual row, whose webhook_path is NULL). Two
// rows with one (workflow, idempotency key) conflict inside the statement: DO NOTHING inserts
// one and skips the other on both dialects. The rows are inserted in workflow order: on
// PostgreSQL a keyed row takes its workflow's advisory lock (the executions_unique_keys trigger),
// and two batches that took them in opposite orders would deadlock. The rows not returned are
// looked at one by one, as ExecutionTrigger does, with each workflow, webhook path and key read
// once.
func (db *DB) ExecutionTriggerBatch(ctx context.Context, rows []execution.TriggerRow) ([]execution.TriggerResult, error) {
	out := make([]execution.TriggerResult, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	execRows := make([]*executionRow, len(rows))
	index := make(map[string]int, len(rows))
	for i, r := range rows {
		row := toExecutionRow(r.Execution)
		execRows[i], index[row.ID] = row, i
	}
	var got []triggeredRow
	var err error
	if db.dialect == DialectPostgres {
		err = db.triggerBatchPostgres(ctx, rows, execRows, &got)
	} else {
		err = db.triggerBatchQuery(rows, execRows).Scan(ctx, &got)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("record %d executions: %w", len(rows), interpretError(err))
	}
	for _, g := range got {
		i, ok := index[g.ID]
		if !ok {
			return nil, fmt.Errorf("record %d executions: the database returned unknown id %s", len(rows), g.ID)
		}
		row := execRows[i]
		row.DeploymentID, row.WorkflowID, row.Revision, row.TriggerID = g.DeploymentID, g.WorkflowID, g.Revision, g.TriggerID
		out[i] = execution.TriggerResult{Execution: row.toExecution(), Inserted: true}
	}
	memo := &triggerLookups{refs: map[string]refResult{}, existing: map[[2]string]existingResult{}}
	for i, r := range rows {
		if out[i].Inserted {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i].Execution, out[i].Err = db.triggerNotInserted(ctx, r.Execution, r.WebhookPath, memo)
	}
	return out, nil
}

// triggeredRow is a row a trigger statement inserted: what it RETURNs.
type triggeredRow struct {
	ID           string  `bun:"id"`
	DeploymentID string  `bun:"deployment_id"`
	WorkflowID   string  `bun:"workflow_id"`
	Revision     int32   `bun:"revision"`
	TriggerID    *string `bun:"trigger_id"`
}

// triggerBatchQuery is ExecutionTriggerBatch's statement on SQLite: the rows as a VALUES list
// in a CTE. execRows[i] is rows[i] as a row.
func (db *DB) triggerBatchQuery(rows []execution.TriggerRow, execRows []*executionRow) *bun.RawQuery {
	names := make([]string, len(triggerBatchColumns))
	types := make([]string, len(triggerBatchColumns))
	for i, c := range triggerBatchColumns {
		names[i], types[i] = c.name, c.pgType
	}
	args := make([]any, 0, len(rows)*len(triggerBatchColumns)+2)
	for i, r := range rows {
		row := execRows[i]
		workflowID, path := &row.WorkflowID, (*string)(nil)
		if r.WebhookPath != "" {
			workflowID, path = nil, &r.WebhookPath
		}
		args = append(args, row.ID, workflowID, path, row.Status, row.TriggerType, row.TriggerData,
			row.IdempotencyKey, row.ScheduledAt, row.NominalAt, row.AvailableAt, row.CreatedAt, row.UpdatedAt)
	}
	args = append(args, false, deployments.StatusDeployed)
	query := `WITH v (` + strings.Join(names, ", ") + `) AS (VALUES ` + db.valuesList(len(rows), types...) + `)
		INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
			trigger_id, trigger_data, idempotency_key, scheduled_at, nominal_at, available_at, created_at,
			updated_at, attempt, cancel_requested)
		SELECT v.id, w.deployment_id, w.id, w.current_revision, v.status, v.trigger_type,
			t.id, v.trigger_data, v.idempotency_key, v.scheduled_at, v.nominal_at, v.available_at, v.created_at,
			v.updated_at,
			0, ?
		FROM v
		LEFT JOIN triggers AS t ON t.webhook_path = v.webhook_path
		JOIN workflows AS w ON w.id = COALESCE(t.workflow_id, v.workflow_id)
		WHERE w.deployment_status = ?
		ORDER BY w.id
		ON CONFLICT DO NOTHING
		RETURNING id, deployment_id, workflow_id, revision, trigger_id`
	return db.bun.NewRaw(query, args...)
}

// triggerBatchPostgres is ExecutionTriggerBatch's statement on PostgreSQL, prepared, its values
// as arrays (as finishManyPostgres): one text for any number of rows, so PostgreSQL plans it
// once per connection. As a VALUES list of literals it was parsed and planned for every batch:
// 2.1 ms at the median for batches of 2 to 3 rows at 500 triggers/s, against 0.23 ms for the
// prepared single-row insert, and the triggers arriving meanwhile waited for it.
func (db *DB) triggerBatchPostgres(ctx context.Context, rows []execution.TriggerRow, execRows []*executionRow, got *[]triggeredRow) error {
	n := len(rows)
	var (
		ids, statuses, triggerTypes, triggerData = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		workflowIDs, paths, keys                 = make([]*string, n), make([]*string, n), make([]*string, n)
		scheduled, nominal, available            = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		created, updated                         = make([]time.Time, n), make([]time.Time, n)
	)
	for i, r := range rows {
		row := execRows[i]
		ids[i], statuses[i], triggerTypes[i], triggerData[i] = row.ID, row.Status, row.TriggerType, row.TriggerData
		if r.WebhookPath != "" {
			paths[i] = &r.WebhookPath
		} else {
			workflowIDs[i] = &row.WorkflowID
		}
		keys[i] = row.IdempotencyKey
		scheduled[i], nominal[i], available[i] = timeOrNil(row.ScheduledAt), timeOrNil(row.NominalAt), timeOrNil(row.AvailableAt)
		created[i], updated[i] = row.CreatedAt, row.UpdatedAt
	}
	const query = `INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type,
			trigger_id, trigger_data, idempotency_key, scheduled_at, nominal_at, available_at, created_at,
			updated_at, attempt, cancel_requested)
		SELECT v.id, w.deployment_id, w.id, w.current_revision, v.status, v.trigger_type,
			t.id, v.trigger_data, v.idempotency_key, v.scheduled_at, v.nominal_at, v.available_at, v.created_at,
			v.updated_at, 0, false
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])
			AS v (id, workflow_id, webhook_path, status, trigger_type, trigger_data, idempotency_key,
				scheduled_at, nominal_at, available_at, created_at, updated_at)
		LEFT JOIN triggers AS t ON t.webhook_path = v.webhook_path
		JOIN workflows AS w ON w.id = COALESCE(t.workflow_id, v.workflow_id)
		WHERE w.deployment_status = $13
		ORDER BY w.id
		ON CONFLICT DO NOTHING
		RETURNING id, deployment_id, workflow_id, revision, trigger_id`
	return db.scanPrepared(ctx, got, query, pgParams{ids, workflowIDs, paths, statuses, triggerTypes, triggerData, keys,
		scheduled, nominal, available, created, updated, string(deployments.StatusDeployed)})
}

// timeOrNil is t, or nil for the zero time (a NULL in an array parameter).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ExecutionGet implements execution.StepStore.
func (db *DB) ExecutionGet(ctx context.Context, id string) (*execution.Execution, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, errdefs.ErrNotFound)
	}
	var row executionRow
	if err := db.bun.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, interpretError(err))
	}
	return row.toExecution(), nil
}

// ExecutionClaim implements execution.StepStore. On PostgreSQL the statement is prepared
// (claimStatement).
func (db *DB) ExecutionClaim(ctx context.Context, id string, fence int64, now time.Time) (*execution.Execution, error) {
	var row executionRow
	var err error
	if db.dialect == DialectPostgres {
		err = db.scanOnePrepared(ctx, &row, claimStatement, pgParams{string(execution.StatusRunning), fence, now.UTC(), id, string(execution.StatusPending)})
	} else {
		err = db.claimQuery(&row, id, fence, now).Scan(ctx)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim execution %s with fence %d: %w", id, fence, errdefs.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("claim execution %s: %w", id, interpretError(err))
	}
	return row.toExecution(), nil
}

// claimStatement is claimQuery's statement with parameters: $1 RUNNING, $2 the fence, $3 now,
// $4 the id, $5 PENDING.
var claimStatement = `UPDATE executions SET status = $1, attempt = attempt + 1,
		deaths = deaths + CASE WHEN status = $1 THEN 1 ELSE 0 END,
		fencing_token = $2, started_at = $3, updated_at = $3
	WHERE id = $4
		AND (status = $1 OR (status = $5 AND (available_at IS NULL OR available_at <= $3)))
		AND (fencing_token IS NULL OR fencing_token < $2)
	RETURNING ` + executionColumns

// claimQuery is ExecutionClaim's statement: RUNNING under fence, if it is PENDING and available
// or RUNNING (a claim whose run never recorded what happened next) under a smaller fence.
func (db *DB) claimQuery(row *executionRow, id string, fence int64, now time.Time) *bun.UpdateQuery {
	return db.bun.NewUpdate().Model(row).
		Set("status = ?", execution.StatusRunning).
		Set("attempt = attempt + 1").
		// Still RUNNING: the run before this one never recorded what happened next (its
		// process died or lost its lease). SET reads the row as it was.
		Set("deaths = deaths + CASE WHEN status = ? THEN 1 ELSE 0 END", execution.StatusRunning).
		Set("fencing_token = ?", fence).
		Set("started_at = ?", now.UTC()).
		Set("updated_at = ?", now.UTC()).
		Where("id = ?", id).
		Where("(status = ? OR (status = ? AND (available_at IS NULL OR available_at <= ?)))",
			execution.StatusRunning, execution.StatusPending, now.UTC()).
		Where("(fencing_token IS NULL OR fencing_token < ?)", fence).
		Returning("*")
}

// ExecutionFinish implements execution.StepStore. On PostgreSQL the statement is prepared.
func (db *DB) ExecutionFinish(ctx context.Context, p *execution.FinishParams) error {
	if db.dialect == DialectPostgres {
		n, err := db.execPrepared(ctx, `UPDATE executions SET status = $1, output = $2, error = $3,
				finished_at = $4, updated_at = $4
			WHERE id = $5 AND fencing_token = $6 AND status = $7`,
			pgParams{string(p.Status), nilIfEmpty(string(p.Output)), nilIfEmpty(p.Error), p.Now.UTC(), p.ID, p.Fence, string(execution.StatusRunning)})
		return conditionalResult(n, err, "finish execution %s as %s", p.ID, p.Status)
	}
	q := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("status = ?", p.Status).
		Set("output = ?", nilIfEmpty(string(p.Output))).
		Set("error = ?", nilIfEmpty(p.Error)).
		Set("finished_at = ?", p.Now.UTC()).
		Set("updated_at = ?", p.Now.UTC()).
		Where("id = ?", p.ID).
		Where("fencing_token = ?", p.Fence).
		Where("status = ?", execution.StatusRunning)
	return db.conditional(ctx, q, "finish execution %s as %s", p.ID, p.Status)
}

// ExecutionRetry implements execution.RunStore.
func (db *DB) ExecutionRetry(ctx context.Context, id string, fence int64, availableAt, now time.Time, errMsg string) error {
	return db.toPending(ctx, id, fence, availableAt, now, errMsg, "", "return execution %s for retry")
}

// ExecutionRecover implements execution.SweeperStore.
func (db *DB) ExecutionRecover(ctx context.Context, id string, fence int64, now time.Time, reason string) error {
	return db.toPending(ctx, id, fence, now, now, reason, "deaths = deaths + 1", "recover execution %s")
}

// ExecutionHandBack implements execution.RunStore.
func (db *DB) ExecutionHandBack(ctx context.Context, id string, fence int64, now time.Time, reason string) error {
	return db.toPending(ctx, id, fence, now, now, reason, "attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END", "hand back execution %s")
}

// toPending returns a RUNNING execution held under fence to PENDING, available at availableAt,
// with errMsg as its error; set is one more SET expression (an attempt or death count), "" for
// none. what names the operation in the error, with %s for the id.
func (db *DB) toPending(ctx context.Context, id string, fence int64, availableAt, now time.Time, errMsg, set, what string) error {
	q := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("status = ?", execution.StatusPending).
		Set("available_at = ?", availableAt.UTC()).
		Set("error = ?", nilIfEmpty(errMsg)).
		Set("updated_at = ?", now.UTC()).
		Where("id = ?", id).
		Where("fencing_token = ?", fence).
		Where("status = ?", execution.StatusRunning)
	if set != "" {
		q = q.Set(set)
	}
	return db.conditional(ctx, q, what, id)
}

// ExecutionSkip implements execution.AdmissionStore.
func (db *DB) ExecutionSkip(ctx context.Context, id, reason string, now time.Time) error {
	q := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("status = ?", execution.StatusSkipped).
		Set("error = ?", reason).
		Set("finished_at = ?", now.UTC()).
		Set("updated_at = ?", now.UTC()).
		Where("id = ?", id).
		Where("status = ?", execution.StatusPending)
	return db.conditional(ctx, q, "skip execution %s", id)
}

// ExecutionAbandon implements execution.RunStore.
func (db *DB) ExecutionAbandon(ctx context.Context, id, reason string, now time.Time) error {
	q := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("status = ?", execution.StatusFailed).
		Set("error = ?", reason).
		Set("finished_at = ?", now.UTC()).
		Set("updated_at = ?", now.UTC()).
		Where("id = ?", id).
		Where("status IN (?)", bun.List([]execution.Status{execution.StatusPending, execution.StatusRunning}))
	return db.conditional(ctx, q, "abandon execution %s", id)
}

// ExecutionCancel implements execution.ServiceStore. Two conditional updates (PENDING: cancel now;
// RUNNING: ask its worker) decide by the row's status at the time of each; a row that moved
// between them (a retry returned it to PENDING) is tried again.
func (db *DB) ExecutionCancel(ctx context.Context, id, reason string, now time.Time) (*execution.Execution, error) {
	for range 3 {
		e, err := db.ExecutionGet(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("cancel execution %s: %w", id, err)
		}
		var q *bun.UpdateQuery
		switch e.Status {
		case execution.StatusPending:
			q = db.bun.NewUpdate().Model((*executionRow)(nil)).
				Set("status = ?", execution.StatusCancelled).
				Set("finished_at = ?", now.UTC())
		case execution.StatusRunning:
			q = db.bun.NewUpdate().Model((*executionRow)(nil)).
				Set("cancel_requested = ?", true)
		default:
			return e, nil
		}
		err = db.conditional(ctx, q.Set("error = ?", reason).Set("updated_at = ?", now.UTC()).
			Where("id = ?", id).Where("status = ?", e.Status), "cancel execution %s", id)
		if errors.Is(err, errdefs.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return db.ExecutionGet(ctx, id)
	}
	return nil, fmt.Errorf("cancel execution %s: it keeps changing: %w", id, errdefs.ErrConflict)
}

// ExecutionListRunning implements execution.AdmissionStore.
func (db *DB) ExecutionListRunning(ctx context.Context, workflowID string) ([]string, error) {
	var ids []string
	err := db.listRunningQuery(workflowID).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("list running executions of %s: %w", workflowID, interpretError(err))
	}
	return ids, nil
}

// listRunningQuery is ExecutionListRunning's query: the first two columns of
// idx_executions_workflow_status_created (workflow_id, status, created_at DESC, id DESC), a walk
// of the workflow's RUNNING entries only.
func (db *DB) listRunningQuery(workflowID string) *bun.SelectQuery {
	return db.bun.NewSelect().Model((*executionRow)(nil)).Column("id").
		Where("workflow_id = ?", workflowID).
		Where("status = ?", execution.StatusRunning)
}

// ExecutionHeartbeat implements execution.RunStore.
func (db *DB) ExecutionHeartbeat(ctx context.Context, id string, fence int64, now time.Time) (bool, error) {
	var cancelRequested bool
	err := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("updated_at = ?", now.UTC()).
		Where("id = ?", id).
		Where("fencing_token = ?", fence).
		Where("status = ?", execution.StatusRunning).
		Returning("cancel_requested").
		Scan(ctx, &cancelRequested)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("heartbeat of execution %s with fence %d: %w", id, fence, errdefs.ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat of execution %s: %w", id, interpretError(err))
	}
	return cancelRequested, nil
}

// ExecutionTouchDue implements execution.SweeperStore. On PostgreSQL, FOR UPDATE SKIP LOCKED lets
// concurrent sweepers take disjoint rows; SQLite has one writer at a time.
func (db *DB) ExecutionTouchDue(ctx context.Context, due, staleBefore, now time.Time, limit int) ([]string, error) {
	sub := db.bun.NewSelect().Model((*executionRow)(nil)).Column("id").
		Where("status IN (?)", bun.List([]execution.Status{execution.StatusPending, execution.StatusRunning})).
		Where("updated_at < ?", staleBefore.UTC()).
		Where("(status = ? OR available_at <= ?)", execution.StatusRunning, due.UTC()).
		OrderExpr("updated_at ASC").
		Limit(int64(limit))
	return db.touch(ctx, sub, now, "touch due executions")
}

// touch sets updated_at to now on the rows sub selects (their ids), locking them on PostgreSQL
// with SKIP LOCKED so that concurrent sweepers take disjoint rows, and returns their ids.
func (db *DB) touch(ctx context.Context, sub *bun.SelectQuery, now time.Time, what string) ([]string, error) {
	if db.dialect == DialectPostgres {
		sub = sub.For("UPDATE SKIP LOCKED")
	}
	var ids []string
	err := db.bun.NewUpdate().Model((*executionRow)(nil)).
		Set("updated_at = ?", now.UTC()).
		Where("id IN (?)", sub).
		Returning("id").
		Scan(ctx, &ids)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, interpretError(err))
	}
	return ids, nil
}

// DeploymentRef reads what a trigger needs of a workflow's deployment (ExecutionTrigger checks
// it): one indexed read.
func (db *DB) DeploymentRef(ctx context.Context, workflowID string) (*execution.DeploymentRef, error) {
	var ref execution.DeploymentRef
	err := db.bun.NewSelect().Model((*workflowRow)(nil)).
		ColumnExpr("deployment_id, id, current_revision, deployment_status").
		Where("id = ?", workflowID).
		Scan(ctx, &ref.DeploymentID, &ref.WorkflowID, &ref.Revision, &ref.Status)
	if err != nil {
		return nil, fmt.Errorf("get deployment of workflow %s: %w", workflowID, interpretError(err))
	}
	return &ref, nil
}

// DeploymentRefByWebhookPath is DeploymentRef for the live deployment owning a webhook path.
func (db *DB) DeploymentRefByWebhookPath(ctx context.Context, path string) (*execution.DeploymentRef, error) {
	var ref execution.DeploymentRef
	err := db.bun.NewSelect().TableExpr("triggers AS t").
		Join("JOIN workflows AS w ON w.id = t.workflow_id").
		ColumnExpr("w.deployment_id, w.id, w.current_revision, w.deployment_status, t.id").
		Where("t.webhook_path = ?", path).
		Scan(ctx, &ref.DeploymentID, &ref.WorkflowID, &ref.Revision, &ref.Status, &ref.TriggerID)
	if err != nil {
		return nil, fmt.Errorf("find webhook path %q: %w", path, interpretError(err))
	}
	return &ref, nil
}

// RevisionGet implements execution.RevisionStore.
func (db *DB) RevisionGet(ctx context.Context, workflowID string, revision int32) (*deployments.Definition, error) {
	var row revisionRow
	err := db.bun.NewSelect().Model(&row).
		Where("workflow_id = ?", workflowID).
		Where("revision = ?", revision).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("get revision %d of %s: %w", revision, workflowID, interpretError(err))
	}
	var d deployments.Definition
	if err := json.Unmarshal([]byte(row.Definition), &d); err != nil {
		return nil, fmt.Errorf("decode revision %d of %s: %w", revision, workflowID, err)
	}
	return &d, nil
}

// conditional runs an UPDATE whose WHERE states the condition of a state change; no row
// affected means the condition was false: errdefs.ErrConflict.
func (db *DB) conditional(ctx context.Context, q *bun.UpdateQuery, format string, args ...any) error {
	res, err := q.Exec(ctx)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	return conditionalResult(n, err, format, args...)
}

// conditionalResult is conditional's answer for a statement that changed n rows or failed.
func conditionalResult(n int64, err error, format string, args ...any) error {
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, interpretError(err))...)
	}
	if n == 0 {
		return fmt.Errorf(format+": %w", append(args, errdefs.ErrConflict)...)
	}
	return nil
}

// nullTime is t as a statement parameter, NULL when zero (as bun writes a nullzero column).
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// WebhookSecret implements webhook.Store: the sealed secret of the trigger with this webhook
// path, nil when it has none; errdefs.ErrNotFound when no live deployment has the path.
func (db *DB) WebhookSecret(ctx context.Context, path string) ([]byte, error) {
	var row triggerRow
	err := db.bun.NewSelect().Model(&row).
		Column("webhook_secret").
		Where("webhook_path = ?", path).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("find webhook path %q: %w", path, interpretError(err))
	}
	return row.WebhookSecret, nil
}
