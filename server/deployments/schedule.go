package deployments

import "github.com/workflow-runtime/workflow-runtime/server/scheduling"

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
