package scheduler_test

import (
	"sync"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// waitLimit bounds every wait of a test: a condition that does not hold by then fails the
// test. It is a guard against a hang, not a guess at how long anything takes.
const waitLimit = time.Minute

// observer gathers the events of one or more schedulers (their Config.OnEvent) and lets a
// test wait for a condition, checked now and again after every event: the signals a test
// waits on instead of sleeping.
type observer struct {
	mu      sync.Mutex
	changed chan struct{}                 // closed, and replaced, at every event
	running map[string]int                // workflow → live fires begun and not ended yet
	ended   map[string]map[time.Time]bool // workflow → scheduled times a live fire of which ended
}

func newObserver() *observer {
	return &observer{changed: make(chan struct{}), running: map[string]int{}, ended: map[string]map[time.Time]bool{}}
}

// OnEvent is the schedulers' Config.OnEvent.
func (o *observer) OnEvent(e scheduler.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Kind {
	case scheduler.EventFireBegan:
		o.running[e.WorkflowID]++
	case scheduler.EventFireEnded:
		o.running[e.WorkflowID]--
		if o.ended[e.WorkflowID] == nil {
			o.ended[e.WorkflowID] = map[time.Time]bool{}
		}
		o.ended[e.WorkflowID][e.Scheduled.UTC()] = true
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// wait waits until cond holds, checking it now and after every event; the test fails when it
// does not hold within waitLimit. cond may call the observer's other methods.
func (o *observer) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		o.mu.Lock()
		changed := o.changed // taken before cond: an event after it is not missed
		o.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-limit.C:
			t.Fatalf("%s: not within %s", what, waitLimit)
		}
	}
}

// firesEnded returns how many scheduled times after since the workflow's live fires have
// ended at (on any scheduler).
func (o *observer) firesEnded(workflowID string, since time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for at := range o.ended[workflowID] {
		if at.After(since) {
			n++
		}
	}
	return n
}

// idle says whether no live fire of the workflow is under way.
func (o *observer) idle(workflowID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.running[workflowID] == 0
}
