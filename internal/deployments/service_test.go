package deployments_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

// backends runs f once per storage backend: SQLite always, PostgreSQL when configured.
func backends(t *testing.T, f func(t *testing.T, svc *deployments.Service)) {
	t.Helper()
	for name, open := range map[string]func(t *testing.T) deployments.Store{
		"sqlite":   func(t *testing.T) deployments.Store { return storetest.OpenSQLite(t) },
		"postgres": func(t *testing.T) deployments.Store { return storetest.OpenPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, deployments.NewService(open(t), deployments.ServiceConfig{}))
		})
	}
}

func def(id string) deployments.Definition {
	return deployments.Definition{ID: id, Name: "Workflow " + id, Nodes: []deployments.Node{
		{ID: "fetch", Type: "http", Params: map[string]any{"url": "http://127.0.0.1/x", "headers": map[string]any{"a": "b"}}},
		{ID: "shape", Type: "transform", DependsOn: []string{"fetch"}, Params: map[string]any{"expr": "1"}},
	}}
}

func hook(id, path string) deployments.Trigger {
	return deployments.Trigger{ID: id, Webhook: &deployments.Webhook{Path: path}}
}

func cron(id, expr string) deployments.Trigger {
	return deployments.Trigger{ID: id, Cron: &deployments.CronSchedule{Expression: expr, JitterWindowSeconds: 300}}
}

func TestDeployRevisions(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		d1, created, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("orders"), Triggers: []deployments.Trigger{cron("nightly", "0 3 * * *")}})
		is.NoErr(err)
		is.True(created)
		is.Equal(d1.Revision, int32(1))
		is.Equal(d1.Status, deployments.StatusDeployed)
		is.True(!d1.DeployedAt.IsZero())
		is.Equal(d1.Triggers[0].Cron.Timezone, "UTC")         // default zone filled
		is.Equal(d1.Config.OverlapPolicy, policy.OverlapSkip) // defaults filled

		second := def("orders")
		second.Description = "v2"
		d2, created, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: second})
		is.NoErr(err)
		is.True(!created)
		is.Equal(d2.ID, d1.ID) // same deployment
		is.Equal(d2.Revision, int32(2))
		is.Equal(len(d2.Triggers), 0) // triggers replaced

		got, err := svc.Get(ctx, d1.ID)
		is.NoErr(err)
		is.Equal(got.Revision, int32(2))
		is.Equal(got.Definition.Description, "v2")
		is.Equal(got.Definition.Nodes[0].Params["headers"], map[string]any{"a": "b"})
		byWF, err := svc.GetByWorkflow(ctx, "orders")
		is.NoErr(err)
		is.Equal(byWF.ID, d1.ID)
	})
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		d, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("billing"), Draft: true, Triggers: []deployments.Trigger{hook("in", "billing/in")}})
		is.NoErr(err)
		is.Equal(d.Status, deployments.StatusDraft)
		is.True(d.DeployedAt.IsZero())

		_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{"status"}, Status: deployments.StatusPaused})
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // a draft cannot be paused

		d, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{"status"}, Status: deployments.StatusDeployed})
		is.NoErr(err)
		is.Equal(d.Status, deployments.StatusDeployed)
		is.True(!d.DeployedAt.IsZero())

		d, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{"status"}, Status: deployments.StatusPaused})
		is.NoErr(err)
		is.Equal(d.Status, deployments.StatusPaused)
		is.True(!d.PausedAt.IsZero()) // when it became PAUSED
		stored, err := svc.Get(ctx, d.ID)
		is.NoErr(err)
		is.True(stored.PausedAt.Equal(d.PausedAt.Truncate(time.Microsecond))) // stored

		newDef := def("billing")
		newDef.Name = "renamed"
		cfg := deployments.Config{OverlapPolicy: policy.OverlapAllowAll, ExecutionTimeout: time.Minute}
		d, err = svc.Update(ctx, &deployments.UpdateParams{
			ID: d.ID, Paths: []string{"status", "definition", "triggers", "config"}, Status: deployments.StatusDeployed,
			Definition: &newDef, Triggers: []deployments.Trigger{hook("in2", "billing/in2")}, Config: &cfg,
		})
		is.NoErr(err)
		is.Equal(d.Status, deployments.StatusDeployed)
		is.Equal(d.Revision, int32(2))
		is.Equal(d.Definition.Name, "renamed")
		is.Equal(d.Triggers[0].Webhook.Path, "billing/in2")
		is.Equal(d.Config.OverlapPolicy, policy.OverlapAllowAll)
		is.Equal(d.Config.ExecutionTimeout, time.Minute)
		is.Equal(d.Config.MisfirePolicy, policy.MisfireFireOnce) // unset fields defaulted

		got, err := svc.Get(ctx, d.ID)
		is.NoErr(err)
		is.Equal(got.Revision, int32(2))
		is.Equal(got.Config, d.Config)

		d, err = svc.Delete(ctx, d.ID)
		is.NoErr(err)
		is.Equal(d.Status, deployments.StatusArchived)
		is.Equal(len(d.Triggers), 0)
		again, err := svc.Delete(ctx, d.ID)
		is.NoErr(err) // deleting twice is fine
		is.Equal(again.Status, deployments.StatusArchived)

		_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{"status"}, Status: deployments.StatusDeployed})
		is.True(errors.Is(err, errdefs.ErrFailedPrecondition)) // archived cannot resume

		// The freed webhook path can be taken by another workflow.
		_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: def("other"), Triggers: []deployments.Trigger{hook("in", "billing/in2")}})
		is.NoErr(err)

		// Deploy revives an archived workflow as revision 3.
		d, created, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("billing")})
		is.NoErr(err)
		is.True(!created)
		is.Equal(d.Revision, int32(3))
		is.Equal(d.Status, deployments.StatusDeployed)
	})
}

func TestWebhookPathTaken(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("first"), Triggers: []deployments.Trigger{hook("h", "shared/path")}})
		is.NoErr(err)
		_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: def("second"), Triggers: []deployments.Trigger{hook("h", "shared/path")}})
		is.True(errors.Is(err, errdefs.ErrAlreadyExists))
		_, err = svc.GetByWorkflow(ctx, "second")
		is.True(errors.Is(err, errdefs.ErrNotFound)) // nothing of the failed deploy was stored

		paused, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("third")})
		is.NoErr(err)
		_, err = svc.Update(ctx, &deployments.UpdateParams{ID: paused.ID, Paths: []string{"triggers"}, Triggers: []deployments.Trigger{hook("h", "shared/path")}})
		is.True(errors.Is(err, errdefs.ErrAlreadyExists))
	})
}

func TestValidationStoresNothing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		bad := def("cyclic")
		bad.Nodes[0].DependsOn = []string{"shape"}
		_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: bad})
		var ve *errdefs.ValidationError
		is.True(errors.As(err, &ve))
		is.Equal(ve.Violations[0].Field, "definition.nodes")
		_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: def("cyclic"), Triggers: []deployments.Trigger{cron("c", "61 * * * *")}})
		is.True(errors.As(err, &ve))
		is.Equal(ve.Violations[0].Field, "triggers[0].cron.expression")
		_, err = svc.GetByWorkflow(ctx, "cyclic")
		is.True(errors.Is(err, errdefs.ErrNotFound)) // nothing stored

		d, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("valid")})
		is.NoErr(err)
		other := def("not-valid")
		_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{"definition"}, Definition: &other})
		is.True(errors.As(err, &ve))
		is.Equal(ve.Violations[0].Field, "definition.id")
		for _, p := range []*deployments.UpdateParams{
			{ID: d.ID, Paths: []string{"definition"}},
			{ID: d.ID, Paths: []string{"status"}, Status: deployments.StatusArchived},
			{ID: d.ID, Paths: []string{"name"}},
			{ID: d.ID, Paths: []string{"definition"}, Definition: &bad},
			{ID: d.ID, Paths: []string{"triggers"}, Triggers: []deployments.Trigger{cron("c", "nope")}},
		} {
			_, err = svc.Update(ctx, p)
			is.True(errors.As(err, &ve)) // invalid update refused
		}
		got, err := svc.Get(ctx, d.ID)
		is.NoErr(err)
		is.Equal(got.Revision, int32(1)) // unchanged

		_, err = svc.Get(ctx, "0190b5a4-0000-7000-8000-000000000000")
		is.True(errors.Is(err, errdefs.ErrNotFound))
		_, err = svc.Update(ctx, &deployments.UpdateParams{ID: "0190b5a4-0000-7000-8000-000000000000", Paths: []string{"status"}, Status: deployments.StatusPaused})
		is.True(errors.Is(err, errdefs.ErrNotFound))
		_, err = svc.Delete(ctx, "0190b5a4-0000-7000-8000-000000000000")
		is.True(errors.Is(err, errdefs.ErrNotFound))
	})
}

func TestListPages(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		for i := range 7 {
			_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def(fmt.Sprintf("wf-%02d", i)), Draft: i%2 == 1})
			is.NoErr(err)
		}
		var ids []string
		token := ""
		for pages := 0; ; pages++ {
			is.True(pages < 10) // terminates
			page, next, err := svc.List(ctx, deployments.ListQuery{PageSize: 3, PageToken: token})
			is.NoErr(err)
			for _, d := range page {
				ids = append(ids, d.WorkflowID)
			}
			if next == "" {
				break
			}
			token = next
		}
		is.Equal(ids, []string{"wf-00", "wf-01", "wf-02", "wf-03", "wf-04", "wf-05", "wf-06"})

		drafts, next, err := svc.List(ctx, deployments.ListQuery{Statuses: []deployments.Status{deployments.StatusDraft}})
		is.NoErr(err)
		is.Equal(next, "")
		is.Equal(len(drafts), 3)
		for _, d := range drafts {
			is.Equal(d.Status, deployments.StatusDraft)
		}
		for _, tok := range []string{"!!", "ZDE6", "eDE6YWJj"} {
			_, _, err = svc.List(ctx, deployments.ListQuery{PageToken: tok})
			var ve *errdefs.ValidationError
			is.True(errors.As(err, &ve)) // tampered token refused
			is.Equal(ve.Violations[0].Field, "page_token")
		}
	})
}

func TestConcurrentFirstDeploys(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		created := make([]bool, n)
		for i := range n {
			wg.Go(func() {
				_, created[i], errs[i] = svc.Deploy(ctx, &deployments.DeployParams{Definition: def("racy")})
			})
		}
		wg.Wait()
		creators := 0
		for i := range n {
			is.NoErr(errs[i])
			if created[i] {
				creators++
			}
		}
		is.Equal(creators, 1) // exactly one call created the deployment
		d, err := svc.GetByWorkflow(ctx, "racy")
		is.NoErr(err)
		is.Equal(d.Revision, int32(n)) // every call added one revision, no gaps
	})
}

func TestCheckParams(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	svc := deployments.NewService(storetest.OpenSQLite(t), deployments.ServiceConfig{
		CheckParams: func(d *deployments.Definition) []errdefs.Violation {
			var out []errdefs.Violation
			for i, n := range d.Nodes {
				if n.Type == "http" && n.Params["url"] == nil {
					out = append(out, errdefs.Violation{Field: fmt.Sprintf("nodes[%d].params.url", i), Rule: "node.params", Message: "url is required"})
				}
			}
			return out
		},
	})
	bad := def("params")
	delete(bad.Nodes[0].Params, "url")
	_, _, err := svc.Deploy(context.Background(), &deployments.DeployParams{Definition: bad})
	var ve *errdefs.ValidationError
	is.True(errors.As(err, &ve))
	is.Equal(ve.Violations[0].Field, "definition.nodes[0].params.url")
	_, _, err = svc.Deploy(context.Background(), &deployments.DeployParams{Definition: def("params")})
	is.NoErr(err) // valid params pass
}

func TestOnChange(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	var changed []string
	svc := deployments.NewService(storetest.OpenSQLite(t), deployments.ServiceConfig{
		OnChange: func(_ context.Context, workflowID string) { changed = append(changed, workflowID) },
	})
	d, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("changes")})
	is.NoErr(err)
	_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusPaused})
	is.NoErr(err)
	_, err = svc.Update(ctx, &deployments.UpdateParams{ID: d.ID, Paths: []string{deployments.PathStatus}, Status: deployments.StatusArchived})
	is.True(err != nil) // a failed update tells nobody
	_, err = svc.Delete(ctx, d.ID)
	is.NoErr(err)
	is.Equal(changed, []string{"changes", "changes", "changes"}) // deploy, pause, delete
}

// TestValidateOnly: a deploy with ValidateOnly answers what the deployment would become, runs
// the checks a deploy runs (a webhook path taken by another deployment included), and stores
// nothing and tells nobody.
func TestValidateOnly(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) deployments.Store{
		"sqlite":   func(t *testing.T) deployments.Store { return storetest.OpenSQLite(t) },
		"postgres": func(t *testing.T) deployments.Store { return storetest.OpenPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testValidateOnly(t, open(t))
		})
	}
}

func testValidateOnly(t *testing.T, store deployments.Store) {
	is := is.New(t)
	ctx := context.Background()
	var changed []string
	svc := deployments.NewService(store, deployments.ServiceConfig{
		OnChange: func(_ context.Context, workflowID string) { changed = append(changed, workflowID) },
	})

	d, created, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("dry"), Triggers: []deployments.Trigger{cron("nightly", "0 3 * * *")}, ValidateOnly: true})
	is.NoErr(err)
	is.True(created)                               // it would be created
	is.Equal(d.ID, "")                             // by a deploy that did not happen
	is.Equal(d.Revision, int32(1))                 // as revision 1
	is.Equal(d.Status, deployments.StatusDeployed) // deployed
	is.Equal(d.Triggers[0].Cron.Timezone, "UTC")   // defaults filled as a deploy fills them
	_, err = svc.GetByWorkflow(ctx, "dry")
	is.True(errors.Is(err, errdefs.ErrNotFound)) // nothing stored
	is.Equal(len(changed), 0)                    // nobody told

	stored, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("dry"), Triggers: []deployments.Trigger{hook("h", "dry/in")}})
	is.NoErr(err)
	next, created, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def("dry"), Draft: true, ValidateOnly: true})
	is.NoErr(err)
	is.True(!created)
	is.Equal(next.ID, stored.ID)      // the existing deployment
	is.Equal(next.Revision, int32(2)) // would get revision 2
	is.Equal(len(next.Triggers), 0)   // with its triggers replaced
	got, err := svc.Get(ctx, stored.ID)
	is.NoErr(err)
	is.Equal(got.Revision, int32(1))   // still revision 1
	is.Equal(len(got.Triggers), 1)     // with its trigger
	is.Equal(changed, []string{"dry"}) // only the real deploy told

	_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: def("other"), Triggers: []deployments.Trigger{hook("h", "dry/in")}, ValidateOnly: true})
	is.True(errors.Is(err, errdefs.ErrAlreadyExists)) // the path is taken: found without storing
	bad := def("cyclic")
	bad.Nodes[0].DependsOn = []string{"shape"}
	_, _, err = svc.Deploy(ctx, &deployments.DeployParams{Definition: bad, ValidateOnly: true})
	var ve *errdefs.ValidationError
	is.True(errors.As(err, &ve)) // the rules are the deploy's
}

// TestListTokenBinding: a List token reads only with the statuses of the page that made it (a
// set: order and repeats do not matter), and a token of another list never reads.
func TestListTokenBinding(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, svc *deployments.Service) {
		is := is.New(t)
		ctx := context.Background()
		for i := range 4 {
			_, _, err := svc.Deploy(ctx, &deployments.DeployParams{Definition: def(fmt.Sprintf("wf-%02d", i)), Draft: true})
			is.NoErr(err)
		}
		statuses := []deployments.Status{deployments.StatusDraft, deployments.StatusDeployed}
		page, next, err := svc.List(ctx, deployments.ListQuery{Statuses: statuses, PageSize: 2})
		is.NoErr(err)
		is.True(next != "")

		_, _, err = svc.List(ctx, deployments.ListQuery{PageSize: 2, PageToken: next,
			Statuses: []deployments.Status{deployments.StatusDeployed, deployments.StatusDraft, deployments.StatusDraft}})
		is.NoErr(err) // the same set of statuses
		for _, other := range [][]deployments.Status{nil, {deployments.StatusDraft}, {deployments.StatusPaused, deployments.StatusDraft}} {
			_, _, err = svc.List(ctx, deployments.ListQuery{Statuses: other, PageSize: 2, PageToken: next})
			is.True(isPageTokenError(err)) // replayed with other statuses
		}

		// Signed with the same key and binding (no statuses) for another list, with the payload
		// of this one.
		foreign, err := pagetoken.New(nil).Encode("calendars.list", []byte("s="), map[string]string{"a": page[1].WorkflowID})
		is.NoErr(err)
		_, _, err = svc.List(ctx, deployments.ListQuery{PageToken: foreign})
		is.True(isPageTokenError(err)) // a token of another list
	})
}

func isPageTokenError(err error) bool {
	var ve *errdefs.ValidationError
	return errors.As(err, &ve) && len(ve.Violations) == 1 && ve.Violations[0].Field == "page_token"
}
