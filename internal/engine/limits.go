package engine

import (
	"cmp"
	"fmt"
	"time"
)

// Defaults of the bounds in Config. Together they bound the memory of one execution: at most
// DefaultMaxOutputBytes of retained node outputs (as JSON; the decoded Go values take a small
// multiple of that), plus, per running transform node, what its evaluation builds within the cost
// limit and the string and list limits, for at most DefaultCELTimeout. docs/configuration.md,
// "Engine", has the figures.
const (
	DefaultMaxNodeOutputBytes = 1 << 20
	DefaultMaxOutputBytes     = 4 << 20
	DefaultCELTimeout         = time.Second
	DefaultCELCostLimit       = 1_000_000
	DefaultCELMaxStringBytes  = 1 << 20
	DefaultCELMaxListItems    = 100_000
)

// limits are Config's bounds with the defaults filled in.
type limits struct {
	maxNodeOutput int64
	maxOutput     int64
	celTimeout    time.Duration
	celCost       uint64
	celMaxString  int
	celMaxList    int
}

func newLimits(cfg *Config) limits {
	return limits{
		maxNodeOutput: cmp.Or(max(cfg.MaxNodeOutputBytes, 0), DefaultMaxNodeOutputBytes),
		maxOutput:     cmp.Or(max(cfg.MaxOutputBytes, 0), DefaultMaxOutputBytes),
		celTimeout:    cmp.Or(max(cfg.CELTimeout, 0), DefaultCELTimeout),
		celCost:       cmp.Or(cfg.CELCostLimit, DefaultCELCostLimit),
		celMaxString:  cmp.Or(max(cfg.CELMaxStringBytes, 0), DefaultCELMaxStringBytes),
		celMaxList:    cmp.Or(max(cfg.CELMaxListItems, 0), DefaultCELMaxListItems),
	}
}

// outputTooLarge is the failure of a node whose output is larger than the node output limit. It
// is not retryable: the same node on the same data produces the same output.
func outputTooLarge(limit int64) *nodeError {
	return nodeErrorf(false, "output too large: its JSON is more than the limit of %d bytes per node output", limit)
}

// checkNodeOutput measures a node's output against the node output limit: its JSON size, or the
// failure.
func (l *limits) checkNodeOutput(out any) (int64, error) {
	size := jsonSize(out, l.maxNodeOutput)
	if size > l.maxNodeOutput {
		return 0, outputTooLarge(l.maxNodeOutput)
	}
	return size, nil
}

// outputsTooLarge is the failure of an execution whose node outputs together are larger than the
// execution output limit; node is the node whose output crossed it.
func (l *limits) outputsTooLarge(node string) *Failure {
	return &Failure{NodeID: node, Message: fmt.Sprintf(
		"output too large: the outputs of the execution's nodes together are more than the limit of %d bytes of JSON per execution", l.maxOutput)}
}
