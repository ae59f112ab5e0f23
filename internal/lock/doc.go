// Package lock gives a workflow's executions mutual exclusion: expiring leases on a key (the
// workflow id) with fencing tokens. RedisManager shares them between replicas; LocalManager is
// the in-process backend of the embedded mode. Hold renews a lease while the work runs.
//
// # Lifecycle of a lease
//
//	Acquire ──▶ held ──Extend (by the owner, before expiry)──▶ held
//	              │
//	              ├── Release (by the owner) ──▶ free
//	              └── TTL passes without Extend ──▶ free (the next Acquire may take it)
//
// A lease is identified by its owner token, a random UUID made at Acquire. Extend and Release
// compare it with the stored one and refuse (ErrLost) when they differ or the key is gone.
//
// # Invariants and why they hold
//
//   - At most one live lease per key. Redis: SET NX PX is atomic; Local: a mutex.
//   - Fencing tokens grow strictly per key, across releases, expiries and restarts. The token
//     comes from INCR on the key's counter, raised to Redis's clock in microseconds when it is
//     behind (Local: one counter for all keys, likewise never behind the clock), in the same Lua
//     script as the SET NX, so a token is handed out exactly when a lease is granted and no
//     lease exists without its token. Because tokens never fall behind the clock, a counter
//     lost with a Redis restart, or expired, still yields tokens larger than every one stored on
//     an execution row.
//   - Why fencing: a lease is only a promise about time. A worker paused (GC, a stopped VM, a
//     network partition) past its TTL still believes it holds the lock while a new owner runs.
//     The execution row stores the fence of the lease it runs under, and every status write is
//     conditional on it (UPDATE … WHERE fence = $mine), so the stale worker's writes match no
//     row once a newer owner has written its larger fence. The lock keeps the honest workers
//     apart; the fence makes the dishonest timing harmless.
//   - Why compare-and-delete (and compare-and-pexpire): a plain DEL or PEXPIRE by a worker whose
//     lease already expired would free, or keep alive, the lease of the next owner. The check
//     of the owner token and the change run in one Lua script, so nothing can come between them.
//   - A non-owner's Release or Extend changes nothing and says ErrLost.
//
// # Batches
//
// AcquireMany and ReleaseMany are Acquire and Release for several keys in one round trip: the
// worker groups the lock operations of the executions it runs concurrently into one call.
// Each item is answered as its single call would be (ErrNotAcquired, ErrLost, or a validation
// error for that item alone); a key named twice in one batch is acquired once. A batch is not a
// transaction: every key is atomic on its own, as with the single calls. On Redis a batch is one
// pipeline of the same Lua scripts (EVALSHA); items answered NOSCRIPT (script cache flushed, new
// server) run once more with EVAL. LocalManager handles a batch under one hold of its mutex.
//
// # When a worker dies
//
// Nothing releases its lease; it expires after its TTL (the renewal interval of Hold is TTL/3,
// so a TTL of tens of seconds bounds how long a workflow stays blocked). The queue redelivers
// the dead worker's message (XAUTOCLAIM), the next worker acquires the lock with a larger fence,
// and the row — not the lock — says whether the execution still has to run.
//
// # Losing the lock cancels the run
//
// Hold extends the lease every TTL/3. When an Extend says ErrLost, or no Extend succeeded for a
// whole TTL (Redis unreachable: the lease must be assumed gone), Hold cancels the work's context
// with a cause matching ErrLost. The engine stops; the worker records nothing, since its fenced
// writes would be refused anyway.
//
// # Redis keys
//
//	<prefix>lock:{<key>}   owner token, PX = lease TTL
//	<prefix>fence:{<key>}  last fencing token, expiring a day after its last acquisition
//
// The hash tag {<key>} keeps both in one Redis Cluster slot so the scripts may touch both.
// Expiry is Redis's own clock; clock drift between workers does not matter, only the TTL
// budget Hold leaves for a renewal.
package lock
