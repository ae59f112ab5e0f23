package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unique"

	"github.com/reugn/go-quartz/quartz"
	"github.com/riverqueue/river/rivershared/startstop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/lock"
	"github.com/workflow-runtime/workflow-runtime/internal/policy"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
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
	// OnEvent, when set, is told of each live fire as it begins and once it has ended, of
	// each job scheduled or removed and of each after-blackout timer that ran (events.go),
	// synchronously, from the goroutine that did it: tests wait on it instead of sleeping. It
	// must return quickly. Default nil.
	OnEvent func(Event)
	// Sharding, when set, shares the cron triggers among the live scheduler replicas: this
	// one holds only those it is the primary or the standby of (shard.go). Default nil: every
	// trigger, as when it is the only scheduler.
	Sharding *Sharding
}

// Scheduler is the scheduler role: it keeps one go-quartz job per cron trigger of every
// DEPLOYED deployment and makes each fire through the Service. See doc.go.
type Scheduler struct {
	svc      *Service
	store    Store
	locker   Locker
	notifier Notifier
	cfg      Config

	quartz  quartz.Scheduler
	queueMu *sync.Mutex // go-quartz's queue lock (tests hold it to stall the loop)
	// noQuartzMisfires leaves go-quartz's misfired channel out: a test's way to show that the
	// queue's reports (misfire.go) lose no skipped fire alone.
	noQuartzMisfires bool
	tracer           trace.Tracer

	cache deploymentCache
	after afterTimers // pending after-blackout fires (blackout.go)

	syncMu    sync.Mutex      // serialises resyncs
	mu        sync.Mutex      // guards jobs and epoch
	jobs      *table[fireJob] // by jobKey name, marked with the epoch of the last full resync that found it; go-quartz's queue finds its jobs here too
	epoch     uint32          // of the full resync in progress or last done
	schedules cron.Schedules  // the parsed schedules the jobs' triggers share

	debtMu     sync.Mutex                 // guards debts
	debts      map[string]*debt           // by jobKey name: failed fires not settled yet (outage.go)
	deferred   map[string]*deferredMissed // by jobKey name: a catch-up's MISSED rows waiting for live fires
	settleKick chan struct{}

	shardMu sync.Mutex // guards shard
	shard   shardState // the membership view when sharded (shard.go)

	startstop.BaseStartStop
	changes chan string // deployment changes for the loop; made by Start
}

// jobState names a cron trigger's job and what it fires (desiredOf); the job scheduled for it
// is a fireJob.
type jobState struct {
	workflowID string
	triggerID  string
	signature  signatureHandle
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
	if cfg.Sharding != nil {
		sh := *cfg.Sharding
		sh.withShardDefaults()
		cfg.Sharding = &sh
	}
	return &Scheduler{
		svc: svc, store: store, locker: locker, notifier: notifier, cfg: cfg,
		tracer:   cfg.TracerProvider.Tracer("github.com/workflow-runtime/workflow-runtime/internal/scheduler"),
		cache:    newDeploymentCache(),
		jobs:     newJobTable(),
		debts:    map[string]*debt{},
		deferred: map[string]*deferredMissed{},
		// Buffered: a kick while the loop is busy is not lost.
		settleKick: make(chan struct{}, 1),
	}
}

// Start subscribes to deployment changes, loads every DEPLOYED cron trigger (catching up what
// was missed) and starts firing; then it resyncs in the background until Stop. Calling it on a
// running Scheduler does nothing; after Stop it starts again (with a new go-quartz scheduler).
// Cancelling ctx does not stop it.
//
// Stop (startstop.BaseStartStop's) stops firing and waits for the fires in progress (at most
// 10s for go-quartz's). Idempotent.
func (s *Scheduler) Start(ctx context.Context) error {
	stopCtx, shouldStart, started, stopped := s.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil // running already
	}
	misfired := make(chan quartz.ScheduledJob, misfiredBuffer)
	late := newLateJobs()
	queue := cron.NewJobQueueWithLookup(s.lookup)
	queue.OnLate(time.Duration(lateShare*float64(s.cfg.OutdatedThreshold)), late.add) // misfire.go
	s.queueMu = &sync.Mutex{}
	opts := []quartz.SchedulerOpt{
		quartz.WithQueue(queue, s.queueMu),
		quartz.WithJobMetadata(),
		quartz.WithOutdatedThreshold(s.cfg.OutdatedThreshold),
	}
	if !s.noQuartzMisfires {
		opts = append(opts, quartz.WithMisfiredChan(misfired)) // misfire.go
	}
	q, err := quartz.NewStdScheduler(opts...)
	if err != nil {
		stopped() // not started: Start may be called again
		return fmt.Errorf("start scheduler: %w", err)
	}
	s.quartz = q
	s.mu.Lock()
	s.jobs = newJobTable() // a restart schedules every job on the new go-quartz
	s.mu.Unlock()
	runCtx, cancel := context.WithCancel(stopCtx)
	s.changes = make(chan string, 1024)
	if err := s.startBlackouts(runCtx); err != nil {
		cancel()
		stopped()
		return fmt.Errorf("start scheduler: %w", err)
	}
	var unsubscribe func()
	if s.notifier != nil {
		unsubscribe, err = s.notifier.Subscribe(ctx, ChangedChannel, func(workflowID string) {
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
			stopped()
			return fmt.Errorf("start scheduler: %w", err)
		}
	}
	q.Start(runCtx)
	if s.cfg.Sharding != nil {
		s.readMembers(ctx) // the first view, before the first load
	}
	if err := s.ResyncAll(ctx); err != nil {
		s.cfg.Logger.Warn("initial resync failed; retrying at the next interval", slog.Any("error", err))
	} else if s.cfg.Sharding != nil {
		s.reportShare(ctx, "scheduler took its share", nil)
	}
	var loops sync.WaitGroup
	loops.Go(func() { s.loop(runCtx) })
	loops.Go(func() { s.settleLoop(runCtx) })
	loops.Go(func() { s.misfireLoop(runCtx, misfired, late) })
	if s.cfg.Sharding != nil {
		loops.Go(func() { s.shardLoop(runCtx) })
	}
	go func() {
		defer stopped()
		started()
		<-stopCtx.Done() // Stop
		if unsubscribe != nil {
			unsubscribe()
		}
		cancel()
		s.after.stopAll()
		loops.Wait()
		q.Stop()
		waitCtx, cancelWait := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelWait()
		q.Wait(waitCtx)
	}()
	return nil
}

func (s *Scheduler) loop(ctx context.Context) {
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

// appendJobName appends jobName(workflowID, triggerID) to b: a map lookup by string(b) of a
// buffer on the stack allocates nothing.
func appendJobName(b []byte, workflowID, triggerID string) []byte {
	b = append(b, workflowID...)
	b = append(b, '/')
	return append(b, triggerID...)
}

// signatureHandle identifies what a job fires: a change of any of it replaces the job. It is
// interned: comparing two is comparing two pointers, and making one that exists allocates
// nothing.
type signatureHandle = unique.Handle[signatureKey]

type signatureKey struct {
	expression, timezone string
	window               uint32
	repeated             policy.RepeatedHour
	skipped              policy.SkippedHour
}

func signature(c *deployments.CronSchedule) signatureHandle {
	return unique.Make(signatureKey{c.Expression, c.Timezone, c.JitterWindowSeconds, c.RepeatedHour, c.SkippedHour})
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

// staleScanSlots is how many slots of the job table ResyncAll looks at per hold of s.mu.
const staleScanSlots = 8192

// lastsMaxAge is how old ResyncAll lets the ledger times it read for the catch-ups get.
const lastsMaxAge = time.Second

// ResyncAll brings the jobs in step with every DEPLOYED deployment in the database.
func (s *Scheduler) ResyncAll(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.svc.cal.invalidate() // calendars are read again at every full resync
	// The jobs and cached deployments this resync finds are marked with its epoch; the others
	// are dropped at the end (no set of a million names to build each time).
	s.mu.Lock()
	s.epoch++
	epoch := s.epoch
	s.mu.Unlock()
	cacheEpoch := s.cache.beginEpoch()
	after := ""
	var desired []desiredJob
	var fresh []string // workflows with a trigger new to this process
	for {
		seq := s.cache.seq()
		page, err := s.store.DeploymentList(ctx, &deployments.ListParams{Statuses: []deployments.Status{deployments.StatusDeployed}, AfterWorkflowID: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("resync: %w", err)
		}
		desired, fresh = desired[:0], fresh[:0]
		freshAt := map[string]int{}
		for _, d := range page {
			s.cache.putMarked(d.WorkflowID, d, seq, cacheEpoch)
			for _, dj := range desiredOf(d) {
				if !s.mineIDs(dj.workflowID, dj.triggerID) {
					continue // another replica's share (shard.go)
				}
				desired = append(desired, dj)
				if !s.mark(dj.workflowID, dj.triggerID, epoch) && (len(fresh) == 0 || fresh[len(fresh)-1] != d.WorkflowID) {
					freshAt[d.WorkflowID] = len(fresh)
					fresh = append(fresh, d.WorkflowID)
				}
			}
		}
		// One read of the ledger for the page's new triggers, not one per trigger; read again
		// for the workflows still to come once it is lastsMaxAge old: a time fired since the
		// read (by another replica that holds the trigger) would cost its catch-up a
		// deduplicated fire, and a long load (a rebalance under churn) would add them up.
		lasts := map[TriggerKey]time.Time{}
		var readAt time.Time
		for _, dj := range desired {
			if i, ok := freshAt[dj.workflowID]; ok && time.Since(readAt) > lastsMaxAge {
				if lasts, err = s.store.FireLastScheduledMany(ctx, fresh[i:]); err != nil {
					return fmt.Errorf("resync: %w", err)
				}
				readAt = time.Now()
			}
			last := lasts[TriggerKey{dj.workflowID, dj.triggerID}]
			s.apply(ctx, dj, &last)
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].WorkflowID
	}
	s.cache.keepOnly(cacheEpoch)
	// The jobs this resync did not mark, a slice of the table at a time: go-quartz's loop finds
	// its jobs in the table (lookup), and one pass over a million slots under s.mu held it up
	// for tens of milliseconds, which every fire due meanwhile waited out. A job seen twice is
	// removed twice (a no-op); one not seen is removed by the next resync.
	var stale []string
	for from := 0; from >= 0; {
		s.mu.Lock()
		from = s.jobs.scan(from, staleScanSlots, func(j *fireJob, mark uint32) {
			if mark != epoch {
				stale = append(stale, j.name)
			}
		})
		s.mu.Unlock()
	}
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
	if errors.Is(err, errdefs.ErrNotFound) {
		d, err = &deployments.Deployment{WorkflowID: workflowID}, nil
	}
	if err != nil {
		return fmt.Errorf("resync %s: %w", workflowID, err)
	}
	s.cache.put(workflowID, d, seq)
	want := map[string]bool{}
	for _, dj := range desiredOf(d) {
		if !s.mineIDs(dj.workflowID, dj.triggerID) {
			continue // another replica's share (shard.go)
		}
		want[jobName(dj.workflowID, dj.triggerID)] = true
		s.apply(ctx, dj, nil)
	}
	s.mu.Lock()
	var stale []string
	s.jobs.all(func(j *fireJob, _ uint32) {
		if j.workflowID() == workflowID && !want[j.name] {
			stale = append(stale, j.name)
		}
	})
	s.mu.Unlock()
	for _, name := range stale {
		s.remove(name)
	}
	return nil
}

// mark marks the job of the trigger, if there is one, as found by the full resync of epoch and
// says whether there is one.
func (s *Scheduler) mark(workflowID, triggerID string, epoch uint32) bool {
	var buf [128]byte
	name := appendJobName(buf[:0], workflowID, triggerID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs.setMark(string(name), epoch)
}

// lookup finds the job go-quartz's queue asks for (cron.NewJobQueueWithLookup): the scheduler's
// table of jobs is the queue's index. apply schedules a job before it enters the table and
// remove deletes it from go-quartz before it leaves, as the lookup requires.
func (s *Scheduler) lookup(key *quartz.JobKey) cron.CompactJob {
	if key.Group() != "cron" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, _ := s.jobs.get(key.Name()); j != nil {
		return j
	}
	return nil
}

// apply schedules dj unless it is scheduled already with the same signature. A trigger new to
// this process is caught up first (misfires since its last fire); a changed one is replaced
// and not caught up (its old schedule's times are not the new one's). last is the trigger's
// latest scheduled time on record when the caller read it already (zero: none); nil reads it.
func (s *Scheduler) apply(ctx context.Context, dj desiredJob, last *time.Time) {
	var buf [128]byte
	s.mu.Lock()
	cur, _ := s.jobs.get(string(appendJobName(buf[:0], dj.workflowID, dj.triggerID)))
	s.mu.Unlock()
	ok := cur != nil
	if ok && cur.signature == dj.signature {
		return
	}
	// Made when something is logged only: apply runs for every trigger at a load.
	log := func() *slog.Logger {
		return s.cfg.Logger.With(slog.String("workflow_id", dj.workflowID), slog.String("trigger_id", dj.triggerID))
	}
	// The triggers of one expression, zone, window and policies share its parsed schedule.
	job, err := s.newFireJob(dj)
	if err != nil {
		log().Warn("cron trigger cannot be scheduled", slog.Any("error", err))
		return
	}
	trig := &job.trigger
	// The job's live fires make the times after this; the catch-up below reads the ledger
	// before it (a live fire that lands first must not start the catch-up after its time).
	scheduledAt := s.cfg.Now()
	// Scheduled before it enters the table: until then the queue finds the job it replaces.
	if err := s.quartz.ScheduleJob(job.JobDetail(), trig); err != nil {
		log().Warn("cron trigger cannot be scheduled", slog.Any("error", err))
		return
	}
	s.mu.Lock()
	s.jobs.put(job, s.epoch)
	s.mu.Unlock()
	name := job.name
	defer s.event(EventJobScheduled, dj.workflowID, dj.triggerID, time.Time{}) // after the catch-up
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
		// Read after ScheduleJob, so bounded by the time it was called: the job may have fired
		// already, and its time as the latest on record would leave the missed times before it
		// unfired. A time made before then by another replica is on record, as it should be.
		if g.last, err = s.store.FireLastScheduledBefore(ctx, dj.workflowID, dj.triggerID, scheduledAt); err != nil {
			log().Warn("catch-up failed", slog.Any("error", err))
			return
		}
	} else {
		g.last = *last
	}
	res, err := s.svc.catchUpFrom(ctx, dj.deployment, dj.triggerID, trig, g)
	s.deferMissed(job, res.deferred)
	s.cfg.Metrics.Misfire(ctx, dj.workflowID, int64(len(res.Missed)))
	if err != nil {
		log().Warn("catch-up failed", slog.Any("error", err))
		return
	}
	s.afterBlackout(ctx, job, dj.deployment) // an after-window fire a restart left owed
	if len(res.Fired)+len(res.Missed)+len(res.Deferred) > 0 {
		log().Info("caught up missed fires", slog.Int("fired", len(res.Fired)), slog.Int("missed", len(res.Missed)),
			slog.Int("missed_if_not_fired_live", len(res.Deferred)))
	}
}

func (s *Scheduler) remove(name string) {
	err := s.quartz.DeleteJob(quartz.NewJobKeyWithGroup(name, "cron"))
	if err != nil && !errors.Is(err, quartz.ErrJobNotFound) {
		s.cfg.Logger.Warn("cron job cannot be removed", slog.String("job", name), slog.Any("error", err))
	}
	s.mu.Lock()
	j := s.jobs.delete(name)
	s.mu.Unlock()
	s.after.stop(name)
	s.forgive(name)
	if j != nil {
		s.event(EventJobRemoved, j.workflowID(), j.triggerID(), time.Time{})
	}
}

// Scheduled returns the names ("workflow/trigger") of the jobs this scheduler holds.
func (s *Scheduler) Scheduled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, s.jobs.len())
	s.jobs.all(func(j *fireJob, _ uint32) { out = append(out, j.name) })
	return out
}

// fireJob is the quartz.Job of one cron trigger, and all the scheduler keeps of it, in one
// allocation with its name: its trigger, and its place in go-quartz's queue (cron.JobQueue),
// which holds it as a cron.CompactJob, finds it in the scheduler's table (lookup) and builds the
// JobDetail and ScheduledJob go-quartz asks for from it.
type fireJob struct {
	s         *Scheduler
	name      string // jobName(workflowID, triggerID), its key in group "cron"
	signature signatureHandle
	trigger   cron.Trigger
	item      cron.QueueItem
}

var _ cron.CompactJob = (*fireJob)(nil)

// workflowID returns the first part of the job's name (the trigger's own copy).
func (j *fireJob) workflowID() string { return j.trigger.WorkflowID() }

// triggerID returns the last part of the job's name.
func (j *fireJob) triggerID() string { return j.name[len(j.trigger.WorkflowID())+1:] }

func newJobTable() *table[fireJob] { return newTable(func(j *fireJob) string { return j.name }) }

// newFireJob builds the job of dj, not scheduled yet.
func (s *Scheduler) newFireJob(dj desiredJob) (*fireJob, error) {
	name := jobName(dj.workflowID, dj.triggerID)
	wf := name[:len(dj.workflowID)]
	// The triggers of one expression, zone, window and policies share its parsed schedule.
	trig, err := s.schedules.Make(dj.cron.TriggerConfig(wf))
	if err != nil {
		return nil, err
	}
	return &fireJob{s: s, name: name, signature: dj.signature, trigger: trig}, nil
}

// JobDetail implements cron.CompactJob: the detail the job is scheduled with.
func (j *fireJob) JobDetail() *quartz.JobDetail {
	return quartz.NewJobDetailWithOptions(j, quartz.NewJobKeyWithGroup(j.name, "cron"), &quartz.JobDetailOptions{Replace: true})
}

// Trigger implements cron.CompactJob.
func (j *fireJob) Trigger() quartz.Trigger { return &j.trigger }

// QueueItem implements cron.CompactJob.
func (j *fireJob) QueueItem() *cron.QueueItem { return &j.item }

// Description implements quartz.Job.
func (j *fireJob) Description() string { return "fire " + j.name }

// Execute implements quartz.Job: one fire at the scheduled time go-quartz ran it for.
func (j *fireJob) Execute(ctx context.Context) error {
	md, ok := ctx.Value(quartz.JobMetadataContextKey).(quartz.JobMetadata)
	if !ok {
		return errors.New("fire: no job metadata in the context")
	}
	scheduled := time.Unix(0, md.RunTime).UTC()
	j.s.cfg.Metrics.FireLateness(ctx, time.Since(scheduled))
	ctx, span := j.s.tracer.Start(ctx, "scheduler.fire", trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("wfr.workflow_id", j.workflowID()),
		attribute.String("wfr.trigger_id", j.triggerID()),
		attribute.String("wfr.scheduled_at", scheduled.Format(time.RFC3339Nano)),
	))
	defer span.End()
	f := cron.Fire{Nominal: scheduled.Add(-j.trigger.Offset()).In(j.trigger.Location()), Scheduled: scheduled}
	j.s.event(EventFireBegan, j.workflowID(), j.triggerID(), scheduled)
	defer j.s.event(EventFireEnded, j.workflowID(), j.triggerID(), scheduled)
	j.s.fire(ctx, j, f)
	return nil // never retried by go-quartz: a failure is logged, and the sweeper-free path is the DB key
}

// fire makes one fire of j: check the deployment, take the trigger's fire lock (or, having
// lost it, wait StandbyDelay), then create the execution. A fire the store does not answer
// for (its deployment unreadable, or the execution not created) is owed: remembered and
// settled later (outage.go). The fire gives up at its scheduled time plus SettleAfter, when a
// settlement may decide its time.
func (s *Scheduler) fire(ctx context.Context, j *fireJob, f cron.Fire) {
	// Made when something is logged only: this runs for every fire.
	log := func() *slog.Logger {
		return s.cfg.Logger.With(slog.String("workflow_id", j.workflowID()), slog.String("trigger_id", j.triggerID()),
			slog.Time("scheduled_at", f.Scheduled))
	}
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, f.Scheduled.Add(s.cfg.SettleAfter))
	defer cancel()
	failed := func(err error) {
		if parent.Err() != nil {
			return // stopping: the next start's catch-up settles it
		}
		log().Error("fire failed; owed until the store answers", slog.Any("error", err))
		s.owe(j, f.Scheduled)
	}
	// The first look is taken at the scheduled time, before a standby waits for the primary:
	// the time is decided by the deployment as it was when the time passed. A standby that
	// looked only after its wait would let a pause made meanwhile drop a time that was due
	// while the deployment was live, when the primary died before making it.
	d, live, err := s.live(ctx, j)
	decided, waited := s.standby(ctx, j, f)
	if decided {
		return // the primary made it (shard.go)
	}
	if err != nil && waited {
		d, live, err = s.live(ctx, j) // the first look failed: a standby that waited looks again
	}
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
	// A standby that waited makes the time without the fire lock: the lock keeps the replicas
	// from racing at the scheduled time, and the standby comes StandbyDelay after it, having
	// found the time unmade. Under the lock it would wait again whenever a fire of a later time
	// held it (its own process's, once a rebalance has made it primary), and a process killed
	// during that second wait lost the time: behind the ledger's latest time, no catch-up sees
	// it. A primary that fires late races the standby at most; the unique key decides.
	if s.locker != nil && !waited {
		lease, err := s.locker.Acquire(ctx, "fire:"+j.name, s.cfg.FireLockTTL)
		switch {
		case err == nil:
			defer func() { _ = s.locker.Release(context.WithoutCancel(ctx), lease) }()
		case errors.Is(err, lock.ErrNotAcquired):
			// Another fire of the trigger holds the lock: another replica's of this time, or a
			// fire of a later time (a standby's wait can outlast a second). Wait, then look for
			// this time itself: made, nothing to do; otherwise it is made now, by the first
			// look (it was due then, whatever happened to the deployment since), and the
			// database deduplicates a race.
			t := time.NewTimer(s.cfg.StandbyDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				failed(ctx.Err())
				return
			case <-t.C:
			}
			at := f.Scheduled.UTC()
			decided, err := s.store.FireDecided(ctx, j.workflowID(), j.triggerID(), at.Add(-time.Nanosecond), at)
			if err != nil {
				failed(err)
				return
			}
			if decided[at] {
				return // the lock holder made it
			}
			reason = "standby replica: the replica holding the fire lock had not fired it"
		default:
			log().Warn("fire lock unavailable; firing without it", slog.Any("error", err))
		}
	}
	if _, _, err := s.svc.fire(ctx, d, j.triggerID(), f, outcome, reason); err != nil {
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
		d, cached = s.cache.get(j.workflowID())
	}
	if !cached {
		seq := s.cache.seq()
		var err error
		d, err = s.store.DeploymentGetByWorkflow(ctx, j.workflowID())
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			d = nil
		case err != nil:
			return nil, false, fmt.Errorf("read the deployment: %w", err)
		}
		s.cache.put(j.workflowID(), d, seq)
	}
	if d != nil && d.Status == deployments.StatusDeployed {
		if c := cronTrigger(d, j.triggerID()); c != nil && signature(c) == j.signature {
			return d, true, nil
		}
	}
	select {
	case s.changes <- j.workflowID():
	default:
	}
	return d, false, nil
}
