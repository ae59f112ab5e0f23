package backfill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// Scheduling is the scheduling work an operation is made of. scheduler.Service implements it:
// the range and its count, and one batch, through the code path of the synchronous backfill.
type Scheduling interface {
	BackfillRange(ctx context.Context, p *scheduler.BackfillParams) (*scheduler.BackfillRange, error)
	BackfillStep(ctx context.Context, p *scheduler.BackfillStepParams) (*scheduler.BackfillStepResult, error)
}

// ServiceConfig configures a Service. Every field has a default.
type ServiceConfig struct {
	// Now stamps operations. Default time.Now.
	Now func() time.Time
	// PageTokens signs List's page tokens. Default pagetoken.New(nil), the development key.
	PageTokens *pagetoken.Codec
	// Wake is called after an operation is created, so that this process's runner takes it at
	// once (Runner.Wake). Default: nothing; runners find it when they poll.
	Wake func()
}

// Service starts, reads, lists and cancels backfill operations: the API's side. The Runner
// makes their fires.
type Service struct {
	store  Store
	sched  Scheduling
	now    func() time.Time
	tokens *pagetoken.Codec
	wake   func()
}

// NewService returns a Service.
func NewService(store Store, sched Scheduling, cfg ServiceConfig) *Service {
	s := &Service{store: store, sched: sched, now: cfg.Now, tokens: cfg.PageTokens, wake: cfg.Wake}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokens == nil {
		s.tokens = pagetoken.New(nil)
	}
	if s.wake == nil {
		s.wake = func() {}
	}
	return s
}

// Start returns the RUNNING operation of p's deployment, trigger and range, or creates one:
// the range checked and counted as the synchronous backfill would (scheduler.BackfillRange),
// the cursor at its start. p.Limit plays no part beyond its check.
func (s *Service) Start(ctx context.Context, p *scheduler.BackfillParams) (*Operation, error) {
	if op, err := s.store.BackfillRunning(ctx, p.DeploymentID, p.TriggerID, p.Start, p.End); err == nil {
		return op, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	r, err := s.sched.BackfillRange(ctx, p)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	op, created, err := s.store.BackfillCreate(ctx, &Operation{
		ID:           uuid.Must(uuid.NewV7()).String(),
		DeploymentID: r.DeploymentID,
		WorkflowID:   r.WorkflowID,
		TriggerID:    r.TriggerID,
		Start:        r.Start,
		End:          r.End,
		Until:        r.Until,
		State:        StateRunning,
		Total:        r.Total,
		Cursor:       r.Start,
		CreatedAt:    now,
		UpdatedAt:    now,
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.wake()
	}
	return op, nil
}

// Get returns one operation; not found when there is none.
func (s *Service) Get(ctx context.Context, id string) (*Operation, error) {
	return s.store.BackfillGet(ctx, id)
}

// Cancel stops a RUNNING operation: it turns CANCELLED at once, and its runner stops after
// the batch it is making (which stays, and is counted). A finished operation is returned as it
// is.
func (s *Service) Cancel(ctx context.Context, id string) (*Operation, error) {
	return s.store.BackfillCancel(ctx, id, s.now())
}

// Page sizes of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListQuery selects a page of List.
type ListQuery struct {
	// DeploymentID filters; "" means every deployment.
	DeploymentID string
	// States filters; empty means all.
	States []State
	// PageSize defaults to DefaultPageSize and is capped at MaxPageSize.
	PageSize int
	// PageToken is the previous page's next token; "" for the first page.
	PageToken string
}

// listTokenKind names List's tokens for internal/pagetoken.
const listTokenKind = "backfill.operations"

// listCursor is the payload of a List page token: the last operation of the page.
type listCursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// listBinding is the canonical form of the filters a List token is bound to.
func listBinding(q *ListQuery) []byte {
	states := make([]string, len(q.States))
	for i, st := range q.States {
		states[i] = string(st)
	}
	states = slices.Compact(slices.Sorted(slices.Values(states)))
	return fmt.Appendf(nil, "d=%q\ns=%s", q.DeploymentID, strings.Join(states, ","))
}

// List returns one page of operations, newest first, and the token of the next page ("" on
// the last one). A token is refused with other filters than its page's.
func (s *Service) List(ctx context.Context, q ListQuery) ([]*Operation, string, error) {
	size := q.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	p := &ListParams{DeploymentID: q.DeploymentID, States: slices.Clone(q.States), Limit: size + 1}
	if q.PageToken != "" {
		var c listCursor
		if err := s.tokens.Decode(q.PageToken, listTokenKind, listBinding(&q), &c); err != nil {
			return nil, "", err
		}
		if c.ID == "" || c.CreatedAt.Year() < 1 || c.CreatedAt.Year() > 9999 {
			return nil, "", pagetoken.Invalid()
		}
		p.BeforeCreatedAt, p.BeforeID = c.CreatedAt.UTC(), c.ID
	}
	ops, err := s.store.BackfillList(ctx, p)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ops) > size {
		ops = ops[:size]
		last := ops[size-1]
		if next, err = s.tokens.Encode(listTokenKind, listBinding(&q), listCursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID}); err != nil {
			return nil, "", err
		}
	}
	return ops, next, nil
}
