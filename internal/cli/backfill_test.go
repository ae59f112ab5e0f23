package cli_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

// The dry run lists the planned fires with the executions that exist; a backfill larger than
// --batch prints its operation, which status --wait follows, list lists and cancel leaves as
// it is once finished.
func TestBackfillOperations(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	hourly(t, "backfill-ops")

	// The first three hours in the call.
	made := parse(t, cmd(t, "backfill", "backfill-ops", "--from=-6h", "--to=-3h", "-o", "json").must(t).stdout, &v1.BackfillDeploymentResponse{})
	is.Equal(made.GetCreated(), int32(3))

	dry := parse(t, cmd(t, "backfill", "backfill-ops", "--from=-6h", "--dry-run", "-o", "json").must(t).stdout, &v1.BackfillDeploymentResponse{})
	is.Equal(len(dry.GetPlanned()), 6)
	is.True(!dry.GetTruncated())
	existing := 0
	for _, f := range dry.GetPlanned() {
		if f.GetExistingExecutionId() != "" {
			existing++
		}
	}
	is.Equal(existing, 3) // the call's
	table := cmd(t, "backfill", "backfill-ops", "--from=-6h", "--dry-run", "--batch", "4").must(t).stdout
	is.True(strings.Contains(table, "4 fires (the first ones")) // cut at --batch
	is.True(strings.Contains(table, "nothing was created"))

	// More fires than --batch: an operation, printed; status --wait follows it.
	out := cmd(t, "backfill", "backfill-ops", "--from=-6h", "--batch", "2").must(t).stdout
	is.True(strings.Contains(out, "backfill operation "))
	id := strings.Fields(strings.TrimPrefix(out, "backfill operation "))[0]
	id = strings.TrimSuffix(id, ":")
	st := parse(t, cmd(t, "backfill", "status", id, "--wait", "--interval", "10ms", "-o", "json").must(t).stdout, &v1.GetBackfillOperationResponse{})
	is.Equal(st.GetOperation().GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED)
	is.Equal(st.GetOperation().GetCreated(), int64(3))
	is.Equal(st.GetOperation().GetDeduplicated(), int64(3))
	is.True(strings.Contains(cmd(t, "backfill", "status", id).must(t).stdout, "SUCCEEDED"))

	list := parse(t, cmd(t, "backfill", "list", "backfill-ops", "-o", "json").must(t).stdout, &v1.ListBackfillOperationsResponse{})
	is.Equal(len(list.GetOperations()), 1)
	is.Equal(list.GetOperations()[0].GetId(), id)
	running := parse(t, cmd(t, "backfill", "list", "backfill-ops", "--state", "running", "-o", "json").must(t).stdout, &v1.ListBackfillOperationsResponse{})
	is.Equal(len(running.GetOperations()), 0)
	is.True(strings.Contains(strings.ToLower(cmd(t, "backfill", "ls", "--limit", "1").must(t).stdout), "state"))

	is.True(strings.Contains(cmd(t, "backfill", "cancel", id).must(t).stdout, "SUCCEEDED")) // finished: unchanged

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"backfill", "status", "0196f3a0-0000-7000-8000-000000000000"}, cli.ExitNotFound},
		{[]string{"backfill", "cancel", "0196f3a0-0000-7000-8000-000000000000"}, cli.ExitNotFound},
		{[]string{"backfill", "status", "not-an-id"}, cli.ExitUsage},
		{[]string{"backfill", "list", "--state", "asleep"}, cli.ExitUsage},
		{[]string{"backfill", "backfill-ops", "--from=-1h", "--interval", "1ms"}, cli.ExitUsage},
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
}
