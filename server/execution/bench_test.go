package execution_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/execution"
)

// BenchmarkTriggerToSucceeded measures the whole path in one process, embedded and on
// Redis + PostgreSQL: trigger (record + enqueue), then pickup, lock, claim, a noop run and the
// outcome, until every execution is SUCCEEDED. The load command (workflow-runtime bench e2e)
// measures the same through the API.
func BenchmarkTriggerToSucceeded(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			bundle := setup(b, m.opts)
			wf := bundle.deploy(b, noop, deployments.Config{OverlapPolicy: deployments.OverlapAllowAll})
			ctx := context.Background()
			ids := make(chan string, b.N)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for range b.N / 32 {
						e, _, err := bundle.execs.Trigger(ctx, &execution.TriggerParams{WorkflowID: wf})
						if err != nil {
							b.Error(err)
							return
						}
						ids <- e.ID
					}
				})
			}
			wg.Wait()
			close(ids)
			for range ids { // drain
			}
			for {
				n, err := bundle.db.Bun().NewSelect().Table("executions").
					Where("workflow_id = ? AND status = 'SUCCEEDED'", wf).Count(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n >= int64(b.N/32*32) {
					break
				}
				time.Sleep(20 * time.Millisecond) // counting is not free: do not compete with the workers
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
		})
	}
}
