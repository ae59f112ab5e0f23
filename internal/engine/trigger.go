package engine

import (
	"cmp"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// The values of Trigger.Type, and of trigger.type in transform expressions.
const (
	TriggerCron    = "CRON"
	TriggerWebhook = "WEBHOOK"
	TriggerManual  = "MANUAL"
)

// Trigger is what started an execution and which slot it is for (workflowruntime.v1.
// TriggerContext on the wire): the same on every attempt, so that a retry processes the same
// window. Transform expressions read it as the variable trigger (celValue).
type Trigger struct {
	// Type is TriggerCron, TriggerWebhook or TriggerManual; "" is TriggerManual.
	Type string
	// ID is the cron or webhook trigger's id; "" for manual triggers.
	ID string
	// NominalTime is the slot's cron time (cron fires, catch-ups, backfills) or the time the
	// execution was triggered. Zero: unknown.
	NominalTime time.Time
	// ScheduledTime is NominalTime plus the jitter offset (cron) or the time the execution was
	// triggered. Zero: unknown.
	ScheduledTime time.Time
	// LastSuccessNominalTime is the watermark: the nominal time of the latest SUCCEEDED
	// execution of the same workflow and trigger whose nominal time is before NominalTime, as of
	// the start of the attempt. Zero: none (always for manual triggers).
	LastSuccessNominalTime time.Time
}

// celValue is the variable trigger of transform expressions, a map with the keys type and
// trigger_id (strings), and nominal_time, scheduled_time and last_success_nominal_time
// (timestamps), each of the last three present only when known: an expression tests
// has(trigger.last_success_nominal_time), or reads trigger.?last_success_nominal_time. A nil
// Trigger is a manual trigger with no times.
func (t *Trigger) celValue() map[string]any {
	if t == nil {
		return map[string]any{"type": TriggerManual, "trigger_id": ""}
	}
	m := map[string]any{"type": cmp.Or(t.Type, TriggerManual), "trigger_id": t.ID}
	for k, v := range map[string]time.Time{
		"nominal_time":              t.NominalTime,
		"scheduled_time":            t.ScheduledTime,
		"last_success_nominal_time": t.LastSuccessNominalTime,
	} {
		if !v.IsZero() {
			m[k] = v.UTC()
		}
	}
	return m
}

// triggerToProto is t on the wire; nil stays nil.
func triggerToProto(t *Trigger) *workflowruntimev1.TriggerContext {
	if t == nil {
		return nil
	}
	typ := workflowruntimev1.TriggerType(workflowruntimev1.TriggerType_value["TRIGGER_TYPE_"+cmp.Or(t.Type, TriggerManual)])
	return &workflowruntimev1.TriggerContext{
		Type:                   typ,
		TriggerId:              t.ID,
		NominalTime:            timestampOrNil(t.NominalTime),
		ScheduledTime:          timestampOrNil(t.ScheduledTime),
		LastSuccessNominalTime: timestampOrNil(t.LastSuccessNominalTime),
	}
}

// triggerFromProto reads a request's trigger context: unset is nil (a manual trigger with no
// times), an unspecified type is manual, a missing or invalid timestamp is unknown.
func triggerFromProto(p *workflowruntimev1.TriggerContext) *Trigger {
	if p == nil {
		return nil
	}
	t := &Trigger{Type: TriggerManual, ID: p.GetTriggerId()}
	switch p.GetType() {
	case workflowruntimev1.TriggerType_TRIGGER_TYPE_CRON:
		t.Type = TriggerCron
	case workflowruntimev1.TriggerType_TRIGGER_TYPE_WEBHOOK:
		t.Type = TriggerWebhook
	}
	t.NominalTime = timeOrZero(p.GetNominalTime())
	t.ScheduledTime = timeOrZero(p.GetScheduledTime())
	t.LastSuccessNominalTime = timeOrZero(p.GetLastSuccessNominalTime())
	return t
}

func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeOrZero(ts *timestamppb.Timestamp) time.Time {
	if ts == nil || !ts.IsValid() {
		return time.Time{}
	}
	return ts.AsTime()
}
