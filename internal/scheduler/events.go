package scheduler

import "time"

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// EventFireBegan: go-quartz runs a live fire of the job (before it looks at the
	// deployment).
	EventFireBegan EventKind = iota + 1
	// EventFireEnded: that fire has returned, whatever it did: fired, deduplicated, recorded
	// PAUSED or SKIPPED, owed, or nothing.
	EventFireEnded
	// EventJobScheduled: the trigger's job is scheduled (new or replaced) and, when new, its
	// catch-up is done.
	EventJobScheduled
	// EventJobRemoved: the trigger's job is removed.
	EventJobRemoved
	// EventAfterBlackoutRan: an after-blackout timer went off and has done what it does (the
	// after-window fire, a timer armed again for a longer window, or nothing). Scheduled is the
	// window's end it was armed for.
	EventAfterBlackoutRan
	// EventRebalanced: a sharded scheduler (shard.go) has loaded its share at start, or applied
	// a membership change (or the end of its handoff) to its jobs; Rebalance says what it did.
	EventRebalanced
)

// Event is something the Scheduler did, told to Config.OnEvent as it happens: tests wait on
// events instead of sleeping.
type Event struct {
	Kind       EventKind
	WorkflowID string
	TriggerID  string
	// Scheduled is the fire's scheduled time (EventFireBegan, EventFireEnded) or the time an
	// after-blackout timer was armed for (EventAfterBlackoutRan); zero otherwise.
	Scheduled time.Time
	// Rebalance is what a rebalance did (EventRebalanced); zero otherwise.
	Rebalance Rebalance
}

// event tells Config.OnEvent, when set, of one thing done.
func (s *Scheduler) event(kind EventKind, workflowID, triggerID string, scheduled time.Time) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(Event{Kind: kind, WorkflowID: workflowID, TriggerID: triggerID, Scheduled: scheduled})
	}
}
