package scheduler

import (
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// TriggerDSTReport is the DST report of one cron trigger of a deployment.
type TriggerDSTReport struct {
	TriggerID string
	cron.DSTReport
}

// DSTReport returns, for each cron trigger of d in order (only triggerID's when it is not ""),
// the zone transitions of the next months after now that touch its fires (internal/cron's
// DSTReport). months 0 is cron.DefaultDSTReportMonths; more than
// cron.MaxDSTReportMonths is invalid. not_found when triggerID names no cron trigger of d.
func (s *Service) DSTReport(d *deployments.Deployment, triggerID string, months int) ([]TriggerDSTReport, error) {
	if months < 0 || months > cron.MaxDSTReportMonths {
		return nil, errdefs.Invalid("months", "months.range", "%d months: want 0 (the default, %d) to %d",
			months, cron.DefaultDSTReportMonths, cron.MaxDSTReportMonths)
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
		return nil, fmt.Errorf("dst report of %s: no cron trigger %q: %w", d.WorkflowID, triggerID, errdefs.ErrNotFound)
	}
	return out, nil
}
