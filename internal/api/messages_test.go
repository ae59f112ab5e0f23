package api_test

import (
	"errors"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestNotFoundMessages: the message of a missing thing says what was being done once (the
// store says it; the services above it add nothing of the same), and the code is not repeated
// in it.
func TestNotFoundMessages(t *testing.T) {
	t.Parallel()
	c := calendarClient(t, sqlite)
	ctx := t.Context()
	id := uuid.NewString()
	for _, tt := range []struct {
		name string
		call func() error
		want string
	}{
		{"deployment by id", func() error {
			_, err := c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_DeploymentId{DeploymentId: id}})
			return err
		}, "get deployment " + id + ": not found"},
		{"deployment by workflow", func() error {
			_, err := c.GetDeploymentStatus(ctx, &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "nope"}})
			return err
		}, "get deployment of workflow nope: not found"},
		{"execution", func() error {
			_, err := c.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: id})
			return err
		}, "get execution " + id + ": not found"},
		{"cancel execution", func() error {
			_, err := c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: id})
			return err
		}, "cancel execution " + id + ": get execution " + id + ": not found"},
		{"calendar", func() error {
			_, err := c.GetCalendar(ctx, &v1.GetCalendarRequest{Name: "nope"})
			return err
		}, "get calendar nope: not found"},
		{"update calendar", func() error {
			_, err := c.UpdateCalendar(ctx, &v1.UpdateCalendarRequest{Calendar: freeze("nope")})
			return err
		}, "update calendar nope: not found"},
		{"delete calendar", func() error {
			_, err := c.DeleteCalendar(ctx, &v1.DeleteCalendarRequest{Name: "nope"})
			return err
		}, "delete calendar nope: not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			var cerr *connect.Error
			is.True(errors.As(tt.call(), &cerr))
			is.Equal(cerr.Code(), connect.CodeNotFound)
			is.Equal(cerr.Message(), tt.want) // what was being done, once
		})
	}
}
