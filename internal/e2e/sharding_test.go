package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// share is a scheduler's latest report of its share of the cron triggers (its last "scheduler
// took its share", "scheduler rebalanced" or "scheduler released the triggers handed off" line).
type share struct{ schedulers, primary, standby, releasing int }

func (p *proc) share() (share, bool) {
	var s share
	found := false
	for _, l := range p.logLines() {
		switch l["msg"] {
		case "scheduler took its share", "scheduler rebalanced", "scheduler released the triggers handed off":
			num := func(k string) int { f, _ := l[k].(float64); return int(f) }
			s = share{num("schedulers"), num("primary"), num("standby"), num("releasing")}
			found = true
		}
	}
	return s, found
}

// TestSchedulersShareTriggers: three scheduler processes share 200 cron triggers (each held
// by two of them: primary and standby); one is SIGKILLed, and once the registry has dropped
// it the two others hold everything between them. Heartbeats of 250 ms keep it short.
func TestSchedulersShareTriggers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	fast := []string{"WFR_REGISTRY_HEARTBEAT=250ms", "WFR_REGISTRY_TTL=1s"}
	api := c.start("api", "api", fast...).client()
	const workflows, perWorkflow = 10, 20
	ctx := t.Context()
	var window uint32
	for w := range workflows {
		var triggers []*v1.Trigger
		for i := range perWorkflow {
			triggers = append(triggers, &v1.Trigger{Id: fmt.Sprintf("t%d", i), Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
				Expression: "0 0 * * *", JitterWindowSeconds: &window,
			}}})
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := api.DeployWorkflow(dctx, &v1.DeployWorkflowRequest{
			Definition: &v1.WorkflowDefinition{Id: fmt.Sprintf("share-%d", w), Name: "share", Nodes: []*v1.Node{node(t, "nothing", "noop", map[string]any{})}},
			Triggers:   triggers,
			Config:     noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
		})
		cancel()
		is.NoErr(err)
	}
	const total = workflows * perWorkflow
	schedulers := []*proc{
		c.start("scheduler-1", "scheduler", fast...),
		c.start("scheduler-2", "scheduler", fast...),
		c.start("scheduler-3", "scheduler", fast...),
	}
	// shared waits until the schedulers' shares are settled over all of them: every trigger
	// has one primary and one standby, nothing is held beyond (the handoffs over).
	shared := func(procs []*proc) {
		testenv.Poll(t, time.Minute, func() error {
			var primary, standby int
			for _, p := range procs {
				s, ok := p.share()
				if !ok || s.schedulers != len(procs) || s.releasing != 0 {
					return fmt.Errorf("%s: share %+v (reported: %v), want %d schedulers and nothing releasing", p.name, s, ok, len(procs))
				}
				primary += s.primary
				standby += s.standby
			}
			if primary != total || standby != total {
				return fmt.Errorf("%d primaries and %d standbys, want %d each", primary, standby, total)
			}
			return nil
		})
	}
	shared(schedulers)
	for _, p := range schedulers {
		s, _ := p.share()
		is.True(s.primary+s.standby < total) // a share, not everything
	}
	schedulers[0].kill(t)
	shared(schedulers[1:])
	for _, p := range schedulers[1:] {
		s, _ := p.share()
		is.Equal(s.primary+s.standby, total) // two schedulers: each holds every trigger
	}
}
