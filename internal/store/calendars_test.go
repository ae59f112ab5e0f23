package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

func calendarBackends(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t))
		})
	}
}

func holidays(name string) *calendars.Calendar {
	return &calendars.Calendar{
		Name: name, Description: "office closed", Timezone: "Europe/Berlin",
		DateRanges:    []calendars.DateRange{{Start: "2026-12-24", End: "2026-12-31"}},
		Holidays:      []string{"2026-05-01"},
		WeeklyWindows: []calendars.WeeklyWindow{{Days: []time.Weekday{time.Saturday, time.Sunday}, Start: "22:00", End: "06:00"}},
		CreatedAt:     calendarTime, UpdatedAt: calendarTime, // the store writes the caller's times
	}
}

var calendarTime = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// The calendars' rows round-trip; names are unique; updates replace; lists page by name.
func TestCalendarCRUD(t *testing.T) {
	t.Parallel()
	calendarBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		c := holidays("office")
		is.NoErr(db.CalendarInsert(ctx, c))
		err := db.CalendarInsert(ctx, c)
		is.True(errors.Is(err, errdefs.ErrAlreadyExists)) // the name is taken

		got, err := db.CalendarGet(ctx, "office")
		is.NoErr(err)
		is.Equal(got.Timezone, "Europe/Berlin")
		is.Equal(got.DateRanges, c.DateRanges)
		is.Equal(got.Holidays, c.Holidays)
		is.Equal(got.WeeklyWindows, c.WeeklyWindows)
		is.Equal(got.Description, "office closed")

		c.Holidays = []string{"2026-05-01", "2026-10-03"}
		c.WeeklyWindows = nil
		is.NoErr(db.CalendarUpdate(ctx, c))
		got, err = db.CalendarGet(ctx, "office")
		is.NoErr(err)
		is.Equal(len(got.Holidays), 2)
		is.Equal(len(got.WeeklyWindows), 0)
		is.True(errors.Is(db.CalendarUpdate(ctx, holidays("nope")), errdefs.ErrNotFound))

		for i := range 3 {
			is.NoErr(db.CalendarInsert(ctx, holidays(fmt.Sprintf("z-%d", i))))
		}
		page, err := db.CalendarList(ctx, "office", 2)
		is.NoErr(err)
		is.Equal(len(page), 2)
		is.Equal(page[0].Name, "z-0")
		many, err := db.CalendarGetMany(ctx, []string{"z-2", "office", "missing"})
		is.NoErr(err)
		is.Equal(len(many), 2) // the missing one is left out

		is.NoErr(db.CalendarDelete(ctx, "z-1"))
		_, err = db.CalendarGet(ctx, "z-1")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		is.True(errors.Is(db.CalendarDelete(ctx, "z-1"), errdefs.ErrNotFound))
	})
}

// A cron trigger's calendars are stored in order with its after-blackout policy; a calendar a
// trigger names cannot be deleted until the deployment is archived; a trigger cannot name a
// calendar that does not exist.
func TestTriggerCalendars(t *testing.T) {
	t.Parallel()
	calendarBackends(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		is.NoErr(db.CalendarInsert(ctx, holidays("b-office")))
		is.NoErr(db.CalendarInsert(ctx, holidays("a-release")))
		d := storetest.NewDeployment("wf-cal")
		d.Triggers[0].Cron.BlackoutCalendars = []string{"b-office", "a-release"}
		d.Triggers[0].Cron.AfterBlackout = policy.AfterBlackoutFireOnce
		is.NoErr(storetest.Create(ctx, db, d))

		got, err := db.DeploymentGet(ctx, d.ID)
		is.NoErr(err)
		is.Equal(got.Triggers[0].Cron.BlackoutCalendars, []string{"b-office", "a-release"}) // in the caller's order
		is.Equal(got.Triggers[0].Cron.AfterBlackout, policy.AfterBlackoutFireOnce)
		list, err := db.DeploymentList(ctx, &deployments.ListParams{})
		is.NoErr(err)
		is.Equal(list[0].Triggers[0].Cron.BlackoutCalendars, []string{"b-office", "a-release"})

		users, err := db.CalendarUsers(ctx, "a-release", 5)
		is.NoErr(err)
		is.Equal(users, []string{"wf-cal"})
		err = db.CalendarDelete(ctx, "a-release")
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // the foreign key holds

		bad := storetest.NewDeployment("wf-bad")
		bad.Triggers[0].Cron.BlackoutCalendars = []string{"missing"}
		err = storetest.Create(ctx, db, bad)
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // no such calendar

		// Archiving removes the triggers and so frees the calendar.
		is.NoErr(db.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
			missing, err := tx.CalendarsMissing(ctx, []string{"a-release", "nope"})
			is.NoErr(err)
			is.Equal(missing, []string{"nope"})
			got.Triggers = nil
			return tx.TriggersReplace(ctx, got)
		}))
		is.NoErr(db.CalendarDelete(ctx, "a-release"))
	})
}
