package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// Timings of TestPostgresOutage. The whole test takes about the two outages plus two
// settlements (the schedulers' SettleAfter, 17 s, after each restart) plus the start of five
// processes: about two minutes.
const (
	outageShort   = 10 * time.Second
	outageLong    = 45 * time.Second
	settleTimeout = 60 * time.Second // gives up waiting for a settlement after this
	triggerEvery  = 200 * time.Millisecond
)

// newOwnPostgresCluster returns a cluster on a throwaway PostgreSQL server of its own (so the
// test can stop it) and a Redis database of its own on the shared server.
func newOwnPostgresCluster(t *testing.T) (*cluster, *testenv.PostgresServer) {
	t.Helper()
	pg := testenv.StartPostgres(t)
	c := &cluster{t: t, dir: t.TempDir(), redisURL: testenv.RedisDatabase(t), databaseURL: pg.URL()}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, c.databaseURL, store.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("open the throwaway database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate the throwaway database: %v", err)
	}
	c.db = db
	c.dumpLogsOnFailure()
	return c, pg
}

// TestPostgresOutage: PostgreSQL stopped for 10 s and then for 45 s under a per-second cron
// (two scheduler replicas, FIRE_ONCE, catch-up window 2 min) and a steady stream of
// TriggerWorkflow calls. Afterwards every scheduled second of the whole window has exactly one
// execution or exactly one MISSED ledger row saying the store was unavailable, never both; each
// outage's gap is settled once (its latest time CAUGHT_UP, the rest MISSED); every accepted
// trigger has exactly one execution, terminal; and the engine's side (the probe) saw each
// completed run once.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, pg := newOwnPostgresCluster(t)
	pr := newProbe(t, 0)
	api := c.start("api", "api").client()
	worker := c.start("worker", "worker")
	c.start("scheduler-1", "scheduler")
	c.start("scheduler-2", "scheduler")

	ctx := t.Context()
	var window uint32
	resp, err := api.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "tick", Name: "tick", Nodes: []*v1.Node{
			node(t, "call", "http", map[string]any{"url": pr.url + "/run/tick", "method": "POST"}),
		}},
		Triggers: []*v1.Trigger{{Id: "every-second", Kind: &v1.Trigger_Cron{Cron: &v1.CronSchedule{
			Expression: "* * * * * ?", JitterWindowSeconds: &window,
		}}}},
		Config: &v1.DeploymentConfig{
			OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL,
			RetryPolicy:   &v1.RetryPolicy{MaxAttempts: 1},
			MisfirePolicy: v1.MisfirePolicy_MISFIRE_POLICY_FIRE_ONCE,
			CatchUpWindow: durationpb.New(2 * time.Minute),
		},
	})
	is.NoErr(err)
	tick := resp.GetDeployment()
	deploy(t, api, workflow{
		id:     "stream",
		nodes:  []*v1.Node{node(t, "call", "http", map[string]any{"url": pr.url + "/run/stream", "method": "POST"})},
		config: noRetry(v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL, 0),
	})

	// The steady stream: a trigger every 200 ms, each with a key of its own, 5 s to answer.
	s := &triggerStream{api: api, codes: map[string]int{}}
	streamCtx, stopStream := context.WithCancel(ctx)
	streamDone := make(chan struct{})
	go func() { defer close(streamDone); s.run(streamCtx) }()
	defer func() { stopStream(); <-streamDone }()

	waitFor(t, 30*time.Second, "the cron to fire three times", func() bool {
		n, err := c.countCron(ctx, tick.GetWorkflowId())
		return err == nil && n >= 3
	})
	from := time.Now().Truncate(time.Second).Add(-2 * time.Second)

	outage := func(d time.Duration) (stopped, started time.Time) {
		stopped = time.Now()
		pg.Stop()
		t.Logf("PostgreSQL stopped at %s for %s", stopped.Format(time.TimeOnly), d)
		time.Sleep(time.Until(stopped.Add(d))) // the outage's length: the test's input, not a wait
		pg.Start()
		started = time.Now()
		t.Logf("PostgreSQL started again at %s", started.Format(time.TimeOnly))
		return stopped, started
	}
	settled := func(until time.Time) {
		t.Helper()
		waitFor(t, settleTimeout, "every second up to "+until.Format(time.TimeOnly)+" to be settled", func() bool {
			secs, err := c.seconds(ctx, tick.GetWorkflowId(), from, until)
			if err != nil {
				return false
			}
			for _, s := range secs {
				if s.executions == 0 && s.missed == 0 {
					return false
				}
			}
			return true
		})
	}

	stop1, start1 := outage(outageShort)
	settled(start1.Add(3 * time.Second))
	stop2, start2 := outage(outageLong)
	to := start2.Add(3 * time.Second).Truncate(time.Second)
	settled(to)

	// Stop firing and triggering; every run then ends.
	setStatus(t, api, tick.GetId(), v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED)
	stopStream()
	<-streamDone

	// Every second: one execution or one MISSED row saying why, never both.
	var secs map[time.Time]second
	waitFor(t, 10*time.Second, "the ledger to be read", func() bool {
		secs, err = c.seconds(ctx, tick.GetWorkflowId(), from, to)
		return err == nil
	})
	var executed, caughtUp, missed, neither, both int
	var missedAt []time.Time
	for at, s := range secs {
		switch {
		case s.executions > 0 && s.missed > 0:
			both++
			t.Errorf("%s: %d executions and %d MISSED rows", at.Format(time.TimeOnly), s.executions, s.missed)
		case s.executions == 0 && s.missed == 0:
			neither++
			t.Errorf("%s: neither an execution nor a MISSED row", at.Format(time.TimeOnly))
		case s.executions > 0:
			executed++
		default:
			missed++
			missedAt = append(missedAt, at)
			if !strings.Contains(s.reason, "the store was unavailable") {
				t.Errorf("%s: MISSED with reason %q, want it to say the store was unavailable", at.Format(time.TimeOnly), s.reason)
			}
		}
		if s.executions > 1 || s.missed > 1 || s.caughtUp > 1 {
			t.Errorf("%s: %d executions, %d MISSED rows, %d CAUGHT_UP rows; want at most one each", at.Format(time.TimeOnly), s.executions, s.missed, s.caughtUp)
		}
		caughtUp += s.caughtUp
	}
	// Seconds missed outside the outages (a process's first query after the restart failed)
	// are allowed; they are counted to be seen.
	inOutage := func(at time.Time) bool {
		return (!at.Before(stop1.Add(-time.Second)) && !at.After(start1)) || (!at.Before(stop2.Add(-time.Second)) && !at.After(start2))
	}
	missedOutside := 0
	for _, at := range missedAt {
		if !inOutage(at) {
			missedOutside++
		}
	}
	// The outages' seconds were missed (recorded), not lost; at most one per gap and replica
	// was caught up instead.
	is.True(missed >= int((outageShort+outageLong)/time.Second)-8)

	// The stream: each accepted trigger has its execution, terminal.
	accepted := s.acceptedIDs()
	is.True(len(accepted) > 0)
	runs := waitAllTerminal(t, api, accepted)
	is.Equal(len(runs), len(accepted)) // one execution per accepted trigger

	// The engine's side: no completed run executed twice. The probe counts http-node calls per
	// workflow; each run calls once, so the count must equal the runs that reached the engine.
	var tickRan, streamRan int
	waitFor(t, terminalTimeout, "every execution to end", func() bool {
		var err error
		tickRan, err = c.countRan(ctx, tick.GetWorkflowId())
		if err != nil {
			return false
		}
		streamRan, err = c.countRan(ctx, "stream")
		return err == nil
	})
	_, tickCalls := pr.stats("tick")
	_, streamCalls := pr.stats("stream")
	dupTick, dupStream := tickCalls-tickRan, streamCalls-streamRan

	t.Logf("seconds owed %d (%s to %s): executed %d (caught up %d), missed %d (%d outside the outages), neither %d, both %d",
		len(secs), from.Format(time.TimeOnly), to.Format(time.TimeOnly), executed, caughtUp, missed, missedOutside, neither, both)
	t.Logf("stream: %d triggers accepted, answers by code %v; tick runs %d, engine calls %d; stream runs %d, engine calls %d; duplicates %d",
		len(accepted), s.codeCounts(), tickRan, tickCalls, streamRan, streamCalls, dupTick+dupStream)
	if dupTick != 0 || dupStream != 0 {
		// A run is executed again when the worker could not record its outcome (the database
		// went away just after the engine finished) and the execution was handed out again.
		failedOutcomes := 0
		for _, line := range worker.logLines() {
			if line["msg"] == "record outcome failed" {
				failedOutcomes++
			}
		}
		t.Errorf("runs executed twice on the engine: tick %d engine calls for %d runs, stream %d for %d (the worker logged %d failed outcome writes)",
			tickCalls, tickRan, streamCalls, streamRan, failedOutcomes)
	}
}

// triggerStream sends TriggerWorkflow calls to "stream" at a steady pace and remembers the
// executions of the calls answered OK, and the codes of the others.
type triggerStream struct {
	api workflowruntimev1connect.WorkflowRuntimeServiceClient

	mu    sync.Mutex
	ids   []string
	codes map[string]int
}

func (s *triggerStream) run(ctx context.Context) {
	tk := time.NewTicker(triggerEvery)
	defer tk.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		wg.Go(func() {
			// Not ctx: a call under way when the stream stops gets its answer.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			resp, err := s.api.TriggerWorkflow(cctx, &v1.TriggerWorkflowRequest{
				Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: "stream"},
				IdempotencyKey: uuid.NewString(),
			})
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				code := "unknown"
				var cerr *connect.Error
				if errors.As(err, &cerr) {
					code = cerr.Code().String()
				}
				s.codes[code]++
				return
			}
			s.codes["ok"]++
			s.ids = append(s.ids, resp.GetExecution().GetId())
		})
	}
}

func (s *triggerStream) acceptedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

func (s *triggerStream) codeCounts() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.codes))
	for k := range s.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%d ", k, s.codes[k])
	}
	return strings.TrimSpace(b.String())
}

// second is what became of one scheduled second of a cron trigger.
type second struct {
	executions, missed, caughtUp int
	reason                       string // of the MISSED row
}

// seconds returns every whole second in [from, to] with its executions and ledger rows. It
// returns the store's error rather than failing: the database may just have restarted.
func (c *cluster) seconds(ctx context.Context, workflowID string, from, to time.Time) (map[time.Time]second, error) {
	out := map[time.Time]second{}
	for at := from.Truncate(time.Second); !at.After(to); at = at.Add(time.Second) {
		out[at.UTC()] = second{}
	}
	ex, err := c.db.Bun().QueryContext(ctx, `SELECT scheduled_at, count(*) FROM executions
		WHERE workflow_id = ? AND trigger_type = 'CRON' AND scheduled_at BETWEEN ? AND ? GROUP BY scheduled_at`, workflowID, from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	defer func() { _ = ex.Close() }()
	for ex.Next() {
		var at time.Time
		var n int
		if err := ex.Scan(&at, &n); err != nil {
			return nil, err
		}
		s := out[at.UTC()]
		s.executions = n
		out[at.UTC()] = s
	}
	if err := ex.Err(); err != nil {
		return nil, err
	}
	led, err := c.db.Bun().QueryContext(ctx, `SELECT scheduled_at, outcome, reason FROM fire_ledger
		WHERE workflow_id = ? AND outcome IN ('MISSED', 'CAUGHT_UP') AND scheduled_at BETWEEN ? AND ?`, workflowID, from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	defer func() { _ = led.Close() }()
	for led.Next() {
		var at time.Time
		var outcome, reason string
		if err := led.Scan(&at, &outcome, &reason); err != nil {
			return nil, err
		}
		s := out[at.UTC()]
		if outcome == "MISSED" {
			s.missed++
			s.reason = reason
		} else {
			s.caughtUp++
		}
		out[at.UTC()] = s
	}
	return out, led.Err()
}

func (c *cluster) countCron(ctx context.Context, workflowID string) (int, error) {
	var n int
	err := c.db.Bun().QueryRowContext(ctx, "SELECT count(*) FROM executions WHERE workflow_id = ? AND trigger_type = 'CRON'", workflowID).Scan(&n)
	return n, err
}

// countRan returns how many of the workflow's executions ran to an end on the engine
// (SUCCEEDED or FAILED); an error while any is not terminal.
func (c *cluster) countRan(ctx context.Context, workflowID string) (int, error) {
	var ran, open int
	err := c.db.Bun().QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE status IN ('SUCCEEDED', 'FAILED')),
		count(*) FILTER (WHERE status IN ('PENDING', 'RUNNING'))
		FROM executions WHERE workflow_id = ?`, workflowID).Scan(&ran, &open)
	if err != nil {
		return 0, err
	}
	if open > 0 {
		return 0, fmt.Errorf("%d executions of %s not ended", open, workflowID)
	}
	return ran, nil
}
