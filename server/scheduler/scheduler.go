package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/scheduling"
)

// ChangedChannel is the notification channel of deployment changes; the payload is the
// workflow id. The deployment service's OnChange publishes on it.
const ChangedChannel = "deployments.changed"

// Locker takes the short per-trigger fire lock that keeps replicas from racing for one fire.
// lock.Manager implements it.
type Locker interface {
	Acquire(ctx context.Context, key string, ttl time.Duration) (*lock.Lease, error)
	Release(ctx context.Context, l *lock.Lease) error
}

// Notifier delivers deployment changes. notify.Redis and notify.Local implement it.
type Notifier interface {
	Subscribe(ctx context.Context, channel string, fn func(payload string)) (unsubscribe func(), err error)
}

// Config configures a Scheduler. Every field has a default.
type Config struct {
	// ResyncInterval is the period of the full resync from the database, the safety net of
	// lost notifications. Default 30s.
	ResyncInterval time.Duration
	// FireLockTTL bounds how long a replica that died holding a fire lock keeps the others
	// waiting. Default 10s.
	FireLockTTL time.Duration
	// StandbyDelay is how long a replica that lost the fire lock waits before it makes the
	// fire itself (deduplicated by the database when the winner made it), so that a winner
	// that died loses nothing. Default 2s.
	StandbyDelay time.Duration
	// OutdatedThreshold is go-quartz's: a fire found later than this is not run by the loop
	// (the next catch-up or another replica covers it). Default 5s.
	OutdatedThreshold time.Duration
	// Now is the clock of the misfire plans (the fires themselves run on go-quartz's real
	// clock). Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Scheduler is the scheduler role: it keeps one go-quartz job per cron trigger of every
// DEPLOYED deployment and makes each fire through the Service. See doc.go.
type Scheduler struct {
	svc      *Service
	store    Store
	locker   Locker
	notifier Notifier
	cfg      Config

	quartz quartz.Scheduler

	syncMu sync.Mutex           // serialises resyncs
	mu     sync.Mutex           // guards jobs
	jobs   map[string]*jobState // by jobKey name

	stopOnce    sync.Once
	cancel      context.CancelFunc
	done        chan struct{}
	unsubscribe func()
	changes     chan string
}

// jobState is one scheduled cron trigger.
type jobState struct {
	workflowID string
	triggerID  string
	signature  string
}

// New returns a Scheduler. locker and notifier may be nil (one scheduler in process, no
// notifications: the embedded mode relies on the resync and on the fire-time status check).
func New(svc *Service, store Store, locker Locker, notifier Notifier, cfg Config) *Scheduler {
	cfg.ResyncInterval = cmp.Or(cfg.ResyncInterval, 30*time.Second)
	cfg.FireLockTTL = cmp.Or(cfg.FireLockTTL, 10*time.Second)
	cfg.StandbyDelay = cmp.Or(cfg.StandbyDelay, 2*time.Second)
	cfg.OutdatedThreshold = cmp.Or(cfg.OutdatedThreshold, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{svc: svc, store: store, locker: locker, notifier: notifier, cfg: cfg, jobs: map[string]*jobState{}}
}

// Start subscribes to deployment changes, loads every DEPLOYED cron trigger (catching up what
// was missed) and starts firing; then it resyncs in the background until Stop.
func (s *Scheduler) Start(ctx context.Context) error {
	q, err := quartz.NewStdScheduler(
		quartz.WithQueue(scheduling.NewJobQueue(), &sync.Mutex{}),
		quartz.WithJobMetadata(),
		quartz.WithOutdatedThreshold(s.cfg.OutdatedThreshold),
	)
	if err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	s.quartz = q
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.changes = make(chan string, 1024)
	if s.notifier != nil {
		unsub, err := s.notifier.Subscribe(ctx, ChangedChannel, func(workflowID string) {
			select {
			case s.changes <- workflowID:
			default: // full: the periodic resync catches up
				s.cfg.Logger.Warn("deployment change notifications overflow; waiting for the resync")
			}
		})
		if err != nil {
			cancel()
			return fmt.Errorf("start scheduler: %w", err)
		}
		s.unsubscribe = unsub
	}
	q.Start(runCtx)
	if err := s.ResyncAll(ctx); err != nil {
		s.cfg.Logger.Warn("initial resync failed; retrying at the next interval", slog.Any("error", err))
	}
	s.done = make(chan struct{})
	go s.loop(runCtx)
	return nil
}

// Stop stops firing and waits for the fires in progress. Idempotent.
func (s *Scheduler) Stop() {
	s.stopOnce.Do(func() {
		if s.unsubscribe != nil {
			s.unsubscribe()
		}
		if s.cancel == nil {
			return
		}
		s.cancel()
		if s.done != nil {
			<-s.done
		}
		s.quartz.Stop()
		waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.quartz.Wait(waitCtx)
	})
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.ResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case wf := <-s.changes:
			if err := s.Resync(ctx, wf); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("resync of a changed deployment failed", slog.String("workflow_id", wf), slog.Any("error", err))
			}
		case <-t.C:
			if err := s.ResyncAll(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("resync failed", slog.Any("error", err))
			}
		}
	}
}

// desiredJob is a cron trigger that should be scheduled.
type desiredJob struct {
	jobState
	deployment *deployments.Deployment
	cron       *deployments.CronSchedule
}

func jobName(workflowID, triggerID string) string { return workflowID + "/" + triggerID }

// signature identifies what a job fires: a change of any of it replaces the job.
func signature(c *deployments.CronSchedule) string {
	return strings.Join([]string{c.Expression, c.Timezone, fmt.Sprint(c.JitterWindowSeconds), c.RepeatedHour, c.SkippedHour}, "\x00")
}

func desiredOf(d *deployments.Deployment) []desiredJob {
	if d.Status != deployments.StatusDeployed {
		return nil
	}
	var out []desiredJob
	for _, t := range d.Triggers {
		if t.Cron == nil {
			continue
		}
		out = append(out, desiredJob{
			jobState:   jobState{workflowID: d.WorkflowID, triggerID: t.ID, signature: signature(t.Cron)},
			deployment: d,
			cron:       t.Cron,
		})
	}
	return out
}

// ResyncAll brings the jobs in step with every DEPLOYED deployment in the database.
func (s *Scheduler) ResyncAll(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	want := map[string]bool{}
	after := ""
	for {
		page, err := s.store.DeploymentList(ctx, &deployments.ListParams{Statuses: []deployments.Status{deployments.StatusDeployed}, AfterWorkflowID: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("resync: %w", err)
		}
		for _, d := range page {
			for _, dj := range desiredOf(d) {
				want[jobName(dj.workflowID, dj.triggerID)] = true
				s.apply(ctx, dj)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].WorkflowID
	}
	s.mu.Lock()
	var stale []string
	for name := range s.jobs {
		if !want[name] {
			stale = append(stale, name)
		}
	}
	s.mu.Unlock()
	for _, name := range stale {
		s.remove(name)
	}
	return nil
}

// Resync brings the jobs of one workflow in step with the database: called on a change
// notification.
func (s *Scheduler) Resync(ctx context.Context, workflowID string) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.DeploymentGetByWorkflow(ctx, workflowID)
	if errors.Is(err, apperr.ErrNotFound) {
		d, err = &deployments.Deployment{WorkflowID: workflowID}, nil
	}
	if err != nil {
		return fmt.Errorf("resync %s: %w", workflowID, err)
	}
	want := map[string]bool{}
	for _, dj := range desiredOf(d) {
		want[jobName(dj.workflowID, dj.triggerID)] = true
		s.apply(ctx, dj)
	}
	s.mu.Lock()
	var stale []string
	for name, j := range s.jobs {
		if j.workflowID == workflowID && !want[name] {
			stale = append(stale, name)
		}
	}
	s.mu.Unlock()
	for _, name := range stale {
		s.remove(name)
	}
	return nil
}

// apply schedules dj unless it is scheduled already with the same signature. A trigger new to
// this process is caught up first (misfires since its last fire); a changed one is replaced
// and not caught up (its old schedule's times are not the new one's).
func (s *Scheduler) apply(ctx context.Context, dj desiredJob) {
	name := jobName(dj.workflowID, dj.triggerID)
	s.mu.Lock()
	cur, ok := s.jobs[name]
	s.mu.Unlock()
	if ok && cur.signature == dj.signature {
		return
	}
	log := s.cfg.Logger.With(slog.String("workflow_id", dj.workflowID), slog.String("trigger_id", dj.triggerID))
	trig, err := NewTrigger(dj.workflowID, dj.cron)
	if err != nil {
		log.Warn("cron trigger cannot be scheduled", slog.Any("error", err))
		return
	}
	job := &fireJob{s: s, workflowID: dj.workflowID, triggerID: dj.triggerID, signature: dj.signature, trigger: trig}
	detail := quartz.NewJobDetailWithOptions(job, quartz.NewJobKeyWithGroup(name, "cron"), &quartz.JobDetailOptions{Replace: true})
	if err := s.quartz.ScheduleJob(detail, trig); err != nil {
		log.Warn("cron trigger cannot be scheduled", slog.Any("error", err))
		return
	}
	s.mu.Lock()
	s.jobs[name] = &dj.jobState
	s.mu.Unlock()
	if ok {
		return // replaced
	}
	// After ScheduleJob: a time between the two is fired by both, and deduplicated, rather
	// than by neither.
	res, err := s.svc.CatchUp(ctx, dj.deployment, dj.triggerID, s.cfg.Now())
	if err != nil {
		log.Warn("catch-up failed", slog.Any("error", err))
		return
	}
	if len(res.Fired)+len(res.Missed) > 0 {
		log.Info("caught up missed fires", slog.Int("fired", len(res.Fired)), slog.Int("missed", len(res.Missed)))
	}
}

func (s *Scheduler) remove(name string) {
	err := s.quartz.DeleteJob(quartz.NewJobKeyWithGroup(name, "cron"))
	if err != nil && !errors.Is(err, quartz.ErrJobNotFound) {
		s.cfg.Logger.Warn("cron job cannot be removed", slog.String("job", name), slog.Any("error", err))
	}
	s.mu.Lock()
	delete(s.jobs, name)
	s.mu.Unlock()
}

// Scheduled returns the names ("workflow/trigger") of the jobs this scheduler holds.
func (s *Scheduler) Scheduled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.jobs))
	for name := range s.jobs {
		out = append(out, name)
	}
	return out
}

// fireJob is the quartz.Job of one cron trigger.
type fireJob struct {
	s          *Scheduler
	workflowID string
	triggerID  string
	signature  string
	trigger    *scheduling.Trigger
}

var _ quartz.Job = (*fireJob)(nil)

// Description implements quartz.Job.
func (j *fireJob) Description() string { return "fire " + jobName(j.workflowID, j.triggerID) }

// Execute implements quartz.Job: one fire at the scheduled time go-quartz ran it for.
func (j *fireJob) Execute(ctx context.Context) error {
	md, ok := ctx.Value(quartz.JobMetadataContextKey).(quartz.JobMetadata)
	if !ok {
		return errors.New("fire: no job metadata in the context")
	}
	scheduled := time.Unix(0, md.RunTime).UTC()
	f := scheduling.Fire{Nominal: scheduled.Add(-j.trigger.Offset()).In(j.trigger.Location()), Scheduled: scheduled}
	j.s.fire(ctx, j, f)
	return nil // never retried by go-quartz: a failure is logged, and the sweeper-free path is the DB key
}

// fire makes one fire of j: check the deployment, take the trigger's fire lock (or, having
// lost it, wait StandbyDelay), then create the execution.
func (s *Scheduler) fire(ctx context.Context, j *fireJob, f scheduling.Fire) {
	log := s.cfg.Logger.With(slog.String("workflow_id", j.workflowID), slog.String("trigger_id", j.triggerID),
		slog.Time("scheduled_at", f.Scheduled))
	d, live := s.live(ctx, j)
	if !live {
		return
	}
	outcome, reason := OutcomeFired, ""
	if s.locker != nil {
		lease, err := s.locker.Acquire(ctx, "fire:"+jobName(j.workflowID, j.triggerID), s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			// Another replica is firing it. Wait, then make sure: the database deduplicates.
			t := time.NewTimer(s.cfg.StandbyDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if d, live = s.live(ctx, j); !live {
				return
			}
			reason = "standby replica: the replica holding the fire lock had not fired it"
		default:
			log.Warn("fire lock unavailable; firing without it", slog.Any("error", err))
		}
	}
	if _, _, err := s.svc.fire(ctx, d, j.triggerID, f, outcome, reason); err != nil && ctx.Err() == nil {
		log.Error("fire failed", slog.Any("error", err))
	}
}

// live reads the deployment fresh and says whether j may fire: DEPLOYED, with this trigger
// unchanged. A job that may not is resynced away.
func (s *Scheduler) live(ctx context.Context, j *fireJob) (*deployments.Deployment, bool) {
	d, err := s.store.DeploymentGetByWorkflow(ctx, j.workflowID)
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("fire: cannot read the deployment; not firing", slog.String("workflow_id", j.workflowID), slog.Any("error", err))
		}
		return nil, false
	}
	if err == nil && d.Status == deployments.StatusDeployed {
		if c := cronTrigger(d, j.triggerID); c != nil && signature(c) == j.signature {
			return d, true
		}
	}
	select {
	case s.changes <- j.workflowID:
	default:
	}
	return nil, false
}
