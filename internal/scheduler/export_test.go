package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// FireForTest makes the fire of d's cron trigger at the nominal time exactly as the job
// go-quartz runs would, without go-quartz: tests choose the times.
func (s *Scheduler) FireForTest(ctx context.Context, d *deployments.Deployment, triggerID string, nominal time.Time) error {
	c := cronTrigger(d, triggerID)
	if c == nil {
		return fmt.Errorf("no cron trigger %s", triggerID)
	}
	j, err := s.newFireJob(desiredJob{jobState: jobState{workflowID: d.WorkflowID, triggerID: triggerID, signature: signature(c)}, deployment: d, cron: c})
	if err != nil {
		return err
	}
	s.fire(ctx, j, cron.Fire{Nominal: nominal, Scheduled: nominal.Add(j.trigger.Offset())})
	return nil
}

// HoldLoopForTest takes go-quartz's queue lock, so that its loop stalls as a starved process's
// would, until the returned release is called.
func (s *Scheduler) HoldLoopForTest() (release func()) {
	s.queueMu.Lock()
	return s.queueMu.Unlock
}

// WithoutQuartzMisfiresForTest leaves go-quartz's misfired channel out of the next Start, so that
// the job queue's reports of late jobs are the only ones.
func (s *Scheduler) WithoutQuartzMisfiresForTest() { s.noQuartzMisfires = true }
