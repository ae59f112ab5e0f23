package cli_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

// hourly deploys a noop workflow fired every hour without jitter.
func hourly(t *testing.T, id string) {
	t.Helper()
	deployYAML(t, `definition: {id: `+id+`, nodes: [{id: a, type: noop}]}
triggers: [{id: hourly, cron: {expression: "0 * * * *", jitterWindowSeconds: 0}}]
config: {overlapPolicy: OVERLAP_POLICY_ALLOW_ALL}
`)
}

func TestBackfillAndFires(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	hourly(t, "backfilled")

	// Six hours, three hours a call, two fires a call: each call's three fires run as a
	// backfill operation, which --wait follows to the end.
	res := parse(t, cmd(t, "backfill", "backfilled", "--from=-6h", "--chunk", "3h", "--batch", "2", "--wait", "--interval", "10ms", "-o", "json").must(t).stdout, &v1.BackfillDeploymentResponse{})
	is.Equal(res.GetCreated(), int32(6)) // one per hour of the range
	is.Equal(res.GetDeduplicated(), int32(0))
	is.Equal(len(res.GetExecutions()), 0) // made by the operations, not in the calls
	is.Equal(res.GetOperation().GetState(), v1.BackfillOperationState_BACKFILL_OPERATION_STATE_SUCCEEDED)
	is.Equal(res.GetOperation().GetTotal(), int64(3))

	// Again, with the progress bar of a terminal: nothing new.
	r := invocation{terminal: true}.run(t, "backfill", "backfilled", "--from=-6h").must(t)
	is.True(strings.Contains(r.stdout, "0 executions created, 6 existed already"))
	is.True(strings.Contains(r.stderr, "backfill backfilled")) // the bar, on stderr

	fires := parse(t, cmd(t, "fires", "backfilled", "--since=-7h", "-o", "json").must(t).stdout, &v1.ListFiresResponse{})
	outcomes := map[v1.FireOutcome]int{}
	for _, f := range fires.GetFires() {
		outcomes[f.GetOutcome()]++
		is.Equal(f.GetTriggerId(), "hourly")
	}
	is.True(outcomes[v1.FireOutcome_FIRE_OUTCOME_FIRED] >= 6)        // the backfill's (and the scheduler's, on the hour)
	is.True(outcomes[v1.FireOutcome_FIRE_OUTCOME_DEDUPLICATED] >= 6) // the repeat's

	deduplicated := parse(t, cmd(t, "fires", "backfilled", "--since=-7h", "--outcome", "deduplicated", "--limit", "2", "-o", "json").must(t).stdout, &v1.ListFiresResponse{})
	is.Equal(len(deduplicated.GetFires()), 2) // filtered, at most --limit
	is.Equal(deduplicated.GetFires()[0].GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_DEDUPLICATED)

	table := cmd(t, "fires", "backfilled", "--since=-7h").must(t).stdout
	is.True(strings.Contains(table, "DEDUPLICATED") && strings.Contains(table, "backfill"))

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"backfill", "backfilled", "--from=-1h", "--to=-2h"}, cli.ExitUsage},         // reversed
		{[]string{"backfill", "backfilled", "--from", "yesterday"}, cli.ExitUsage},            // not a time
		{[]string{"backfill", "backfilled", "--from=-1h", "--chunk", "1s"}, cli.ExitUsage},    // too small a chunk
		{[]string{"backfill", "no-such-deployment", "--from=-1h"}, cli.ExitNotFound},          // unknown
		{[]string{"backfill", "backfilled", "--from=-1h", "--batch", "20000"}, cli.ExitUsage}, // the API's limit
		{[]string{"fires", "backfilled", "--since", "2026-03-01T25:00"}, cli.ExitUsage},       // not a time
		{[]string{"fires", "backfilled", "--since=now", "--until=-1h"}, cli.ExitUsage},        // the API's time_range.ordered
		{[]string{"fires", "backfilled", "--outcome", "burnt"}, cli.ExitUsage},                // not an outcome
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
}

func TestJitterAndLoad(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	deployYAML(t, `definition: {id: jittered, nodes: [{id: a, type: noop}]}
triggers: [{id: every-minute, cron: {expression: "* * * * *", jitterWindowSeconds: 30}}]
`)

	j := parse(t, cmd(t, "jitter", "--buckets", "5", "--workflow", "jittered", "-o", "json").must(t).stdout, &v1.GetJitterDistributionResponse{})
	is.True(j.GetTriggerCount() >= 1)
	is.Equal(len(j.GetBuckets()), 5)
	is.Equal(len(j.GetOffsets()), 1)
	is.Equal(j.GetOffsets()[0].GetWindowSeconds(), uint32(30))
	is.True(j.GetOffsets()[0].GetOffsetSeconds() < 30)

	out := cmd(t, "jitter", "--buckets", "5", "--workflow", "jittered").must(t).stdout
	is.True(strings.Contains(out, "█"))            // a histogram
	is.True(strings.Contains(out, "every-minute")) // and the offsets asked for

	l := parse(t, cmd(t, "load", "--window", "10m", "--resolution", "1m", "-o", "json").must(t).stdout, &v1.GetLoadDistributionResponse{})
	is.Equal(len(l.GetBuckets()), 10)
	var fires int64
	for _, b := range l.GetBuckets() {
		fires += b.GetFires()
	}
	is.True(fires >= 10) // the every-minute trigger, at least

	out = cmd(t, "load", "--start=+1h", "--window", "24h", "--resolution", "1h").must(t).stdout
	is.True(strings.Contains(out, "FIRES WITH JITTER"))
	is.True(strings.Contains(out, "█"))

	r := cmd(t, "load", "--window", "48h")
	is.Equal(r.code, cli.ExitUsage) // the API's limit, by field and rule
	is.True(strings.Contains(r.stderr, "window"))
}

// fires without a deployment lists every deployment's ledger, filtered by workflows, trigger and
// outcome, with a workflow column for people.
func TestFiresAcrossDeployments(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	hourly(t, "ledger-one")
	hourly(t, "ledger-two")
	hourly(t, "ledger-three")
	for _, wf := range []string{"ledger-one", "ledger-two", "ledger-three"} {
		cmd(t, "backfill", wf, "--from=-3h").must(t)
	}
	cmd(t, "backfill", "ledger-one", "--from=-3h").must(t) // DEDUPLICATED rows for ledger-one

	fires := parse(t, cmd(t, "fires", "--workflow", "ledger-one,ledger-two", "--since=-4h", "-o", "json").must(t).stdout, &v1.ListFiresResponse{})
	perWorkflow := map[string]int{}
	for _, f := range fires.GetFires() {
		perWorkflow[f.GetWorkflowId()]++
		is.True(f.GetDeploymentId() != "")
		is.True(f.GetCreateTime() != nil)
	}
	is.Equal(len(perWorkflow), 2)             // the two asked for, not the third
	is.True(perWorkflow["ledger-one"] >= 6)   // FIRED and DEDUPLICATED
	is.True(perWorkflow["ledger-two"] >= 3)   // FIRED
	is.True(perWorkflow["ledger-three"] == 0) // not asked for

	dedup := parse(t, cmd(t, "fires", "--workflow", "ledger-one", "--workflow", "ledger-two", "--trigger", "hourly",
		"--outcome", "deduplicated", "--since=-4h", "-o", "json").must(t).stdout, &v1.ListFiresResponse{})
	is.True(len(dedup.GetFires()) >= 3)
	for _, f := range dedup.GetFires() {
		is.Equal(f.GetWorkflowId(), "ledger-one")
		is.Equal(f.GetOutcome(), v1.FireOutcome_FIRE_OUTCOME_DEDUPLICATED)
	}
	none := parse(t, cmd(t, "fires", "--workflow", "ledger-one", "--trigger", "other", "--since=-4h", "-o", "json").must(t).stdout, &v1.ListFiresResponse{})
	is.Equal(len(none.GetFires()), 0)

	table := cmd(t, "fires", "--workflow", "ledger-two,ledger-three", "--since=-4h").must(t).stdout
	is.True(strings.Contains(strings.ToLower(table), "workflow")) // a workflow column across deployments
	is.True(strings.Contains(table, "ledger-two") && strings.Contains(table, "ledger-three"))

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"fires", "--workflow", "Not A Workflow!"}, cli.ExitUsage}, // the API's workflow id pattern
		{[]string{"fires", "--trigger", "Bad!"}, cli.ExitUsage},             // the API's trigger id pattern
		{[]string{"fires", "--outcome", "late"}, cli.ExitUsage},             // not an outcome
		{[]string{"fires", "no-such-deployment"}, cli.ExitNotFound},         // unknown
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
}
