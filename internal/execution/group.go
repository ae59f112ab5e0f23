package execution

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/workflow-runtime/workflow-runtime/internal/stack"
)

// group runs concurrent calls of one operation together (group commit): the calls that are
// waiting when a batch starts (at most max) are handed to one call of run, which answers each.
// Triggers use it (one INSERT and one round trip of XADDs for many executions) and so does the
// worker (one statement or Redis round trip per step for the executions at that step).
//
// No call waits for company: a call that finds the group idle starts it, and it runs the calls
// waiting at that moment, then the calls that arrived meanwhile, and so on until none is
// waiting; then it stops. A lone call is therefore one goroutine hop slower than calling run
// itself, and under load each batch holds the calls that arrived while the previous one ran.
//
// Each caller's ctx is honoured: a caller whose ctx ends gets ctx.Err() at once (its request
// may still be carried out, as when a ctx ends during a single call). A batch runs under the
// first caller's values until every caller in it has gone. A panic in run becomes each
// caller's error instead of taking the process down.
type group[Req, Res any] struct {
	name   string // what the batch does, for errors and logs
	max    int
	logger *slog.Logger
	// run answers reqs in order (len(out) == len(reqs)); an error answers all of them.
	run func(ctx context.Context, reqs []Req) ([]Res, error)

	mu      sync.Mutex
	waiting []*groupCall[Req, Res]
	running bool
	// joined, when set, is called with mu held each time a call joins the waiting ones, so a
	// test can wait for a batch to fill up instead of polling. Nil in the service.
	joined func()
}

// groupCall is one call waiting for its batch.
type groupCall[Req, Res any] struct {
	ctx  context.Context
	req  Req
	done chan struct{} // closed when res and err are set
	res  Res
	err  error
}

func newGroup[Req, Res any](name string, max int, logger *slog.Logger, run func(ctx context.Context, reqs []Req) ([]Res, error)) *group[Req, Res] {
	return &group[Req, Res]{name: name, max: max, logger: logger, run: run}
}

// do carries out req in the next batch and returns its answer.
func (g *group[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &groupCall[Req, Res]{ctx: ctx, req: req, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if g.joined != nil {
		g.joined()
	}
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

// loop runs batches while calls are waiting.
func (g *group[Req, Res]) loop() {
	stack.Reserve() // a new goroutine each time the group starts again, deep in pgx or go-redis
	for {
		g.mu.Lock()
		n := min(len(g.waiting), g.max)
		if n == 0 {
			g.running = false
			g.waiting = nil // do not keep a large buffer from a burst
			g.mu.Unlock()
			return
		}
		batch := make([]*groupCall[Req, Res], 0, n)
		for _, c := range g.waiting[:n] {
			if c.ctx.Err() == nil { // a caller that has gone needs no answer
				batch = append(batch, c)
			}
		}
		rest := copy(g.waiting, g.waiting[n:])
		clear(g.waiting[rest:])
		g.waiting = g.waiting[:rest]
		g.mu.Unlock()
		if len(batch) > 0 {
			g.runBatch(batch)
		}
	}
}

// runBatch runs one batch and answers its callers.
func (g *group[Req, Res]) runBatch(batch []*groupCall[Req, Res]) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	defer func() {
		// A panic here would take the process down (it is no request's goroutine, so the
		// recover interceptor does not see it); each caller gets it as an error instead.
		if v := recover(); v != nil {
			g.logger.ErrorContext(ctx, g.name+" batch panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			for _, c := range batch {
				var zero Res
				c.res, c.err = zero, fmt.Errorf("%s: panic: %v", g.name, v)
			}
		}
		for _, c := range batch {
			close(c.done)
		}
	}()
	reqs := make([]Req, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	out, err := g.run(ctx, reqs)
	if err == nil && len(out) != len(batch) {
		err = fmt.Errorf("%s: %d answers for %d requests", g.name, len(out), len(batch))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.res = out[i]
		}
	}
}

// batchContext returns the context a batch runs under: the first caller's values (its trace,
// for the statement's span), ended when every caller's ctx has ended, since then nobody waits
// for the answer.
func batchContext[Req, Res any](batch []*groupCall[Req, Res]) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, c := range batch {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
