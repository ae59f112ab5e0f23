package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// Node types of the reference engine.
const (
	typeDelay     = "delay"
	typeHTTP      = "http"
	typeNoop      = "noop"
	typeTransform = "transform"
)

// maxDuration bounds the durations a node accepts (delay, http timeout).
const maxDuration = 24 * time.Hour

// nodeInput is what a running node sees: the trigger data and its dependencies' outputs.
type nodeInput struct {
	// input is the trigger data parsed as JSON; nil (JSON null) when there was none.
	input any
	// deps maps each dependency's node id to its output.
	deps map[string]any
	// trigger is the execution's Trigger as transform expressions see it (Trigger.celValue);
	// nil reads as a manual trigger with no times.
	trigger map[string]any
}

// step is a node prepared to run. run returns the node's output, a JSON value (nil, bool, float64,
// string, []any, map[string]any), or an error: a *nodeError for a failure of the node, or the
// context's error when ctx ended.
type step interface {
	run(ctx context.Context, in *nodeInput) (any, error)
}

// nodeError is a failure of a node.
type nodeError struct {
	msg       string
	retryable bool
}

func (e *nodeError) Error() string { return e.msg }

func nodeErrorf(retryable bool, format string, args ...any) *nodeError {
	return &nodeError{msg: fmt.Sprintf(format, args...), retryable: retryable}
}

// nodeFailure turns the error of node id into a Failure. Context errors reach here only when the
// engine itself stopped the node; they are reported as retryable.
func nodeFailure(id string, err error) *Failure {
	if ne, ok := errors.AsType[*nodeError](err); ok {
		return &Failure{NodeID: id, Message: ne.msg, Retryable: ne.retryable}
	}
	return &Failure{NodeID: id, Message: err.Error(), Retryable: errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)}
}

// paramError is an invalid parameter of a node, found when the node is prepared.
type paramError struct {
	param string // the parameter's name; empty for the node as a whole (its type)
	msg   string
}

func (e *paramError) Error() string {
	if e.param == "" {
		return e.msg
	}
	return fmt.Sprintf("params.%s: %s", e.param, e.msg)
}

func paramErrorf(param, format string, args ...any) *paramError {
	return &paramError{param: param, msg: fmt.Sprintf(format, args...)}
}

// prepare checks n's params and returns the step that runs it.
func (e *Engine) prepare(n *deployments.Node) (step, error) {
	switch n.Type {
	case typeNoop:
		return noopStep{value: n.Params["value"]}, nil
	case typeDelay:
		d, err := durationParam(n.Params, "duration", -1)
		if err != nil {
			return nil, err
		}
		return delayStep{d: d}, nil
	case typeHTTP:
		return e.prepareHTTP(n.Params)
	case typeTransform:
		return e.prepareTransform(n.Params)
	default:
		return nil, paramErrorf("", "unknown node type %q (known: %v)", n.Type, NodeTypes())
	}
}

// noopStep outputs params.value, or null.
type noopStep struct {
	value any
}

func (s noopStep) run(context.Context, *nodeInput) (any, error) { return s.value, nil }

// delayStep waits d, or until ctx ends. Its output is null.
type delayStep struct {
	d time.Duration
}

func (s delayStep) run(ctx context.Context, _ *nodeInput) (any, error) {
	if s.d <= 0 {
		return nil, ctx.Err()
	}
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// durationParam reads a Go duration string between 0 and 24h. With def < 0 it is required;
// otherwise def is the default.
func durationParam(params map[string]any, name string, def time.Duration) (time.Duration, error) {
	v, ok := params[name]
	if !ok || v == nil {
		if def < 0 {
			return 0, paramErrorf(name, "required: a duration such as \"250ms\" or \"1m30s\"")
		}
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, paramErrorf(name, "must be a duration string such as \"250ms\", got %T", v)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, paramErrorf(name, "%v", err)
	}
	if d < 0 || d > maxDuration {
		return 0, paramErrorf(name, "must be between 0 and 24h, got %s", s)
	}
	return d, nil
}

// stringParam reads an optional string parameter.
func stringParam(params map[string]any, name string) (string, bool, error) {
	v, ok := params[name]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, paramErrorf(name, "must be a string, got %T", v)
	}
	return s, true, nil
}
