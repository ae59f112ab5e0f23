package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
)

var _ calendars.Store = (*DB)(nil)

// calendarRow is a row of calendars.
type calendarRow struct {
	bun.BaseModel `bun:"table:calendars"`

	Name        string    `bun:"name,pk"`
	Description string    `bun:"description"`
	Timezone    string    `bun:"timezone"`
	Spec        string    `bun:"spec"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// calendarSpec is the JSON document of calendars.spec.
type calendarSpec struct {
	DateRanges    []calendars.DateRange    `json:"date_ranges,omitempty"`
	Holidays      []string                 `json:"holidays,omitempty"`
	WeeklyWindows []calendars.WeeklyWindow `json:"weekly_windows,omitempty"`
}

// triggerCalendarRow is a row of trigger_calendars.
type triggerCalendarRow struct {
	bun.BaseModel `bun:"table:trigger_calendars"`

	WorkflowID   string `bun:"workflow_id,pk"`
	TriggerID    string `bun:"trigger_id,pk"`
	Position     int    `bun:"position,pk"`
	CalendarName string `bun:"calendar_name"`
}

func toCalendarRow(c *calendars.Calendar) (*calendarRow, error) {
	spec, err := json.Marshal(calendarSpec{DateRanges: c.DateRanges, Holidays: c.Holidays, WeeklyWindows: c.WeeklyWindows})
	if err != nil {
		return nil, fmt.Errorf("encode calendar %s: %w", c.Name, err)
	}
	return &calendarRow{
		Name: c.Name, Description: c.Description, Timezone: c.Timezone, Spec: string(spec),
		CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt),
	}, nil
}

func (r *calendarRow) toCalendar() (*calendars.Calendar, error) {
	var spec calendarSpec
	if err := json.Unmarshal([]byte(r.Spec), &spec); err != nil {
		return nil, fmt.Errorf("decode calendar %s: %w", r.Name, err)
	}
	return &calendars.Calendar{
		Name: r.Name, Description: r.Description, Timezone: r.Timezone,
		DateRanges: spec.DateRanges, Holidays: spec.Holidays, WeeklyWindows: spec.WeeklyWindows,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}, nil
}

// CalendarInsert implements calendars.Store.
func (db *DB) CalendarInsert(ctx context.Context, c *calendars.Calendar) error {
	row, err := toCalendarRow(c)
	if err != nil {
		return err
	}
	res, err := db.bun.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("insert calendar %s: %w", c.Name, interpretError(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("calendar %s exists already: %w", c.Name, errdefs.ErrAlreadyExists)
	}
	return nil
}

// CalendarUpdate implements calendars.Store.
func (db *DB) CalendarUpdate(ctx context.Context, c *calendars.Calendar) error {
	row, err := toCalendarRow(c)
	if err != nil {
		return err
	}
	res, err := db.bun.NewUpdate().Model(row).
		Column("description", "timezone", "spec", "updated_at").
		WherePK().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update calendar %s: %w", c.Name, interpretError(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("update calendar %s: %w", c.Name, errdefs.ErrNotFound)
	}
	return nil
}

// CalendarDelete implements calendars.Store. The foreign key of trigger_calendars refuses the
// delete while a trigger names the calendar: errdefs.ErrFailedPrecondition.
func (db *DB) CalendarDelete(ctx context.Context, name string) error {
	res, err := db.bun.NewDelete().Model((*calendarRow)(nil)).Where("name = ?", name).Exec(ctx)
	if err != nil {
		err = interpretError(err)
		if errors.Is(err, errdefs.ErrNotFound) { // a foreign key: a trigger names it
			return fmt.Errorf("delete calendar %s: a cron trigger names it: %w", name, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("delete calendar %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("delete calendar %s: %w", name, errdefs.ErrNotFound)
	}
	return nil
}

// CalendarGet implements calendars.Store.
func (db *DB) CalendarGet(ctx context.Context, name string) (*calendars.Calendar, error) {
	var row calendarRow
	if err := db.bun.NewSelect().Model(&row).Where("name = ?", name).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get calendar %s: %w", name, interpretError(err))
	}
	return row.toCalendar()
}

// CalendarGetMany returns the calendars of these names that exist, by name (the scheduler's
// read of a trigger's calendars).
func (db *DB) CalendarGetMany(ctx context.Context, names []string) ([]*calendars.Calendar, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var rows []calendarRow
	if err := db.bun.NewSelect().Model(&rows).Where("name IN (?)", bun.List(names)).OrderExpr("name ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("get %d calendars: %w", len(names), interpretError(err))
	}
	return toCalendars(rows)
}

// CalendarList implements calendars.Store.
func (db *DB) CalendarList(ctx context.Context, after string, limit int) ([]*calendars.Calendar, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	var rows []calendarRow
	err := db.bun.NewSelect().Model(&rows).Where("name > ?", after).OrderExpr("name ASC").Limit(int64(min(limit, maxListLimit+1))).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list calendars after %q: %w", after, interpretError(err))
	}
	return toCalendars(rows)
}

func toCalendars(rows []calendarRow) ([]*calendars.Calendar, error) {
	out := make([]*calendars.Calendar, 0, len(rows))
	for i := range rows {
		c, err := rows[i].toCalendar()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CalendarUsers implements calendars.Store: the workflows with a trigger naming the calendar
// (archived deployments have no triggers).
func (db *DB) CalendarUsers(ctx context.Context, name string, limit int) ([]string, error) {
	var ids []string
	err := db.bun.NewSelect().Model((*triggerCalendarRow)(nil)).
		ColumnExpr("DISTINCT workflow_id").
		Where("calendar_name = ?", name).
		OrderExpr("workflow_id ASC").
		Limit(int64(limit)).
		Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("users of calendar %s: %w", name, interpretError(err))
	}
	return ids, nil
}

// CalendarsMissing implements deployments.Tx: the names among names that no calendar has.
func (t *tx) CalendarsMissing(ctx context.Context, names []string) ([]string, error) {
	idb := t.tx
	if len(names) == 0 {
		return nil, nil
	}
	var found []string
	if err := idb.NewSelect().Model((*calendarRow)(nil)).Column("name").Where("name IN (?)", bun.List(names)).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("look calendars up: %w", interpretError(err))
	}
	have := make(map[string]bool, len(found))
	for _, n := range found {
		have[n] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// insertTriggerCalendars stores the calendars a cron trigger names, in order. A name no
// calendar has violates the foreign key: errdefs.ErrFailedPrecondition.
func insertTriggerCalendars(ctx context.Context, idb bun.IDB, workflowID, triggerID string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	rows := make([]triggerCalendarRow, len(names))
	for i, n := range names {
		rows[i] = triggerCalendarRow{WorkflowID: workflowID, TriggerID: triggerID, Position: i, CalendarName: n}
	}
	if _, err := idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
		err = interpretError(err)
		if errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("trigger %s names a blackout calendar that does not exist: %w", triggerID, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("insert the calendars of trigger %s: %w", triggerID, err)
	}
	return nil
}

// loadTriggerCalendars sets the BlackoutCalendars of the cron triggers of ds, in one read.
func loadTriggerCalendars(ctx context.Context, idb bun.IDB, ds []*deployments.Deployment) error {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		for _, t := range d.Triggers {
			if t.Cron != nil {
				ids = append(ids, d.WorkflowID)
				break
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []triggerCalendarRow
	err := idb.NewSelect().Model(&rows).
		Where("workflow_id IN (?)", bun.List(ids)).
		OrderExpr("workflow_id ASC, trigger_id ASC, position ASC").
		Scan(ctx)
	if err != nil {
		return fmt.Errorf("read trigger calendars: %w", interpretError(err))
	}
	type key struct{ wf, trigger string }
	names := map[key][]string{}
	for _, r := range rows {
		k := key{r.WorkflowID, r.TriggerID}
		names[k] = append(names[k], r.CalendarName)
	}
	for _, d := range ds {
		for _, t := range d.Triggers {
			if t.Cron != nil {
				t.Cron.BlackoutCalendars = names[key{d.WorkflowID, t.ID}]
			}
		}
	}
	return nil
}

// setCronTriggerCalendars sets the BlackoutCalendars of the load projection's triggers, from
// one read of the trigger_calendars of deployed workflows.
func setCronTriggerCalendars(ctx context.Context, idb bun.IDB, triggers []monitoring.CronTrigger) error {
	if len(triggers) == 0 {
		return nil
	}
	var rows []triggerCalendarRow
	err := idb.NewSelect().Model(&rows).
		Join("JOIN workflows AS w ON w.id = trigger_calendar_row.workflow_id").
		Where("w.deployment_status = ?", deployments.StatusDeployed).
		OrderExpr("trigger_calendar_row.workflow_id ASC, trigger_calendar_row.trigger_id ASC, trigger_calendar_row.position ASC").
		Scan(ctx)
	if err != nil {
		return fmt.Errorf("read the calendars of deployed triggers: %w", interpretError(err))
	}
	type key struct{ wf, trigger string }
	names := map[key][]string{}
	for _, r := range rows {
		k := key{r.WorkflowID, r.TriggerID}
		names[k] = append(names[k], r.CalendarName)
	}
	for i := range triggers {
		triggers[i].BlackoutCalendars = names[key{triggers[i].WorkflowID, triggers[i].TriggerID}]
	}
	return nil
}
