package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// TestBackfillOperationTakeover: api A runs a backfill operation over an hour of an every-second
// cron (3,600 fires) and is SIGKILLed after its first batch; api B, running all along but
// kept off by A's lease, takes the operation over once the lease (30 s) has expired and
// finishes it from the cursor. Every fire has exactly one execution, and the operation's
// counts add up to its total: nothing lost, nothing made twice.
func TestBackfillOperationTakeover(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	c := newCluster(t)
	a := c.start("api-a", "api", "WFR_BACKFILL_POLL=1s")
	api := a.client()
	window := uint32(0)
	dep, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "backfilled", Nodes: []*v1.Node{node(t, "nothing", "noop", map[string]any{})}},
		Triggers: []*v1.Trigger{{Id: "every-second", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * *", JitterWindowSeconds: &window,
		}}}},
		Config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})
	is.NoErr(err)
	d := dep.GetDeployment()
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	res, err := api.BackfillDeployment(ctx, &v1.BackfillDeploymentRequest{
		DeploymentId: d.GetId(), StartTime: timestamppb.New(end.Add(-time.Hour)), EndTime: timestamppb.New(end),
	})
	is.NoErr(err)
	op := res.GetOperation()
	is.True(op != nil) // more than the default limit: an operation
	is.Equal(op.GetTotal(), int64(3600))
	b := c.start("api-b", "api", "WFR_BACKFILL_POLL=1s")

	get := func(client interface {
		GetBackfillOperation(context.Context, *v1.GetBackfillOperationRequest) (*v1.GetBackfillOperationResponse, error)
	}) *v1.BackfillOperation {
		got, err := client.GetBackfillOperation(ctx, &v1.GetBackfillOperationRequest{Id: op.GetId()})
		if err != nil {
			t.Fatalf("get backfill operation: %v", err)
		}
		return got.GetOperation()
	}
	waitFor(t, terminalTimeout, "api A to make its first batch", func() bool { return get(api).GetCreated() >= 500 })
	before := get(api)
	if before.GetState() != v1.BackfillOperationState_BACKFILL_OPERATION_STATE_RUNNING {
		t.Fatalf("the operation ended (%s) before api A was killed: this machine is too fast for the range", before.GetState())
	}
	is.True(a.logHas("backfill operation claimed", ""))  // A ran it
	is.True(!b.logHas("backfill operation claimed", "")) // B was kept off by the lease
	a.kill(t)
	t.Logf("api A killed at %d of %d fires (cursor %s)", before.GetCreated(), before.GetTotal(), before.GetCursorTime().AsTime().Format(time.RFC3339))

	apiB := b.client()
	waitFor(t, 4*time.Minute, "api B to finish the operation", func() bool {
		return get(apiB).GetState() != v1.BackfillOperationState_BACKFILL_OPERATION_STATE_RUNNING
	})
	done := get(apiB)
	is.Equal(done.GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED)
	is.True(b.logHas("backfill operation claimed", ""))                 // B took it over
	is.Equal(done.GetCreated()+done.GetDeduplicated(), done.GetTotal()) // nothing lost
	is.True(done.GetCursorTime().AsTime().Equal(end))                   // to the end
	is.True(done.GetCreated() >= before.GetCreated())                   // A's batches stay counted
	t.Logf("finished by api B: %d created, %d deduplicated (A's last batch)", done.GetCreated(), done.GetDeduplicated())

	var rows, distinct int
	err = c.db.Bun().NewRaw(`SELECT count(*), count(DISTINCT scheduled_at) FROM executions WHERE workflow_id = ?`, "backfilled").
		Scan(ctx, &rows, &distinct)
	is.NoErr(err)
	is.Equal(rows, 3600)     // one execution per fire
	is.Equal(distinct, 3600) // nothing twice
}
