package app_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/auth"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

const secretHeader = "Bearer s3cret-0123456789"

// headerOf is the Authorization header of the first node of d's definition.
func headerOf(d *v1.Deployment) string {
	return d.GetDefinition().GetNodes()[0].GetParams().GetFields()["headers"].GetStructValue().GetFields()["Authorization"].GetStringValue()
}

// TestHeaderValuesOnlyForAdmin: the header values of http nodes reach only admin tokens; every
// other caller reads the marker, in every answer carrying a definition. A definition sent back
// with the marker keeps the stored value (the http node still sends it); a marker with nothing
// stored is invalid_argument. Without authentication (a loopback development server) the values
// are shown.
func TestHeaderValuesOnlyForAdmin(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	received := make(chan string, 4) // the Authorization header of each call the http node makes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Get("Authorization")
	}))
	t.Cleanup(srv.Close)

	const dashboardToken = "dashboard-token-0123456789" // read and deploy: what a dashboard holds
	a := startWithAuth(t, config.RoleAll, writeTokens(t, "dashboard read,deploy "+dashboardToken+"\n"), func(c *config.Config) {
		c.HTTPAllow = []string{"127.0.0.0/8"} // the recorder
	})
	base := "http://" + a.Addr()
	admin := authedClient(base, scopeTokens[auth.ScopeAdmin])
	deployer := authedClient(base, dashboardToken)
	reader := authedClient(base, scopeTokens[auth.ScopeRead])

	params, err := structpb.NewStruct(map[string]any{"url": srv.URL, "headers": map[string]any{"Authorization": secretHeader}})
	is.NoErr(err)
	dep, err := deployer.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: "redacted", Nodes: []*v1.Node{{Id: "call", Type: "http", Params: params}},
	}})
	is.NoErr(err)
	is.Equal(headerOf(dep.GetDeployment()), deployments.RedactedHeader) // even the deployer reads the marker
	ref := &v1.GetDeploymentStatusRequest{Ref: &v1.GetDeploymentStatusRequest_WorkflowId{WorkflowId: "redacted"}}

	st, err := reader.GetDeploymentStatus(t.Context(), ref)
	is.NoErr(err)
	is.Equal(headerOf(st.GetDeployment()), deployments.RedactedHeader) // read token: the marker
	list, err := reader.ListDeployments(t.Context(), &v1.ListDeploymentsRequest{})
	is.NoErr(err)
	is.Equal(len(list.GetDeployments()), 1)
	is.Equal(headerOf(list.GetDeployments()[0]), deployments.RedactedHeader) // in lists too
	is.True(!strings.Contains(list.String(), "s3cret"))
	st, err = admin.GetDeploymentStatus(t.Context(), ref)
	is.NoErr(err)
	is.Equal(headerOf(st.GetDeployment()), secretHeader) // admin: the value

	// Read, edit, write with the deploy token: the marker keeps the value.
	read, err := deployer.GetDeploymentStatus(t.Context(), ref)
	is.NoErr(err)
	edited := proto.CloneOf(read.GetDeployment().GetDefinition())
	edited.Description = "edited from a dashboard"
	up, err := deployer.UpdateDeployment(t.Context(), &v1.UpdateDeploymentRequest{
		DeploymentId: read.GetDeployment().GetId(),
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"definition"}},
		Definition:   edited,
	})
	is.NoErr(err)
	is.Equal(up.GetDeployment().GetRevision(), int32(2))
	is.Equal(headerOf(up.GetDeployment()), deployments.RedactedHeader)
	st, err = admin.GetDeploymentStatus(t.Context(), ref)
	is.NoErr(err)
	is.Equal(st.GetDeployment().GetDefinition().GetDescription(), "edited from a dashboard")
	is.Equal(headerOf(st.GetDeployment()), secretHeader) // the stored value, not the marker
	tr, err := admin.TriggerWorkflow(t.Context(), &v1.TriggerWorkflowRequest{Target: &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "redacted"}})
	is.NoErr(err)
	ex := waitExecution(t, admin, tr.GetExecution().GetId())
	is.Equal(ex.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	sent := <-received
	is.Equal(sent, secretHeader) // the http node sends the kept value
	t.Logf("read token: %q; admin: %q; after a round trip of the marker the node sent %q", deployments.RedactedHeader, secretHeader, sent)

	// A marker for a header that has no stored value: invalid_argument, nothing changes.
	edited.GetNodes()[0].GetParams().GetFields()["headers"].GetStructValue().GetFields()["X-Api-Key"] = structpb.NewStringValue(deployments.RedactedHeader)
	_, err = deployer.UpdateDeployment(t.Context(), &v1.UpdateDeploymentRequest{
		DeploymentId: read.GetDeployment().GetId(),
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"definition"}},
		Definition:   edited,
	})
	is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
	is.Equal(violationRules(t, err), []string{"http.header_redacted"})
	st, err = admin.GetDeploymentStatus(t.Context(), ref)
	is.NoErr(err)
	is.Equal(st.GetDeployment().GetRevision(), int32(2))

	// Without authentication: no identity, the values are shown.
	open := startConfig(t, func() config.Config {
		c := config.Default()
		c.DatabaseURL = "sqlite::memory:"
		return c
	}())
	client := workflowruntimev1connect.NewWorkflowRuntimeServiceClient(h2cClient(), "http://"+open.Addr())
	dep, err = client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: "redacted", Nodes: []*v1.Node{{Id: "call", Type: "http", Params: params}},
	}})
	is.NoErr(err)
	is.Equal(headerOf(dep.GetDeployment()), secretHeader)
}

// violationRules returns the rule ids of a Connect error's buf.validate.Violations detail.
func violationRules(t *testing.T, err error) []string {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a Connect error: %v", err)
	}
	var rules []string
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if vs, ok := v.(*validate.Violations); ok {
				for _, one := range vs.GetViolations() {
					rules = append(rules, one.GetRuleId())
				}
			}
		}
	}
	return rules
}
