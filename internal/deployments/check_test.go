package deployments_test

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

func TestCheckPrefixesFieldPaths(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := deployments.NewService(nil, deployments.ServiceConfig{}) // Check never reaches the store

	is.NoErr(svc.Check(&deployments.DeployParams{Definition: def("fine"), Triggers: []deployments.Trigger{cron("hourly", "0 * * * *")}}, "what_if.deployment."))

	bad := cron("hourly", "not a cron")
	zone := cron("zoned", "0 * * * *")
	zone.Cron.Timezone = "Mars/Olympus"
	err := svc.Check(&deployments.DeployParams{Definition: def("bad"), Triggers: []deployments.Trigger{bad, zone}}, "what_if.deployment.")
	var ve *errdefs.ValidationError
	is.True(errors.As(err, &ve))
	fields := map[string]bool{}
	for _, v := range ve.Violations {
		fields[v.Field] = true
	}
	is.True(fields["what_if.deployment.triggers[0].cron.expression"]) // the cron does not parse
	is.True(fields["what_if.deployment.triggers[1].cron.timezone"])   // the zone does not exist

	secret := hook("in", "bad/in")
	secret.Webhook.Secret = "a-secret-of-enough-bytes"
	err = svc.Check(&deployments.DeployParams{Definition: def("bad"), Triggers: []deployments.Trigger{secret}}, "")
	is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // no key to seal it with, as Deploy says
}

// A policy internal/policy does not define is refused with its field path, not stored (an unknown
// overlap policy would otherwise act as some other one).
func TestCheckRefusesUnknownPolicies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := deployments.NewService(nil, deployments.ServiceConfig{}) // Check never reaches the store
	c := cron("hourly", "0 * * * *")
	c.Cron.RepeatedHour, c.Cron.SkippedHour = policy.RepeatedHour(9), policy.SkippedHour(9)
	c.Cron.AfterBlackout = policy.AfterBlackout(9)
	err := svc.Check(&deployments.DeployParams{
		Definition: def("unknown"),
		Triggers:   []deployments.Trigger{c},
		Config:     deployments.Config{OverlapPolicy: policy.Overlap(9), MisfirePolicy: policy.Misfire(9)},
	}, "")
	var ve *errdefs.ValidationError
	is.True(errors.As(err, &ve))
	fields := map[string]string{}
	for _, v := range ve.Violations {
		fields[v.Field] = v.Rule
	}
	is.Equal(fields["config.overlap_policy"], "enum.defined_only")
	is.Equal(fields["config.misfire_policy"], "enum.defined_only")
	is.Equal(fields["triggers[0].cron.repeated_hour"], "enum.defined_only")
	is.Equal(fields["triggers[0].cron.skipped_hour"], "enum.defined_only")
	is.Equal(fields["triggers[0].cron.after_blackout"], "enum.defined_only")

	// Every defined value, the zero values included, passes.
	is.NoErr(svc.Check(&deployments.DeployParams{Definition: def("known"), Config: deployments.Config{OverlapPolicy: policy.OverlapAllowAll, MisfirePolicy: policy.MisfireSkip}}, ""))
	is.NoErr(svc.Check(&deployments.DeployParams{Definition: def("unset")}, ""))
}
