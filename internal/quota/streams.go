package quota

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"
)

// StreamConfig configures a StreamLimiter. A zero bound is no bound.
type StreamConfig struct {
	// Max is the most streams of Procedures that run at once in this process.
	Max int
	// PerCaller is the most of them one caller may have open at once, so that no caller takes
	// every slot of Max.
	PerCaller int
	// Procedures are the limited streaming procedures, e.g. WatchExecutions'.
	Procedures []string
}

// StreamLimiter is a connect.Interceptor that bounds the long-lived streams (WatchExecutions)
// running at once, in all and per caller: a stream beyond either bound is refused with
// resource_exhausted before its handler runs; its slot is freed when the handler returns.
type StreamLimiter struct {
	cfg   StreamConfig
	procs map[string]bool

	mu       sync.Mutex
	total    int
	byCaller map[string]int
}

// NewStreamLimiter returns a StreamLimiter; nil when cfg has no bound.
func NewStreamLimiter(cfg StreamConfig) *StreamLimiter {
	if cfg.Max <= 0 && cfg.PerCaller <= 0 {
		return nil
	}
	l := &StreamLimiter{cfg: cfg, procs: map[string]bool{}, byCaller: map[string]int{}}
	for _, p := range cfg.Procedures {
		l.procs[p] = true
	}
	return l
}

// acquire takes a slot for caller, or says why there is none.
func (l *StreamLimiter) acquire(caller string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.total >= l.cfg.Max {
		return connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("this server has %d streams open, as many as it serves at once; retry later or on another replica", l.total))
	}
	if l.cfg.PerCaller > 0 && l.byCaller[caller] >= l.cfg.PerCaller {
		return connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("this caller has %d streams open on this server, the most it may; close one first", l.byCaller[caller]))
	}
	l.total++
	l.byCaller[caller]++
	return nil
}

func (l *StreamLimiter) release(caller string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byCaller[caller]--; l.byCaller[caller] <= 0 {
		delete(l.byCaller, caller)
	}
}

// Open is how many limited streams run.
func (l *StreamLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// WrapUnary implements connect.Interceptor: unary calls are not limited.
func (l *StreamLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

// WrapStreamingClient implements connect.Interceptor.
func (l *StreamLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (l *StreamLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if !l.procs[conn.Spec().Procedure] {
			return next(ctx, conn)
		}
		who := caller(ctx, conn.Peer())
		if err := l.acquire(who); err != nil {
			return err
		}
		defer l.release(who)
		return next(ctx, conn)
	}
}
