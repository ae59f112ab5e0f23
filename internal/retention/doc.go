// Package retention keeps the executions table and the fire ledger bounded: the Janitor, a
// background part (Start/Stop) that deletes old terminal executions and fire ledger rows in small
// batches.
//
// The janitor deletes, per deployment, executions that are terminal, were created before
// now - retention age, and are older than the deployment's N newest executions (any status), N
// being the keep-last count. Each DELETE takes at most BatchSize rows chosen by a LIMITed
// subquery, so no statement holds its locks for long; the janitor loops until a batch comes back
// short. Fire ledger rows of the deployment written (created_at) before the same age go the same
// way, first (whatever their outcome; nothing references them). They are aged by when they were
// written, not by their scheduled time: a backfill of a range older than the retention age
// writes rows that live as long as its executions. The age
// and N come from the deployment's config (retention_age, retention_keep_last) when set, else
// from JanitorConfig. Deleting is idempotent, so two janitors (two replicas) running at once
// only race to delete the same rows.
//
// # Partitions (PostgreSQL)
//
// With a partition period (JanitorConfig.PartitionPeriod, WFR_RETENTION_PARTITION_PERIOD), each
// pass first makes the partitions of executions and of the fire ledger up to PartitionsAhead
// periods after the current one, going on from the last partition there is (a period the
// janitor was not running for is made too, and its rows move out of the default partition).
// Then it drops whole partitions, before any row delete. Retention has two rules per deployment,
// an age and a keep-last count, and a partition holds rows of many deployments; a partition can
// be dropped only when dropping it deletes nothing the row deletes would keep. So a past
// partition (its upper bound before now) is dropped when, for every deployment with rows in it,
// its newest row there is older than the deployment's age bound and, for executions, older than
// its keep-last cutoff (a deployment with fewer executions than its keep-last count keeps all),
// and no execution in it is unfinished; a row of a deployment the janitor does not know keeps it.
// Otherwise the partition stays and its expired rows go by row deletes, as without partitions;
// once the rows that held it back are gone, a later pass drops it. The check reads one index
// entry per deployment in the partition; it is made again, with the drop, under the table's lock.
// Rows of a dropped partition count in ExecutionsDeleted and FiresDeleted.
package retention
