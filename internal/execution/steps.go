package execution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
)

// stepBatch is the most executions one grouped worker step carries.
const stepBatch = 128

// StepStore is what the worker's grouped steps need of storage: load, claim and finish
// executions, one at a time or many in one statement.
type StepStore interface {
	// ExecutionGet returns one execution; errdefs.ErrNotFound when there is none.
	ExecutionGet(ctx context.Context, id string) (*Execution, error)
	// ExecutionGetMany is ExecutionGet for several ids in one statement: the executions found,
	// by id (an id without a row, or not a UUID, is absent).
	ExecutionGetMany(ctx context.Context, ids []string) (map[string]*Execution, error)
	// ExecutionClaim moves a RUNNING execution, or a PENDING one that is due (available_at not
	// after now), to RUNNING under fence, adds one to attempt (and to deaths when it was
	// RUNNING: the run before never recorded an outcome) and sets started_at, only when its
	// stored fencing token is smaller than fence (or unset). errdefs.ErrConflict otherwise
	// (terminal, not due yet, missing, or a newer owner holds it).
	ExecutionClaim(ctx context.Context, id string, fence int64, now time.Time) (*Execution, error)
	// ExecutionClaimMany is ExecutionClaim for several rows in one statement: out[i] is the
	// claimed row of ps[i], nil where ExecutionClaim would have said errdefs.ErrConflict. When
	// two params name one row, at most one of them (the larger fence) claims it. The error is
	// for the batch as a whole.
	ExecutionClaimMany(ctx context.Context, ps []ClaimParams) ([]*Execution, error)
	// ExecutionFinish writes a terminal status, output and error, only while the row is RUNNING
	// under fence. errdefs.ErrConflict otherwise.
	ExecutionFinish(ctx context.Context, p *FinishParams) error
	// ExecutionFinishMany is ExecutionFinish for several rows in one statement: ok[i] reports
	// whether ps[i] was written (false where ExecutionFinish would have said
	// errdefs.ErrConflict). The error is for the batch as a whole.
	ExecutionFinishMany(ctx context.Context, ps []*FinishParams) (ok []bool, err error)
}

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

func newSteps(store StepStore, locker lock.Manager, q WorkerQueue, ttl time.Duration, logger *slog.Logger) *steps {
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
					out[i].err = fmt.Errorf("get execution %s: %w", id, errdefs.ErrNotFound)
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
				if errors.Is(err, errdefs.ErrConflict) {
					err = nil // nil row: the conflict, as ExecutionClaimMany says it
				}
				return []*Execution{e}, err
			}
			return store.ExecutionClaimMany(ctx, ps)
		}),
		finish: newGroup("record outcomes", stepBatch, logger, func(ctx context.Context, ps []*FinishParams) ([]bool, error) {
			if len(ps) == 1 {
				err := store.ExecutionFinish(ctx, ps[0])
				if errors.Is(err, errdefs.ErrConflict) {
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

// getExecution is StepStore.ExecutionGet.
func (s *steps) getExecution(ctx context.Context, id string) (*Execution, error) {
	r, err := s.get.do(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.e, r.err
}

// acquireLease is lock.Manager.Acquire with the worker's TTL.
func (s *steps) acquireLease(ctx context.Context, key string) (*lock.Lease, error) {
	r, err := s.acquire.do(ctx, key)
	if err != nil {
		return nil, err
	}
	return r.l, r.err
}

// claimExecution is StepStore.ExecutionClaim.
func (s *steps) claimExecution(ctx context.Context, id string, fence int64, now time.Time) (*Execution, error) {
	e, err := s.claim.do(ctx, ClaimParams{ID: id, Fence: fence, Now: now})
	if err != nil {
		return nil, fmt.Errorf("claim execution %s: %w", id, err)
	}
	if e == nil {
		return nil, fmt.Errorf("claim execution %s with fence %d: %w", id, fence, errdefs.ErrConflict)
	}
	return e, nil
}

// finishExecution is StepStore.ExecutionFinish.
func (s *steps) finishExecution(ctx context.Context, p *FinishParams) error {
	ok, err := s.finish.do(ctx, p)
	if err != nil {
		return fmt.Errorf("finish execution %s as %s: %w", p.ID, p.Status, err)
	}
	if !ok {
		return fmt.Errorf("finish execution %s as %s: %w", p.ID, p.Status, errdefs.ErrConflict)
	}
	return nil
}

// releaseLease is lock.Manager.Release.
func (s *steps) releaseLease(ctx context.Context, l *lock.Lease) error {
	err, berr := s.release.do(ctx, l)
	if berr != nil {
		return berr
	}
	return err
}

// ackMessage is WorkerQueue.Ack of one message.
func (s *steps) ackMessage(ctx context.Context, id string) error {
	_, err := s.ack.do(ctx, id)
	return err
}
