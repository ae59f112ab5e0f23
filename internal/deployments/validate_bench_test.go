package deployments

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/api/sizerules"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// maxRequest is the default WFR_MAX_REQUEST_BYTES: no definition reaches validation larger.
const maxRequest = 4 << 20

// benchID is a node id of the longest allowed form (64 characters), distinct per i.
func benchID(i int) string {
	s := fmt.Sprintf("n%d-", i)
	return s + strings.Repeat("x", 64-len(s))
}

// worstDefinitions are the definitions that cost validation most, each at most maxRequest bytes:
//   - valid: 256 nodes with 64-character ids, each depending on every earlier node (32,640 edges,
//     the most an acyclic graph of 256 nodes has), padded with a description;
//   - cycle: 256 nodes each depending on the 240 others before it, wrapping around (passes every
//     size rule; the Go rules find the cycle);
//   - missing: 256 nodes each naming 240 depends_on that do not exist (61,440 violations);
//   - oversized: as many nodes as fit in 4 MiB (29,700 of the 50,000 it starts from), each
//     depending on the next, which the removed CEL rule walked nodes x depends_on x nodes times
//     before refusing, and protovalidate checked node by node after max_items failed.
func worstDefinitions() map[string]*v1.DeployWorkflowRequest {
	defs := map[string]*v1.DeployWorkflowRequest{}
	wrap := func(nodes []*v1.Node) *v1.DeployWorkflowRequest {
		return &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
			Id: "worst", Name: "worst", Description: strings.Repeat("d", 4096), Nodes: nodes,
		}}
	}
	var valid, cycle, missing []*v1.Node
	for i := range 256 {
		n := &v1.Node{Id: benchID(i), Type: "noop"}
		for j := range i {
			n.DependsOn = append(n.DependsOn, benchID(j))
		}
		valid = append(valid, n)
		c := &v1.Node{Id: benchID(i), Type: "noop"}
		m := &v1.Node{Id: benchID(i), Type: "noop"}
		for k := 1; k <= 240; k++ {
			c.DependsOn = append(c.DependsOn, benchID((i+256-k)%256))
			m.DependsOn = append(m.DependsOn, benchID(1000+k))
		}
		cycle, missing = append(cycle, c), append(missing, m)
	}
	defs["valid"], defs["cycle"], defs["missing"] = wrap(valid), wrap(cycle), wrap(missing)
	var over []*v1.Node
	for i := range 50_000 {
		over = append(over, &v1.Node{Id: benchID(i), Type: "noop", DependsOn: []string{benchID(i + 1)}})
	}
	for proto.Size(wrap(over)) > maxRequest {
		over = over[:len(over)-100]
	}
	defs["oversized"] = wrap(over)
	return defs
}

// validateRequest is what a DeployWorkflow request goes through before anything is stored, in
// the server's order (httpserver.NewHandler's interceptors, then the service): decoding, the size
// caps (sizerules), protovalidate, then, only when those passed, the Go rules across nodes. It
// returns the number of violations. TestHandlerRefusesOversizedDefinitionAtOnce in
// internal/httpserver sends the oversized definition through the real handler stack.
func validateRequest(b []byte) (int, error) {
	var req v1.DeployWorkflowRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return 0, err
	}
	err := sizerules.Check(&req)
	if err == nil {
		err = protovalidate.Validate(&req)
	}
	if err != nil {
		var ve *protovalidate.ValidationError
		if !errors.As(err, &ve) {
			return 0, err
		}
		return len(ve.Violations), nil
	}
	d := &Definition{ID: req.GetDefinition().GetId()}
	for _, n := range req.GetDefinition().GetNodes() {
		d.Nodes = append(d.Nodes, Node{ID: n.GetId(), Type: n.GetType(), DependsOn: n.GetDependsOn()})
	}
	v := &errdefs.ValidationError{}
	validateDefinition(v, "definition", d, DefaultNodeTypes)
	return len(v.Violations), nil
}

// BenchmarkValidateWorstDefinition measures validateRequest on each worst definition. Run:
//
//	go test -run '^$' -bench BenchmarkValidateWorstDefinition -benchtime 20x ./internal/deployments/
//
// The acceptance bound is 100 ms per definition; docs/benchmarks.md records the figures.
func BenchmarkValidateWorstDefinition(b *testing.B) {
	defs := worstDefinitions()
	for _, name := range []string{"valid", "cycle", "missing", "oversized"} {
		raw, err := proto.Marshal(defs[name])
		if err != nil {
			b.Fatal(err)
		}
		if len(raw) > maxRequest {
			b.Fatalf("%s: %d bytes, more than a request may have", name, len(raw))
		}
		violations, err := validateRequest(raw)
		if err != nil {
			b.Fatal(err)
		}
		if (name == "valid") != (violations == 0) {
			b.Fatalf("%s: %d violations", name, violations)
		}
		b.Run(fmt.Sprintf("%s/%dKiB/%dviolations", name, len(raw)>>10, violations), func(b *testing.B) {
			for b.Loop() {
				if _, err := validateRequest(raw); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
		})
	}
}
