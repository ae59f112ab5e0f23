package execution_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// gatedStore holds the first lone ExecutionTrigger until release is closed, so the calls made
// meanwhile queue up for one batch, and records the batches.
type gatedStore struct {
	*store.DB
	held    chan struct{} // closed when the first call is held
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	batches []int // rows per ExecutionTriggerBatch
}

func (g *gatedStore) ExecutionTrigger(ctx context.Context, e *execution.Execution, webhookPath string) (*execution.Execution, bool, error) {
	g.once.Do(func() {
		close(g.held)
		<-g.release
	})
	return g.DB.ExecutionTrigger(ctx, e, webhookPath)
}

func (g *gatedStore) ExecutionTriggerBatch(ctx context.Context, rows []execution.TriggerRow) ([]execution.TriggerResult, error) {
	g.mu.Lock()
	g.batches = append(g.batches, len(rows))
	g.mu.Unlock()
	return g.DB.ExecutionTriggerBatch(ctx, rows)
}

func TestTriggerBatches(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			m.opts.noWorker = true // the messages stay in the queue, to be counted
			b := setup(t, m.opts)
			wf := "wf-" + uuid.NewString()[:8]
			_, _, err := b.deploys.Deploy(ctx, &deployments.DeployParams{
				Definition: deployments.Definition{ID: wf, Nodes: []deployments.Node{noop}},
				Triggers:   []deployments.Trigger{{ID: "hook", Webhook: &deployments.Webhook{Path: "/hooks/" + wf}}},
			})
			is.NoErr(err)
			paused := b.deploy(t, noop, deployments.Config{})
			_, err = b.db.Bun().NewUpdate().Table("workflows").Set("deployment_status = 'PAUSED'").Where("id = ?", paused).Exec(ctx)
			is.NoErr(err)

			gs := &gatedStore{DB: b.db, held: make(chan struct{}), release: make(chan struct{})}
			svc := execution.NewService(gs, b.queue, b.notifier, execution.ServiceConfig{})

			type call struct {
				p     execution.TriggerParams
				ctx   context.Context
				e     *execution.Execution
				dedup bool
				err   error
			}
			tp := func(i int) string { return fmt.Sprintf("00-%032x-%016x-01", i+1, i+1) }
			calls := []*call{
				0:  {p: execution.TriggerParams{WorkflowID: wf}}, // the lone first call, held
				1:  {p: execution.TriggerParams{WorkflowID: wf}},
				2:  {p: execution.TriggerParams{WorkflowID: wf, TriggerData: []byte(`{"x":2}`)}},
				3:  {p: execution.TriggerParams{WorkflowID: wf, IdempotencyKey: "k"}},
				4:  {p: execution.TriggerParams{WorkflowID: wf, IdempotencyKey: "k"}}, // duplicate in the batch
				5:  {p: execution.TriggerParams{WebhookPath: "/hooks/" + wf, IdempotencyKey: "k"}},
				6:  {p: execution.TriggerParams{WebhookPath: "/hooks/" + wf}},
				7:  {p: execution.TriggerParams{WorkflowID: "nope"}},
				8:  {p: execution.TriggerParams{WorkflowID: paused}},
				9:  {p: execution.TriggerParams{WebhookPath: "/no/such/hook"}},
				10: {p: execution.TriggerParams{WorkflowID: wf}}, // its caller goes before the batch runs
			}
			for i, c := range calls {
				c.ctx = telemetry.ContextWithTraceparent(ctx, tp(i)) // the caller's trace
			}
			gone, cancel := context.WithCancel(calls[10].ctx)
			calls[10].ctx = gone

			var wg sync.WaitGroup
			start := func(c *call) {
				wg.Go(func() { c.e, c.dedup, c.err = svc.Trigger(c.ctx, &c.p) })
			}
			start(calls[0])
			<-gs.held
			for _, c := range calls[1:] {
				start(c)
			}
			svc.AwaitWaitingTriggers(t, len(calls)-1, 5*time.Second)
			cancel()
			close(gs.release)
			wg.Wait()

			gs.mu.Lock()
			is.Equal(gs.batches, []int{9}) // calls 1–9 in one statement; the gone caller dropped
			gs.mu.Unlock()

			is.True(errors.Is(calls[10].err, context.Canceled)) // the gone caller gets ctx.Err()
			is.True(errors.Is(calls[7].err, errdefs.ErrNotFound))
			is.True(errors.Is(calls[8].err, errdefs.ErrFailedPrecondition))
			is.True(errors.Is(calls[9].err, errdefs.ErrNotFound))
			for _, i := range []int{0, 1, 2, 6} {
				is.NoErr(calls[i].err)
				is.True(!calls[i].dedup)
				is.Equal(calls[i].e.WorkflowID, wf)
				is.Equal(calls[i].e.Status, execution.StatusPending)
			}
			is.Equal(calls[6].e.TriggerType, execution.TriggerWebhook)
			is.Equal(calls[6].e.TriggerID, "hook")
			is.Equal(string(calls[2].e.TriggerData), `{"x":2}`)
			keyHolder, fresh := "", 0
			for _, i := range []int{3, 4, 5} {
				is.NoErr(calls[i].err)
				if !calls[i].dedup {
					fresh++
					keyHolder = calls[i].e.ID
				}
			}
			is.Equal(fresh, 1) // one execution for key "k"
			for _, i := range []int{3, 4, 5} {
				is.Equal(calls[i].e.ID, keyHolder)
			}

			// One message per new execution (calls 0, 1, 2, 6, the key holder), with its
			// caller's traceparent; none for the deduplicated calls or the failures.
			want := map[string]string{}
			for i, c := range calls[:10] {
				if c.err == nil && !c.dedup {
					want[c.e.ID] = tp(i)
				}
			}
			is.Equal(len(want), 5)
			got := map[string]string{}
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			defer rcancel()
			for len(got) < len(want) {
				ds, err := b.queue.Receive(rctx, "t", 10, time.Second)
				is.NoErr(err)
				for _, d := range ds {
					if d.ExecutionID != "" && want[d.ExecutionID] == "" {
						continue // the gone caller's execution, recorded or not
					}
					_, dup := got[d.ExecutionID]
					is.True(!dup) // enqueued once
					got[d.ExecutionID] = d.Traceparent
				}
			}
			is.Equal(got, want)
			rest, err := b.queue.Receive(ctx, "t", 10, -1)
			is.NoErr(err)
			is.Equal(len(rest), 0) // nothing else
		})
	}
}

// TestTriggerBatchesUnderLoad: many concurrent calls, some with shared keys, end as the same
// calls made one at a time would: one execution per key, one message per execution.
func TestTriggerBatchesUnderLoad(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			m.opts.noWorker = true
			// The test counts the messages of each execution. A call deduplicated onto a PENDING
			// execution that has not changed for RequeueAfter sends it again (its message may be
			// lost; outage_test.go covers that): a slow run (-race on a loaded machine) took
			// longer than the 2 s default and got a second message for a keyed execution.
			m.opts.requeueAfter = time.Hour
			b := setup(t, m.opts)
			wf := b.deploy(t, noop, deployments.Config{})
			const n = 300
			ids := make([]string, n)
			dedup := make([]bool, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					p := &execution.TriggerParams{WorkflowID: wf}
					if i%3 == 0 {
						p.IdempotencyKey = fmt.Sprintf("key-%d", i%4)
					}
					e, d, err := b.execs.Trigger(context.Background(), p)
					if err != nil {
						t.Error(err)
						return
					}
					ids[i], dedup[i] = e.ID, d
				})
			}
			wg.Wait()
			byKey := map[string]string{}
			fresh := map[string]bool{}
			for i := range n {
				if !dedup[i] {
					is.True(!fresh[ids[i]]) // each new execution reported once
					fresh[ids[i]] = true
				}
				if i%3 == 0 {
					k := fmt.Sprintf("key-%d", i%4)
					if byKey[k] == "" {
						byKey[k] = ids[i]
					}
					is.Equal(ids[i], byKey[k]) // one execution per key
				}
			}
			is.Equal(len(fresh), n-n/3+4) // the calls without a key, and one per key
			got := map[string]bool{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for len(got) < len(fresh) {
				ds, err := b.queue.Receive(ctx, "t", 100, time.Second)
				is.NoErr(err)
				for _, d := range ds {
					is.True(fresh[d.ExecutionID] && !got[d.ExecutionID]) // a new execution, once
					got[d.ExecutionID] = true
				}
			}
		})
	}
}
