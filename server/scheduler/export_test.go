package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/scheduling"
)

// FireForTest makes the fire of d's cron trigger at the nominal time exactly as the job
// go-quartz runs would, without go-quartz: tests choose the times.
func (s *Scheduler) FireForTest(ctx context.Context, d *deployments.Deployment, triggerID string, nominal time.Time) error {
	c := cronTrigger(d, triggerID)
	if c == nil {
		return fmt.Errorf("no cron trigger %s", triggerID)
	}
	trig, err := NewTrigger(d.WorkflowID, c)
	if err != nil {
		return err
	}
	j := &fireJob{s: s, workflowID: d.WorkflowID, triggerID: triggerID, signature: signature(c), trigger: trig}
	s.fire(ctx, j, scheduling.Fire{Nominal: nominal, Scheduled: nominal.Add(trig.Offset())})
	return nil
}
