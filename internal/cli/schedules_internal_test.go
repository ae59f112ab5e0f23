package cli

import (
	"bytes"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

func TestCadenceWord(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(cadence(nil), "-")
	is.Equal(cadence(&v1.CadenceAdvice{Runs: 3}), "fits")
	is.Equal(cadence(&v1.CadenceAdvice{Runs: 3, Overrun: true, Remedy: v1.CadenceRemedy_CADENCE_REMEDY_MORE_WORKERS}), "MORE_WORKERS")
}

func TestScheduleStateColours(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p := newPrinter((&Env{Stdout: &bytes.Buffer{}}).withDefaults(), "table")
	for s, name := range map[v1.ScheduleHealthState]string{
		v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_ON_TIME: "ON_TIME",
		v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_OVERDUE: "OVERDUE",
		v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_LATE:    "LATE",
		v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_SILENT:  "SILENT",
		v1.ScheduleHealthState_SCHEDULE_HEALTH_STATE_PAUSED:  "PAUSED",
	} {
		is.Equal(p.scheduleState(s), name) // no colour off a terminal
	}
}
