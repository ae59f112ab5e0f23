package engine

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// celBounds are the sizes a transform expression may build: no string or bytes value longer than
// maxString bytes, no list longer than maxList elements. They are enforced while the program runs,
// by an interpreter decorator (see decorate), so an expression that would build a 300 MB string
// stops before it allocates it.
//
// CEL's cost limit does not do this on its own: the cost of a call is charged after the call
// returned, so one join or replace can build gigabytes before the limit notices, and values built
// from shared references (a list of a million copies of one string) cost little to build but a lot
// to encode. The interrupt on wall-clock time (ContextEval with a deadline) bounds the time.
type celBounds struct {
	maxString int
	maxList   int
	// impls holds the implementations of the calls checked before they run, by overload id.
	impls map[string]*functions.Overload
}

// Overloads whose result can be much larger than their arguments: checked before they run.
// Every other call is checked after it returns, which bounds its result to a small multiple of
// the limits (a + b is at most twice the larger limit).
var preCheckedOverloads = []string{
	"list_join", "list_join_string",
	"string_replace_string_string", "string_replace_string_string_int",
	"string_split_string", "string_split_string_int",
	"string_format",
	"list_flatten", "list_flatten_int",
}

func newCELBounds(env *cel.Env, maxString, maxList int) (*celBounds, error) {
	b := &celBounds{maxString: maxString, maxList: maxList, impls: map[string]*functions.Overload{}}
	for _, fn := range env.Functions() {
		bindings, err := fn.Bindings()
		if err != nil {
			return nil, fmt.Errorf("bindings of %s: %w", fn.Name(), err)
		}
		for _, o := range bindings {
			for _, id := range preCheckedOverloads {
				if o.Operator == id {
					b.impls[id] = o
				}
			}
		}
	}
	for _, id := range preCheckedOverloads {
		if b.impls[id] == nil {
			return nil, fmt.Errorf("no implementation of overload %s", id)
		}
	}
	return b, nil
}

// decorate is the program's interpreter decorator: every function call is wrapped so its result
// is checked against the bounds, and the calls that amplify their input are checked before they
// run. Attributes, constants, constructors and comprehensions are left alone: list and map
// literals are bounded by the expression's text, and comprehensions grow their result through
// _+_ calls, which are checked.
func (b *celBounds) decorate(i interpreter.Interpretable) (interpreter.Interpretable, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok {
		return i, nil
	}
	if impl := b.impls[call.OverloadID()]; impl != nil {
		return &preCheckedCall{InterpretableCall: call, bounds: b, impl: impl}, nil
	}
	return &boundedCall{InterpretableCall: call, bounds: b}, nil
}

// boundedCall checks the result of a call against the bounds.
type boundedCall struct {
	interpreter.InterpretableCall
	bounds *celBounds
}

func (c *boundedCall) Eval(a interpreter.Activation) ref.Val {
	return c.bounds.check(c.InterpretableCall.Eval(a))
}

func (c *boundedCall) Exec(f *interpreter.ExecutionFrame) ref.Val {
	return c.bounds.check(c.InterpretableCall.Exec(f))
}

// check stops the evaluation when v is larger than the bounds allow.
func (b *celBounds) check(v ref.Val) ref.Val {
	switch v := v.(type) {
	case types.String:
		if len(v) > b.maxString {
			b.stop("a string of %d bytes", len(v))
		}
	case types.Bytes:
		if len(v) > b.maxString {
			b.stop("a bytes value of %d bytes", len(v))
		}
	case traits.Lister:
		if n, ok := v.Size().(types.Int); ok && int64(n) > int64(b.maxList) {
			b.stop("a list of %d elements", n)
		}
	}
	return v
}

// stop ends the evaluation the way CEL's own cost limit does: the panic is recovered by
// cel.Program's Eval and returned as its error.
func (b *celBounds) stop(format string, args ...any) {
	panic(interpreter.EvalCancelledError{
		Cause: interpreter.CostLimitExceeded,
		Message: fmt.Sprintf("the expression builds %s: more than the limit of %d bytes per string and %d elements per list",
			fmt.Sprintf(format, args...), b.maxString, b.maxList),
	})
}

// preCheckedCall evaluates the arguments, checks the size the call would produce, and only then
// runs the implementation.
type preCheckedCall struct {
	interpreter.InterpretableCall
	bounds *celBounds
	impl   *functions.Overload
}

func (c *preCheckedCall) Eval(a interpreter.Activation) ref.Val {
	args := c.Args()
	vals := make([]ref.Val, len(args))
	for i, arg := range args {
		vals[i] = arg.Eval(a)
	}
	return c.call(vals)
}

func (c *preCheckedCall) Exec(f *interpreter.ExecutionFrame) ref.Val {
	args := c.Args()
	vals := make([]ref.Val, len(args))
	for i, arg := range args {
		vals[i] = arg.Exec(f)
	}
	return c.call(vals)
}

func (c *preCheckedCall) call(args []ref.Val) ref.Val {
	for _, v := range args {
		if types.IsUnknownOrError(v) {
			return v
		}
	}
	c.bounds.preCheck(c.OverloadID(), args)
	var out ref.Val
	switch {
	case len(args) == 1 && c.impl.Unary != nil:
		out = c.impl.Unary(args[0])
	case len(args) == 2 && c.impl.Binary != nil:
		out = c.impl.Binary(args[0], args[1])
	case c.impl.Function != nil:
		out = c.impl.Function(args...)
	default:
		return types.NewErr("no such overload: %s", c.OverloadID())
	}
	return c.bounds.check(out)
}

// preCheck stops the evaluation when the call of overload id on args would build a value larger
// than the bounds. Arguments of unexpected types are left to the implementation's own error.
func (b *celBounds) preCheck(id string, args []ref.Val) {
	switch id {
	case "list_join", "list_join_string":
		list, ok := args[0].(traits.Lister)
		if !ok {
			return
		}
		sep := 0
		if len(args) > 1 {
			if s, ok := args[1].(types.String); ok {
				sep = len(s)
			}
		}
		n := int64(list.Size().(types.Int))
		total := max(n-1, 0) * int64(sep)
		for i := int64(0); i < n && total <= int64(b.maxString); i++ {
			if s, ok := list.Get(types.Int(i)).(types.String); ok {
				total += int64(len(s))
			}
		}
		if total > int64(b.maxString) {
			b.stop("a string of more than %d bytes (join)", b.maxString)
		}
	case "string_replace_string_string", "string_replace_string_string_int":
		s, ok1 := args[0].(types.String)
		old, ok2 := args[1].(types.String)
		repl, ok3 := args[2].(types.String)
		if !ok1 || !ok2 || !ok3 || len(repl) <= len(old) {
			return
		}
		count := int64(strings.Count(string(s), string(old)))
		if len(args) > 3 {
			if limit, ok := args[3].(types.Int); ok && limit >= 0 {
				count = min(count, int64(limit))
			}
		}
		if size := int64(len(s)) + count*int64(len(repl)-len(old)); size > int64(b.maxString) {
			b.stop("a string of %d bytes (replace)", size)
		}
	case "string_split_string", "string_split_string_int":
		s, ok1 := args[0].(types.String)
		sep, ok2 := args[1].(types.String)
		if !ok1 || !ok2 {
			return
		}
		count := int64(strings.Count(string(s), string(sep))) + 1
		if len(args) > 2 {
			if limit, ok := args[2].(types.Int); ok && limit >= 0 {
				count = min(count, int64(limit))
			}
		}
		if count > int64(b.maxList) {
			b.stop("a list of %d elements (split)", count)
		}
	case "string_format":
		// The output is at most the format text plus each argument's text; a value's text is
		// bounded like its JSON (celJSONSize), which stops counting at the limit.
		format, ok := args[0].(types.String)
		if !ok {
			return
		}
		if size := int64(len(format)) + celJSONSize(args[1], int64(b.maxString)); size > int64(b.maxString) {
			b.stop("a string of more than %d bytes (format)", b.maxString)
		}
	case "list_flatten", "list_flatten_int":
		depth := int64(1)
		if len(args) > 1 {
			if d, ok := args[1].(types.Int); ok {
				depth = int64(d)
			}
		}
		if n := flattenedSize(args[0], depth, int64(b.maxList)); n > int64(b.maxList) {
			b.stop("a list of more than %d elements (flatten)", b.maxList)
		}
	}
}

// flattenedSize counts the elements v.flatten(depth) has, stopping once the count passes limit.
func flattenedSize(v ref.Val, depth, limit int64) int64 {
	list, ok := v.(traits.Lister)
	if !ok {
		return 1
	}
	n := int64(list.Size().(types.Int))
	if depth <= 0 {
		return n
	}
	var total int64
	for i := int64(0); i < n && total <= limit; i++ {
		total += flattenedSize(list.Get(types.Int(i)), depth-1, limit-total)
	}
	return total
}
