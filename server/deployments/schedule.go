package deployments

import "github.com/workflow-runtime/workflow-runtime/server/scheduling"

// Trigger builds the schedule's server/scheduling trigger for workflowID (hashed for the
// jitter): the one parser of cron schedules, used at deploy to validate and by the scheduler to
// fire.
func (c *CronSchedule) Trigger(workflowID string) (*scheduling.Trigger, error) {
	window := int32(min(c.JitterWindowSeconds, 1<<31-1)) //nolint:gosec // capped above
	repeated, skipped := c.Policies()
	return scheduling.NewTrigger(scheduling.TriggerConfig{
		WorkflowID:          workflowID,
		Expression:          c.Expression,
		TimeZone:            c.Timezone,
		JitterWindowSeconds: &window,
		RepeatedHour:        repeated,
		SkippedHour:         skipped,
	})
}

// Policies returns the schedule's stored DST policies as server/scheduling reads them; "" is
// the classic-cron default.
func (c *CronSchedule) Policies() (scheduling.RepeatedHourPolicy, scheduling.SkippedHourPolicy) {
	repeated := scheduling.RepeatedHourDefault
	switch c.RepeatedHour {
	case RepeatedHourOnce:
		repeated = scheduling.RepeatedHourOnce
	case RepeatedHourTwice:
		repeated = scheduling.RepeatedHourTwice
	}
	skipped := scheduling.SkippedHourDefault
	switch c.SkippedHour {
	case SkippedHourShift:
		skipped = scheduling.SkippedHourShift
	case SkippedHourSkip:
		skipped = scheduling.SkippedHourSkip
	}
	return repeated, skipped
}
