package deployments

import (
	"context"
	"fmt"
	"slices"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// checkCalendars refuses cron triggers that name a blackout calendar that does not exist:
// errdefs.ErrFailedPrecondition naming the field ("triggers[0].cron.blackout_calendars[1]").
// It runs inside the write transaction; the foreign key of trigger_calendars holds against a
// calendar deleted between this read and the commit.
func checkCalendars(ctx context.Context, tx Tx, triggers []Trigger) error {
	var names []string
	for _, t := range triggers {
		if t.Cron != nil {
			names = append(names, t.Cron.BlackoutCalendars...)
		}
	}
	if len(names) == 0 {
		return nil
	}
	missing, err := tx.CalendarsMissing(ctx, slices.Compact(slices.Sorted(slices.Values(names))))
	if err != nil || len(missing) == 0 {
		return err
	}
	for i, t := range triggers {
		if t.Cron == nil {
			continue
		}
		for j, n := range t.Cron.BlackoutCalendars {
			if slices.Contains(missing, n) {
				return fmt.Errorf("triggers[%d].cron.blackout_calendars[%d]: no blackout calendar %q (create it with CreateCalendar first): %w",
					i, j, n, errdefs.ErrFailedPrecondition)
			}
		}
	}
	return nil
}

// validateBlackout checks the blackout fields of a cron trigger that the proto's rules cannot
// see from Go callers: a known after-blackout policy and calendar names given once.
func validateBlackout(v *errdefs.ValidationError, field string, c *CronSchedule) {
	if a := c.AfterBlackout; !a.Valid() {
		v.Add(field+".after_blackout", "enum.defined_only", "unknown after-blackout policy %s", a)
	}
	seen := map[string]bool{}
	for j, n := range c.BlackoutCalendars {
		if seen[n] {
			v.Add(fmt.Sprintf("%s.blackout_calendars[%d]", field, j), "repeated.unique", "calendar %q is named twice", n)
		}
		seen[n] = true
	}
}
