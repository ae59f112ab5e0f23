package deployments

import "github.com/workflow-runtime/workflow-runtime/internal/cron"

// Trigger builds the schedule's internal/cron trigger for workflowID (hashed for the
// jitter): the one parser of cron schedules, used at deploy to validate and by the scheduler to
// fire.
func (c *CronSchedule) Trigger(workflowID string) (*cron.Trigger, error) {
	return cron.NewTrigger(c.TriggerConfig(workflowID))
}

// TriggerConfig is the schedule's internal/cron configuration for workflowID: what Trigger
// builds, and what a cron.Schedules builds a trigger sharing its schedule from.
func (c *CronSchedule) TriggerConfig(workflowID string) cron.TriggerConfig {
	window := int32(min(c.JitterWindowSeconds, 1<<31-1)) //nolint:gosec // capped above
	return cron.TriggerConfig{
		WorkflowID:          workflowID,
		Expression:          c.Expression,
		TimeZone:            c.Timezone,
		JitterWindowSeconds: &window,
		RepeatedHour:        c.RepeatedHour,
		SkippedHour:         c.SkippedHour,
	}
}
