// Package scheduler is the scheduler role: it keeps every cron trigger of every DEPLOYED
// deployment scheduled in go-quartz and makes each fire once, however many replicas run. It also
// holds the scheduling work the API needs (Service: backfill, previews, the fire ledger).
//
//   - service.go: Service, one fire (execution + ledger record), CatchUp, Backfill, Preview,
//     ListFires.
//   - backfill.go: the parts of a backfill shared by the call, its dry run and the backfill
//     operations' batches (scope, plan, count, BackfillStep, BackfillDryRun).
//   - scheduler.go: Scheduler, the role: go-quartz with cron.JobQueue, resync,
//     notifications, the fire lock.
//   - fires.go: the ledger types, the Store the package needs (internal/store implements it) and
//     SkipLedger, the execution side's SKIPPED records.
//   - outage.go: fires the store did not answer for, remembered and settled once it does.
//   - paused.go: the PAUSED records of the times a paused deployment let pass.
//   - cache.go: the deployment cache the fires read.
//   - dstreport.go: Service.DSTReport, the DST report of a deployment's cron triggers at the
//     service's clock (GetDstReport, deploy warnings).
//   - blackout.go: blackout calendars in the fire path (see "Blackouts" below).
//   - shard.go: sharing the triggers among the replicas (see "Sharing the triggers" below).
//   - events.go: the events Config.OnEvent is told of (fires begun and ended, jobs scheduled
//     and removed, after-blackout timers run): the signals tests wait on instead of sleeping.
//
// # Keeping go-quartz in step with the database
//
// One quartz job per (workflow, cron trigger), keyed "workflow/trigger" in group "cron", its
// trigger a cron.Trigger (jitter and DST policies). What a trigger costs is kept small, since one
// process holds a million of them: the triggers of one expression, zone, jitter window and
// policies share one parsed schedule (cron.Schedules, held by the Scheduler), and the queue keeps
// each job as its fireJob and next run time (a cron.CompactJob), building go-quartz's JobDetail
// when go-quartz asks for it. Per trigger that is about 450 bytes besides the cached deployment
// (docs/benchmarks.md, "Scheduling").
//
// Start subscribes to ChangedChannel, then loads every DEPLOYED deployment (DeploymentList pages
// of 1000) and schedules its cron triggers; every ResyncInterval (30 s) it does that again and removes the jobs nothing asks
// for any more. The deployment service's OnChange publishes the workflow id on ChangedChannel
// after each committed Deploy, Update and Delete, and every replica resyncs that one workflow:
// add, replace (the trigger's expression, zone, window or a policy changed) or remove its jobs.
// A job whose trigger did not change is left alone, so a resync never moves a due fire.
//
// A full resync reads the ledger's latest scheduled time of every new trigger of a page of
// deployments in one query (FireLastScheduledMany) for the catch-up, not one query per trigger:
// 100,000 triggers load in about a second from an in-memory store
// (docs/benchmarks-scheduling.md).
//
// # The deployment cache
//
// A fire reads its deployment from the cache (cache.go), not the database. Every resync puts
// what it read; a change notification invalidates its workflow in the subscriber's callback,
// before the callback returns and before the resync it queues, so from the moment the
// notification arrives a fire of that workflow reads the database again (and caches what it
// read). A read that began before an invalidation never overwrites it: each put carries the
// invalidation sequence number taken before its read. A lost notification leaves a stale entry
// until the next full resync (ResyncInterval). Without a notifier (New with nil) there is
// nothing to invalidate the cache, so every fire reads the database, as embedded tests do.
//
// # Each fire once
//
// A fire at scheduled time T (go-quartz's run time, passed in the job's context):
//
//  1. looks the deployment up (the cache, or the database after a notification): not
//     DEPLOYED, or the trigger gone or changed, and nothing is fired (and the workflow is
//     resynced); PAUSED with the trigger unchanged records the time PAUSED (see "Paused
//     deployments"). A pause therefore stops fires as soon as its notification arrives, and at
//     the latest at the next full resync when the notification is lost;
//  2. takes the trigger's fire lock "fire:workflow/trigger" (FireLockTTL 10 s, released after
//     the fire). A replica that loses it waits StandbyDelay (2 s), then looks for T in the
//     ledger and the executions (FireDecided): made, it stops; otherwise it fires, by its first
//     look (the deployment as it was when T passed, whatever happened since), and when the
//     winner made the fire meanwhile the database turns it into a no-op (DEDUPLICATED); when the
//     winner died before, the standby makes it. So the lock only keeps the replicas from racing
//     at T; the database's unique key on executions (workflow_id, trigger_id, scheduled_at)
//     decides, and a dead replica loses no fire another can make. The holder may be firing
//     another time of the trigger (a sharded standby's wait can outlast the next second), so
//     losing the lock says nothing about T itself: before, a replica that lost it and then
//     found the deployment PAUSED dropped T, although T was due while it was live;
//  3. execution.Service.Fire inserts the PENDING execution (or finds the existing one) and
//     enqueues it; the ledger gets FIRED, or DEDUPLICATED.
//
// The lock is per trigger, not per scheduled time: lock.RedisManager keeps a fence key without
// TTL per lock key, and a key per fire would leave one Redis key behind per fire.
//
// Each fire runs in a span "scheduler.fire" (Config.TracerProvider), which the execution's
// traceparent continues, and records its lateness (go-quartz's start of the job − the jittered
// scheduled time) in Config.Metrics; a catch-up counts its MISSED times there too.
//
// # Sharing the triggers
//
// With Config.Sharding (the app sets it when the instance registry is shared, Redis, and
// WFR_SCHEDULER_SHARDING is on) a replica holds only its share: every Sharding.Interval (the
// registry's heartbeat) it reads the live schedulers, and each trigger ("workflow/trigger") is
// held by two of them, chosen by rendezvous hashing over the instance ids (internal/shard). The
// first is the trigger's primary, the second its standby. Resyncs skip the triggers that are
// not this replica's (the filter in ResyncAll and Resync), so a membership change is a full
// resync against the new view: the triggers newly owned are scheduled and caught up from the
// ledger like any trigger new to the process, those no longer owned are removed as stale.
//
// The standby fires a time only when the primary has not: at the fire it reads the deployment
// (the first look, as the primary does), waits StandbyDelay, then reads the time's ledger rows
// and execution (FireDecided) and stops when there is one; otherwise it fires as the primary
// would have, by the first look, without the fire lock (the lock keeps replicas from racing at
// the scheduled time, and the standby comes after it; taking it, the standby waited again when a
// fire of a later time held it, and a process killed in that wait lost the time) and under the
// unique key. The first look comes
// before the wait so that a pause made during it does not drop a time that was due while the
// deployment was live and whose primary died before making it. The
// alternative, firing every time after the delay and letting the database deduplicate, would
// cost a write per fire on the standby (an execution insert that conflicts, a DEDUPLICATED
// row); the read costs less and leaves the ledger with the fires that happened. A standby that
// reads while the primary's fire is under way fires too, and the unique key makes that a
// deduplication. Triggers held during a handoff (below) behave as standbys.
//
// Why nothing is lost at a change:
//
//   - Views differ for up to one Interval between replicas. A replica that loses a trigger
//     keeps it for Sharding.Handoff (six heartbeats, 30 s) after the change, as a standby, so
//     the new owner has scheduled it (and caught it up) before the old one drops it: the
//     trigger passes through three holders, never through none. The release is a resync once
//     the handoff has run out.
//   - A killed replica stays listed for its registry TTL. Its triggers' other holders fire them
//     meanwhile (the standby after StandbyDelay); only then do they move.
//   - Both holders of a trigger dead within one TTL: no live replica fires it until the ring
//     drops them, and the new holders' catch-up settles the times per the misfire policy
//     (FIRE_ALL fires each). A rebalance's catch-up reads the ledger's last time before it
//     schedules the job, so a live fire of the new holder cannot hide the gap from it. ResyncAll reads those
//     times again once they are a second old, so a long rebalance does not replay, one
//     deduplicated fire at a time, what the other holder fired meanwhile.
//   - The membership unreadable (Redis down): the last view is kept; at start, the replica is
//     alone in its view and holds everything, as an unsharded scheduler.
//
// With one live scheduler, Sharding nil, or no Redis, the replica is the primary of every
// trigger: everything is as without sharding. The share taken at start and each rebalance are
// logged ("scheduler took its share", "scheduler rebalanced": primary, standby, releasing,
// added, removed), counted in wfr_scheduler_triggers_held{role} and
// wfr_scheduler_rebalance_moves_total, and told to Config.OnEvent (EventRebalanced).
//
// # Misfires
//
// When a replica schedules a trigger it did not hold before (start, deploy, resume), it catches
// up (Service.CatchUp): scheduling.PlanMisfires over (last, now], where last is the latest
// scheduled time in the ledger or the deployment's DeployedAt, whichever is later (a pause
// is not a misfire, nor the time before the first deploy), with the deployment's catch-up window
// and misfire policy (internal/policy): FIRE_ALL fires every time inside the window, FIRE_ONCE
// (the default) the latest, SKIP none; fires are recorded CAUGHT_UP (DEDUPLICATED when another replica made them), the rest
// MISSED. The plan is made after the job is scheduled, so a time between the two is made by
// both (and deduplicated) rather than by neither. A job replaced because its trigger changed is
// not caught up.
//
// A fire writes the execution, then its ledger row; a scheduler that stops in between leaves a
// time with an execution and no row, after the latest ledger time. The catch-up looks for such
// times in its range before it plans (Store.FireUnrecorded; only when the plan has times, and
// only up to SettleAfter ago, since a later one may be another replica's fire between its two
// writes) and records each FIRED with the execution's id and a reason that says so; the plan
// leaves them out, so none runs again or is recorded MISSED.
//
// Other replicas may still be firing the most recent of those times: a replica restarted while
// another keeps firing finds the ledger behind by the fires under way, and a standby fires up
// to StandbyDelay late (FireLockTTL longer while a dead replica's fire lock lasts). So the
// plan's MISSED times less than SettleAfter old are not recorded at once: the replica keeps
// them (outage.go, deferMissed) and, once SettleAfter has passed since the latest of them,
// records MISSED, under the fire lock, those that still have no execution and no ledger row
// (Store.FireDecided). A time a live fire made keeps its execution and gets no MISSED row;
// one nobody made gets its MISSED row at most SettleAfter late. Like the debts below, these
// live in memory: a replica that stops first forgets them, and their times stay without rows
// unless another replica made them.
//
// The misfire plan runs on Config.Now; the fires run on go-quartz's real clock; tests call
// CatchUp with an explicit now.
//
// go-quartz skips a fire found more than OutdatedThreshold (5 s) late (a stalled process) and
// reports it on its misfired channel, which drops a report that does not fit; the job queue
// reports every job it hands go-quartz that late (9/10 of the threshold, since go-quartz reads
// its clock a moment later) on a list without a bound, so none is lost (misfire.go). The times
// skipped are owed, as the fires of a store outage are, and settled below by the misfire policy
// with reasons that start "the scheduler fell behind"; a time reported that go-quartz ran all
// the same is found decided and left alone.
//
// # Store outages
//
// A fire the store does not answer for (PostgreSQL down: the deployment cannot be read on a
// cache miss, or the execution cannot be created) is owed (outage.go): the replica remembers,
// per trigger, the scheduled times of its first and last failed fire, and tries to settle them
// with an exponential backoff (SettleRetryInitial 1 s doubling to SettleRetryMax 30 s, ±50%
// jitter), on Config.Now. A fire of the trigger that reaches the store again makes the next
// attempt due at once. An attempt:
//
//  1. waits until SettleAfter (OutdatedThreshold + StandbyDelay + FireLockTTL, 17 s) has passed
//     since the last failed time: every live fire runs under the deadline scheduled time +
//     SettleAfter, so by then no replica's live fire of a time in the gap is still under way
//     (go-quartz starts it at most OutdatedThreshold late, a standby waits StandbyDelay);
//  2. takes the trigger's fire lock (held by another replica: try again later), so replicas
//     settle one after the other;
//  3. reads the deployment from the database (not the cache: the store must answer). Not
//     DEPLOYED any more, or the trigger changed: nothing is owed (a pause is not a misfire);
//  4. reads where the gap begins, the latest ledger time before the first failed fire (or the
//     deployment's DeployedAt, whichever is later), and the times in the gap that already
//     have an execution or a ledger row (Store.FireDecided);
//  5. settles through catchUpFrom, the code of a catch-up after downtime, with the plan ending
//     at the last failed time (PlanMisfires' Until; later times are the live fires') and the
//     catch-up window measured from now: FIRE_ONCE fires the latest time CAUGHT_UP and records
//     the others MISSED, FIRE_ALL fires those inside the window, SKIP none, each reason
//     starting "the store was unavailable". The times found in step 4 are left alone.
//
// Why a gap is settled once and no time gets both an execution and a MISSED row: within the
// lock, an attempt decides only times with neither, and its writes are the ones the next
// attempt (a retry after a failure halfway, another replica owing the same gap) finds in step
// 4; MISSED rows and executions are idempotent by their unique keys. A live fire cannot make a
// time after its settlement began, because of step 1. What remains is a live fire whose insert
// reached the database but whose answer was lost past its deadline: the insert commits, the
// fire counts as failed, and the settlement finds the execution (step 4), so that time is
// left alone too. Only an insert that the database commits later than SettleAfter after its
// scheduled time, with the settlement's reads in between, could give a time both; the driver
// cancels the statement at the deadline, so that needs the database to sit on a cancelled
// statement for seconds.
//
// Debts live in memory. A replica that stops before settling forgets them: another replica
// that failed the same fires settles the gap; with none, a start's catch-up covers only the
// times after the latest ledger time, so a gap that live fires closed behind it stays without
// rows (its times have no execution, and no MISSED row says so). A job removed or replaced
// forgets its debt.
//
// # Paused deployments
//
// A paused deployment's jobs are removed (desiredOf schedules DEPLOYED deployments only), so
// most of the times a pause lets pass are seen by no scheduler. Each is recorded PAUSED once,
// one of two ways:
//
//   - a fire of a job still held when the time passes (between the pause and the resync that
//     removes the job) finds the deployment PAUSED at its first look and records the time
//     PAUSED instead of firing it, reason "the deployment was PAUSED". It does so under the
//     trigger's fire lock, and only for a time with no execution and no ledger row: a replica
//     that read the deployment just before the pause and fires the time holds the lock, and
//     the time keeps its FIRED row alone. A standby's second look never records PAUSED;
//   - the catch-up after the resume (CatchUp, or the catch-up of a job a resync schedules)
//     records PAUSED the times in (max(latest ledger time, PausedAt), DeployedAt]: PausedAt is
//     when the deployment last became PAUSED (workflows.paused_at), DeployedAt when it last
//     became DEPLOYED; times with an execution or a ledger row already are left alone. The
//     misfire plan starts at DeployedAt, so none of these times is fired or recorded MISSED. A
//     settlement of a store outage does not do this.
//
// Every replica's catch-up, a second resume (no change) and a restart write the same rows; the
// ledger's unique key (workflow, trigger, scheduled time, outcome) keeps one, and once the
// rows are written the latest ledger time is past the pause, so a later catch-up has nothing to
// add. The range is computed with the trigger the deployment has at the resume: a resume that
// deploys a new revision records the new expression's times.
//
// The reconstruction is bounded: a per-second trigger paused for a week owes 604,800 rows. It
// records at most MaxPausedRecords (1000) per trigger, the latest ones (the ones a reader of
// the ledger looks at, and the ones that let the next catch-up see the pause as recorded); the
// oldest recorded row's reason says how many earlier times of the pause were left out,
// "N earlier times of the pause are not recorded". Counting them walks the schedule (about
// 3 µs a time), up to MaxPausedCount (1,000,000); beyond it the reason says "more than N".
// Finding the latest 1000 does not walk the pause (scheduling.PlanMisfires' look-back).
//
// A retention pass that deletes a pause's rows before any later time of the trigger is on
// record (a yearly trigger, a short retention) lets a restart's catch-up write them again, with
// a new created_at.
//
// # Blackouts
//
// A cron trigger may name blackout calendars (internal/calendars). Every path that would make a
// fire first asks whether one of them covers its scheduled time: the live fire (before the
// fire lock: recording is idempotent), a catch-up or outage settlement (covered times leave the
// plan, whether it would fire or miss them) and a backfill. A covered time gets a SKIPPED row
// with no execution, BlackoutCalendar set and the reason "blackout calendar <name>"; nothing
// runs. The calendars are read through a cache in the Service: off without a notifier (every
// read goes to the database); with one, the scheduler subscribes to CalendarsChangedChannel
// (the calendar service's OnChange publishes there) and invalidates the whole cache on any
// change; every full resync invalidates it too, so a lost notification lasts at most
// ResyncInterval.
//
// With AfterBlackout FIRE_ONCE the trigger fires once when the window ends: scheduled at
// calendars.Set.WindowEnd of the latest covered time plus the jitter offset, with that time's
// nominal time. Whether it is owed is decided from the ledger alone (Service.AfterBlackout):
// the trigger's latest row is a blackout SKIPPED. The replica whose live fire was covered arms
// a timer for the window's end; apply decides again after every catch-up, so a replica that
// restarted during the window (or after it, inside the catch-up window) makes it too. The
// executions' unique key makes it once across replicas, and its FIRED (or DEDUPLICATED) row,
// now the latest, ends the debt. A calendar changed while a timer waits is read again when it
// goes off: a longer window arms it again; a shorter one fires at the old end, late.
//
// # The ledger
//
// fire_ledger holds one row per (workflow, trigger, scheduled time, outcome): retries are
// idempotent, and one time can hold FIRED (the winner) and DEDUPLICATED (a standby). SKIPPED is
// written by the execution side when the overlap policy skips a cron execution; PAUSED as above.
// ListFires pages through it for one deployment or across all of them, filtered by outcomes,
// a scheduled-time range, workflows and a trigger, keyset-ordered by (scheduled_at, id); its
// page token is bound to the filters. The retention janitor (internal/retention) ages rows by
// created_at, when they were written. Backfill
// records FIRED or DEDUPLICATED with reason "backfill"; one call creates at most
// ServiceConfig.MaxBackfill executions over at most ServiceConfig.MaxBackfillRange
// (WFR_MAX_BACKFILL, WFR_MAX_BACKFILL_RANGE; by default the API's own maxima). A range with
// more fires than the call's limit creates nothing in the call: it runs as a backfill
// operation (internal/backfill), whose batches are BackfillStep (backfill.go), the same code.
package scheduler
