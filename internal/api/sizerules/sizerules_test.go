package sizerules_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/matryer/is"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api/sizerules"
)

// capRules are the rule ids sizerules checks.
var capRules = []string{"repeated.max_items", "map.max_pairs", "string.max_len", "string.max_bytes", "bytes.max_len"}

// violations are err's violations as sorted JSON, keeping only the rule ids in keep (all when nil).
func violations(t *testing.T, err error, keep []string) []string {
	t.Helper()
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a validation error: %v", err)
	}
	var out []string
	for _, v := range ve.Violations {
		if keep != nil && !slices.Contains(keep, v.Proto.GetRuleId()) {
			continue
		}
		b, err := protojson.Marshal(v.Proto)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func node(id string, deps ...string) *v1.Node {
	return &v1.Node{Id: id, Type: "noop", DependsOn: deps}
}

// The caps a request breaks are reported exactly as protovalidate reports them: same field path
// (with indexes), rule path, rule id and message.
func TestCheckReportsWhatProtovalidateReports(t *testing.T) {
	t.Parallel()
	var many []*v1.Node
	for i := range 300 {
		many = append(many, node("n"+strings.Repeat("x", i%3)))
	}
	var deps []string
	for i := range 257 {
		deps = append(deps, strings.Repeat("d", i+1))
	}
	cases := map[string]proto.Message{
		"too many nodes": &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{Id: "w", Nodes: many}},
		"too many depends_on on node 1": &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
			Id: "w", Nodes: []*v1.Node{node("a"), node("b", deps...)},
		}},
		"strings too long": &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
			Id: strings.Repeat("é", 129), Name: strings.Repeat("n", 257), Description: strings.Repeat("d", 4097),
			Nodes: []*v1.Node{node("a")},
		}},
		"page token": &v1.ListDeploymentsRequest{PageToken: strings.Repeat("t", 513)},
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got := sizerules.Check(msg)
			is.True(got != nil) // the request breaks a cap
			want := violations(t, protovalidate.Validate(msg), capRules)
			is.True(len(want) > 0)
			is.Equal(violations(t, got, nil), want) // the same violations as protovalidate's for the caps
		})
	}
}

func TestCheckPassesRequestsWithinTheCaps(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var nodes []*v1.Node
	for i := range 256 {
		nodes = append(nodes, node("n"+strings.Repeat("x", i)[:min(i, 60)], "a"))
	}
	req := &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id: strings.Repeat("i", 128), Name: strings.Repeat("é", 256), Nodes: nodes,
	}}
	is.NoErr(sizerules.Check(req))                                      // at the caps, not over
	is.NoErr(sizerules.Check(&v1.ListDeploymentsRequest{}))             // nothing set
	is.NoErr(sizerules.Check(&v1.DeployWorkflowRequest{}))              // required fields are not its business
	is.True(protovalidate.Validate(&v1.DeployWorkflowRequest{}) != nil) // (protovalidate's)
}
