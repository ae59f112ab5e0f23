package monitoring_test

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// The load projection does not count the fires a blackout calendar covers, with jitter or
// without.
func TestLoadDistributionLeavesBlackoutsOut(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		is.NoErr(db.CalendarInsert(ctx, &calendars.Calendar{Name: "quiet", Timezone: "UTC", WeeklyWindows: []calendars.WeeklyWindow{
			{Days: []time.Weekday{start.Weekday()}, Start: "10:05", End: "10:25"},
		}, CreatedAt: start, UpdatedAt: start}))
		deploy(t, db, "minutely", deployments.StatusDeployed, deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC",
			BlackoutCalendars: []string{"quiet"}})
		deploy(t, db, "plain", deployments.StatusDeployed, deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC"})

		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return start }, Calendars: db})
		ld, err := svc.LoadDistribution(ctx, &monitoring.LoadQuery{}) // 10:00 to 11:00 by minute
		is.NoErr(err)
		for i, b := range ld.Buckets {
			want := int64(2)
			if i >= 5 && i < 25 {
				want = 1 // the calendar covers "minutely"
			}
			is.Equal(b.Fires, want)
			is.Equal(b.FiresWithoutJitter, want)
		}

		// Without the calendars wired, everything counts.
		all, err := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return start }}).LoadDistribution(ctx, &monitoring.LoadQuery{})
		is.NoErr(err)
		is.Equal(all.Buckets[10].Fires, int64(2))
	})
}

// A what-if's cron trigger that names a blackout calendar is projected as the scheduler would
// fire it: its covered fires are left out.
func TestLoadWhatIfLeavesBlackoutsOut(t *testing.T) {
	t.Parallel()
	storetest.EachBackend(t, func(t *testing.T, db *store.DB) {
		is := is.New(t)
		ctx := context.Background()
		start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		is.NoErr(db.CalendarInsert(ctx, &calendars.Calendar{Name: "quiet", Timezone: "UTC", WeeklyWindows: []calendars.WeeklyWindow{
			{Days: []time.Weekday{start.Weekday()}, Start: "10:05", End: "10:25"},
		}, CreatedAt: start, UpdatedAt: start}))
		svc := monitoring.NewService(db, monitoring.ServiceConfig{Now: func() time.Time { return start }, Calendars: db})
		whatIf := func(names []string) *monitoring.LoadDistribution {
			ld, err := svc.LoadDistribution(ctx, &monitoring.LoadQuery{WhatIf: &monitoring.LoadWhatIf{WorkflowID: "planned", Triggers: []deployments.Trigger{
				{ID: "minutely", Cron: &deployments.CronSchedule{Expression: "* * * * *", Timezone: "UTC", BlackoutCalendars: names}},
			}}})
			is.NoErr(err)
			return ld
		}
		plain, quiet := whatIf(nil), whatIf([]string{"quiet"})
		is.Equal(plain.WhatIf.Fires, int64(60)) // one a minute over the hour
		is.Equal(quiet.WhatIf.Fires, int64(40)) // less the 20 minutes the calendar covers
		for i, b := range quiet.Buckets {
			want := int64(1)
			if i >= 5 && i < 25 {
				want = 0
			}
			is.Equal(b.FiresWithWhatIf, want) // the gap is where the calendar is
		}
	})
}
