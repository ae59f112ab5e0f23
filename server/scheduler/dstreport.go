package scheduler

import (
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/scheduling"
)

// TriggerDSTReport is the DST report of one cron trigger of a deployment.
type TriggerDSTReport struct {
	TriggerID string
	scheduling.DSTReport
}

// DSTReport returns, for each cron trigger of d in order (only triggerID's when it is not ""),
// the zone transitions of the next months after now that touch its fires (server/scheduling's
// DSTReport). months 0 is scheduling.DefaultDSTReportMonths; more than
// scheduling.MaxDSTReportMonths is invalid. not_found when triggerID names no cron trigger of d.
func (s *Service) DSTReport(d *deployments.Deployment, triggerID string, months int) ([]TriggerDSTReport, error) {
	if months < 0 || months > scheduling.MaxDSTReportMonths {
		return nil, apperr.Invalid("months", "months.range", "%d months: want 0 (the default, %d) to %d",
			months, scheduling.DefaultDSTReportMonths, scheduling.MaxDSTReportMonths)
	}
	now := s.now()
	var out []TriggerDSTReport
	for _, t := range d.Triggers {
		if t.Cron == nil || (triggerID != "" && t.ID != triggerID) {
			continue
		}
		trig, err := NewTrigger(d.WorkflowID, t.Cron)
		if err != nil {
			return nil, fmt.Errorf("dst report %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		r, err := trig.DSTReport(now, months)
		if err != nil {
			return nil, fmt.Errorf("dst report %s/%s: %w", d.WorkflowID, t.ID, err)
		}
		out = append(out, TriggerDSTReport{TriggerID: t.ID, DSTReport: r})
	}
	if triggerID != "" && len(out) == 0 {
		return nil, fmt.Errorf("dst report of %s: no cron trigger %q: %w", d.WorkflowID, triggerID, apperr.ErrNotFound)
	}
	return out, nil
}
