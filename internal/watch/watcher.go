package watch

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// Query says what one watch follows: exactly one of ExecutionID and DeploymentID.
type Query struct {
	ExecutionID  string
	DeploymentID string
	// Statuses are the statuses sent; empty: all. The first state of a watch by execution is
	// sent whatever its status.
	Statuses []execution.Status
	// Heartbeat is how long the watch may send nothing before it sends an empty Event; 0: never.
	Heartbeat time.Duration
}

// Event is one message of a watch.
type Event struct {
	// Execution is the execution as read after a change; nil on a heartbeat and on the synced
	// mark of a watch by deployment.
	Execution *execution.Execution
	// Synced marks the end of the initial state (see WatchExecutionsResponse.synced).
	Synced bool
}

// Watch follows q, calling send (from this goroutine only) for each event, until ctx ends
// (ctx.Err()), the watched execution is terminal (nil, after sending it), send fails (its
// error), a read fails (its error: errdefs.ErrNotFound when the execution is gone), or the hub
// stops (ErrStopped).
func (h *Hub) Watch(ctx context.Context, q Query, send func(Event) error) error {
	if (q.ExecutionID == "") == (q.DeploymentID == "") {
		return errors.New("watch: exactly one of ExecutionID and DeploymentID")
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	w := &watcher{hub: h, q: q, send: send, poke: make(chan struct{}, 1), dirty: map[string]struct{}{}, sent: map[string]sentState{}}
	// Registered before the first read: a change committed after that read is marked dirty.
	h.register(w)
	defer h.unregister(w)
	return w.run(ctx)
}

// watcher is one running watch.
type watcher struct {
	hub  *Hub
	q    Query
	send func(Event) error
	poke chan struct{} // a value when dirty or resync is new

	mu     sync.Mutex
	dirty  map[string]struct{} // executions to read again
	resync bool                // read everything again instead

	sent   map[string]sentState // what was sent last, by execution id
	cursor time.Time            // start of the last resync (by deployment)
	beat   *time.Timer          // nil without heartbeats
}

// sentState is what a watch remembers of an execution it sent: its state, and when it was
// updated, to forget terminal ones that left the resync window.
type sentState struct {
	state     state
	updatedAt time.Time
}

// state is what a message would tell of an execution, besides updated_at (which a heartbeat
// or a sweep changes alone).
type state struct {
	status          execution.Status
	attempt         int32
	started         time.Time
	finished        time.Time
	cancelRequested bool
	errorHash       uint64
}

func stateOf(e *execution.Execution) state {
	h := fnv.New64a()
	_, _ = h.Write([]byte(e.Error))
	return state{
		status: e.Status, attempt: e.Attempt, started: e.StartedAt, finished: e.FinishedAt,
		cancelRequested: e.CancelRequested, errorHash: h.Sum64(),
	}
}

// mark notes that id changed.
func (w *watcher) mark(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.resync {
		return // the resync reads it
	}
	if len(w.dirty) >= w.hub.cfg.MaxDirty {
		clear(w.dirty)
		w.resync = true
	} else {
		w.dirty[id] = struct{}{}
	}
	w.wake()
}

// requestResync asks for a resync.
func (w *watcher) requestResync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resync = true
	clear(w.dirty)
	w.wake()
}

// wake pokes the watch's goroutine. w.mu is held.
func (w *watcher) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// take returns what is to be read and forgets it.
func (w *watcher) take() (ids []string, resync bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	resync, w.resync = w.resync, false
	for id := range w.dirty {
		ids = append(ids, id)
	}
	clear(w.dirty)
	slices.Sort(ids)
	return ids, resync
}

// errDone ends a watch by id after its terminal state was sent.
var errDone = errors.New("the execution is terminal")

func (w *watcher) run(ctx context.Context) error {
	if w.q.Heartbeat > 0 {
		w.beat = time.NewTimer(w.q.Heartbeat)
		defer w.beat.Stop()
	}
	err := w.start(ctx)
	resync := time.NewTicker(w.hub.cfg.ResyncInterval)
	defer resync.Stop()
	for err == nil {
		var beat <-chan time.Time
		if w.beat != nil {
			beat = w.beat.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.hub.quit:
			return ErrStopped
		case <-beat:
			err = w.emit(Event{})
			continue
		case <-resync.C:
			w.requestResync()
		case <-w.poke:
		}
		ids, full := w.take()
		switch {
		case full:
			err = w.resyncNow(ctx)
		case len(ids) > 0:
			err = w.read(ctx, ids)
		}
	}
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

// start sends the initial state: the execution (by id), or the deployment's unfinished and
// recently updated executions and the synced mark (by deployment).
func (w *watcher) start(ctx context.Context) error {
	if id := w.q.ExecutionID; id != "" {
		e, err := w.hub.store.ExecutionGet(ctx, id)
		if err != nil {
			return fmt.Errorf("watch execution %s: %w", id, err)
		}
		w.sent[id] = sentState{state: stateOf(e), updatedAt: e.UpdatedAt}
		if err := w.emit(Event{Execution: e, Synced: true}); err != nil {
			return err
		}
		if e.Status.Terminal() {
			return errDone
		}
		return nil
	}
	started := w.hub.cfg.Now()
	p := &UnfinishedListParams{DeploymentID: w.q.DeploymentID, Limit: w.hub.cfg.PageSize}
	for {
		page, err := w.hub.store.ExecutionListUnfinished(ctx, p)
		if err != nil {
			return fmt.Errorf("watch deployment %s: %w", w.q.DeploymentID, err)
		}
		for _, e := range page {
			if err := w.consider(e); err != nil {
				return err
			}
		}
		if len(page) < p.Limit {
			break
		}
		p.AfterID = page[len(page)-1].ID
	}
	if err := w.listUpdated(ctx, started.Add(-w.hub.cfg.ResyncOverlap)); err != nil {
		return err
	}
	w.cursor = started
	return w.emit(Event{Synced: true})
}

// resyncNow reads again everything the watch follows.
func (w *watcher) resyncNow(ctx context.Context) error {
	if w.q.ExecutionID != "" {
		return w.read(ctx, []string{w.q.ExecutionID})
	}
	started := w.hub.cfg.Now()
	since := w.cursor.Add(-w.hub.cfg.ResyncOverlap)
	if err := w.listUpdated(ctx, since); err != nil {
		return err
	}
	w.cursor = started
	// Terminal executions older than the window are read by no resync again: forget them.
	for id, s := range w.sent {
		if s.state.status.Terminal() && s.updatedAt.Before(since) {
			delete(w.sent, id)
		}
	}
	return nil
}

// listUpdated considers every execution of the deployment updated at or after since.
func (w *watcher) listUpdated(ctx context.Context, since time.Time) error {
	p := &UpdatedListParams{DeploymentID: w.q.DeploymentID, Since: since, Limit: w.hub.cfg.PageSize}
	for {
		page, err := w.hub.store.ExecutionListUpdated(ctx, p)
		if err != nil {
			return fmt.Errorf("resync watch of deployment %s: %w", w.q.DeploymentID, err)
		}
		for _, e := range page {
			if err := w.consider(e); err != nil {
				return err
			}
		}
		if len(page) < p.Limit {
			return nil
		}
		last := page[len(page)-1]
		p.After = Position{UpdatedAt: last.UpdatedAt, ID: last.ID}
	}
}

// read reads ids again and considers each.
func (w *watcher) read(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, w.hub.cfg.PageSize) {
		got, err := w.hub.store.ExecutionGetMany(ctx, chunk)
		if err != nil {
			return fmt.Errorf("read %d watched executions: %w", len(chunk), err)
		}
		if id := w.q.ExecutionID; id != "" && got[id] == nil {
			return fmt.Errorf("watch execution %s: it was deleted: %w", id, errdefs.ErrNotFound)
		}
		for _, id := range chunk {
			if e := got[id]; e != nil {
				if err := w.consider(e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// consider sends e when the watch follows it, its state was not sent yet and its status
// passes the filter; a watch by id ends after a terminal state.
func (w *watcher) consider(e *execution.Execution) error {
	if w.q.ExecutionID != "" && e.ID != w.q.ExecutionID || w.q.DeploymentID != "" && e.DeploymentID != w.q.DeploymentID {
		return nil
	}
	s := stateOf(e)
	if last, ok := w.sent[e.ID]; ok && last.state == s {
		return nil
	}
	w.sent[e.ID] = sentState{state: s, updatedAt: e.UpdatedAt}
	if len(w.q.Statuses) == 0 || slices.Contains(w.q.Statuses, e.Status) {
		if err := w.emit(Event{Execution: e}); err != nil {
			return err
		}
	}
	if w.q.ExecutionID != "" && e.Status.Terminal() {
		return errDone
	}
	return nil
}

// emit sends ev and starts the heartbeat's wait again.
func (w *watcher) emit(ev Event) error {
	if err := w.send(ev); err != nil {
		return err
	}
	if w.beat != nil {
		w.beat.Reset(w.q.Heartbeat)
	}
	return nil
}
