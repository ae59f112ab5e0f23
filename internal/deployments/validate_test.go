package deployments

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

func nodes(edges map[string][]string, order ...string) []Node {
	out := make([]Node, len(order))
	for i, id := range order {
		out[i] = Node{ID: id, Type: "noop", DependsOn: edges[id]}
	}
	return out
}

func TestFindCycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []Node
		want  []string
	}{
		{"single", nodes(nil, "a"), nil},
		{"chain", nodes(map[string][]string{"b": {"a"}, "c": {"b"}}, "a", "b", "c"), nil},
		{"diamond", nodes(map[string][]string{"b": {"a"}, "c": {"a"}, "d": {"b", "c"}}, "a", "b", "c", "d"), nil},
		{"two-cycle", nodes(map[string][]string{"a": {"b"}, "b": {"a"}}, "a", "b"), []string{"a", "b", "a"}},
		{"self", nodes(map[string][]string{"a": {"a"}}, "a"), []string{"a", "a"}},
		{"cycle behind a chain", nodes(map[string][]string{"b": {"a", "d"}, "c": {"b"}, "d": {"c"}}, "a", "b", "c", "d"), []string{"b", "d", "c", "b"}},
		{"missing target ignored", nodes(map[string][]string{"a": {"zzz"}}, "a"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			is.Equal(findCycle(tt.nodes), tt.want)
		})
	}
}

func TestValidateDefinition(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	d := &Definition{ID: "wf", Nodes: []Node{
		{ID: "a", Type: "noop", DependsOn: []string{"b"}},
		{ID: "b", Type: "teleport", DependsOn: []string{"a"}},
	}}
	v := &errdefs.ValidationError{}
	validateDefinition(v, "definition", d, DefaultNodeTypes)
	is.Equal(len(v.Violations), 2)
	is.Equal(v.Violations[0].Field, "definition.nodes[1].type")
	is.Equal(v.Violations[0].Rule, "node.type_known")
	is.Equal(v.Violations[1].Field, "definition.nodes")
	is.Equal(v.Violations[1].Rule, "nodes.acyclic")

	missing := &Definition{ID: "wf", Nodes: []Node{
		{ID: "a", Type: "noop"},
		{ID: "b", Type: "noop", DependsOn: []string{"a", "ghost"}},
	}}
	v = &errdefs.ValidationError{}
	validateDefinition(v, "definition", missing, DefaultNodeTypes)
	is.Equal(len(v.Violations), 1)
	is.Equal(v.Violations[0].Field, "definition.nodes")
	is.Equal(v.Violations[0].Rule, "nodes.depends_on_exist")
	is.True(strings.Contains(v.Violations[0].Message, `nodes[1].depends_on[1] is "ghost"`))
}

func TestValidateTriggers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	v := &errdefs.ValidationError{}
	validateTriggers(v, "triggers", []Trigger{
		{ID: "ok", Cron: &CronSchedule{Expression: "*/5 * * * *", Timezone: "Europe/Berlin"}},
		{ID: "hook", Webhook: &Webhook{Path: "x"}},
		{ID: "badtz", Cron: &CronSchedule{Expression: "* * * * *", Timezone: "Nowhere/Land"}},
		{ID: "badcron", Cron: &CronSchedule{Expression: "not a cron"}},
		{ID: "feb30", Cron: &CronSchedule{Expression: "0 0 30 2 *"}},
		{ID: "y2270", Cron: &CronSchedule{Expression: "0 0 0 1 1 * 2270"}},
		{ID: "gone", Cron: &CronSchedule{Expression: "0 0 0 1 1 ? 2020"}},
		{ID: "hash-year", Cron: &CronSchedule{Expression: "0 0 0 ? 1 MON#5 2027"}},
	}, "wf", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	is.Equal(len(v.Violations), 6)
	for i, id := range []int{4, 5, 6, 7} {
		is.Equal(v.Violations[2+i].Field, fmt.Sprintf("triggers[%d].cron.expression", id)) // never fires
	}
	is.Equal(v.Violations[0].Field, "triggers[2].cron.timezone")
	is.Equal(v.Violations[0].Rule, "timezone.iana")
	is.Equal(v.Violations[1].Field, "triggers[3].cron.expression")
	is.Equal(v.Violations[1].Rule, "cron.parse")
	is.True(v.OrNil() != nil)
	is.True((&errdefs.ValidationError{}).OrNil() == nil) // no violations, no error
}

func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := Config{}.WithDefaults()
	is.Equal(c.OverlapPolicy, policy.OverlapSkip)
	is.Equal(c.MisfirePolicy, policy.MisfireFireOnce)
	is.Equal(c.ExecutionTimeout, DefaultExecutionTimeout)
	is.Equal(c.CatchUpWindow, DefaultCatchUpWindow)
	is.Equal(c.Retry.MaxAttempts, uint32(DefaultMaxAttempts))
	is.Equal(c.Retry.BackoffCoefficient, DefaultBackoffCoefficient)
	kept := Config{OverlapPolicy: policy.OverlapAllowAll, Retry: RetryPolicy{MaxAttempts: 5}}.WithDefaults()
	is.Equal(kept.OverlapPolicy, policy.OverlapAllowAll) // set values are kept
	is.Equal(kept.Retry.MaxAttempts, uint32(5))
}
