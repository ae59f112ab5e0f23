package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// SchedulerConfig configures RunScheduler.
type SchedulerConfig struct {
	// Triggers is how many workflows, each with one cron trigger, the scheduler holds.
	Triggers int
	// Cron is their expression; Window their jitter window in seconds.
	Cron   string
	Window uint32
	// Duration is the measuring window, after Warmup past the end of the load.
	Duration, Warmup time.Duration
	// Baseline is the measuring window of the bare time.AfterFunc baseline; 0 skips it.
	Baseline time.Duration
	// SpreadWorkflows is the workflow count of the jitter-spread table ("0 * * * *", 300 s
	// window against none); 0 skips it.
	SpreadWorkflows int
	// CPUProfile, when set, is the path prefix of CPU profiles of the load (.load) and of the
	// warm-up and measuring window (.fire); HeapProfile, when set, the path of a heap profile
	// taken after the load.
	CPUProfile, HeapProfile string
}

// SchedulerResult is what RunScheduler measured.
type SchedulerResult struct {
	Load           time.Duration
	RSSAfterLoad   int64 // bytes, VmRSS after the load and a GC returning freed memory
	HeapStore      int64 // bytes, HeapInuse before the load: the in-memory store's deployments
	HeapAfterLoad  int64 // bytes, HeapInuse then
	PeakRSS        int64 // bytes, VmHWM at the end
	Expected       int   // fires due in the window
	Fired          int   // fires made in the window
	Late1s         int   // of them, more than a second late
	Lateness       Summary
	Baseline       Summary
	SpreadPeak     int // fires in the busiest second, with jitter
	SpreadMean     float64
	NoJitterPeak   int
	DuplicateFires int // (workflow, scheduled time) made twice
}

// RunScheduler measures one in-process scheduler.Scheduler (go-quartz, scheduling.JobQueue and
// scheduling.Trigger exactly as the scheduler role builds them) holding cfg.Triggers cron
// triggers. Its store is in memory and its executions are a sink that records the lateness of
// each fire (arrival at execution.Service.Fire − the jittered scheduled time) instead of
// creating an execution: what is measured is the scheduler, not the database.
func RunScheduler(ctx context.Context, cfg SchedulerConfig, w io.Writer) (*SchedulerResult, error) {
	if cfg.Triggers < 1 {
		return nil, errors.New("--triggers must be at least 1")
	}
	res := &SchedulerResult{}
	st := newMemStore(cfg.Triggers, cfg.Cron, cfg.Window)

	// Which fires are due in the measuring window is known only once the load ended; the sink
	// records every fire and the window is applied afterwards.
	sink := &fireSink{}
	svc := scheduler.NewService(st, sink, scheduler.ServiceConfig{Logger: slog.New(slog.DiscardHandler)})
	// A notifier as in role all (notify.Local): with one, fires read the deployment cache.
	s := scheduler.New(svc, st, nil, notify.NewLocal(), scheduler.Config{Logger: slog.New(slog.DiscardHandler)})
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	res.HeapStore = int64(before.HeapInuse)
	stopProfile, err := startCPUProfile(cfg.CPUProfile, ".load")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.Start(ctx); err != nil {
		stopProfile()
		return nil, fmt.Errorf("start scheduler: %w", err)
	}
	res.Load = time.Since(start)
	stopProfile()
	if n := len(s.Scheduled()); n != cfg.Triggers {
		s.Stop()
		return nil, fmt.Errorf("scheduler holds %d jobs, want %d", n, cfg.Triggers)
	}
	debug.FreeOSMemory()
	res.RSSAfterLoad = procStatus("VmRSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapAfterLoad = int64(ms.HeapInuse)
	if err := writeHeapProfile(cfg.HeapProfile); err != nil {
		s.Stop()
		return nil, err
	}
	if stopProfile, err = startCPUProfile(cfg.CPUProfile, ".fire"); err != nil {
		s.Stop()
		return nil, err
	}
	from := time.Now().Add(cfg.Warmup).Truncate(time.Second).Add(time.Second)
	to := from.Add(cfg.Duration)
	_, _ = fmt.Fprintf(w, "loaded %d triggers in %s; measuring fires scheduled in [%s, %s)\n", cfg.Triggers, res.Load.Round(time.Millisecond), from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	select {
	case <-ctx.Done():
		stopProfile()
		s.Stop()
		return nil, ctx.Err()
	case <-time.After(time.Until(to) + time.Second):
	}
	stopProfile()
	s.Stop()
	res.PeakRSS = procStatus("VmHWM")

	expected, err := st.due(from, to)
	if err != nil {
		return nil, err
	}
	res.Expected = len(expected)
	var lat []time.Duration
	seen := make(map[fireKey]bool, len(expected))
	for _, f := range sink.take() {
		if f.scheduled.Before(from) || !f.scheduled.Before(to) {
			continue
		}
		k := fireKey{f.workflow, f.scheduled.UnixNano()}
		if seen[k] {
			res.DuplicateFires++
			continue
		}
		seen[k] = true
		lat = append(lat, f.late)
		if f.late > time.Second {
			res.Late1s++
		}
	}
	res.Fired = len(lat)
	res.Lateness = summarize(lat, res.Expected-res.Fired, cfg.Duration)

	if cfg.Baseline > 0 {
		// Ahead of the time computing the due times takes (seconds at 1M triggers, more on a
		// loaded machine); the fires it has passed by are left out, and the window shortened.
		bfrom := time.Now().Add(5 * time.Second).Truncate(time.Second)
		bto := bfrom.Add(cfg.Baseline)
		due, err := st.due(bfrom, bto)
		if err != nil {
			return nil, err
		}
		if start := time.Now().Add(500 * time.Millisecond); start.After(bfrom) {
			due = slices.DeleteFunc(due, func(f fireKey) bool { return f.scheduled < start.UnixNano() })
			bfrom = start
		}
		if window := bto.Sub(bfrom); window > 0 {
			res.Baseline = timerBaseline(due, window)
		}
	}
	if cfg.SpreadWorkflows > 0 {
		res.SpreadPeak, res.SpreadMean, res.NoJitterPeak, err = spread(cfg.SpreadWorkflows)
		if err != nil {
			return nil, err
		}
	}
	return res, writeSchedulerResult(w, cfg, res)
}

func writeSchedulerResult(w io.Writer, cfg SchedulerConfig, r *SchedulerResult) error {
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	rows := [][]string{
		{"measure", "scheduler", "baseline (time.AfterFunc)", "ratio"},
		{"triggers", strconv.Itoa(cfg.Triggers) + " × " + strconv.Quote(cfg.Cron) + fmt.Sprintf(", window %ds", cfg.Window), "", ""},
		{"load time", r.Load.Round(time.Millisecond).String(), "", ""},
		{"RSS after load (GC'd)", mib(r.RSSAfterLoad), "", ""},
		{"heap in use after load", mib(r.HeapAfterLoad), "", ""},
		{"of which before the load (the store)", mib(r.HeapStore), "", ""},
		{"peak RSS (VmHWM)", mib(r.PeakRSS), "", ""},
		{"fires due / made", fmt.Sprintf("%d / %d", r.Expected, r.Fired), "", ""},
		{"fire rate", perSec(r.Lateness.Throughput()), perSec(r.Baseline.Throughput()), ""},
		{"fires > 1 s late", strconv.Itoa(r.Late1s), "", ""},
		{"duplicate fires", strconv.Itoa(r.DuplicateFires), "", ""},
		{"lateness p50", ms(r.Lateness.P50), ms(r.Baseline.P50), times(ratio(float64(r.Lateness.P50), float64(r.Baseline.P50)))},
		{"lateness p99", ms(r.Lateness.P99), ms(r.Baseline.P99), times(ratio(float64(r.Lateness.P99), float64(r.Baseline.P99)))},
		{"lateness max", ms(r.Lateness.Max), ms(r.Baseline.Max), ""},
	}
	if cfg.SpreadWorkflows > 0 {
		rows = append(rows,
			[]string{"spread: workflows on \"0 * * * *\"", strconv.Itoa(cfg.SpreadWorkflows), "", ""},
			[]string{"spread: mean fires/s over 300 s", fmt.Sprintf("%.1f", r.SpreadMean), "", ""},
			[]string{"spread: peak fires/s, window 300 s", strconv.Itoa(r.SpreadPeak), "", times(ratio(float64(r.SpreadPeak), r.SpreadMean)) + "× mean"},
			[]string{"spread: peak fires/s, no jitter", strconv.Itoa(r.NoJitterPeak), "", times(ratio(float64(r.NoJitterPeak), r.SpreadMean)) + "× mean"},
		)
	}
	return table(w, rows)
}

// memStore is a scheduler.Store over deployments held in memory, in workflow id order; fire
// records are counted and dropped. Its deployments are, one for one, the ones a scheduler reading
// a database would hold in its deployment cache (each with its own triggers and schedule, as read
// from a row; definitions empty): the scheduler's cache holds these same objects, so they count
// once. What is the bench's alone is the list (8 bytes a deployment): there is no index by
// workflow besides the order.
type memStore struct {
	list    []*deployments.Deployment
	records atomic.Int64
}

var _ scheduler.Store = (*memStore)(nil)

func newMemStore(n int, cron string, window uint32) *memStore {
	st := &memStore{list: make([]*deployments.Deployment, n)}
	now := time.Now()
	for i := range n {
		d := &deployments.Deployment{
			ID:         fmt.Sprintf("00000000-0000-7000-8000-%012d", i),
			WorkflowID: fmt.Sprintf("wf-%07d", i),
			Revision:   1,
			Status:     deployments.StatusDeployed,
			DeployedAt: now, // nothing to catch up
			Triggers:   []deployments.Trigger{{ID: "cron", Cron: &deployments.CronSchedule{Expression: cron, JitterWindowSeconds: window}}},
			Config:     deployments.Config{MisfirePolicy: policy.MisfireFireOnce, CatchUpWindow: time.Minute},
		}
		st.list[i] = d
	}
	return st
}

// due returns the scheduled time of every fire in [from, to), by workflow.
func (m *memStore) due(from, to time.Time) ([]fireKey, error) {
	var out []fireKey
	for _, d := range m.list {
		trig, err := scheduler.NewTrigger(d.WorkflowID, d.Triggers[0].Cron)
		if err != nil {
			return nil, err
		}
		next := from.UnixNano() - 1
		for {
			next, err = trig.NextFireTime(next)
			if err != nil {
				return nil, err
			}
			if next >= to.UnixNano() {
				break
			}
			out = append(out, fireKey{d.WorkflowID, next})
		}
	}
	return out, nil
}

func (m *memStore) FireRecord(_ context.Context, fires []scheduler.Fire) error {
	m.records.Add(int64(len(fires)))
	return nil
}

func (m *memStore) FireList(context.Context, *scheduler.FireListParams) ([]scheduler.Fire, error) {
	return nil, nil
}

func (m *memStore) FireLastScheduled(context.Context, string, string) (time.Time, error) {
	return time.Time{}, nil
}

func (m *memStore) FireLastScheduledBefore(context.Context, string, string, time.Time) (time.Time, error) {
	return time.Time{}, nil
}

func (m *memStore) FireDecided(context.Context, string, string, time.Time, time.Time) (map[time.Time]bool, error) {
	return map[time.Time]bool{}, nil
}

func (m *memStore) FireUnrecorded(context.Context, string, string, time.Time, time.Time) ([]scheduler.Fire, error) {
	return nil, nil
}

func (m *memStore) FireLastScheduledMany(context.Context, []string) (map[scheduler.TriggerKey]time.Time, error) {
	return map[scheduler.TriggerKey]time.Time{}, nil
}

func (m *memStore) DeploymentGet(_ context.Context, id string) (*deployments.Deployment, error) {
	for _, d := range m.list {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, fmt.Errorf("deployment %s: not found", id)
}

func (m *memStore) DeploymentGetByWorkflow(_ context.Context, workflowID string) (*deployments.Deployment, error) {
	i, ok := slices.BinarySearchFunc(m.list, workflowID, func(d *deployments.Deployment, id string) int {
		return strings.Compare(d.WorkflowID, id)
	})
	if ok {
		return m.list[i], nil
	}
	return nil, fmt.Errorf("workflow %s: %w", workflowID, errdefs.ErrNotFound)
}

func (m *memStore) DeploymentList(_ context.Context, p *deployments.ListParams) ([]*deployments.Deployment, error) {
	i, _ := slices.BinarySearchFunc(m.list, p.AfterWorkflowID, func(d *deployments.Deployment, id string) int {
		return strings.Compare(d.WorkflowID, id)
	})
	if i < len(m.list) && m.list[i].WorkflowID == p.AfterWorkflowID {
		i++
	}
	return m.list[i:min(i+p.Limit, len(m.list))], nil
}

type fireKey struct {
	workflow  string
	scheduled int64
}

type sinkFire struct {
	workflow  string
	scheduled time.Time
	late      time.Duration
}

// fireSink is the scheduler's Executions: it records when each fire arrived.
type fireSink struct {
	mu    sync.Mutex
	fires []sinkFire
}

var sinkExecution = &execution.Execution{}

func (s *fireSink) Fire(_ context.Context, p *execution.FireParams) (*execution.Execution, bool, error) {
	late := time.Since(p.ScheduledAt)
	s.mu.Lock()
	s.fires = append(s.fires, sinkFire{p.Deployment.WorkflowID, p.ScheduledAt, late})
	s.mu.Unlock()
	return sinkExecution, false, nil
}

// FireMany records each fire as Fire does (the benchmark makes no backfill).
func (s *fireSink) FireMany(ctx context.Context, ps []*execution.FireParams) ([]execution.FireResult, error) {
	out := make([]execution.FireResult, len(ps))
	for i, p := range ps {
		out[i].Execution, _, _ = s.Fire(ctx, p)
	}
	return out, nil
}

func (s *fireSink) take() []sinkFire {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.fires
	s.fires = nil
	return out
}

// timerBaseline fires one time.AfterFunc per due time and measures its lateness the same way:
// what Go's timers give at the same rate, with no scheduler around them.
func timerBaseline(due []fireKey, window time.Duration) Summary {
	var (
		mu  sync.Mutex
		lat = make([]time.Duration, 0, len(due))
		wg  sync.WaitGroup
	)
	for _, f := range due {
		at := time.Unix(0, f.scheduled)
		wg.Add(1)
		time.AfterFunc(time.Until(at), func() {
			defer wg.Done()
			l := time.Since(at)
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(lat, 0, window)
}

// spread computes, for n workflows on "0 * * * *" with a 300 s jitter window, the fires in the
// busiest second of the window against the mean (n/300), and the busiest second without jitter.
func spread(n int) (peak int, mean float64, noJitter int, err error) {
	hour := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	count := func(window uint32) (int, error) {
		buckets := map[int64]int{}
		top := 0
		for i := range n {
			trig, err := scheduler.NewTrigger(fmt.Sprintf("wf-%07d", i), &deployments.CronSchedule{Expression: "0 * * * *", JitterWindowSeconds: window})
			if err != nil {
				return 0, err
			}
			next, err := trig.NextFireTime(hour.UnixNano() - 1)
			if err != nil {
				return 0, err
			}
			sec := next / int64(time.Second)
			buckets[sec]++
			top = max(top, buckets[sec])
		}
		return top, nil
	}
	if peak, err = count(300); err != nil {
		return 0, 0, 0, err
	}
	if noJitter, err = count(0); err != nil {
		return 0, 0, 0, err
	}
	return peak, float64(n) / 300, noJitter, nil
}

// procStatus reads a "kB" field of /proc/self/status in bytes; 0 where there is none.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		return kb << 10
	}
	return 0
}

// startCPUProfile starts a CPU profile written to prefix+suffix and returns what stops it; with
// no prefix it does nothing.
func startCPUProfile(prefix, suffix string) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(prefix + suffix)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// writeHeapProfile writes a heap profile to path; with no path it does nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
