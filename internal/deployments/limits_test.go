package deployments_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// violations returns the rule of each violation by field.
func violations(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	out := map[string]string{}
	for _, v := range ve.Violations {
		out[v.Field] = v.Rule
	}
	return out
}

func TestLimits(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	svc := deployments.NewService(storetest.OpenSQLite(t), deployments.ServiceConfig{Limits: deployments.Limits{
		MaxTriggers: 2, MinCronInterval: time.Minute, MaxNodeDelay: time.Minute,
		MaxExecutionTimeout: time.Hour, MaxRetentionAge: 24 * time.Hour, MaxRetentionKeepLast: 50,
	}})
	d := def("limited")
	d.Nodes = append(d.Nodes, deployments.Node{ID: "nap", Type: "delay", Params: map[string]any{"duration": "2m"}})
	_, _, err := svc.Deploy(ctx, &deployments.DeployParams{
		Definition: d,
		Triggers:   []deployments.Trigger{cron("often", "*/10 * * * * *"), cron("odd", "0,30 * * * * *"), cron("hourly", "0 * * * *")},
		Config:     deployments.Config{ExecutionTimeout: 2 * time.Hour, RetentionAge: 48 * time.Hour, RetentionKeepLast: 51},
	})
	is.Equal(violations(t, err), map[string]string{
		"triggers":                            "limits.max_triggers",
		"triggers[0].cron.expression":         "limits.min_cron_interval",
		"triggers[1].cron.expression":         "limits.min_cron_interval", // 30 s apart, though a minute apart at the full minute
		"definition.nodes[2].params.duration": "limits.max_node_delay",
		"config.execution_timeout":            "limits.max_execution_timeout",
		"config.retention_age":                "limits.max_retention_age",
		"config.retention_keep_last":          "limits.max_retention_keep_last",
	})
	stored, _, err := svc.List(ctx, deployments.ListQuery{})
	is.NoErr(err)
	is.Equal(len(stored), 0) // nothing stored

	// At the ceilings: accepted.
	d.Nodes[2].Params["duration"] = "1m"
	dep, _, err := svc.Deploy(ctx, &deployments.DeployParams{
		Definition: d,
		Triggers:   []deployments.Trigger{cron("minutely", "* * * * *"), cron("hourly", "0 * * * *")},
		Config:     deployments.Config{ExecutionTimeout: time.Hour, RetentionAge: 24 * time.Hour, RetentionKeepLast: 50},
	})
	is.NoErr(err)

	// Update is held to the same ceilings.
	_, err = svc.Update(ctx, &deployments.UpdateParams{ID: dep.ID, Paths: []string{deployments.PathTriggers, deployments.PathConfig},
		Triggers: []deployments.Trigger{cron("often", "*/5 * * * * *")}, Config: &deployments.Config{RetentionKeepLast: 1000}})
	is.Equal(violations(t, err), map[string]string{
		"triggers[0].cron.expression": "limits.min_cron_interval",
		"config.retention_keep_last":  "limits.max_retention_keep_last",
	})
}

// The defaults accept what any cron allows: per-second crons, a 20-trigger deployment.
func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := deployments.NewService(storetest.OpenSQLite(t), deployments.ServiceConfig{})
	var triggers []deployments.Trigger
	for i := range deployments.DefaultMaxTriggers {
		triggers = append(triggers, cron(fmt.Sprintf("t%d", i), "* * * * * *"))
	}
	_, _, err := svc.Deploy(context.Background(), &deployments.DeployParams{Definition: def("busy"), Triggers: triggers})
	is.NoErr(err)
	triggers = append(triggers, cron("one-more", "0 * * * *"))
	_, _, err = svc.Deploy(context.Background(), &deployments.DeployParams{Definition: def("busier"), Triggers: triggers})
	is.Equal(violations(t, err)["triggers"], "limits.max_triggers")
}
