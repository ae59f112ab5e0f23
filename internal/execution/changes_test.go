package execution_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

func TestParseChanges(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	got := execution.ParseChanges("d1 e1 PENDING\nbroken line\n\nd2 e2 RUNNING\r\n- e3 SUCCEEDED\n")
	is.Equal(got, []execution.Change{
		{DeploymentID: "d1", ExecutionID: "e1", Status: execution.StatusPending},
		{DeploymentID: "d2", ExecutionID: "e2", Status: execution.StatusRunning},
		{DeploymentID: "-", ExecutionID: "e3", Status: execution.StatusSucceeded},
	})
	is.Equal(len(execution.ParseChanges("")), 0)
}

// changeLog collects what is published on ChangedChannel, by execution.
type changeLog struct {
	mu   sync.Mutex
	byID map[string][]execution.Change
	poke chan struct{}
}

func subscribeChanges(t *testing.T, b *testBundle) *changeLog {
	t.Helper()
	l := &changeLog{byID: map[string][]execution.Change{}, poke: make(chan struct{}, 1)}
	unsubscribe, err := b.notifier.Subscribe(context.Background(), execution.ChangedChannel, func(payload string) {
		l.mu.Lock()
		for _, c := range execution.ParseChanges(payload) {
			l.byID[c.ExecutionID] = append(l.byID[c.ExecutionID], c)
		}
		l.mu.Unlock()
		select {
		case l.poke <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsubscribe)
	return l
}

// wait returns the statuses published for id once one of them is want (bounded: 60 s).
func (l *changeLog) wait(t *testing.T, id string, want execution.Status) []execution.Status {
	t.Helper()
	return l.waitFor(t, id, fmt.Sprintf("a %s", want), func(got []execution.Status) bool { return slices.Contains(got, want) })
}

// waitFor returns the statuses published for id once ok says so (bounded: 60 s). The service's
// and the worker's lines come from two feeds, so one may pass the other.
func (l *changeLog) waitFor(t *testing.T, id, what string, ok func([]execution.Status) bool) []execution.Status {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		l.mu.Lock()
		var got []execution.Status
		for _, c := range l.byID[id] {
			got = append(got, c.Status)
		}
		l.mu.Unlock()
		if ok(got) {
			return got
		}
		select {
		case <-l.poke:
		case <-deadline:
			t.Fatalf("not %s published for %s within 60s; published: %v", what, id, got)
		}
	}
}

// TestChangesPublished: every status an execution is written with is published on
// ChangedChannel with its deployment: recorded, claimed, retried, finished, cancelled.
func TestChangesPublished(t *testing.T) {
	t.Parallel()
	retry := deployments.Config{Retry: deployments.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, BackoffCoefficient: 1}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable) // retryable
					return
				}
				_, _ = w.Write([]byte(`{}`))
			}))
			t.Cleanup(srv.Close)
			b := setup(t, m.opts)
			changes := subscribeChanges(t, b)

			flaky := b.deploy(t, deployments.Node{ID: "call", Type: "http", Params: map[string]any{"url": srv.URL}}, retry)
			e := b.trigger(t, flaky)
			got := changes.waitFor(t, e.ID, "SUCCEEDED and two PENDING", func(got []execution.Status) bool {
				return slices.Contains(got, execution.StatusSucceeded) && countOf(got, execution.StatusPending) == 2
			})
			// The worker's lines come in the order it wrote them; the record's may come before
			// or among them (another feed).
			worker := slices.DeleteFunc(slices.Clone(got), func(s execution.Status) bool { return s == execution.StatusPending })
			is.Equal(worker, []execution.Status{execution.StatusRunning, execution.StatusRunning, execution.StatusSucceeded})
			// Two PENDING: recorded, then returned for its retry.
			changes.mu.Lock()
			for _, c := range changes.byID[e.ID] {
				is.Equal(c.DeploymentID, e.DeploymentID) // every line names the deployment
			}
			changes.mu.Unlock()

			// A cancelled run: the request (RUNNING, cancel requested) and the outcome.
			long := b.deploy(t, delay("1h"), deployments.Config{})
			run := b.trigger(t, long)
			changes.wait(t, run.ID, execution.StatusRunning)
			_, err := b.execs.Cancel(context.Background(), run.ID, "")
			is.NoErr(err)
			// Claimed and asked to cancel (RUNNING twice), then the outcome.
			changes.waitFor(t, run.ID, "CANCELLED and two RUNNING", func(got []execution.Status) bool {
				return slices.Contains(got, execution.StatusCancelled) && countOf(got, execution.StatusRunning) == 2
			})
		})
	}
}

func countOf(ss []execution.Status, s execution.Status) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}
