// Package scheduler is the scheduler role: it keeps every cron trigger of every DEPLOYED
// deployment scheduled in go-quartz and makes each fire once, however many replicas run. It also
// holds the scheduling work the API needs (Service: backfill, previews, the fire ledger).
//
//   - service.go: Service, one fire (execution + ledger record), CatchUp, Backfill, Preview,
//     ListFires.
//   - backfill.go: the parts of a backfill shared by the call, its dry run and the backfill
//     operations' batches (scope, plan, count, BackfillStep, BackfillDryRun).
//   - scheduler.go: Scheduler, the role: go-quartz with scheduling.JobQueue, resync,
//     notifications, the fire lock.
//   - fires.go: the ledger types, the Store the package needs (server/store implements it) and
//     SkipLedger, the execution side's SKIPPED records.
//   - outage.go: fires the store did not answer for, remembered and settled once it does.
//   - paused.go: the PAUSED records of the times a paused deployment let pass.
//   - cache.go: the deployment cache the fires read.
//   - dstreport.go: Service.DSTReport, the DST report of a deployment's cron triggers at the
//     service's clock (GetDstReport, deploy warnings).
//   - blackout.go: blackout calendars in the fire path (see "Blackouts" below).
//
// # Keeping go-quartz in step with the database
//
// One quartz job per (workflow, cron trigger), keyed "workflow/trigger" in group "cron", its
// trigger a scheduling.Trigger (jitter and DST policies). Start subscribes to ChangedChannel,
// then loads every DEPLOYED deployment (DeploymentList pages of 1000) and schedules its cron
// triggers; every ResyncInterval (30 s) it does that again and removes the jobs nothing asks
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
//     the fire). A replica that loses it waits StandbyDelay (2 s), reads the deployment again
//     and fires too: when the winner made the fire, the database turns it into a no-op
//     (DEDUPLICATED); when the winner died before, the standby makes it. So the lock only keeps
//     the replicas from racing at T; the database's unique key on executions (workflow_id,
//     trigger_id, scheduled_at) decides, and a dead replica loses no fire another can make;
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
// # Misfires
//
// When a replica schedules a trigger it did not hold before (start, deploy, resume), it catches
// up (Service.CatchUp): scheduling.PlanMisfires over (last, now], where last is the latest
// scheduled time in the ledger or the deployment's DeployedAt, whichever is later (a pause
// is not a misfire, nor the time before the first deploy), with the deployment's catch-up window
// and misfire policy: FIRE_ALL fires every time inside the window, FIRE_ONCE the latest, SKIP
// none; fires are recorded CAUGHT_UP (DEDUPLICATED when another replica made them), the rest
// MISSED. The plan is made after the job is scheduled, so a time between the two is made by
// both (and deduplicated) rather than by neither. A job replaced because its trigger changed is
// not caught up.
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
// go-quartz skips a fire found more than OutdatedThreshold (5 s) late (a stalled process); the
// other replicas make it, or the next catch-up, or the settlement of an outage around it.
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
// A cron trigger may name blackout calendars (server/calendars). Every path that would make a
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
// page token is bound to the filters. The retention janitor (server/monitoring) ages rows by
// created_at, when they were written. Backfill
// records FIRED or DEDUPLICATED with reason "backfill"; one call creates at most
// ServiceConfig.MaxBackfill executions over at most ServiceConfig.MaxBackfillRange
// (WFR_MAX_BACKFILL, WFR_MAX_BACKFILL_RANGE; by default the API's own maxima). A range with
// more fires than the call's limit creates nothing in the call: it runs as a backfill
// operation (server/backfill), whose batches are BackfillStep (backfill.go), the same code.
package scheduler
