package execution_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// BenchmarkTriggerToSucceeded measures the whole path in one process, embedded and on
// Redis + PostgreSQL: trigger (record + enqueue), then pickup, lock, claim, a noop run and the
// outcome, until every execution is SUCCEEDED. The load command (workflow-runtime bench e2e)
// measures the same through the API.
func BenchmarkTriggerToSucceeded(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			bundle := setup(b, m.opts)
			wf := bundle.deploy(b, noop, deployments.Config{OverlapPolicy: policy.OverlapAllowAll})
			ctx := context.Background()
			d, err := bundle.deploys.GetByWorkflow(ctx, wf)
			if err != nil {
				b.Fatal(err)
			}
			// The workers' published changes say when to count the rows: reading the database
			// while they run would compete with them.
			var (
				succeeded atomic.Int64
				changed   testenv.Signal
			)
			unsubscribe, err := bundle.notifier.Subscribe(ctx, execution.ChangedChannel, func(payload string) {
				for _, c := range execution.ParseChanges(payload) {
					if c.DeploymentID == d.ID && c.Status == execution.StatusSucceeded {
						succeeded.Add(1)
					}
				}
				changed.Fire()
			})
			if err != nil {
				b.Fatal(err)
			}
			defer unsubscribe()
			want := int64(b.N / 32 * 32)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for range b.N / 32 {
						if _, _, err := bundle.execs.Trigger(ctx, &execution.TriggerParams{WorkflowID: wf}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			changed.Await(b, 10*time.Minute, func() error {
				if seen := succeeded.Load(); seen < want {
					return fmt.Errorf("%d of %d executions published SUCCEEDED", seen, want)
				}
				n, err := bundle.db.Bun().NewSelect().Table("executions").
					Where("workflow_id = ? AND status = 'SUCCEEDED'", wf).Count(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n < want {
					return fmt.Errorf("%d of %d executions SUCCEEDED", n, want)
				}
				return nil
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
		})
	}
}
