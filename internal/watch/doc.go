// Package watch streams execution changes to the callers of WatchExecutions, without polling
// from the caller's side, whichever process made the change.
//
// # The path of one change
//
//  1. A process writes an execution's status (the api records it PENDING, a worker claims it
//     RUNNING and records its outcome, ...) and publishes "<deployment id> <execution id>
//     <status>" on execution.ChangedChannel (internal/execution, changes.go): Redis pub/sub
//     between processes, notify.Local in the embedded mode.
//  2. The Hub of every api process that has watches subscribes to the channel (one
//     subscription per process, taken with the first watch and dropped a minute after the
//     last) and marks the executions named by each line dirty in the watches that follow them:
//     by execution id, or by deployment id.
//  3. Each watch, in its own goroutine (the RPC's), reads its dirty executions from the
//     database (the row is the truth; the line is a hint) and sends those whose state differs
//     from what it sent last.
//
// # Nothing lost, only delayed
//
// A line can be lost: a publish that failed, a subscription whose connection dropped, a feed
// that was full. Every watch therefore also resyncs from the database:
//
//   - at its start: the execution itself (by id), or the deployment's PENDING and RUNNING
//     executions and those updated within ResyncOverlap (by deployment), then the synced mark;
//   - every ResyncInterval (5s): the execution again, or the deployment's executions updated
//     since the previous resync began, less ResyncOverlap (10s), one page after another along
//     the (deployment_id, updated_at, id) index;
//   - at once when the subscription says it had a gap (go-redis connected again after a lost
//     connection: notify.Redis.SubscribeWithGaps), and when more executions are dirty than a
//     watch keeps (MaxDirty).
//
// So a lost line delays a change by at most ResyncInterval. The overlap covers a change that
// commits later than its updated_at says (the writer's clock is behind the watch's, or the write
// took long): the processes' clocks must agree within it, as NTP keeps them.
//
// # Order and duplicates
//
// All reads of one watch happen one after the other in its goroutine, and a read sees every
// write committed before it began, so what a watch sends about one execution never goes back in
// time. A watch remembers the last state it sent of each execution (status, attempt, times,
// error, cancellation) and sends a state once: a heartbeat or a sweep, which change updated_at
// only, send nothing. Changes that follow each other faster than they are read arrive as one
// message with the latest state; a terminal state is always sent, and ends a watch by id. A
// watch by deployment forgets the terminal executions once they are older than its resync
// window, so its memory follows the deployment's recent activity, not its history.
//
// # Cost and limits
//
// A watch holds a goroutine and no connection between reads. Each dirty batch is one
// ExecutionGetMany; each resync one read by id or a few pages of the index. Per process the
// number of watches, and of watches per caller, is bounded by WFR_MAX_WATCHES and
// WFR_MAX_WATCHES_PER_CALLER (internal/quota.StreamLimiter), so no caller can take every slot.
// Stop (at shutdown) ends every watch with ErrStopped, which callers see as unavailable and
// answer by watching again, on another replica.
package watch
