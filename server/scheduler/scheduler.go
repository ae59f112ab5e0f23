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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
	"github.com/workflow-runtime/workflow-runtime/server/deployments"
	"github.com/workflow-runtime/workflow-runtime/server/lock"
	"github.com/workflow-runtime/workflow-runtime/server/scheduling"
	"github.com/workflow-runtime/workflow-runtime/server/telemetry"
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
	// SettleAfter is how long after the scheduled time of a trigger's last failed fire its
	// store outage is settled (CAUGHT_UP / MISSED): by then every replica's live fire of that
	// time has given up, since each runs under a deadline of its scheduled time plus
	// SettleAfter. Default OutdatedThreshold + StandbyDelay + FireLockTTL.
	SettleAfter time.Duration
	// SettleRetryInitial and SettleRetryMax bound the backoff between settlement attempts
	// while the store does not answer (exponential, doubling, ±50% jitter). A fire that reaches
	// the store again makes the next attempt due at once. Defaults 1s and 30s.
	SettleRetryInitial time.Duration
	SettleRetryMax     time.Duration
	// Now is the clock of the misfire plans (the fires themselves run on go-quartz's real
	// clock). Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Metrics records each fire's lateness and the misfires. Default nil: none.
	Metrics *telemetry.Metrics
	// TracerProvider makes the span of each fire ("scheduler.fire"), which the execution's
	// traceparent continues. Default: the global provider.
	TracerProvider trace.TracerProvider
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
	tracer trace.Tracer

	cache deploymentCache
	after afterTimers // pending after-blackout fires (blackout.go)

	syncMu sync.Mutex           // serialises resyncs
	mu     sync.Mutex           // guards jobs
	jobs   map[string]*jobState // by jobKey name

	debtMu     sync.Mutex                 // guards debts
	debts      map[string]*debt           // by jobKey name: failed fires not settled yet (outage.go)
	deferred   map[string]*deferredMissed // by jobKey name: a catch-up's MISSED rows waiting for live fires
	settleKick chan struct{}
	settleDone chan struct{}

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
	cfg.SettleAfter = cmp.Or(cfg.SettleAfter, cfg.OutdatedThreshold+cfg.StandbyDelay+cfg.FireLockTTL)
	cfg.SettleRetryInitial = cmp.Or(cfg.SettleRetryInitial, time.Second)
	cfg.SettleRetryMax = cmp.Or(cfg.SettleRetryMax, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	return &Scheduler{
		svc: svc, store: store, locker: locker, notifier: notifier, cfg: cfg,
		tracer:   cfg.TracerProvider.Tracer("github.com/workflow-runtime/workflow-runtime/server/scheduler"),
		cache:    newDeploymentCache(),
		jobs:     map[string]*jobState{},
		debts:    map[string]*debt{},
		deferred: map[string]*deferredMissed{},
		// Buffered: a kick while the loop is busy is not lost.
		settleKick: make(chan struct{}, 1),
	}
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
	if err := s.startBlackouts(runCtx); err != nil {
		cancel()
		return fmt.Errorf("start scheduler: %w", err)
	}
	if s.notifier != nil {
		unsub, err := s.notifier.Subscribe(ctx, ChangedChannel, func(workflowID string) {
			// Before anything else: from now on a fire of this workflow reads the database,
			// so a pause stops the next fire even before the resync below has run.
			s.cache.invalidate(workflowID)
			select {
			case s.changes <- workflowID:
			default: // full: the periodic resync catches up
				s.cfg.Logger.Warn("deployment change notifications overflow; waiting for the resync")
			}
		})
		if err != nil {
			cancel()
			s.after.stopAll()
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
	s.settleDone = make(chan struct{})
	go s.settleLoop(runCtx)
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
		s.after.stopAll()
		if s.done != nil {
			<-s.done
		}
		if s.settleDone != nil {
			<-s.settleDone
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
	s.svc.cal.invalidate() // calendars are read again at every full resync
	want := map[string]bool{}
	listed := map[string]bool{}
	after := ""
	for {
		seq := s.cache.seq()
		page, err := s.store.DeploymentList(ctx, &deployments.ListParams{Statuses: []deployments.Status{deployments.StatusDeployed}, AfterWorkflowID: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("resync: %w", err)
		}
		var desired []desiredJob
		var fresh []string // workflows with a trigger new to this process
		for _, d := range page {
			listed[d.WorkflowID] = true
			s.cache.put(d.WorkflowID, d, seq)
			for _, dj := range desiredOf(d) {
				name := jobName(dj.workflowID, dj.triggerID)
				want[name] = true
				desired = append(desired, dj)
				if !s.holds(name) && (len(fresh) == 0 || fresh[len(fresh)-1] != d.WorkflowID) {
					fresh = append(fresh, d.WorkflowID)
				}
			}
		}
		// One read of the ledger for the page's new triggers, not one per trigger.
		lasts := map[TriggerKey]time.Time{}
		if len(fresh) > 0 {
			if lasts, err = s.store.FireLastScheduledMany(ctx, fresh); err != nil {
				return fmt.Errorf("resync: %w", err)
			}
		}
		for _, dj := range desired {
			last := lasts[TriggerKey{dj.workflowID, dj.triggerID}]
			s.apply(ctx, dj, &last)
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].WorkflowID
	}
	s.cache.keepOnly(listed)
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
	seq := s.cache.seq()
	d, err := s.store.DeploymentGetByWorkflow(ctx, workflowID)
	if errors.Is(err, apperr.ErrNotFound) {
		d, err = &deployments.Deployment{WorkflowID: workflowID}, nil
	}
	if err != nil {
		return fmt.Errorf("resync %s: %w", workflowID, err)
	}
	s.cache.put(workflowID, d, seq)
	want := map[string]bool{}
	for _, dj := range desiredOf(d) {
		want[jobName(dj.workflowID, dj.triggerID)] = true
		s.apply(ctx, dj, nil)
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

func (s *Scheduler) holds(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.jobs[name]
	return ok
}

// apply schedules dj unless it is scheduled already with the same signature. A trigger new to
// this process is caught up first (misfires since its last fire); a changed one is replaced
// and not caught up (its old schedule's times are not the new one's). last is the trigger's
// latest scheduled time on record when the caller read it already (zero: none); nil reads it.
func (s *Scheduler) apply(ctx context.Context, dj desiredJob, last *time.Time) {
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
		s.forgive(name) // the old schedule's failed fires are not the new one's
		return          // replaced
	}
	// After ScheduleJob: a time between the two is fired by both, and deduplicated, rather
	// than by neither. The times of the last SettleAfter may still be made by another
	// replica's live fire (a standby's, late): the plan fires what it fires (deduplicated if
	// that replica made it too) but records its MISSED ones among them only once those fires
	// are done, and only those nobody made (deferMissed).
	now := s.cfg.Now()
	g := gap{now: now, cause: causeDowntime, liveAfter: now.Add(-s.cfg.SettleAfter)}
	if last == nil {
		if g.last, err = s.store.FireLastScheduled(ctx, dj.workflowID, dj.triggerID); err != nil {
			log.Warn("catch-up failed", slog.Any("error", err))
			return
		}
	} else {
		g.last = *last
	}
	res, err := s.svc.catchUpFrom(ctx, dj.deployment, dj.triggerID, trig, g)
	s.deferMissed(job, res.deferred)
	s.cfg.Metrics.Misfire(ctx, dj.workflowID, int64(len(res.Missed)))
	if err != nil {
		log.Warn("catch-up failed", slog.Any("error", err))
		return
	}
	s.afterBlackout(ctx, job, dj.deployment) // an after-window fire a restart left owed
	if len(res.Fired)+len(res.Missed)+len(res.Deferred) > 0 {
		log.Info("caught up missed fires", slog.Int("fired", len(res.Fired)), slog.Int("missed", len(res.Missed)),
			slog.Int("missed_if_not_fired_live", len(res.Deferred)))
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
	s.after.stop(name)
	s.forgive(name)
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
	j.s.cfg.Metrics.FireLateness(ctx, time.Since(scheduled))
	ctx, span := j.s.tracer.Start(ctx, "scheduler.fire", trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("wfr.workflow_id", j.workflowID),
		attribute.String("wfr.trigger_id", j.triggerID),
		attribute.String("wfr.scheduled_at", scheduled.Format(time.RFC3339Nano)),
	))
	defer span.End()
	f := scheduling.Fire{Nominal: scheduled.Add(-j.trigger.Offset()).In(j.trigger.Location()), Scheduled: scheduled}
	j.s.fire(ctx, j, f)
	return nil // never retried by go-quartz: a failure is logged, and the sweeper-free path is the DB key
}

// fire makes one fire of j: check the deployment, take the trigger's fire lock (or, having
// lost it, wait StandbyDelay), then create the execution. A fire the store does not answer
// for (its deployment unreadable, or the execution not created) is owed: remembered and
// settled later (outage.go). The fire gives up at its scheduled time plus SettleAfter, when a
// settlement may decide its time.
func (s *Scheduler) fire(ctx context.Context, j *fireJob, f scheduling.Fire) {
	log := s.cfg.Logger.With(slog.String("workflow_id", j.workflowID), slog.String("trigger_id", j.triggerID),
		slog.Time("scheduled_at", f.Scheduled))
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, f.Scheduled.Add(s.cfg.SettleAfter))
	defer cancel()
	failed := func(err error) {
		if parent.Err() != nil {
			return // stopping: the next start's catch-up settles it
		}
		log.Error("fire failed; owed until the store answers", slog.Any("error", err))
		s.owe(j, f.Scheduled)
	}
	d, live, err := s.live(ctx, j)
	if err != nil {
		failed(err)
		return
	}
	if !live {
		s.recordPausedFire(ctx, j, d, f)
		return
	}
	if covered, err := s.blackout(ctx, j, d, f); err != nil || covered {
		if err != nil {
			failed(err)
		}
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
				failed(ctx.Err())
				return
			case <-t.C:
			}
			if d, live, err = s.live(ctx, j); err != nil {
				failed(err)
				return
			}
			if !live {
				return // paused since the first look: the lock holder decided the time
			}
			reason = "standby replica: the replica holding the fire lock had not fired it"
		default:
			log.Warn("fire lock unavailable; firing without it", slog.Any("error", err))
		}
	}
	if _, _, err := s.svc.fire(ctx, d, j.triggerID, f, outcome, reason); err != nil {
		failed(err)
		return
	}
	s.storeAnswered(j)
}

// live says whether j may fire: its deployment DEPLOYED, with this trigger unchanged (the
// deployment is returned either way, nil when there is none). The
// deployment comes from the cache, which the notifications invalidate and the resyncs refill;
// on a miss, or when there is no notifier, it is read from the database (and cached). A job
// that may not fire is resynced away. A failed read is returned: the fire is owed.
func (s *Scheduler) live(ctx context.Context, j *fireJob) (*deployments.Deployment, bool, error) {
	var d *deployments.Deployment
	cached := false
	if s.notifier != nil { // without notifications, a cached deployment could be stale for a resync interval
		d, cached = s.cache.get(j.workflowID)
	}
	if !cached {
		seq := s.cache.seq()
		var err error
		d, err = s.store.DeploymentGetByWorkflow(ctx, j.workflowID)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			d = nil
		case err != nil:
			return nil, false, fmt.Errorf("read the deployment: %w", err)
		}
		s.cache.put(j.workflowID, d, seq)
	}
	if d != nil && d.Status == deployments.StatusDeployed {
		if c := cronTrigger(d, j.triggerID); c != nil && signature(c) == j.signature {
			return d, true, nil
		}
	}
	select {
	case s.changes <- j.workflowID:
	default:
	}
	return d, false, nil
}
