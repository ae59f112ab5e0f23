package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
)

// stepBatch is the most executions one grouped worker step carries.
const stepBatch = 128

// steps groups the storage and Redis operations that the worker's concurrent executions make
// at the same step of their path (see group): the executions that are loading their rows at
// once are read by one SELECT, those taking their leases by one Redis round trip, those being
// claimed by one UPDATE, and so on. A lone execution makes the single-row call. Each method
// answers as the single call it stands for would have, so the worker's logic reads as if each
// execution were alone.
type steps struct {
	get     *group[string, getResult]
	acquire *group[string, leaseResult]
	claim   *group[ClaimParams, *Execution]
	finish  *group[*FinishParams, bool]
	release *group[*lock.Lease, error]
	ack     *group[string, struct{}]
}

type getResult struct {
	e   *Execution
	err error
}

type leaseResult struct {
	l   *lock.Lease
	err error
}

func newSteps(store Store, locker Locker, q Queue, ttl time.Duration, logger *slog.Logger) *steps {
	return &steps{
		get: newGroup("load executions", stepBatch, logger, func(ctx context.Context, ids []string) ([]getResult, error) {
			if len(ids) == 1 {
				e, err := store.ExecutionGet(ctx, ids[0])
				return []getResult{{e, err}}, nil
			}
			found, err := store.ExecutionGetMany(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make([]getResult, len(ids))
			for i, id := range ids {
				if out[i].e = found[id]; out[i].e == nil {
					out[i].err = fmt.Errorf("get execution %s: %w", id, apperr.ErrNotFound)
				}
			}
			return out, nil
		}),
		acquire: newGroup("acquire leases", stepBatch, logger, func(ctx context.Context, keys []string) ([]leaseResult, error) {
			if len(keys) == 1 {
				l, err := locker.Acquire(ctx, keys[0], ttl)
				return []leaseResult{{l, err}}, nil
			}
			leases, errs := locker.AcquireMany(ctx, keys, ttl)
			out := make([]leaseResult, len(keys))
			for i := range keys {
				out[i] = leaseResult{leases[i], errs[i]}
			}
			return out, nil
		}),
		claim: newGroup("claim executions", stepBatch, logger, func(ctx context.Context, ps []ClaimParams) ([]*Execution, error) {
			if len(ps) == 1 {
				e, err := store.ExecutionClaim(ctx, ps[0].ID, ps[0].Fence, ps[0].Now)
				if errors.Is(err, apperr.ErrConflict) {
					err = nil // nil row: the conflict, as ExecutionClaimMany says it
				}
				return []*Execution{e}, err
			}
			return store.ExecutionClaimMany(ctx, ps)
		}),
		finish: newGroup("record outcomes", stepBatch, logger, func(ctx context.Context, ps []*FinishParams) ([]bool, error) {
			if len(ps) == 1 {
				err := store.ExecutionFinish(ctx, ps[0])
				if errors.Is(err, apperr.ErrConflict) {
					return []bool{false}, nil
				}
				return []bool{err == nil}, err
			}
			return store.ExecutionFinishMany(ctx, ps)
		}),
		release: newGroup("release leases", stepBatch, logger, func(ctx context.Context, ls []*lock.Lease) ([]error, error) {
			if len(ls) == 1 {
				return []error{locker.Release(ctx, ls[0])}, nil
			}
			return locker.ReleaseMany(ctx, ls), nil
		}),
		ack: newGroup("acknowledge messages", stepBatch, logger, func(ctx context.Context, ids []string) ([]struct{}, error) {
			return make([]struct{}, len(ids)), q.Ack(ctx, ids...)
		}),
	}
}

// getExecution is Store.ExecutionGet.
func (s *steps) getExecution(ctx context.Context, id string) (*Execution, error) {
	r, err := s.get.do(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.e, r.err
}

// acquireLease is Locker.Acquire with the worker's TTL.
func (s *steps) acquireLease(ctx context.Context, key string) (*lock.Lease, error) {
	r, err := s.acquire.do(ctx, key)
	if err != nil {
		return nil, err
	}
	return r.l, r.err
}

// claimExecution is Store.ExecutionClaim.
func (s *steps) claimExecution(ctx context.Context, id string, fence int64, now time.Time) (*Execution, error) {
	e, err := s.claim.do(ctx, ClaimParams{ID: id, Fence: fence, Now: now})
	if err != nil {
		return nil, fmt.Errorf("claim execution %s: %w", id, err)
	}
	if e == nil {
		return nil, fmt.Errorf("claim execution %s with fence %d: %w", id, fence, apperr.ErrConflict)
	}
	return e, nil
}

// finishExecution is Store.ExecutionFinish.
func (s *steps) finishExecution(ctx context.Context, p *FinishParams) error {
	ok, err := s.finish.do(ctx, p)
	if err != nil {
		return fmt.Errorf("finish execution %s as %s: %w", p.ID, p.Status, err)
	}
	if !ok {
		return fmt.Errorf("finish execution %s as %s: %w", p.ID, p.Status, apperr.ErrConflict)
	}
	return nil
}

// releaseLease is Locker.Release.
func (s *steps) releaseLease(ctx context.Context, l *lock.Lease) error {
	err, berr := s.release.do(ctx, l)
	if berr != nil {
		return berr
	}
	return err
}

// ackMessage is Queue.Ack of one message.
func (s *steps) ackMessage(ctx context.Context, id string) error {
	_, err := s.ack.do(ctx, id)
	return err
}
