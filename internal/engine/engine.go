package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"cel.dev/cel-go/cel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/egress"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
)

// Executor is the contract between the runtime and a workflow engine: run one attempt of one
// execution and say how it ended. Engine (in-process) and Client (remote) implement it; the
// execution package declares the same one-method interface as its consumer.
//
// A workflow that fails (a node failed, the input is not JSON) is a normal Result with Failure
// set. The error return is only for the call itself: the context was cancelled or its deadline
// passed (the error wraps ctx.Err(), so errors.Is(err, context.Canceled) and
// errors.Is(err, context.DeadlineExceeded) hold), the engine could not be reached (the error
// wraps errdefs.ErrUnavailable), or the lease the run is held under (lock.Hold around ctx)
// passed its deadline before a node was due to start (the error wraps ErrLeaseExpired).
type Executor interface {
	Execute(ctx context.Context, req *Request) (*Result, error)
}

// Request is one attempt of one execution.
type Request struct {
	// ExecutionID is the execution's UUID.
	ExecutionID string
	// WorkflowID is Definition.ID.
	WorkflowID string
	// Revision is the revision the execution runs, from 1.
	Revision int32
	// Definition is that revision's DAG.
	Definition deployments.Definition
	// Input is the trigger data, a JSON document; nil or empty means JSON null.
	Input []byte
	// Attempt is the attempt number, from 1.
	Attempt int32
	// Trigger is what started the execution and which slot it is for, the same on every
	// attempt. Nil: a manual trigger with no times.
	Trigger *Trigger
}

// Result is how a run ended: Failure is nil and Output set on success; Failure is set otherwise.
type Result struct {
	// Output is the workflow's output, a JSON object mapping each sink node id (a node no other
	// node depends on) to that node's output. Nil when Failure is set.
	Output []byte
	// Failure says which node failed and why. Nil on success.
	Failure *Failure
}

// Failure is a typed failure of the workflow.
type Failure struct {
	// NodeID is the node that failed; empty when the failure is not a node's (invalid input,
	// a definition that is not a DAG).
	NodeID string
	// Message says what went wrong.
	Message string
	// Retryable says whether another attempt may succeed (5xx, 429, transport errors, timeouts).
	Retryable bool
}

func (f *Failure) String() string {
	if f.NodeID == "" {
		return f.Message
	}
	return fmt.Sprintf("node %s: %s", f.NodeID, f.Message)
}

// Config configures an Engine. Every field has a default.
type Config struct {
	// MaxParallelNodes bounds the nodes of one execution that run at the same time. Default 16.
	MaxParallelNodes int
	// HTTPClient is the one client every http node uses. Default: a client with its own clone
	// of http.DefaultTransport, dialling through Egress, and no overall timeout (each node has
	// its own).
	HTTPClient *http.Client
	// Egress decides which addresses the default HTTPClient may connect to (see package egress).
	// Nil: any address, for tests and embedding; the service always passes the policy of
	// WFR_HTTP_ALLOW, which by default allows public addresses only.
	Egress *egress.Policy
	// MaxResponseBytes bounds the body an http node reads; a larger body fails the node.
	// Default 10 MiB.
	MaxResponseBytes int64
	// ProgramCacheSize is how many compiled CEL expressions (transform nodes) are kept, by
	// expression text, least recently used evicted first. Default 1024.
	ProgramCacheSize int
	// MaxNodeOutputBytes bounds the JSON of one node's output; a larger output fails the node,
	// not retryably. Default 1 MiB.
	MaxNodeOutputBytes int64
	// MaxOutputBytes bounds the JSON of all node outputs of one execution together (so also the
	// execution's output); crossing it fails the execution, not retryably. Default 4 MiB.
	MaxOutputBytes int64
	// CELTimeout bounds the wall-clock time of one transform evaluation, checked while it runs;
	// crossing it fails the node, not retryably. Default 1s.
	CELTimeout time.Duration
	// CELCostLimit bounds one transform evaluation in CEL's cost units. Default 1,000,000.
	CELCostLimit uint64
	// CELMaxStringBytes bounds the strings and bytes a transform expression builds. Default 1 MiB.
	CELMaxStringBytes int
	// CELMaxListItems bounds the lists a transform expression builds (and lists.range). Default
	// 100,000.
	CELMaxListItems int
	// TracerProvider makes a span per execution ("engine.execute") and per node ("engine.node
	// <id>"). Default: the global provider.
	TracerProvider trace.TracerProvider
}

// Defaults of Config.
const (
	DefaultMaxParallelNodes = 16
	DefaultMaxResponseBytes = 10 << 20
	DefaultProgramCacheSize = 1024
)

// Engine is the reference workflow engine: it runs a definition's DAG in-process. It is safe for
// concurrent use; one Engine serves every execution of a process.
type Engine struct {
	maxParallel      int
	httpClient       *http.Client
	maxResponseBytes int64
	limits           limits
	celEnv           *cel.Env
	celBounds        *celBounds
	programs         *programCache
	// observe, when set (tests only), is called as each node starts and ends.
	observe func(nodeEvent)
	tracer  trace.Tracer
}

// nodeEvent is a node starting (start true) or ending (with its error) for Engine.observe.
type nodeEvent struct {
	id    string
	start bool
	err   error
}

var _ Executor = (*Engine)(nil)

// New returns an Engine with cfg's defaults filled in.
func New(cfg Config) *Engine {
	client := cfg.HTTPClient
	if client == nil {
		client = newHTTPClient(cfg.Egress)
	}
	lim := newLimits(&cfg)
	env := newCELEnv(lim.celMaxList)
	bounds, err := newCELBounds(env, lim.celMaxString, lim.celMaxList)
	if err != nil {
		// The bounded overloads are constants of celbounds.go: failing here is a programming error.
		panic("engine: CEL bounds: " + err.Error())
	}
	return &Engine{
		maxParallel:      cmp.Or(max(cfg.MaxParallelNodes, 0), DefaultMaxParallelNodes),
		httpClient:       client,
		maxResponseBytes: cmp.Or(max(cfg.MaxResponseBytes, 0), DefaultMaxResponseBytes),
		limits:           lim,
		celEnv:           env,
		celBounds:        bounds,
		programs:         newProgramCache(cmp.Or(max(cfg.ProgramCacheSize, 0), DefaultProgramCacheSize)),
		tracer:           cmp.Or[trace.TracerProvider](cfg.TracerProvider, otel.GetTracerProvider()).Tracer("github.com/workflow-runtime/workflow-runtime/internal/engine"),
	}
}

// NodeTypes returns the node types the reference engine runs, sorted. They match
// deployments.DefaultNodeTypes.
func NodeTypes() []string {
	return []string{typeDelay, typeHTTP, typeNoop, typeTransform}
}

// nodeResult is what a node goroutine reports to the scheduler.
type nodeResult struct {
	index  int
	output any
	size   int64 // the output's JSON size (an upper bound)
	err    error
}

// Execute runs req.Definition with req.Input. See Executor for the contract and doc.go for the
// semantics of the DAG and of each node type.
func (e *Engine) Execute(ctx context.Context, req *Request) (res *Result, err error) {
	ctx, span := e.tracer.Start(ctx, "engine.execute", trace.WithAttributes(
		attribute.String("wfr.execution.id", req.ExecutionID), attribute.String("wfr.workflow.id", req.WorkflowID),
		attribute.Int("wfr.execution.attempt", int(req.Attempt))))
	defer func() {
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case res != nil && res.Failure != nil:
			span.SetStatus(codes.Error, res.Failure.String())
		}
		span.End()
	}()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("execute %s: %w", req.ExecutionID, err)
	}
	ctx = withAttempt(ctx, req) // the http nodes' Idempotency-Key
	var input any
	if len(req.Input) > 0 {
		if err := json.Unmarshal(req.Input, &input); err != nil {
			return failed("", false, "input is not a JSON document: %v", err), nil
		}
	}
	g, fail := e.plan(&req.Definition)
	if fail != nil {
		return &Result{Failure: fail}, nil
	}
	outputs, fail, err := e.run(ctx, g, input, req.Trigger.celValue())
	if err != nil {
		return nil, fmt.Errorf("execute %s: %w", req.ExecutionID, err)
	}
	if fail != nil {
		return &Result{Failure: fail}, nil
	}
	sinks := make(map[string]any, len(g.nodes))
	for i, n := range g.nodes {
		if len(n.dependents) == 0 {
			sinks[n.id] = outputs[i]
		}
	}
	out, err := json.Marshal(sinks)
	if err != nil {
		return failed("", false, "encode output: %v", err), nil
	}
	return &Result{Output: out}, nil
}

// graph is a definition prepared to run: each node's step and the edges as indexes.
type graph struct {
	nodes []planNode
}

type planNode struct {
	id         string
	typ        string
	step       step
	deps       []int // indexes of the nodes this one depends on
	dependents []int // indexes of the nodes that depend on this one
}

// plan prepares every node (parses its params, compiles its expression) before any runs, so a
// definition with a bad node fails without side effects.
func (e *Engine) plan(d *deployments.Definition) (*graph, *Failure) {
	index := make(map[string]int, len(d.Nodes))
	for i, n := range d.Nodes {
		if _, dup := index[n.ID]; dup {
			return nil, &Failure{NodeID: n.ID, Message: "duplicate node id"}
		}
		index[n.ID] = i
	}
	g := &graph{nodes: make([]planNode, len(d.Nodes))}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		s, err := e.prepare(n)
		if err != nil {
			return nil, &Failure{NodeID: n.ID, Message: err.Error()}
		}
		g.nodes[i].id, g.nodes[i].typ, g.nodes[i].step = n.ID, n.Type, s
		for _, dep := range n.DependsOn {
			j, ok := index[dep]
			if !ok {
				return nil, &Failure{NodeID: n.ID, Message: fmt.Sprintf("depends on unknown node %q", dep)}
			}
			if j == i {
				return nil, &Failure{NodeID: n.ID, Message: "depends on itself"}
			}
			g.nodes[i].deps = append(g.nodes[i].deps, j)
			g.nodes[j].dependents = append(g.nodes[j].dependents, i)
		}
	}
	return g, nil
}

// run executes g: a node starts once all its dependencies have succeeded, at most maxParallel at a
// time, each in its own goroutine. The first node failure cancels the others; run returns only
// after every started node has returned. It returns the outputs by node index, or the failure,
// or the parent context's error.
func (e *Engine) run(parent context.Context, g *graph, input any, trigger map[string]any) ([]any, *Failure, error) {
	n := len(g.nodes)
	outputs := make([]any, n)
	if n == 0 {
		return outputs, nil, nil
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	pending := make([]int, n) // unfinished dependencies per node
	ready := make([]int, 0, n)
	for i := range g.nodes {
		pending[i] = len(g.nodes[i].deps)
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	results := make(chan nodeResult, n)
	running, done := 0, 0
	var fail *Failure
	var outputBytes int64 // the JSON size of the outputs so far, bounded by limits.maxOutput

	for done < n {
		for len(ready) > 0 && running < e.maxParallel && ctx.Err() == nil {
			if err := leaseExpired(ctx, g.nodes[ready[0]].id); err != nil {
				// No node starts once the lease is gone: another worker may run the
				// execution now. Those running end with their context.
				cancel()
				for ; running > 0; running-- {
					<-results
				}
				return nil, nil, err
			}
			i := ready[0]
			ready = ready[1:]
			running++
			in := &nodeInput{input: input, deps: depOutputs(g, i, outputs), trigger: trigger}
			go func() {
				if e.observe != nil {
					e.observe(nodeEvent{id: g.nodes[i].id, start: true})
				}
				nctx, span := e.tracer.Start(ctx, "engine.node "+g.nodes[i].id, trace.WithAttributes(
					attribute.String("wfr.node.id", g.nodes[i].id), attribute.String("wfr.node.type", g.nodes[i].typ)))
				out, err := g.nodes[i].step.run(nctx, in)
				var size int64
				if err == nil {
					size, err = e.limits.checkNodeOutput(out)
				}
				if err != nil {
					span.RecordError(err)
					span.SetStatus(codes.Error, err.Error())
				}
				span.End()
				if e.observe != nil {
					e.observe(nodeEvent{id: g.nodes[i].id, err: err})
				}
				results <- nodeResult{index: i, output: out, size: size, err: err}
			}()
		}
		if running == 0 {
			if err := parent.Err(); err != nil {
				return nil, nil, err
			}
			// Nothing runs and nothing can start: the rest of the graph waits on a cycle.
			return nil, &Failure{NodeID: g.nodes[firstUnfinished(pending)].id, Message: "the definition has a dependency cycle"}, nil
		}
		r := <-results
		running--
		if r.err != nil {
			fail = nodeFailure(g.nodes[r.index].id, r.err)
			break
		}
		if outputBytes += r.size; outputBytes > e.limits.maxOutput {
			fail = e.limits.outputsTooLarge(g.nodes[r.index].id)
			break
		}
		outputs[r.index] = r.output
		done++
		for _, j := range g.nodes[r.index].dependents {
			pending[j]--
			if pending[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if fail != nil {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
	}
	// A node that failed because the caller cancelled is the caller's cancellation, not a failure.
	if err := parent.Err(); err != nil {
		return nil, nil, err
	}
	if fail != nil {
		return nil, fail, nil
	}
	return outputs, nil, nil
}

// depOutputs is the deps variable of node i: its dependencies' outputs by id. Only the scheduler
// goroutine reads and writes outputs.
func depOutputs(g *graph, i int, outputs []any) map[string]any {
	deps := make(map[string]any, len(g.nodes[i].deps))
	for _, j := range g.nodes[i].deps {
		deps[g.nodes[j].id] = outputs[j]
	}
	return deps
}

func firstUnfinished(pending []int) int {
	for i, p := range pending {
		if p > 0 {
			return i
		}
	}
	return 0
}

// ErrLeaseExpired is the error of a run that stopped because the lease it runs under (lock.Hold,
// in the worker's process) had passed its deadline when a node was due to start. It matches
// lock.ErrLost: the execution is no longer this run's.
var ErrLeaseExpired = fmt.Errorf("lease expired before the next node: %w", lock.ErrLost)

// leaseExpired returns an error wrapping ErrLeaseExpired when ctx is held under a lease whose
// deadline has passed. The check reads the monotonic clock, so a process frozen past its lease
// (SIGSTOP, a long GC or VM pause) sees it the moment it wakes, before the renewal goroutine
// has had a chance to notice.
func leaseExpired(ctx context.Context, nodeID string) error {
	if dl, ok := lock.Deadline(ctx); ok && !time.Now().Before(dl) {
		return fmt.Errorf("node %s not started: %w", nodeID, ErrLeaseExpired)
	}
	return nil
}

func failed(nodeID string, retryable bool, format string, args ...any) *Result {
	return &Result{Failure: &Failure{NodeID: nodeID, Message: fmt.Sprintf(format, args...), Retryable: retryable}}
}
