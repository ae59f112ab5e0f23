package httpserver_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"

	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// oversizedDeploy is the costliest definition for validation that fits in a default request:
// as many nodes as fit (about 50,000, over the cap of 256), each with a 64-character id
// depending on the next.
func oversizedDeploy(limit int) *workflowruntimev1.DeployWorkflowRequest {
	id := func(i int) string {
		s := fmt.Sprintf("n%d-", i)
		return s + strings.Repeat("x", 64-len(s))
	}
	req := &workflowruntimev1.DeployWorkflowRequest{Definition: &workflowruntimev1.WorkflowDefinition{
		Id: "worst", Name: "worst", Description: strings.Repeat("d", 4096),
	}}
	for i := range 50_000 {
		req.Definition.Nodes = append(req.Definition.Nodes, &workflowruntimev1.Node{
			Id: id(i), Type: "noop", DependsOn: []string{id(i + 1)},
		})
	}
	for proto.Size(req) > limit {
		req.Definition.Nodes = req.Definition.Nodes[:len(req.Definition.Nodes)-100]
	}
	return req
}

// A request over a size cap is refused by the server's handler stack before the full rule
// pass, with the violation protovalidate would report: definition.nodes, repeated.max_items.
func TestOversizedDefinitionRefusedBySizeCaps(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, setupOpts{})
	req := oversizedDeploy(int(config.Default().MaxRequestBytes))

	want := protovalidate.Validate(req)
	var ve *protovalidate.ValidationError
	is.True(errors.As(want, &ve))
	var wantCap *validate.Violation
	for _, v := range ve.Violations {
		if v.Proto.GetRuleId() == "repeated.max_items" {
			wantCap = v.Proto
		}
	}
	is.True(wantCap != nil) // protovalidate reports the cap (among the rest)

	start := time.Now()
	_, err := b.client(false).DeployWorkflow(t.Context(), req)
	elapsed := time.Since(start)
	is.Equal(connect.CodeOf(err), connect.CodeInvalidArgument)
	var cerr *connect.Error
	is.True(errors.As(err, &cerr))
	var got []*validate.Violation
	for _, d := range cerr.Details() {
		msg, derr := d.Value()
		is.NoErr(derr)
		if vs, ok := msg.(*validate.Violations); ok {
			got = append(got, vs.GetViolations()...)
		}
	}
	is.Equal(len(got), 1)                 // only the cap: the full pass did not run
	is.True(proto.Equal(got[0], wantCap)) // the same field path, rule path, rule id and message
	t.Logf("%d nodes, %d bytes: refused in %s (round trip, encoding included)",
		len(req.GetDefinition().GetNodes()), proto.Size(req), elapsed)
}
