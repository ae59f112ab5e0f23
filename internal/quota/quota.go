// Package quota keeps one caller from starving the others: a token-bucket rate limit per caller
// on the RPCs that create work (TriggerWorkflow), answered with resource_exhausted and a
// google.rpc.RetryInfo detail saying when to try again; and a bound on the long-lived streams
// (WatchExecutions) open at once, in all and per caller (StreamLimiter, streams.go).
//
// A caller is the bearer token's name when authentication is on (auth.IdentityFrom), and the
// client's IP address otherwise. Buckets of callers idle for longer than it takes to refill are
// dropped, so the map stays as small as the set of active callers.
package quota

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/workflow-runtime/workflow-runtime/internal/auth"
)

// Config configures a Limiter.
type Config struct {
	// Rate is the sustained calls per second each caller may make. 0 turns the limit off.
	Rate float64
	// Burst is how many calls a caller may make at once after being idle. Default 2 × Rate
	// (at least 1).
	Burst int
	// Procedures are the limited procedures, e.g. TriggerWorkflow's.
	Procedures []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter is a connect.Interceptor that limits cfg.Procedures per caller.
type Limiter struct {
	cfg   Config
	procs map[string]bool

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// New returns a Limiter; nil when cfg.Rate is 0 (no limit).
func New(cfg Config) *Limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(int(2*cfg.Rate), 1)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, procs: map[string]bool{}, buckets: map[string]*rate.Limiter{}, swept: cfg.Now()}
	for _, p := range cfg.Procedures {
		l.procs[p] = true
	}
	return l
}

// Allow takes one call of caller from its bucket; when the bucket is empty it returns how long
// until a call would be allowed.
func (l *Limiter) Allow(caller string) (bool, time.Duration) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[caller]
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
		l.buckets[caller] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // not taken: the caller is told to come back
		return false, d
	}
	return true, 0
}

// sweep drops, at most once per refill time, the buckets that are full again: a new bucket is
// the same. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	refill := time.Duration(float64(l.cfg.Burst) / l.cfg.Rate * float64(time.Second))
	if now.Sub(l.swept) < refill {
		return
	}
	l.swept = now
	for caller, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.cfg.Burst) {
			delete(l.buckets, caller)
		}
	}
}

// Len is the number of callers with a bucket.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// caller names who makes the request: the token's name, else the client's IP.
func caller(ctx context.Context, peer connect.Peer) string {
	if id := auth.IdentityFrom(ctx); id != nil {
		return "token:" + id.Name
	}
	host, _, err := net.SplitHostPort(peer.Addr)
	if err != nil {
		host = peer.Addr
	}
	return "ip:" + host
}

func (l *Limiter) check(ctx context.Context, procedure string, peer connect.Peer) error {
	if !l.procs[procedure] {
		return nil
	}
	ok, wait := l.Allow(caller(ctx, peer))
	if ok {
		return nil
	}
	err := connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("rate limit of %g calls per second (burst %d) exceeded; retry in %s", l.cfg.Rate, l.cfg.Burst, wait.Round(time.Millisecond)))
	if detail, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		err.AddDetail(detail)
	}
	return err
}

// WrapUnary implements connect.Interceptor.
func (l *Limiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			if err := l.check(ctx, req.Spec().Procedure, req.Peer()); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (l *Limiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (l *Limiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := l.check(ctx, conn.Spec().Procedure, conn.Peer()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
