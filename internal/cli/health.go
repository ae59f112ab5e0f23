package cli

import (
	"context"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// HealthCmd shows the service's health (GetSystemHealth).
type HealthCmd struct {
	Connection `embed:""`
	Output     `embed:""`
}

// Help implements kong.HelpProvider.
func (*HealthCmd) Help() string {
	return `Exits 0 when the service and every dependency are healthy, 5 when one is not (or the service does not answer), so that scripts can wait on it.

Examples:

    workflow-runtime health
    until workflow-runtime health -o json >/dev/null; do sleep 1; done`
}

func (c *HealthCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetSystemHealth(ctx, &v1.GetSystemHealthRequest{})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		if err := p.message(res); err != nil {
			return err
		}
	} else {
		p.fields(
			[2]string{"Status", p.health(res.GetStatus())},
			[2]string{"Version", orDash(res.GetVersion())},
			[2]string{"Checked", p.time(res.GetTimestamp())},
		)
		rows := make([][]string, 0, len(res.GetDependencies()))
		for _, d := range res.GetDependencies() {
			rows = append(rows, []string{d.GetName(), p.health(d.GetStatus()), duration(d.GetLatency()), orDash(d.GetError())})
		}
		p.println()
		p.table([]string{"dependency", "status", "latency", "error"}, rows)
		if len(res.GetInstances()) > 0 {
			rows = rows[:0]
			for _, i := range res.GetInstances() {
				rows = append(rows, []string{i.GetId(), i.GetRole(), orDash(i.GetVersion()), p.time(i.GetStartTime())})
			}
			p.println()
			p.table([]string{"instance", "role", "version", "started"}, rows)
		}
	}
	if res.GetStatus() != "healthy" {
		return unhealthyError{}
	}
	return nil
}
