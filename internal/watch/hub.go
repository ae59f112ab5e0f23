package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// Store reads what the watches send. store.DB implements it.
type Store interface {
	ExecutionGet(ctx context.Context, id string) (*execution.Execution, error)
	ExecutionGetMany(ctx context.Context, ids []string) (map[string]*execution.Execution, error)
	// ExecutionListUpdated returns a deployment's executions updated at or after p.Since, in
	// (updated_at, id) order, after p.After, at most p.Limit.
	ExecutionListUpdated(ctx context.Context, p *UpdatedListParams) ([]*execution.Execution, error)
	// ExecutionListUnfinished returns a deployment's PENDING and RUNNING executions by id, after
	// p.AfterID, at most p.Limit.
	ExecutionListUnfinished(ctx context.Context, p *UnfinishedListParams) ([]*execution.Execution, error)
}

// UpdatedListParams selects one page of a deployment's executions by update time.
type UpdatedListParams struct {
	DeploymentID string
	// Since is the earliest updated_at listed.
	Since time.Time
	// After is the last row of the previous page; zero for the first.
	After Position
	Limit int
}

// Position is a place in the (updated_at, id) order.
type Position struct {
	UpdatedAt time.Time
	ID        string
}

// IsZero reports whether p is the start.
func (p Position) IsZero() bool { return p.ID == "" }

// UnfinishedListParams selects one page of a deployment's PENDING and RUNNING executions.
type UnfinishedListParams struct {
	DeploymentID string
	// AfterID is the last id of the previous page; "" for the first.
	AfterID string
	Limit   int
}

// Subscriber delivers what is published on a channel and says when some of it may have been
// lost. notify.Redis and notify.Local implement it.
type Subscriber interface {
	SubscribeWithGaps(ctx context.Context, channel string, fn func(payload string), gap func()) (unsubscribe func(), err error)
}

// Config configures a Hub. Every field has a default.
type Config struct {
	// ResyncInterval is how often a watch reads again what it may have missed. Default 5s.
	ResyncInterval time.Duration
	// ResyncOverlap is how far before the previous resync a watch by deployment reads again: a
	// change whose updated_at is earlier than its commit (a writer's clock behind, a slow
	// write) is still found. Default 10s.
	ResyncOverlap time.Duration
	// PageSize is the most executions one read returns. Default 500.
	PageSize int
	// MaxDirty is the most executions a watch keeps to read again; beyond, it resyncs instead.
	// Default 10000.
	MaxDirty int
	// Linger is how long the subscription is kept after the last watch ends, so that watches
	// one after the other do not subscribe each time. Default 1m.
	Linger time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// ErrStopped ends the watches of a stopping hub (the server shuts down): watch again, on
// another replica.
var ErrStopped = errors.New("the server is shutting down; watch again")

// Hub runs the watches of one process. Build it with New; Stop ends every watch.
type Hub struct {
	store Store
	sub   Subscriber
	cfg   Config

	subMu       sync.Mutex // guards the subscription's fields
	refs        int        // running watches
	unsubscribe func()     // nil when not subscribed
	idle        *time.Timer
	stopped     bool

	mu           sync.Mutex // guards the watch sets
	byExecution  map[string]map[*watcher]struct{}
	byDeployment map[string]map[*watcher]struct{}

	quit chan struct{} // closed by Stop
}

// New returns a Hub reading store and subscribing with sub.
func New(store Store, sub Subscriber, cfg Config) *Hub {
	cfg.ResyncInterval = cmp.Or(cfg.ResyncInterval, 5*time.Second)
	cfg.ResyncOverlap = cmp.Or(cfg.ResyncOverlap, 10*time.Second)
	cfg.PageSize = cmp.Or(cfg.PageSize, 500)
	cfg.MaxDirty = cmp.Or(cfg.MaxDirty, 10_000)
	cfg.Linger = cmp.Or(cfg.Linger, time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hub{
		store: store, sub: sub, cfg: cfg,
		byExecution:  map[string]map[*watcher]struct{}{},
		byDeployment: map[string]map[*watcher]struct{}{},
		quit:         make(chan struct{}),
	}
}

// Stop ends every watch with ErrStopped and refuses new ones. Idempotent.
func (h *Hub) Stop() {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.stopped {
		return
	}
	h.stopped = true
	close(h.quit)
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	if h.refs == 0 && h.unsubscribe != nil {
		h.unsubscribe()
		h.unsubscribe = nil
	} // else the last watch to end unsubscribes
}

// Watches is how many watches run.
func (h *Hub) Watches() int {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	return h.refs
}

// acquire counts one more watch, subscribing first when there is no subscription.
func (h *Hub) acquire(ctx context.Context) error {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.stopped {
		return ErrStopped
	}
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	if h.unsubscribe == nil {
		unsubscribe, err := h.sub.SubscribeWithGaps(ctx, execution.ChangedChannel, h.dispatch, h.gap)
		if err != nil {
			return fmt.Errorf("follow execution changes: %w: %w", errdefs.ErrUnavailable, err)
		}
		h.unsubscribe = unsubscribe
	}
	h.refs++
	return nil
}

// release counts one watch less; after the last, the subscription ends Linger later (at once
// when the hub is stopped).
func (h *Hub) release() {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.refs--
	if h.refs > 0 || h.unsubscribe == nil {
		return
	}
	if h.stopped {
		h.unsubscribe()
		h.unsubscribe = nil
		return
	}
	h.idle = time.AfterFunc(h.cfg.Linger, h.unsubscribeIdle)
}

// unsubscribeIdle ends the subscription when still no watch runs.
func (h *Hub) unsubscribeIdle() {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.refs == 0 && h.unsubscribe != nil {
		h.unsubscribe()
		h.unsubscribe = nil
	}
}

// dispatch marks the executions a payload names dirty in the watches that follow them.
func (h *Hub) dispatch(payload string) {
	changes := execution.ParseChanges(payload)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range changes {
		for w := range h.byExecution[c.ExecutionID] {
			w.mark(c.ExecutionID)
		}
		for w := range h.byDeployment[c.DeploymentID] {
			w.mark(c.ExecutionID)
		}
	}
}

// gap makes every watch resync: the subscription may have missed changes.
func (h *Hub) gap() {
	h.cfg.Logger.Info("the subscription to execution changes was re-established; every watch resyncs")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range []map[string]map[*watcher]struct{}{h.byExecution, h.byDeployment} {
		for _, ws := range set {
			for w := range ws {
				w.requestResync()
			}
		}
	}
}

func (h *Hub) register(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set, key := h.byDeployment, w.q.DeploymentID
	if w.q.ExecutionID != "" {
		set, key = h.byExecution, w.q.ExecutionID
	}
	if set[key] == nil {
		set[key] = map[*watcher]struct{}{}
	}
	set[key][w] = struct{}{}
}

func (h *Hub) unregister(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set, key := h.byDeployment, w.q.DeploymentID
	if w.q.ExecutionID != "" {
		set, key = h.byExecution, w.q.ExecutionID
	}
	delete(set[key], w)
	if len(set[key]) == 0 {
		delete(set, key)
	}
}
