// Package backfill runs backfills too large for one call as operations: stored in
// backfill_operations, made in batches in the background by the api processes, resumed by
// another process when the one running an operation dies.
//
//   - operation.go: Operation, its states, and the Store the package needs (internal/store
//     implements it for both dialects).
//   - service.go: Service, the API's side: Start (or find) an operation, Get, List, Cancel.
//   - runner.go: Runner, the background part of roles api and all: claim, batch, advance.
//
// # Starting
//
// BackfillDeployment backfills in the call when the range holds at most limit fires
// (scheduler.Service.Backfill). When it holds more, the call creates nothing and Service.Start
// stores an operation: the range as requested, Until (the end cut at the time of the request:
// the scheduler fires the future), Total (the fires of [Start, Until), counted once), the
// cursor at Start, state RUNNING, no lease. A partial unique index on (deployment, trigger,
// start, end) WHERE state = 'RUNNING' keeps one RUNNING operation per range: a second request
// for it, even a concurrent one, answers the first operation (INSERT ... ON CONFLICT DO
// NOTHING, then a read). Start wakes this process's runner.
//
// # Running
//
// A Runner holds at most one operation. Without one, it claims the oldest RUNNING operation
// whose lease is free or expired: a compare-and-set UPDATE that sets lease_owner (the instance
// id) and lease_expires_at (now + Lease, 30 s), so two processes never hold one operation.
// Then, one batch at a time (BatchSize, 500 fires):
//
//  1. scheduler.Service.BackfillStep makes the oldest fires at or after the cursor through the
//     code path of the synchronous backfill (one execution per (trigger, scheduled time),
//     deduplicated by the executions' unique key, recorded in the ledger with reason
//     "backfill"). A batch never splits the fires of one scheduled time, so its new cursor is
//     a time before which every fire is made;
//  2. one UPDATE guarded by lease_owner adds the batch's created / deduplicated / blacked-out
//     counts, moves the cursor and renews the lease; the batch that reaches Until turns the
//     operation SUCCEEDED and frees the lease. The UPDATE returns the row: CANCELLED (set by
//     Cancel meanwhile) makes the runner stop; no row (the lease went to another process) makes
//     it drop the operation.
//
// A batch that fails because the store or the queue does not answer is made again at the next
// poll; any other failure (the deployment paused or deleted, its trigger removed) turns the
// operation FAILED with the error. The runner wakes at once for operations created in its own
// process (Service's Wake) and polls every Poll (WFR_BACKFILL_POLL, 5 s) for the others', and
// for those whose lease expired.
//
// # Why nothing is made twice and nothing is lost
//
// The cursor moves only after the batch before it is made, in the UPDATE that records its
// counts. A process that dies mid-batch leaves the cursor at the batch's start and its lease to
// expire; the runner that claims the operation next makes the batch again from the cursor, and
// the executions the dead process made are deduplicated by the unique key (they count as
// deduplicated, not created: total = created + deduplicated + blacked_out still holds). A
// process that only stalls past its lease finds the lease gone at its next UPDATE and stops;
// the batch it was making overlaps the new owner's, and the unique key settles each fire.
// Cancel does not take the lease: the runner records the batch it was making, sees CANCELLED
// and stops, so what an operation created is counted.
package backfill
