package cli_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

const plannedYAML = `definition: {id: planned-load, nodes: [{id: a, type: noop}]}
triggers: [{id: hourly, cron: {expression: "0 * * * *"}}]
`

func TestLoadWhatIf(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	file := writeFile(t, t.TempDir(), "planned.yaml", plannedYAML)

	// 10,000 copies on the hour: one second holds them all without jitter; the suggested
	// window brings the peak within 5 x the mean. Nothing is deployed.
	res := parse(t, cmd(t, "load", "--what-if", file, "--copies", "10000", "--target", "5", "--window", "1h", "-o", "json").must(t).stdout, &v1.GetLoadDistributionResponse{})
	w := res.GetWhatIf()
	is.Equal(w.GetWhatIfFires(), int64(10_000))
	is.True(w.GetPeakFiresPerSecondWithoutJitter() >= 10_000) // the other tests' hourly triggers may add to it
	is.True(w.GetSuggestedJitterWindow() != nil)
	is.True(w.GetPeakFiresPerSecondWithSuggestedWindow() < w.GetPeakFiresPerSecondWithoutJitter())
	var stored, with int64
	for _, b := range res.GetBuckets() {
		stored += b.GetFires()
		with += b.GetFiresWithWhatIf()
	}
	is.True(with >= stored+10_000-1) // the what-if's fires on top (planned-load is not deployed)
	is.Equal(cmd(t, "get", "planned-load").code, cli.ExitNotFound)

	// The table: before and after, the suggestion, and the what-if series in the chart.
	out := cmd(t, "load", "--what-if", file, "--copies", "10000", "--target", "5", "--resolution", "10m").must(t).stdout
	for _, want := range []string{"Peak fires/s before", "Peak fires/s after", "Peak fires/s, no jitter", "Suggested jitter window", "FIRES WITH THE WHAT-IF"} {
		is.True(strings.Contains(out, want)) // want
	}

	// From stdin, as JSON; a single copy over an hour cannot get within 5 x the mean (the default target).
	out = invocation{stdin: `{"definition": {"id": "planned-json", "nodes": [{"id": "a", "type": "noop"}]}, "triggers": [{"id": "h", "cron": {"expression": "0 * * * *"}}]}`}.
		run(t, "load", "--what-if", "-").must(t).stdout
	is.True(strings.Contains(out, "none keeps peak/mean within 5"))

	two := writeFile(t, t.TempDir(), "two.yaml", plannedYAML+"---\n"+strings.ReplaceAll(plannedYAML, "planned-load", "other"))
	bad := writeFile(t, t.TempDir(), "bad.yaml", strings.ReplaceAll(plannedYAML, "0 * * * *", "not a cron"))
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"load", "--copies", "3"}, "--what-if"},                                       // nothing to copy
		{[]string{"load", "--what-if", two}, "one deployment"},                                 // which one?
		{[]string{"load", "--what-if", bad}, "what_if.deployment.triggers[0].cron.expression"}, // DeployWorkflow's rules
		{[]string{"load", "--what-if", file, "--target", "0.5"}, "target_peak_over_mean"},      // the API's limit
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, cli.ExitUsage)
		is.True(strings.Contains(r.stderr, tc.stderr)) // tc.stderr
	}
}
