package cli_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

func TestDst(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	deployYAML(t, `definition: {id: dst-report, nodes: [{id: a, type: noop}]}
triggers:
  - {id: nightly, cron: {expression: "30 2 * * *", timezone: Europe/Berlin}}
  - {id: quarter, cron: {expression: "*/15 * * * *", timezone: America/New_York}}
  - {id: utc, cron: {expression: "0 9 * * *"}}
`)

	// Any twelve months hold one spring and one fall transition in Berlin and New York.
	res := parse(t, cmd(t, "dst", "dst-report", "-o", "json").must(t).stdout, &v1.GetDstReportResponse{})
	is.Equal(len(res.GetTriggers()), 3)
	effects := map[string][]v1.DstEffect{}
	for _, tr := range res.GetTriggers() {
		for _, x := range tr.GetTransitions() {
			effects[tr.GetTriggerId()] = append(effects[tr.GetTriggerId()], x.GetEffect())
			is.True(x.GetPolicy() != "")
		}
	}
	is.Equal(len(effects["nightly"]), 2)
	is.True(slices.Contains(effects["nightly"], v1.DstEffect_DST_EFFECT_SHIFTED) && slices.Contains(effects["nightly"], v1.DstEffect_DST_EFFECT_ONCE)) // fixed hour
	is.Equal(len(effects["quarter"]), 2)
	is.True(slices.Contains(effects["quarter"], v1.DstEffect_DST_EFFECT_SKIPPED) && slices.Contains(effects["quarter"], v1.DstEffect_DST_EFFECT_DOUBLED)) // wildcard hour
	is.Equal(len(effects["utc"]), 0)

	one := parse(t, cmd(t, "dst", "dst-report", "--trigger", "nightly", "--months", "60", "-o", "json").must(t).stdout, &v1.GetDstReportResponse{})
	is.Equal(len(one.GetTriggers()), 1)
	is.Equal(len(one.GetTriggers()[0].GetTransitions()), 10) // five years

	table := cmd(t, "dst", "dst-report").must(t).stdout
	for _, want := range []string{"WALL CLOCK", "SHIFTED", "DOUBLED", "T02:00/03:00", "+01:00 → +02:00", "(default: the hour field is fixed)", "(+4 more)"} {
		is.True(strings.Contains(table, want)) // the table shows it
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"dst", "no-such-deployment"}, cli.ExitNotFound},
		{[]string{"dst", "dst-report", "--trigger", "nope"}, cli.ExitNotFound},
		{[]string{"dst", "dst-report", "--months", "61"}, cli.ExitUsage}, // the API's limit
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
}
