// Package registry is the instance registry: every process of the service (roles all, api,
// scheduler, worker, engine) registers itself with its id, role, version, advertised address,
// start time, last heartbeat and, for workers, the slots in use and the capacity. GetSystemHealth
// and /health list the live instances by role, and the sweeper prunes the queue consumers of
// workers that are no longer live (a worker's consumer name is its instance id).
//
// With Redis the registry is shared by every process; without it (the embedded mode, or the
// engine role without WFR_REDIS_URL) it holds this process alone and lists only itself.
//
// # Life of an instance
//
//	Start ──▶ registered ──heartbeat (every Interval)──▶ registered
//	             │
//	             ├── Stop (SIGTERM, after the drain) ──▶ gone at once (deregistered)
//	             └── no heartbeat for TTL (SIGKILL, a frozen or partitioned process) ──▶ gone
//
// Each heartbeat writes the instance's record with a TTL (default three heartbeat intervals),
// so one missed heartbeat (a slow Redis call, a GC pause) does not drop a live instance, and a
// killed one drops out within its TTL. A heartbeat writes the whole record, so an instance comes
// back by itself after Redis lost its keys (restart without persistence, flush): registration
// needs no separate step that could be lost.
//
// # What "live" is safe for
//
// Being listed is a statement about the recent past, not a lease: a process frozen for longer
// than its TTL (a stopped VM) is dropped while it may still come back. The registry is
// therefore used only where a wrong answer is harmless. Listings are informational, and pruning
// a consumer of a worker that is alive after all costs nothing: the queue deletes only
// consumers without pending messages, and the worker's next read creates its consumer again.
// What must never go wrong (an execution run twice, an outcome overwritten) is guarded by the
// locks' fencing tokens, not by the registry.
//
// # Clocks
//
// Expiry is Redis's own clock: the heartbeat script reads TIME and scores the instance with
// now + TTL, the listing script reads TIME again, and the record's key expires by PX. Clock
// drift between the processes therefore cannot drop or keep an instance. The last_heartbeat a
// record shows is the clock of the process that wrote it.
//
// # Redis keys
//
//	<prefix>registry:{instances}:live          ZSET: instance id, scored by its expiry (unix ms, Redis's clock)
//	<prefix>registry:{instances}:instance:<id> JSON of the Instance, PX = TTL
//
// Listing reads the ZSET (one script: drop the members whose score has passed, then ZRANGE)
// and MGETs the records; a member whose record is gone (evicted) is skipped and removed. The
// ZSET holds only the live instances plus those dead for less than one listing interval, so a
// listing costs O(live instances) whatever the churn. The hash tag {instances} keeps every key
// in one Redis Cluster slot, as the scripts and MGET require.
package registry
