package engine

import (
	"container/list"
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"
)

// maxExpressionLen bounds the text of a transform expression.
const maxExpressionLen = 16 << 10

// celInterruptCheckFrequency is how many comprehension iterations run between two checks of the
// evaluation's context (its deadline, the execution's cancellation).
const celInterruptCheckFrequency = 20

// errEvalTimeout is the cause of an evaluation's context when its time limit passed.
var errEvalTimeout = errors.New("transform evaluation time limit")

// newCELEnv declares the variables of transform expressions: input (dyn, the trigger data), deps
// (map(string, dyn), the dependencies' outputs) and trigger (map(string, dyn), what started the
// execution and its slot: Trigger.celValue), with the standard library, the strings,
// lists, sets, math and encoders extensions, optional types, and comparisons across numeric types
// (JSON numbers are doubles, literals like 1 are ints).
func newCELEnv(maxList int) *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("input", cel.DynType),
		cel.Variable("deps", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("trigger", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Lists(ext.ListsMaxRangeSize(int64(maxList))),
		ext.Sets(),
		ext.Math(),
		ext.Encoders(),
	)
	if err != nil {
		// The declarations are constants of this file: failing here is a programming error.
		panic("engine: CEL environment: " + err.Error())
	}
	return env
}

// transformStep evaluates a compiled CEL expression; its output is the value converted to JSON.
type transformStep struct {
	prg cel.Program
	// timeout bounds one evaluation's wall-clock time; maxOutput its result's JSON size.
	timeout   time.Duration
	maxOutput int64
}

// prepareTransform reads params.expression (required) and compiles it, through the cache.
func (e *Engine) prepareTransform(params map[string]any) (step, error) {
	expr, ok, err := stringParam(params, "expression")
	if err != nil {
		return nil, err
	}
	if !ok || expr == "" {
		return nil, paramErrorf("expression", "required: a CEL expression over input, deps and trigger")
	}
	if len(expr) > maxExpressionLen {
		return nil, paramErrorf("expression", "longer than %d bytes", maxExpressionLen)
	}
	prg, err := e.programs.get(expr, e.compile)
	if err != nil {
		return nil, paramErrorf("expression", "%v", err)
	}
	return transformStep{prg: prg, timeout: e.limits.celTimeout, maxOutput: e.limits.maxNodeOutput}, nil
}

// compile compiles expr into a program bounded by the engine's limits: the cost limit, the sizes
// of the strings and lists it builds (celBounds), and interrupt checks in comprehensions so the
// evaluation's deadline and cancellation are seen while it runs.
func (e *Engine) compile(expr string) (cel.Program, error) {
	ast, iss := e.celEnv.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	return e.celEnv.Program(ast,
		cel.InterruptCheckFrequency(celInterruptCheckFrequency),
		cel.CostLimit(e.limits.celCost),
		cel.CustomDecorator(e.celBounds.decorate),
	)
}

var jsonValueType = reflect.TypeFor[*structpb.Value]()

// run evaluates the expression under the time limit and converts the result to JSON, unless its
// JSON would be larger than the node output limit. Every limit is a non-retryable failure: the
// same expression on the same data fails the same way.
func (s transformStep) run(ctx context.Context, in *nodeInput) (any, error) {
	evalCtx, cancel := context.WithTimeoutCause(ctx, s.timeout, errEvalTimeout)
	defer cancel()
	trigger := in.trigger
	if trigger == nil {
		trigger = (*Trigger)(nil).celValue()
	}
	val, _, err := s.prg.ContextEval(evalCtx, map[string]any{"input": in.input, "deps": in.deps, "trigger": trigger})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, errEvalTimeout) {
			return nil, nodeErrorf(false, "evaluate expression: stopped after the time limit of %s", s.timeout)
		}
		return nil, nodeErrorf(false, "evaluate expression: %v", err)
	}
	if size := celJSONSize(val, s.maxOutput); size > s.maxOutput {
		return nil, outputTooLarge(s.maxOutput)
	}
	native, err := val.ConvertToNative(jsonValueType)
	if err != nil {
		return nil, nodeErrorf(false, "result of type %s is not JSON: %v", val.Type().TypeName(), err)
	}
	return native.(*structpb.Value).AsInterface(), nil
}

// programCache keeps compiled expressions by their text, least recently used evicted first.
// Compile errors are kept too, so a bad expression is not recompiled on every execution.
type programCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *cacheEntry, most recently used first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	expr string
	prg  cel.Program
	err  error
}

func newProgramCache(size int) *programCache {
	return &programCache{size: size, order: list.New(), byKey: make(map[string]*list.Element, size)}
}

// get returns the program of expr, compiling it on a miss. Compilation happens outside the lock;
// two goroutines missing on the same text may both compile it, which is harmless.
func (c *programCache) get(expr string, compile func(string) (cel.Program, error)) (cel.Program, error) {
	c.mu.Lock()
	if el, ok := c.byKey[expr]; ok {
		c.order.MoveToFront(el)
		ent := el.Value.(*cacheEntry)
		c.mu.Unlock()
		return ent.prg, ent.err
	}
	c.mu.Unlock()

	prg, err := compile(expr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[expr]; ok {
		c.order.MoveToFront(el)
		ent := el.Value.(*cacheEntry)
		return ent.prg, ent.err
	}
	c.byKey[expr] = c.order.PushFront(&cacheEntry{expr: expr, prg: prg, err: err})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*cacheEntry).expr)
	}
	return prg, err
}

// len returns the number of cached expressions.
func (c *programCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
