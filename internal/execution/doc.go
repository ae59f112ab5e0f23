// Package execution records executions and runs each one exactly once to a terminal state,
// whatever process dies.
//
// # The path of one execution
//
//  1. Record: Service.Trigger (or a scheduler fire) inserts a PENDING row. Uniqueness makes
//     duplicates impossible: (workflow_id, idempotency_key) for API triggers, (workflow_id,
//     trigger_id, scheduled_at) for cron fires. A repeat returns the first row. Concurrent
//     Trigger calls are recorded together (batcher.go): one multi-row INSERT … SELECT, whose
//     rows are checked and deduplicated one by one as a single call's would be. The call
//     answers once its row is written.
//  2. Enqueue: a message {execution_id, traceparent, workflow_id, deployment_id} goes on the
//     queue, in the background
//     (outbox.go: one pipelined round trip of XADDs per batch, each attempt bounded). The row is
//     the truth; the queue is delivery. If the enqueue is lost, the Sweeper enqueues the row
//     again.
//  3. Admit: a Worker receives the message, reads the row (terminal: acknowledge and stop) and
//     takes the lock: "workflow:<id>" for SKIP, BUFFER_ONE, BUFFER_ALL and CANCEL_OTHER,
//     "execution:<id>" for ALLOW_ALL (so a message delivered twice still runs once). When the
//     workflow lock is held: SKIP ends the newcomer SKIPPED (a cron one only when the overlap
//     was in the schedule, see "Late delivery under SKIP"); BUFFER_ONE puts it on the waitlist
//     if nobody waits (else SKIPPED); BUFFER_ALL always waits; CANCEL_OTHER cancels the running
//     one and waits first in line. Whoever releases the lock wakes the first waiting one. The
//     policies and their default (SKIP) are defined in internal/policy; a policy that is none of
//     them (a corrupt config) is logged and leaves the message unacknowledged, never SKIPPED.
//     Under ALLOW_ALL a message that names the workflow and deployment (all but the sweeper's
//     and a buffered one's wake-up) skips the read (handleDirect): the claim's own condition
//     stands in for it, and only a claim refused (terminal, not due, missing) reads the row to
//     decide as above.
//  4. Run: the claim sets RUNNING, attempt+1 and the lease's fencing token, only if the stored
//     token is smaller and the row is RUNNING or PENDING and due (available_at). The lease is renewed every TTL/3 while the engine runs; losing it
//     cancels the run. Every later write is conditional on the token (WHERE id = ? AND
//     fencing_token = ? AND status = 'RUNNING'), so a worker that lost its lock (a long pause,
//     a partition) can no longer write: the newer owner's record stands.
//  5. Outcome: SUCCEEDED with output; FAILED (node id in the error) or, while attempts remain
//     and the failure is retryable, back to PENDING with available_at after the backoff and a
//     delayed message; TIMED_OUT when the deployment's execution timeout ends the engine call;
//     CANCELLED when CancelExecution asked (the request reaches the worker by a notification and,
//     should that be lost, by polling cancel_requested).
//
// # The slot a run is for
//
// Every row has a nominal time (nominal_at): the cron expression's time of the slot for cron
// fires, catch-ups and backfills (FireParams.NominalAt, the scheduler's scheduling.Fire.Nominal),
// the trigger time for manual and webhook triggers. Each attempt tells the engine the row's type,
// trigger id, nominal and scheduled times, which never change, so a retry runs for the same slot;
// and, for cron and webhook rows, the watermark: the nominal time of the latest SUCCEEDED
// execution of the same workflow and trigger before this one's, read after the claim (slot.go).
// Reading it then, not at record time, lets a retry or a late run see a slot that succeeded
// meanwhile. Under every overlap policy but ALLOW_ALL the runs of a workflow do not overlap, so
// the watermark is exactly the latest success that ended before the attempt started; under
// ALLOW_ALL a slot still running is not counted until it has succeeded.
//
// # Grouped steps
//
// A worker runs many executions at once (WorkerConfig.Concurrency), and with short runs most
// of its time is round trips: per execution a claim (and a read when the message does not
// name the workflow, or the policy is not ALLOW_ALL) and an outcome in the database,
// and taking, freeing and acknowledging in Redis. The executions that reach the same step at
// the same moment share one statement or one Redis pipeline for it (steps.go, on group.go,
// which the trigger batcher uses too): ExecutionGetMany, AcquireMany, ExecutionClaimMany,
// ExecutionFinishMany, ReleaseMany, one XACK. Each answer is the one the single call would
// have given, row by row (the claim's and the outcome's conditions are per row), so grouping
// changes no guarantee above; a lone execution makes the single call. Nothing waits to fill a
// batch: a step's batch holds the executions that arrived while its previous batch ran.
//
// # Storage, queue and lock
//
// Each consumer declares what it calls, next to itself: the Service's ServiceStore (with the
// trigger batcher's TriggerStore) and ServiceQueue; the Worker's WorkerStore, assembled from
// the grouped steps' StepStore, admission's AdmissionStore, the run's RunStore, slot.go's
// WatermarkStore and the caches' RevisionStore, and its WorkerQueue; the Sweeper's SweeperStore
// and SweeperQueue. internal/store implements every store (asserted at compile time) and
// queue.Queue every queue; the Worker takes lock.Manager whole, since it calls all of it. A
// conditional write whose condition is false returns errdefs.ErrConflict.
//
// # Changes published for watchers
//
// Every write that changes an execution's status, or asks a running one to cancel, is followed
// by a line "<deployment id> <execution id> <status>" on the notifier's ChangedChannel
// (changes.go): the record (PENDING), the claim (RUNNING), an outcome, a retry or a hand-back
// (PENDING), a skip, a cancellation, an abandon, a start-up recovery. The api processes read the
// row again when they see it and stream it to WatchExecutions (internal/watch). Publishing is
// best effort and stays off the write's path: the lines gather in memory and go out as one
// PUBLISH per batch; nothing is retried, since a watcher's periodic resync from the database
// finds whatever a lost line would have told it. A heartbeat or a sweeper's touch changes
// updated_at only and publishes nothing.
//
// # Fair shares between deployments
//
// One deployment's executions may hold at most WorkerConfig.MaxShare (WFR_WORKER_MAX_SHARE; off
// by default, 0.5 on a shared installation) of a worker's Concurrency slots at once (at least
// one). Off by default because a refused message waits ShareRequeueDelay even when no other
// deployment wants the slot: a single tenant's burst larger than the share would start a second
// late. A message whose deployment
// holds its share when it is handled goes back to the queue as a new message, available after
// ShareRequeueDelay (1s): no lease taken, no attempt spent, no delivery counted against
// MaxDeliveries, nothing SKIPPED; messages of other deployments queued meanwhile come first.
// So a deployment with many long runs (a thousand day-long delays) leaves the other slots to
// the others. The share is counted per process, not across the fleet: with N workers a
// deployment may hold MaxShare × Concurrency on each.
//
// # Failure cases and why they are safe
//
//   - Worker dies mid-run: its message stays unacknowledged; after ClaimIdle another worker
//     claims it (XAUTOCLAIM), finds the row RUNNING and the lease expired, takes the lock with a
//     larger token and runs it again (the engine sees the execution twice; the row records one
//     outcome).
//   - An execution that kills every process running it (out of memory): each takeover's claim
//     finds the row still RUNNING, so the run before it never recorded what happened next,
//     and adds one to the row's deaths (executions.deaths); the embedded process's start-up
//     recovery (Sweeper.Recover) counts one for each row it finds RUNNING. A hand-back or an
//     outcome is no death. The claim that finds MaxProcessDeaths of them (WFR_MAX_PROCESS_DEATHS,
//     3) ends the execution FAILED "quarantined: the process running it died N times" under its
//     fence instead of running it again, so it cannot crash-loop the workers. A run whose lease
//     was lost (a frozen worker, Redis restarted empty) counts as well: it too ended without
//     recording an outcome.
//   - Worker paused past its lease: as above, plus: when it resumes, its renewal fails (the run
//     is cancelled) and its conditional writes affect no row.
//   - Message delivered while its execution runs elsewhere: the row says RUNNING and the lock is
//     held, so it is re-delivered later rather than run.
//   - Two messages of one PENDING execution delivered at once (the sweeper's next to the
//     original, an early message of a retry): the execution's lease is taken before the
//     workflow lock, so the second finds the lease held and is re-delivered later; it never
//     applies the overlap policy to its own execution (which SKIP would end SKIPPED). When both
//     are in one worker (a takeover after ClaimIdle of a message still being handled), the
//     worker knows the holder (release.go, "This worker's own execution leases"): while the
//     first is still admitting or releasing, the second waits for that and asks again, since
//     the first may yet give up (its workflow lock could not be taken) and leave nobody to run
//     it; only a first that runs puts it off by LockTTL.
//   - A lease's release fails (Redis has just restarted and the client still refuses some
//     calls, a reply is lost): release.go retries it with backoff until it is made, the lease
//     is gone, its TTL has run out or the worker stops, and a delivery of the same execution
//     that finds the lease still being released by this worker waits for that and asks again
//     (the worker's entry of the lease lasts until the release has ended).
//     Otherwise the next delivery would take its own abandoned lease for another worker's run
//     and put the execution off by a whole LockTTL although nobody runs it.
//   - Message delivered too often (MaxDeliveries): the execution ends FAILED with the reason and
//     the message goes to the dead-letter stream. This is judged only by a worker holding the
//     execution's lease: a message taken over again and again while its run is alive (its
//     worker retries the outcome write through a database outage) is not abandoned.
//   - Worker stops (SIGTERM, Stop; worker.go drain): readiness goes false and the worker takes
//     no more work; a message it received but has not started is enqueued again at once and
//     acknowledged (no wait for ClaimIdle or a sweep). Running executions finish within
//     ShutdownGrace (WFR_SHUTDOWN_GRACE) and record their outcomes as usual. Only those still
//     running when it ends have their engine calls cancelled and are handed back
//     (run.go handBack): ExecutionHandBack returns the row to PENDING without counting the
//     attempt (the run was stopped, not failed), the leases are released, and only then is
//     the execution enqueued, so the next worker finds them free instead of waiting a lock TTL.
//   - The outcome (or a retry, or a hand-back) cannot be written (the database is away): the
//     result is known, so run.go record retries the write with backoff for as long as the
//     lease is held, renewing it; the message is acknowledged only once the row says what
//     happens next. A finished run is therefore never run again because its write failed. If
//     the lease is lost first, the worker stops trying and leaves the message pending: whoever
//     takes it over finds the row RUNNING with an older fence, and the fence refuses any late
//     write of ours. The same holds for a failed claim: the message is not acknowledged.
//   - Engine unreachable (engine.ErrUnavailable: connection refused, unavailable): the workflow
//     did not fail, so the execution is handed back without spending an attempt, and the worker
//     takes no work until the engine answers its probe (WorkerConfig.EngineProbe: the engine's
//     /livez, and for a remote engine whether it accepts the worker's token; backoff from 100ms
//     to 5s; it resumes by itself). An error the engine reports for
//     the workflow (a failed node, an internal error) still spends an attempt.
//   - Late delivery under SKIP (a queue outage delays cron executions, then delivers them
//     together): a cron execution that finds the workflow lock held is SKIPPED only when a
//     RUNNING execution of the workflow had started (started_at) by its scheduled time, i.e.
//     the overlap was in the schedule. When the holder started later, the overlap exists only
//     because delivery was late: the newcomer waits (looks again every LockTTL/10, 10ms..1s)
//     and runs after it. Manual and webhook executions are skipped whenever the lock is held.
//   - Worker frozen past its lease (SIGSTOP, a VM pause) with nodes still to run: lock.Hold
//     carries the lease's deadline on the monotonic clock and the engine compares it with the
//     clock before each node, so when the worker wakes it starts no further node
//     (engine.ErrLeaseExpired, read as a lost lease) even before its renewal has failed. A node
//     already running goes on until its context is cancelled; a remote engine sees only the
//     cancellation (engine/doc.go, "The lease deadline"); the http node's Idempotency-Key
//     (execution id and attempt) lets a receiver drop such a stale call.
//   - Redis down while executions are recorded: Trigger and Fire answer once the row is written;
//     the outbox keeps the messages the queue refuses and offers them every EnqueueRetry, so
//     they go out as soon as Redis answers (a process that dies meanwhile leaves its rows to
//     the Sweeper).
//   - Redis comes back empty (no stream, no group, no delayed messages, no locks): the queue
//     re-creates the stream and the group and says so (queue.RedisQueue.Recovered), with the
//     time the outage began; the Sweeper then enqueues at once (SweepAll), not after StaleAfter,
//     every due PENDING execution not changed since then (later ones are still with their
//     producers) and every RUNNING one (its lease vanished: its run is cancelled, and the new
//     delivery takes it over with a larger fence, since fences follow the clock).
//   - The recording process dies between the insert and the enqueue: the Sweeper enqueues the
//     row after StaleAfter, or earlier a deduplicated Trigger or Fire for the same key does,
//     when the row is PENDING, due and unchanged for RequeueAfter.
//   - The embedded process is killed: at its next start every non-terminal row is orphaned (it
//     was the only worker), so the Sweeper enqueues them all at once (RecoverAtStart); the local
//     lock's fences follow the clock, so they are larger than those stored on the rows and the
//     claims succeed.
package execution
