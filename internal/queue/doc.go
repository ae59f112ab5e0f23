// Package queue hands execution ids to workers: RedisQueue (a Redis stream read by one
// consumer group) in production, LocalQueue in-process for the embedded mode. Both pass the
// queuetest contract suite.
//
// # Life of a message
//
//	Enqueue ───────────────────────────────▶ ready ──Receive──▶ pending ──Ack──▶ gone
//	EnqueueAt ──▶ delayed ──(due, mover)──▶ ready                 │  ▲
//	                                                              │  └─ ClaimStale (idle ≥ minIdle):
//	                                                              │     another consumer, Deliveries+1
//	                                                              └─ DeadLetter ──▶ dead-letter stream
//
// # At least once, and the row is the truth
//
// A message is delivered at least once; it can be delivered twice (its worker died after the
// work but before Ack, or a claim took it from a worker that was only slow). The queue is only
// delivery: the executions row says what happens. A worker therefore reads the row first and
// drops (acks) a message whose execution is no longer PENDING, and it writes under the workflow
// lock's fencing token, so a duplicate delivery can neither run an execution twice nor
// overwrite the outcome of the other worker. Messages that were never enqueued (the process
// died between the INSERT and the XADD) are found by the sweeper, which re-enqueues PENDING rows
// older than a bound; that is why an execution id, not a payload, is all a message carries.
//
// # When a worker dies
//
// Its messages stay pending in the group. Every worker periodically calls ClaimStale with a
// minIdle well above its own longest gap between receiving and acking (Redis: XAUTOCLAIM),
// which hands the dead worker's messages to a live one with Deliveries increased; a worker
// dead-letters a message whose Deliveries exceed the retry budget instead of running it again.
// The workflow lock the dead worker held expires by its TTL, so the new worker can take it,
// with a larger fence.
//
// # Consumers that are gone
//
// Each worker reads under a consumer name of its own, its instance id in the instance registry
// (internal/registry: host-pid-random), and Redis keeps a consumer in the group until it is
// deleted, so with workers coming and going XINFO CONSUMERS would grow without bound. Once
// ClaimStale has taken over a dead worker's messages, its consumer is an empty entry.
// PruneConsumers, which the sweeper of every worker process calls now and then, deletes the
// consumers whose instance is not live in the registry (it stopped, or stopped heartbeating for
// its TTL), and only those with no pending message: a Lua script checks XPENDING for the
// consumer and runs XGROUP DELCONSUMER in one step, since DELCONSUMER drops the consumer's
// pending entries and a message read between a separate check and the delete would lose its
// own. A live instance's consumer is never deleted: the registry is read after the consumers
// are listed, and a worker registers before its first read. Deleting a consumer whose worker is
// alive after all (frozen past its TTL, then back) is harmless: its next XREADGROUP creates it
// again.
//
// # Nothing undelivered is dropped
//
// The stream is never trimmed by length (XADD MAXLEN ~ could drop entries nobody has read).
// Ack is a Lua script that XACKs and XDELs exactly the entries it acknowledged, and DeadLetter
// one that XACKs, XDELs and copies to the dead-letter stream all or nothing; both leave an
// entry that is not pending alone. So the stream holds ready + pending entries only, and
// Stats.Depth is XLEN minus the pending count. Only the dead-letter stream is capped.
//
// # Wake-ups, not polling
//
// Receive is XREADGROUP … BLOCK: Redis answers a blocked reader as soon as an XADD lands (the
// round trip is the pickup latency). LocalQueue closes a channel on every Enqueue. go-redis does
// not abandon a blocked read when its context is cancelled, so Receive blocks in slices of at
// most RedisConfig.MaxBlock and checks its context between them.
//
// # Delayed messages
//
// EnqueueAt puts the message in a ZSET scored by its due time (unix ms, rounded up). The mover
// started by Start moves due messages to the stream with a Lua script that XADDs and ZREMs in one
// step, so with any number of replicas each message is moved once. The mover runs every
// MoveInterval, at the earliest due time it knows of, and right after a local EnqueueAt; a
// message is therefore ready at most about MoveInterval after its time. Delayed messages are
// ordered by due time, then by order of EnqueueAt. Due times compare with the producers' and
// movers' clocks, not Redis's.
//
// # Redis keys
//
//	<prefix>queue:{<name>}:stream    stream, consumer group <group> (created with MKSTREAM from id 0,
//	                                 BUSYGROUP ignored, recreated if the stream vanished)
//	<prefix>queue:{<name>}:delayed   ZSET of delayed messages
//	<prefix>queue:{<name>}:dead      dead-letter stream, approximately capped
//
// The hash tag {<name>} keeps them in one Redis Cluster slot, as the scripts require. Consumer
// names stay in the group after their worker is gone until PruneConsumers deletes them (see
// above).
package queue
