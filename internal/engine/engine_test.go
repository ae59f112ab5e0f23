package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
)

// testBundle is an Engine whose node starts and ends are recorded.
type testBundle struct {
	eng *Engine

	mu     sync.Mutex
	events []nodeEvent
	// started receives the id of each node as it starts (buffered; never blocks the engine).
	started chan string
	// ended receives each node's end event (buffered).
	ended chan nodeEvent
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	b := &testBundle{eng: New(cfg), started: make(chan string, 64), ended: make(chan nodeEvent, 64)}
	b.eng.observe = func(ev nodeEvent) {
		b.mu.Lock()
		b.events = append(b.events, ev)
		b.mu.Unlock()
		if ev.start {
			b.started <- ev.id
		} else {
			b.ended <- ev
		}
	}
	return b
}

// index returns the position of the start (or end) event of node id; -1 when absent.
func (b *testBundle) index(id string, start bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.IndexFunc(b.events, func(ev nodeEvent) bool { return ev.id == id && ev.start == start })
}

func node(id, typ string, params map[string]any, deps ...string) deployments.Node {
	return deployments.Node{ID: id, Type: typ, Params: params, DependsOn: deps}
}

func request(input string, nodes ...deployments.Node) *Request {
	req := &Request{
		ExecutionID: "0b9d1c57-5c4a-4a43-9d43-4c3b1f1f8a10",
		WorkflowID:  "wf",
		Revision:    1,
		Definition:  deployments.Definition{ID: "wf", Nodes: nodes},
		Attempt:     1,
	}
	if input != "" {
		req.Input = []byte(input)
	}
	return req
}

// output decodes a successful result's output.
func output(t *testing.T, res *Result) map[string]any {
	t.Helper()
	is := is.New(t)
	is.True(res.Failure == nil) // no failure
	var out map[string]any
	is.NoErr(json.Unmarshal(res.Output, &out))
	return out
}

func TestNodeTypesMatchDeployments(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(NodeTypes(), deployments.DefaultNodeTypes) // the deploy accepts exactly the engine's types
}

func TestEngineIndependentNodesOverlap(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	delay := map[string]any{"duration": "200ms"}

	res, err := b.eng.Execute(t.Context(), request("", node("a", "delay", delay), node("b", "delay", delay)))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"a": nil, "b": nil}) // both are sinks

	// Both started before either ended: the intervals overlap.
	for _, started := range []string{"a", "b"} {
		for _, ended := range []string{"a", "b"} {
			is.True(b.index(started, true) < b.index(ended, false)) // start before every end
		}
	}
}

func TestEngineMaxParallelNodes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{MaxParallelNodes: 1})
	delay := map[string]any{"duration": "1ms"}

	_, err := b.eng.Execute(t.Context(), request("", node("a", "delay", delay), node("b", "delay", delay)))
	is.NoErr(err)
	first, second := "a", "b"
	if b.index("b", true) < b.index("a", true) {
		first, second = "b", "a"
	}
	is.True(b.index(first, false) < b.index(second, true)) // with one slot the second waits for the first
}

func TestEngineDependencyOrderAndOutputs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	// a -> b, a -> c, (b, c) -> d
	res, err := b.eng.Execute(t.Context(), request(`{"name":"world","n":2}`,
		node("d", "transform", map[string]any{"expression": `{"joined": deps.b + " " + deps.c, "n": input.n}`}, "b", "c"),
		node("a", "noop", map[string]any{"value": map[string]any{"greeting": "hello"}}),
		node("b", "transform", map[string]any{"expression": `deps.a.greeting`}, "a"),
		node("c", "transform", map[string]any{"expression": `input.name`}, "a"),
	))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"d": map[string]any{"joined": "hello world", "n": 2.0}}) // only the sink

	is.True(b.index("a", false) < b.index("b", true)) // a before b
	is.True(b.index("a", false) < b.index("c", true)) // a before c
	is.True(b.index("b", false) < b.index("d", true)) // b before d
	is.True(b.index("c", false) < b.index("d", true)) // c before d
}

func TestEngineNoInputIsNull(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("t", "transform", map[string]any{"expression": `input == null`})))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"t": true})
}

func TestEngineEmptyDefinition(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request(""))
	is.NoErr(err)
	is.Equal(string(res.Output), "{}")
}

func TestEngineFailingNodeCancelsTheRest(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request(`{}`,
		node("slow", "delay", map[string]any{"duration": "1h"}),
		node("bad", "transform", map[string]any{"expression": `input.missing`}),
		node("after", "noop", nil, "bad"),
	))
	is.NoErr(err) // a failing node is a result, not an error
	is.True(res.Failure != nil)
	is.Equal(res.Failure.NodeID, "bad")
	is.True(!res.Failure.Retryable) // an expression error does not heal
	is.True(res.Output == nil)

	is.True(b.index("slow", false) >= 0) // the delay was stopped before Execute returned
	is.Equal(b.index("after", true), -1) // the dependent never started
	slowEnd := b.events[b.index("slow", false)]
	is.True(errors.Is(slowEnd.err, context.Canceled)) // stopped by the engine's cancellation
}

func TestEngineCancellationStopsLongDelay(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())

	go func() {
		<-b.started
		cancel()
	}()
	res, err := b.eng.Execute(ctx, request("", node("wait", "delay", map[string]any{"duration": "24h"})))
	is.True(res == nil)
	is.True(errors.Is(err, context.Canceled)) // the caller's cancellation, not a failure
	ev := <-b.ended
	is.True(errors.Is(ev.err, context.Canceled)) // the delay saw ctx end
}

func TestEngineDeadline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()

	_, err := b.eng.Execute(ctx, request("", node("wait", "delay", map[string]any{"duration": "24h"}), node("next", "noop", nil, "wait")))
	is.True(errors.Is(err, context.DeadlineExceeded))
	is.Equal(b.index("next", true), -1) // nothing starts after the deadline
}

func TestEngineAlreadyCancelled(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := b.eng.Execute(ctx, request("", node("a", "noop", nil)))
	is.True(errors.Is(err, context.Canceled))
}

func TestEngineCancelledBetweenNodes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	b.eng.observe = func(ev nodeEvent) {
		if ev.id == "first" && !ev.start {
			cancel() // the caller goes away while first returns successfully
		}
		if ev.id == "second" {
			t.Error("second started after cancellation")
		}
	}

	_, err := b.eng.Execute(ctx, request("", node("first", "noop", nil), node("second", "noop", nil, "first")))
	is.True(errors.Is(err, context.Canceled))
}

func TestEngineFailuresBeforeRunning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      *Request
		nodeID   string
		contains string
	}{
		{"invalid input", request(`{"a":`, node("a", "noop", nil)), "", "input is not a JSON document"},
		{"unknown type", request("", node("a", "noop", nil), node("b", "shell", nil)), "b", "unknown node type"},
		{"http without url", request("", node("a", "http", nil)), "a", "params.url: required"},
		{"bad duration", request("", node("a", "delay", map[string]any{"duration": "soon"})), "a", "params.duration"},
		{"expression does not compile", request("", node("a", "transform", map[string]any{"expression": "1 +"})), "a", "params.expression"},
		{"duplicate id", request("", node("a", "noop", nil), node("a", "noop", nil)), "a", "duplicate node id"},
		{"unknown dependency", request("", node("a", "noop", nil, "zzz")), "a", `unknown node "zzz"`},
		{"self dependency", request("", node("a", "noop", nil, "a")), "a", "depends on itself"},
		{"cycle", request("", node("root", "noop", nil), node("a", "noop", nil, "b"), node("b", "noop", nil, "a")), "a", "cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			b := setup(t, Config{})

			res, err := b.eng.Execute(t.Context(), tt.req)
			is.NoErr(err)
			is.True(res.Failure != nil)
			is.Equal(res.Failure.NodeID, tt.nodeID)
			is.True(!res.Failure.Retryable)
			is.True(strings.Contains(res.Failure.Message, tt.contains)) // message says why
			if tt.name != "cycle" {
				is.Equal(len(b.events), 0) // nothing ran
			}
		})
	}
}

func TestNoopValue(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("a", "noop", map[string]any{"value": []any{1.0, "x"}})))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"a": []any{1.0, "x"}})
}

func TestDelayZero(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request("", node("a", "delay", map[string]any{"duration": "0s"})))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"a": nil})
}

func TestFailureString(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal((&Failure{NodeID: "a", Message: "boom"}).String(), "node a: boom")
	is.Equal((&Failure{Message: "boom"}).String(), "boom")
}

func TestValidateParams(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	errs := b.eng.ValidateParams(&deployments.Definition{ID: "wf", Nodes: []deployments.Node{
		node("ok", "noop", nil),
		node("call", "http", map[string]any{"url": "ftp://example.com"}),
		node("wait", "delay", map[string]any{"duration": "25h"}),
		node("calc", "transform", map[string]any{"expression": "input +"}),
		node("odd", "shell", nil),
		node("fine", "http", map[string]any{"url": "https://example.com", "timeout": "5s", "method": "post"}),
	}})
	is.Equal(len(errs), 4)
	is.Equal([]int{errs[0].NodeIndex, errs[1].NodeIndex, errs[2].NodeIndex, errs[3].NodeIndex}, []int{1, 2, 3, 4})
	is.Equal([]string{errs[0].Param, errs[1].Param, errs[2].Param, errs[3].Param}, []string{"url", "duration", "expression", ""})
	is.Equal(errs[0].NodeID, "call")
	is.True(strings.Contains(errs[0].Error(), "nodes[1] (call): params.url:"))
	is.True(strings.Contains(errs[3].Error(), "nodes[4] (odd): unknown node type"))

	is.Equal(len(b.eng.ValidateParams(&deployments.Definition{Nodes: []deployments.Node{node("a", "noop", nil)}})), 0) // valid: none
}

func TestParamTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		node   deployments.Node
		param  string
		reason string
	}{
		{"duration not a string", node("a", "delay", map[string]any{"duration": 5.0}), "duration", "must be a duration string"},
		{"duration negative", node("a", "delay", map[string]any{"duration": "-1s"}), "duration", "between 0 and 24h"},
		{"delay without duration", node("a", "delay", nil), "duration", "required"},
		{"method not a string", node("a", "http", map[string]any{"url": "http://x", "method": 1.0}), "method", "must be a string"},
		{"method not a token", node("a", "http", map[string]any{"url": "http://x", "method": "GE T"}), "method", "not an HTTP method"},
		{"url not a string", node("a", "http", map[string]any{"url": true}), "url", "must be a string"},
		{"url relative", node("a", "http", map[string]any{"url": "/path"}), "url", "absolute"},
		{"url unparsable", node("a", "http", map[string]any{"url": "http://[::1"}), "url", "missing ']'"},
		{"headers not an object", node("a", "http", map[string]any{"url": "http://x", "headers": "h"}), "headers", "object of strings"},
		{"header not a string", node("a", "http", map[string]any{"url": "http://x", "headers": map[string]any{"X": 1.0}}), "headers", `"X" must be a string`},
		{"timeout zero", node("a", "http", map[string]any{"url": "http://x", "timeout": "0s"}), "timeout", "positive"},
		{"timeout bad", node("a", "http", map[string]any{"url": "http://x", "timeout": "x"}), "timeout", "invalid duration"},
		{"expression missing", node("a", "transform", nil), "expression", "required"},
		{"expression not a string", node("a", "transform", map[string]any{"expression": 1.0}), "expression", "must be a string"},
		{"expression too long", node("a", "transform", map[string]any{"expression": string(make([]byte, maxExpressionLen+1))}), "expression", "longer than"},
		{"expression undeclared variable", node("a", "transform", map[string]any{"expression": "nope + 1"}), "expression", "undeclared reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			errs := New(Config{}).ValidateParams(&deployments.Definition{Nodes: []deployments.Node{tt.node}})
			is.Equal(len(errs), 1)
			is.Equal(errs[0].Param, tt.param)
			is.True(strings.Contains(errs[0].Message, tt.reason)) // reason given
		})
	}
}

func BenchmarkEngineNoop(b *testing.B) {
	eng := New(Config{})
	req := request(`{"k":1}`, node("a", "noop", nil))
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		res, err := eng.Execute(ctx, req)
		if err != nil || res.Failure != nil {
			b.Fatal(err, res.Failure)
		}
	}
}

// BenchmarkEngineDAG runs a fan-out of eight noop nodes joined by a transform.
func BenchmarkEngineDAG(b *testing.B) {
	eng := New(Config{})
	nodes := []deployments.Node{node("root", "noop", map[string]any{"value": 1.0})}
	var leaves []string
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		nodes = append(nodes, node(id, "noop", map[string]any{"value": id}, "root"))
		leaves = append(leaves, id)
	}
	nodes = append(nodes, node("join", "transform", map[string]any{"expression": `deps.size() == 8 && input.k > 0`}, leaves...))
	req := request(`{"k":1}`, nodes...)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		res, err := eng.Execute(ctx, req)
		if err != nil || res.Failure != nil {
			b.Fatal(err, res.Failure)
		}
	}
}

func TestProgramCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	eng := New(Config{ProgramCacheSize: 2})
	compiles := 0
	compile := func(expr string) (cel.Program, error) {
		compiles++
		return eng.compile(expr)
	}

	for _, expr := range []string{"1", "2", "1", "3", "1", "2"} {
		_, err := eng.programs.get(expr, compile)
		is.NoErr(err)
	}
	// "1" hit twice; "2" was evicted by "3" and compiled again.
	is.Equal(compiles, 4)
	is.Equal(eng.programs.len(), 2)

	_, err := eng.programs.get("1 +", compile)
	is.True(err != nil)
	_, err = eng.programs.get("1 +", compile)
	is.True(err != nil)
	is.Equal(compiles, 5) // compile errors are cached too
}

func TestTransformResultConversion(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})

	res, err := b.eng.Execute(t.Context(), request(`{"xs":[1,2,3]}`,
		node("t", "transform", map[string]any{"expression": `{"sum": math.greatest(input.xs), "big": input.xs.filter(x, x > 1), "d": duration("1m"), "b": b"hi"}`}),
	))
	is.NoErr(err)
	is.Equal(output(t, res), map[string]any{"t": map[string]any{"sum": 3.0, "big": []any{2.0, 3.0}, "d": "60s", "b": "aGk="}})
}

// quietManager answers every renewal after the test ends: the lease neither moves on nor is lost
// while the test looks at it.
type quietManager struct{ lock.Manager }

func (quietManager) Extend(ctx context.Context, _ *lock.Lease, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

// A run whose lease's deadline has passed starts no node, even before the renewal goroutine has
// noticed (a process frozen past its lease wakes up with the deadline already behind it).
func TestEngineStartsNoNodeAfterLeaseDeadline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{})
	expired := &lock.Lease{Key: "execution:x", Owner: "o", Fence: 1, TTL: time.Minute, Acquired: time.Now().Add(-2 * time.Minute)}
	ctx, stop := lock.Hold(t.Context(), quietManager{}, expired, 0)
	defer stop()

	_, err := b.eng.Execute(ctx, request("", node("first", "noop", nil), node("second", "noop", nil, "first")))
	is.True(errors.Is(err, ErrLeaseExpired)) // stopped for the lease
	is.True(errors.Is(err, lock.ErrLost))    // which the worker reads as a lost lease
	is.Equal(b.index("first", true), -1)     // no node started
	is.True(ctx.Err() == nil)                // the renewal goroutine had not cancelled the run

	live := &lock.Lease{Key: "execution:y", Owner: "o", Fence: 2, TTL: time.Minute, Acquired: time.Now()}
	ctx2, stop2 := lock.Hold(t.Context(), quietManager{}, live, 0)
	defer stop2()
	res, err := b.eng.Execute(ctx2, request("", node("first", "noop", nil), node("second", "noop", nil, "first")))
	is.NoErr(err)
	is.True(res.Failure == nil) // a live lease runs every node
}
