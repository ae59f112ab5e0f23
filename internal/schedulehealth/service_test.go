package schedulehealth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// fakeStore serves triggers from memory, one trigger per workflow, in pages of Limit.
type fakeStore struct {
	mu       sync.Mutex
	triggers []Trigger // by workflow id
	runs     map[scheduler.TriggerKey]*RunStats
	err      error
}

func (f *fakeStore) ScheduleHealthTriggers(_ context.Context, p *TriggerParams) ([]Trigger, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, "", f.err
	}
	var out []Trigger
	for _, t := range f.triggers {
		if t.WorkflowID <= p.AfterWorkflowID || (p.DeploymentID != "" && t.DeploymentID != p.DeploymentID) {
			continue
		}
		if len(out) == p.Limit {
			return out, out[len(out)-1].WorkflowID, nil
		}
		out = append(out, t)
	}
	return out, "", nil
}

func (f *fakeStore) ScheduleHealthRuns(_ context.Context, p *RunParams) (map[scheduler.TriggerKey]*RunStats, error) {
	out := map[scheduler.TriggerKey]*RunStats{}
	for _, k := range p.Keys {
		if s := f.runs[k]; s != nil {
			out[k] = s
		}
	}
	return out, nil
}

func (f *fakeStore) DeploymentGet(_ context.Context, id string) (*deployments.Deployment, error) {
	for _, t := range f.triggers {
		if t.DeploymentID == id {
			return &deployments.Deployment{ID: id}, nil
		}
	}
	return nil, fmt.Errorf("get deployment %s: %w", id, errdefs.ErrNotFound)
}

func (f *fakeStore) set(i int, last *LastFire) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.triggers[i].Last = last
}

// fleet is n every-minute triggers wf-000.. deployed at t0, the i-th fired on time at minute
// fired(i) (none when negative).
func fleet(n int, firedAt func(i int) int) *fakeStore {
	f := &fakeStore{runs: map[scheduler.TriggerKey]*RunStats{}}
	for i := range n {
		t := *everyMinute(nil)
		t.WorkflowID, t.DeploymentID = fmt.Sprintf("wf-%03d", i), fmt.Sprintf("d-%03d", i)
		if m := firedAt(i); m >= 0 {
			t.Last = fired(m, 0, scheduler.OutcomeFired)
		}
		f.triggers = append(f.triggers, t)
	}
	return f
}

func TestListOrderPagesAndCounts(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	now := t0.Add(10*time.Minute + 5*time.Second)
	// Even triggers fired at minute 10 (ON_TIME), odd ones at minute 7 (OVERDUE).
	store := fleet(7, func(i int) int { return 10 - 3*(i%2) })
	store.triggers[2].Status = deployments.StatusPaused
	store.runs[store.triggers[0].Key()] = &RunStats{Runs: runs(5, time.Second, 2*time.Minute), Settled: 5}
	svc := NewService(store, Config{Now: func() time.Time { return now }})
	is.Equal(svc.Grace(), DefaultGrace)

	var got []Verdict
	q := ListQuery{PageSize: 2}
	for range 10 {
		page, err := svc.List(ctx, q)
		is.NoErr(err)
		is.Equal(page.Counts[StateOverdue], int64(3))
		is.Equal(page.Counts[StatePaused], int64(1))
		is.Equal(page.Counts[StateOnTime], int64(3))
		got = append(got, page.Verdicts...)
		for _, v := range page.Verdicts {
			is.True(v.Cadence != nil) // the page's triggers carry their advice
		}
		if page.Next == "" {
			break
		}
		q.PageToken = page.Next
	}
	is.Equal(len(got), 7)
	var order []string
	for _, v := range got {
		order = append(order, v.State.String()+" "+v.WorkflowID)
	}
	is.Equal(order, []string{
		"OVERDUE wf-001", "OVERDUE wf-003", "OVERDUE wf-005",
		"PAUSED wf-002",
		"ON_TIME wf-000", "ON_TIME wf-004", "ON_TIME wf-006",
	})
	is.True(got[4].Cadence.Overrun) // 2m runs every minute
	is.Equal(got[4].Cadence.Remedy, RemedyBufferOne)

	// A filter on states; its token is bound to it.
	page, err := svc.List(ctx, ListQuery{States: []State{StateOnTime}, PageSize: 1})
	is.NoErr(err)
	is.Equal(len(page.Verdicts), 1)
	is.Equal(len(page.Counts), 1)
	is.Equal(page.Counts[StateOnTime], int64(3))
	_, err = svc.List(ctx, ListQuery{PageSize: 1, PageToken: page.Next})
	var ve *errdefs.ValidationError
	is.True(errors.As(err, &ve)) // replayed with other filters

	// One deployment.
	page, err = svc.List(ctx, ListQuery{DeploymentID: "d-003"})
	is.NoErr(err)
	is.Equal(len(page.Verdicts), 1)
	is.Equal(page.Verdicts[0].WorkflowID, "wf-003")
	_, err = svc.List(ctx, ListQuery{DeploymentID: "nope"})
	is.True(errors.Is(err, errdefs.ErrNotFound))
	_, err = svc.List(ctx, ListQuery{PageToken: "garbage"})
	is.True(errors.As(err, &ve))
}

func TestListStoreError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	store := fleet(1, func(int) int { return 0 })
	store.err = errdefs.ErrUnavailable
	_, err := NewService(store, Config{}).List(context.Background(), ListQuery{})
	is.True(errors.Is(err, errdefs.ErrUnavailable))
}

// recorder keeps what the evaluator recorded.
type recorder struct {
	mu       sync.Mutex
	triggers map[string]int64
	owed     int64
	overdue  int64
	passes   chan struct{}
}

func (r *recorder) Record(_ context.Context, triggers map[string]int64, owed, newlyOverdue int64) {
	r.mu.Lock()
	r.triggers, r.owed = triggers, owed
	r.overdue += newlyOverdue
	r.mu.Unlock()
	select {
	case r.passes <- struct{}{}:
	default:
	}
}

func TestEvaluatorCountsEachOverdueFireOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := context.Background()
	clock := testenv.NewFakeClock()
	start := clock.Now().Truncate(time.Minute)
	// Two triggers fired at start; the second keeps firing.
	store := &fakeStore{}
	for i := range 2 {
		tr := *everyMinute(&LastFire{ScheduledAt: start, FiredAt: start, Outcome: scheduler.OutcomeFired})
		tr.WorkflowID, tr.DeploymentID, tr.DeployedAt = fmt.Sprintf("wf-%d", i), fmt.Sprintf("d-%d", i), start.Add(-time.Hour)
		store.triggers = append(store.triggers, tr)
	}
	rec := &recorder{passes: make(chan struct{}, 1)}
	ev := NewEvaluator(NewService(store, Config{Now: clock.Now}), EvaluatorConfig{Recorder: rec})

	res, err := ev.Pass(ctx)
	is.NoErr(err)
	is.Equal(res.Triggers[StateOnTime], int64(2))
	is.Equal(res.Triggers[StateOverdue], int64(0)) // every state is there, zeros included
	is.Equal(len(rec.triggers), len(States))

	// 3m31s later the first trigger owes 3 times, the second fired at +3m.
	clock.Advance(start.Add(3*time.Minute + 31*time.Second).Sub(clock.Now()))
	store.set(1, &LastFire{ScheduledAt: start.Add(3 * time.Minute), FiredAt: start.Add(3 * time.Minute), Outcome: scheduler.OutcomeFired})
	res, err = ev.Pass(ctx)
	is.NoErr(err)
	is.Equal(res.Triggers[StateOverdue], int64(1))
	is.Equal(res.Owed, int64(3))
	is.Equal(res.NewlyOverdue, int64(3))

	// 15 s later: nothing new is owed, and nothing is counted again.
	clock.Advance(15 * time.Second)
	res, err = ev.Pass(ctx)
	is.NoErr(err)
	is.Equal(res.Owed, int64(3))
	is.Equal(res.NewlyOverdue, int64(0))

	// Two minutes later (the second trigger fired on): 5 owed, 2 new.
	clock.Advance(2 * time.Minute)
	store.set(1, &LastFire{ScheduledAt: start.Add(5 * time.Minute), FiredAt: start.Add(5 * time.Minute), Outcome: scheduler.OutcomeFired})
	res, err = ev.Pass(ctx)
	is.NoErr(err)
	is.Equal(res.Owed, int64(5))
	is.Equal(res.NewlyOverdue, int64(2))
	is.Equal(rec.overdue, int64(5))
	is.Equal(rec.owed, int64(5))
	is.Equal(rec.triggers["OVERDUE"], int64(1))

	// Settled: the owed fires go, the counter stays.
	store.set(0, &LastFire{ScheduledAt: start.Add(5 * time.Minute), FiredAt: clock.Now(), Outcome: scheduler.OutcomeCaughtUp})
	res, err = ev.Pass(ctx)
	is.NoErr(err)
	is.Equal(res.Owed, int64(0))
	is.Equal(res.Triggers[StateLate], int64(1))
	is.Equal(rec.overdue, int64(5))

	// A store failure leaves the figures alone.
	store.err = errdefs.ErrUnavailable
	_, err = ev.Pass(ctx)
	is.True(errors.Is(err, errdefs.ErrUnavailable))
}

func TestEvaluatorStartStop(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	store := fleet(3, func(int) int { return -1 })
	rec := &recorder{passes: make(chan struct{}, 1)}
	ev := NewEvaluator(NewService(store, Config{}), EvaluatorConfig{Interval: time.Hour, Recorder: rec})
	is.NoErr(ev.Start(context.Background()))
	is.NoErr(ev.Start(context.Background())) // once
	select {
	case <-rec.passes: // the first pass runs at once
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s of Start")
	}
	ev.Stop()
	ev.Stop()                                // idempotent
	is.NoErr(ev.Start(context.Background())) // restartable: a pass at once again
	select {
	case <-rec.passes:
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s of a restart")
	}
	ev.Stop()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	is.Equal(rec.triggers["OVERDUE"], int64(3))                         // never fired since t0, years ago
	NewEvaluator(NewService(store, Config{}), EvaluatorConfig{}).Stop() // never started
}
