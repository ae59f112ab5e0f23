package runtime

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/cenkalti/backoff/v5"
)

// callPolicy is the connect interceptor every RPC of a Client passes: it adds the bearer
// token, gives a call without a deadline the default one, and retries the calls that are safe
// to repeat (retrySafe) after errors worth repeating them for (retryable).
type callPolicy struct {
	token   string
	timeout time.Duration
	retry   RetryPolicy
}

var _ connect.Interceptor = (*callPolicy)(nil)

// WrapUnary implements connect.Interceptor.
func (p *callPolicy) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if p.token != "" {
			req.Header().Set("Authorization", "Bearer "+p.token)
		}
		ctx, cancel := p.withTimeout(ctx)
		defer cancel()
		if !retrySafe(req.Spec(), req.Any()) {
			return next(ctx, req)
		}
		return retry(ctx, p.retry, func() (connect.AnyResponse, error) { return next(ctx, req) })
	}
}

// WrapStreamingClient implements connect.Interceptor: streams get the token, neither a
// default deadline (a watch lasts as long as its context) nor retries.
func (p *callPolicy) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if p.token != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+p.token)
		}
		return conn
	}
}

// WrapStreamingHandler implements connect.Interceptor; a client has no handlers.
func (p *callPolicy) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// withTimeout gives ctx the default deadline unless it has one already.
func (p *callPolicy) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || p.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, p.timeout)
}

// retrySafe reports whether a call may be sent again after a failure, when the first attempt
// may have reached the server and done its work: reads (NO_SIDE_EFFECTS) and calls the proto
// declares IDEMPOTENT (BackfillDeployment) always; any other call only when its request
// carries an idempotency key (TriggerWorkflow with idempotency_key: the server answers a
// repeat with the first execution, deduplicated). Deploy, Update, Delete and Cancel are never
// repeated.
func retrySafe(spec connect.Spec, msg any) bool {
	switch spec.IdempotencyLevel {
	case connect.IdempotencyNoSideEffects, connect.IdempotencyIdempotent:
		return true
	}
	keyed, ok := msg.(interface{ GetIdempotencyKey() string })
	return ok && keyed.GetIdempotencyKey() != ""
}

// retryable reports whether a failed call that is safe to repeat is worth repeating, and how
// long the server asked to wait first (0: the backoff decides). unavailable is (the service,
// a dependency of it or the network is down for a moment); resource_exhausted is when the
// server says when to come back (a RetryInfo detail: the trigger rate limit), and is not
// otherwise (a message over a size limit stays over it).
func retryable(err error) (bool, time.Duration) {
	rerr, ok := AsError(err)
	if !ok {
		return false, 0
	}
	switch rerr.Code {
	case connect.CodeUnavailable:
		return true, rerr.RetryDelay
	case connect.CodeResourceExhausted:
		return rerr.RetryDelay > 0, rerr.RetryDelay
	}
	return false, 0
}

// retry runs op until it succeeds, fails with an error retryable rejects, has run
// p.MaxAttempts times, or the next wait would pass ctx's deadline, waiting between attempts
// with exponential backoff and jitter (or the delay the server asked for). It returns op's
// last error, or ctx's (as a *connect.Error) when ctx ended while it waited.
func retry[T any](ctx context.Context, p RetryPolicy, op func() (T, error)) (T, error) {
	if p.MaxAttempts <= 1 {
		return op()
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.InitialBackoff
	b.MaxInterval = p.MaxBackoff
	opts := []backoff.RetryOption{
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(p.MaxAttempts)),
		backoff.WithMaxElapsedTime(0), // no limit of its own: the deadline below, or none
	}
	if deadline, ok := ctx.Deadline(); ok {
		// A wait that would end past the deadline is not started: the call ends with the
		// server's error rather than with deadline_exceeded.
		opts = append(opts, backoff.WithMaxElapsedTime(time.Until(deadline)))
	}
	var last error
	res, err := backoff.Retry(ctx, func() (T, error) {
		res, err := op()
		if err == nil {
			return res, nil
		}
		last = err
		ok, delay := retryable(err)
		switch {
		case !ok:
			return res, backoff.Permanent(err)
		case delay > 0:
			return res, &backoff.RetryAfterError{Duration: delay}
		}
		return res, err
	}, opts...)
	var retryAfter *backoff.RetryAfterError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &retryAfter):
		return res, last // attempts or time ran out after a RetryInfo: the server's error
	case ctx.Err() != nil:
		if c := connect.CodeOf(last); c == connect.CodeCanceled || c == connect.CodeDeadlineExceeded {
			return res, last
		}
		return res, contextError(ctx) // it ended while waiting for the next attempt
	}
	return res, err
}
