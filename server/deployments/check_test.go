package deployments_test

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
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
	var ve *apperr.ValidationError
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
	is.True(errors.Is(err, apperr.ErrFailedPrecondition)) // no key to seal it with, as Deploy says
}
