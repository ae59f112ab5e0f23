package engine

import (
	"errors"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// ParamError is an invalid node of a definition: an unknown type or a parameter the node type
// cannot use (an http node without url, a delay that is not a duration, an expression that does
// not compile).
type ParamError struct {
	// NodeIndex is the node's index in Definition.Nodes.
	NodeIndex int
	// NodeID is the node's id.
	NodeID string
	// Param is the parameter's name, such as "url"; empty when the node as a whole is wrong
	// (its type).
	Param string
	// Message says what is wrong.
	Message string
}

func (e *ParamError) Error() string {
	if e.Param == "" {
		return fmt.Sprintf("nodes[%d] (%s): %s", e.NodeIndex, e.NodeID, e.Message)
	}
	return fmt.Sprintf("nodes[%d] (%s): params.%s: %s", e.NodeIndex, e.NodeID, e.Param, e.Message)
}

// MaxDefinitionExpressionBytes bounds the text of all transform expressions of one definition
// together. Compiling costs time in proportion to the text and more (up to about a third of a
// second for one expression of maxExpressionLen on the shared test machine), and the number of
// nodes alone would let a definition carry 256 of them: about 85 s of CPU per deploy. With this
// budget a definition's expressions compile in a bounded time, a few of the largest at most.
const MaxDefinitionExpressionBytes = 64 << 10

// ValidateParams checks every node of def the way Execute prepares it, without running anything,
// and returns one ParamError per invalid node, in node order; nil when all are valid. Deploy-time
// validation can call it so bad params are rejected before an execution fails on them. Compiled
// expressions land in the engine's cache, so a later execution does not compile them again.
//
// The transform expressions of def together may have at most MaxDefinitionExpressionBytes: a
// transform node whose expression brings the total over it is refused (param "expression")
// without being compiled, and so is every later one.
func (e *Engine) ValidateParams(def *deployments.Definition) []*ParamError {
	var errs []*ParamError
	total := 0
	for i := range def.Nodes {
		n := &def.Nodes[i]
		if n.Type == typeTransform {
			if expr, ok := n.Params["expression"].(string); ok {
				total += len(expr)
				if total > MaxDefinitionExpressionBytes {
					errs = append(errs, &ParamError{NodeIndex: i, NodeID: n.ID, Param: "expression", Message: fmt.Sprintf(
						"the transform expressions of the definition together are longer than the limit of %d bytes (%d up to this one); not compiled",
						MaxDefinitionExpressionBytes, total)})
					continue
				}
			}
		}
		if _, err := e.prepare(n); err != nil {
			pe := &ParamError{NodeIndex: i, NodeID: n.ID, Message: err.Error()}
			if p, ok := errors.AsType[*paramError](err); ok {
				pe.Param, pe.Message = p.param, p.msg
			}
			errs = append(errs, pe)
		}
	}
	return errs
}
