package execution_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// jsonOfSize returns a JSON document of exactly n bytes (n >= 8).
func jsonOfSize(n int) []byte {
	return []byte(`{"p":"` + strings.Repeat("x", n-len(`{"p":""}`)) + `"}`)
}

// TestTriggerDataLimit: trigger data over WFR_MAX_TRIGGER_DATA_BYTES is refused with
// invalid_argument on trigger_data and records nothing; data of exactly the limit is recorded.
// Both with the default limit (256 KiB) and a configured one, by workflow id (TriggerWorkflow)
// and by webhook path (a webhook delivery).
func TestTriggerDataLimit(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			m.opts.noWorker = true
			b := setup(t, m.opts)
			for _, limit := range []int{0, 100} {
				is := is.New(t)
				ctx := context.Background()
				svc := execution.NewService(b.db, b.queue, b.notifier, execution.ServiceConfig{MaxTriggerDataBytes: limit})
				want := limit
				if want == 0 {
					want = execution.DefaultMaxTriggerDataBytes
				}
				wf := b.deploy(t, noop, deployments.Config{})
				hook := "/hooks/" + wf
				_, err := b.deploys.Update(ctx, &deployments.UpdateParams{
					ID: b.deploymentID(t, wf), Paths: []string{deployments.PathTriggers},
					Triggers: []deployments.Trigger{{ID: "hook", Webhook: &deployments.Webhook{Path: hook}}},
				})
				is.NoErr(err)

				for _, p := range []execution.TriggerParams{{WorkflowID: wf}, {WebhookPath: hook}} {
					p.TriggerData = jsonOfSize(want + 1)
					_, _, err := svc.Trigger(ctx, &p)
					var ve *errdefs.ValidationError
					is.True(errors.As(err, &ve)) // one byte over: invalid_argument
					is.Equal(len(ve.Violations), 1)
					is.Equal(ve.Violations[0].Field, "trigger_data")
					is.Equal(ve.Violations[0].Rule, execution.RuleMaxTriggerDataBytes)
					is.Equal(b.count(t, wf), 0) // nothing stored
				}
				for i, p := range []execution.TriggerParams{{WorkflowID: wf}, {WebhookPath: hook}} {
					p.TriggerData = jsonOfSize(want)
					e, _, err := svc.Trigger(ctx, &p)
					is.NoErr(err) // exactly the limit: accepted
					got, err := svc.Get(ctx, e.ID)
					is.NoErr(err)
					is.Equal(len(got.TriggerData), want) // stored whole
					is.Equal(b.count(t, wf), i+1)
				}
				t.Logf("limit %d bytes: %d refused, %d recorded", want, want+1, want)
			}
		})
	}
}

// count is how many executions the workflow has in the database.
func (b *testBundle) count(t *testing.T, workflowID string) int {
	t.Helper()
	n, err := b.db.Bun().NewSelect().Table("executions").Where("workflow_id = ?", workflowID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// deploymentID is the id of the workflow's deployment.
func (b *testBundle) deploymentID(t *testing.T, workflowID string) string {
	t.Helper()
	d, err := b.deploys.GetByWorkflow(context.Background(), workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}
