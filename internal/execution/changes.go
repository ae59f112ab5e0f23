package execution

import (
	"cmp"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/stack"
)

// ChangedChannel is the Notifier channel of execution changes, which the api processes stream
// to their watchers (internal/watch, WatchExecutions). A payload holds one or more changes, one
// per line: "<deployment id> <execution id> <status>". A change is a hint to read the row
// again, never the truth, and it may be lost: watchers also resync from the database.
const ChangedChannel = "execution.changed"

// Change is one line of a ChangedChannel payload: the execution's status as written.
type Change struct {
	DeploymentID string
	ExecutionID  string
	Status       Status
}

// ParseChanges returns the changes of a ChangedChannel payload; malformed lines are skipped.
func ParseChanges(payload string) []Change {
	var out []Change
	for line := range strings.Lines(payload) {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		out = append(out, Change{DeploymentID: f[0], ExecutionID: f[1], Status: Status(f[2])})
	}
	return out
}

// line is the change as a payload line; an unknown deployment is "-".
func (c Change) line() string {
	return cmp.Or(c.DeploymentID, "-") + " " + c.ExecutionID + " " + string(c.Status)
}

// changeFeed publishes execution changes on ChangedChannel, best effort and off the path of
// the write that made them: add only appends a line to memory, and a goroutine (running only
// while lines wait, like the outbox's) publishes what has gathered as one payload, so a burst
// of changes costs one PUBLISH per batch rather than one per change. Nothing is retried: a
// payload the notifier refuses (Redis away) is dropped, as are changes beyond maxPending, and
// the watchers' resync from the database finds them a few seconds later (internal/watch).
type changeFeed struct {
	notifier Notifier
	logger   *slog.Logger
	timeout  time.Duration // bounds one publish
	batch    int           // most lines per payload
	max      int           // most lines kept waiting; newer ones are dropped beyond

	mu      sync.Mutex
	pending []string
	running bool
	idle    chan struct{} // closed when the running loop ends
	failing bool          // the last publish failed
}

// Bounds of a changeFeed.
const (
	changePublishTimeout = time.Second
	changeBatch          = 256
	changeMaxPending     = 10_000
)

// newChangeFeed returns a feed on notifier; nil (a feed that publishes nothing) without one.
func newChangeFeed(notifier Notifier, logger *slog.Logger) *changeFeed {
	if notifier == nil {
		return nil
	}
	return &changeFeed{notifier: notifier, logger: logger, timeout: changePublishTimeout, batch: changeBatch, max: changeMaxPending}
}

// add publishes that the execution id of deploymentID was written with status. A nil feed
// does nothing.
func (f *changeFeed) add(deploymentID, id string, status Status) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) >= f.max {
		return // the watchers' resync finds it
	}
	f.pending = append(f.pending, Change{DeploymentID: deploymentID, ExecutionID: id, Status: status}.line())
	if !f.running {
		f.running = true
		f.idle = make(chan struct{})
		go f.loop()
	}
}

// flush waits until every waiting line has been published (or dropped), or ctx ends.
func (f *changeFeed) flush(ctx context.Context) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	if !f.running {
		f.mu.Unlock()
		return nil
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop publishes the waiting lines until none is left.
func (f *changeFeed) loop() {
	stack.Reserve() // a new goroutine per burst, deep in go-redis
	for {
		f.mu.Lock()
		if len(f.pending) == 0 {
			f.running = false
			f.pending = nil // do not keep a large buffer from a burst
			close(f.idle)
			f.mu.Unlock()
			return
		}
		n := min(len(f.pending), f.batch)
		lines := f.pending[:n:n]
		f.pending = f.pending[n:]
		f.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		err := f.notifier.Publish(ctx, ChangedChannel, strings.Join(lines, "\n"))
		cancel()

		f.mu.Lock()
		switch {
		case err != nil && !f.failing:
			f.failing = true
			f.logger.Warn("publish execution changes failed; watchers learn them from their resync", slog.Any("error", err))
		case err == nil && f.failing:
			f.failing = false
			f.logger.Info("execution changes are published again")
		}
		f.mu.Unlock()
	}
}
