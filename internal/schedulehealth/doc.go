// Package schedulehealth says, per cron trigger of every DEPLOYED or PAUSED deployment, whether
// its fires happen on time, from the database alone: the api role answers ListScheduleHealth
// and publishes the metrics with no scheduler alive.
//
//   - verdict.go: State, Evaluate (pure): one trigger's verdict from its schedule, its
//     deployment and the ledger's latest row.
//   - cadence.go: Advise (pure): whether recent runs outlast the trigger's interval.
//   - service.go: Service, the list (order, filters, page tokens, counts) over Store, which
//     internal/store implements (schedule_health.go).
//   - owed.go: the count of owed times, remembered between evaluations.
//   - evaluator.go: Evaluator, the background part of the api roles that recomputes every
//     trigger's verdict and sets the metrics.
//
// # How a verdict is reached
//
// The last settled point of a trigger is the latest scheduled time the fire ledger holds for
// it, whatever the outcome, or the deployment's DeployedAt when that is later: the start
// scheduler.Service.CatchUp plans from, so a pause and the time before the first deploy owe
// nothing. The owed times are the trigger's scheduled times (scheduling.Trigger: jitter and DST
// policies included) after the last settled point whose scheduled time plus the grace has
// passed, counted up to MaxOwed (100,000), with the oldest. Then, first match wins:
//
//	PAUSED   the deployment is paused
//	OVERDUE  times are owed
//	SILENT   the expression has no next time (or the trigger cannot be built)
//	LATE     the latest settled time's outcome is CAUGHT_UP or MISSED, or its first ledger
//	         row was decided more than the grace after its scheduled time
//	ON_TIME  otherwise
//
// Of the rows sharing the latest time (FIRED and a standby's DEDUPLICATED, a SKIPPED written
// when a worker took it) the first decided speaks for it. The list orders OVERDUE, LATE,
// SILENT, PAUSED, ON_TIME, then by workflow id and trigger id; every request evaluates every
// trigger (the counts cover all pages), then returns one page; its page token carries the last
// (state, workflow id, trigger id) under the filters' binding (internal/pagetoken). A trigger
// that changes state between two pages can be seen twice or not at all: the list is a report
// at one instant, each page at its own.
//
// # The grace
//
// WFR_SCHEDULE_HEALTH_GRACE, 30 s by default. A live fire is made at most SettleAfter (17 s:
// go-quartz's OutdatedThreshold 5 s, the standby's StandbyDelay 2 s, a dead replica's fire lock
// FireLockTTL 10 s) after its scheduled time, and its ledger row follows the execution's insert.
// A grace below that would call a trigger OVERDUE while a standby is about to make its fire;
// 30 s leaves 13 s for the database writes on a loaded machine. A grace much longer only delays
// the alarm. Lateness (the first ledger row's fired_at − scheduled_at) over the grace is LATE.
//
// # Cost
//
// One read per 1000 deployments: the workflows, then their cron triggers with the ledger rows
// of each trigger's latest time (a correlated max() on the ledger's unique index, so the
// ledger's length does not count). A verdict costs one trigger build and one Next per owed
// time (about 1 µs each), so an OVERDUE trigger costs in proportion to its owed times, capped
// by MaxOwed; the Service remembers per trigger and last settled point how far it counted
// (owed.go), so the next evaluation counts only the times that came since and a fleet left
// without a scheduler pays its long count once. 10,000 triggers on PostgreSQL answer in about 0.5 s on the 2-core development
// machine (BenchmarkScheduleHealth10k in internal/store). The cadence advice is computed for the
// page only: three reads of the unique indexes on (workflow_id, trigger_id, scheduled_at) of
// executions and the ledger.
//
// # Cadence advice
//
// Over the latest MaxRuns (100) finished runs of the trigger in the last 24 h: p95 of the run
// time (finished − started) and of the pickup (started − scheduled), and the share of SKIPPED
// ledger rows among the scheduled times settled since the oldest of those runs. Overrun when
// run p95 + pickup p95 exceeds the interval (the shortest gap among the next 5 fires). Remedy:
// MORE_WORKERS when the wait dominates (pickup p95 > run p95 and > interval/2); BUFFER_ONE when
// the overlap policy is SKIP and fewer than half the times were skipped (runs overrun now and
// then); LONGER_INTERVAL otherwise.
//
// # Metrics
//
// The Evaluator (roles api and all) recomputes every WFR_SCHEDULE_HEALTH_INTERVAL (15 s) and
// sets wfr_schedule_health_triggers{state} (every state, 0 included: the label is bounded),
// wfr_schedule_health_owed_fires (the sum of owed fires), and adds to
// wfr_schedule_health_overdue_fires_total each owed time once: per trigger it remembers the
// newest owed time already counted and counts only the owed times after it. Each api replica
// publishes the same figures: aggregate with max, not sum. A replica's restart counts the owed
// times again (the counter starts over, as Prometheus counters do).
//
// # Not covered
//
// Blackout calendars: a trigger whose every coming fire falls in a blackout is not yet SILENT.
package schedulehealth
