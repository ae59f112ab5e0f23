package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// costlyExpression is an expression of exactly maxExpressionLen bytes among the slowest to
// compile (a chain of comparisons joined by &&: the type checker's work grows with each term),
// distinct per i so the program cache does not help.
func costlyExpression(i int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "input.n == %d", i)
	for sb.Len()+len(" && input.a == 1") <= maxExpressionLen {
		sb.WriteString(" && input.a == 1")
	}
	return sb.String() + strings.Repeat(" ", maxExpressionLen-sb.Len())
}

// A definition's transform expressions together have a budget: the nodes past it are refused,
// naming params.expression, and not compiled, so a definition of 256 of the costliest expressions
// (about 85 s of CPU to compile them all) costs what the budget's worth does.
func TestValidateParamsExpressionBudget(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	eng := New(Config{})
	def := &deployments.Definition{ID: "wf"}
	for i := range 256 {
		def.Nodes = append(def.Nodes, node(fmt.Sprintf("t%d", i), "transform", map[string]any{"expression": costlyExpression(i)}))
	}
	within := MaxDefinitionExpressionBytes / maxExpressionLen // the nodes that fit: 4

	start := time.Now()
	errs := eng.ValidateParams(def)
	elapsed := time.Since(start)
	is.Equal(len(errs), 256-within) // every node past the budget, and only those
	for k, pe := range errs {
		is.Equal(pe.NodeIndex, within+k)
		is.Equal(pe.Param, "expression") // the field is named
		is.True(strings.Contains(pe.Message, "together are longer than the limit of 65536 bytes"))
	}
	is.Equal(eng.programs.len(), within) // only the expressions within the budget were compiled
	t.Logf("256 transform nodes of %d bytes: %d compiled, %d refused, in %s", maxExpressionLen, within, len(errs), elapsed)

	// Within the budget, small expressions are as many as there are nodes.
	small := &deployments.Definition{ID: "wf"}
	for i := range 256 {
		small.Nodes = append(small.Nodes, node(fmt.Sprintf("t%d", i), "transform", map[string]any{"expression": fmt.Sprintf("input.n + %d", i)}))
	}
	is.Equal(len(eng.ValidateParams(small)), 0) // 256 small expressions pass
}
