package execution

import (
	"context"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/engine"
)

// triggerContext is what the engine is told of e's trigger and slot (engine.Trigger, on the wire
// TriggerContext): the row's type, trigger id, nominal and scheduled times, the same on every
// attempt, and for cron and webhook executions the watermark, the nominal time of the latest
// SUCCEEDED execution of the same workflow and trigger whose nominal time is before e's, read
// now, at the start of the attempt (one step of an index, see the store). A manual execution
// has no watermark. A failed read is retried while the lease is held, like an outcome write:
// running without the watermark would tell the workflow that no slot ever succeeded. The error
// is the lease's loss.
func (w *Worker) triggerContext(ctx context.Context, log *slog.Logger, e *Execution) (*engine.Trigger, error) {
	t := &engine.Trigger{Type: string(e.TriggerType), ID: e.TriggerID, NominalTime: e.NominalAt, ScheduledTime: e.ScheduledAt}
	if e.TriggerType == TriggerManual || e.TriggerID == "" {
		return t, nil
	}
	err := w.record(ctx, log, "read the last successful nominal time", func(ctx context.Context) error {
		at, ok, err := w.store.ExecutionLastSuccessNominal(ctx, e.WorkflowID, e.TriggerID, e.NominalAt)
		if ok {
			t.LastSuccessNominalTime = at
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// WatermarkStore reads the watermark of an attempt.
type WatermarkStore interface {
	// ExecutionLastSuccessNominal returns the nominal time of the latest SUCCEEDED execution of
	// the workflow's trigger whose nominal time is before before. ok is false when there is none.
	ExecutionLastSuccessNominal(ctx context.Context, workflowID, triggerID string, before time.Time) (nominal time.Time, ok bool, err error)
}
