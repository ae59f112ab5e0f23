// Package monitoring answers the monitoring RPCs and keeps the executions table bounded:
//
//   - History: executions newest first, filtered, keyset-paginated on (created_at, id) with an
//     opaque page token (token.go).
//   - DeploymentStats: deployments by status, executions by status and trigger type over a range,
//     per deployment success rate and run-time percentiles.
//   - JitterDistribution: how the hash-jitter offsets of the DEPLOYED cron triggers spread over
//     their windows, with Pearson's chi-square against a uniform spread.
//   - LoadDistribution: the projected fires of the DEPLOYED cron triggers over a coming window,
//     per second and per bucket, with jitter and without. With a what-if (whatif.go) it also
//     places a deployment that is not stored (copies of it, each with its own hash jitter) and
//     searches the smallest jitter window that keeps the peak within a target of the mean:
//     doubling then bisecting the window, each step one O(fires) placement on per-second counts.
//   - Janitor: a background part (Start/Stop) that deletes old terminal executions and fire
//     ledger rows in small batches.
//   - SchedulingMetrics: fire ledger outcomes, fires per minute and lateness percentiles.
//
// # Page tokens
//
// History's tokens are made by server/pagetoken: the position of the page's last row (created_at
// in Unix microseconds and id), signed with HMAC-SHA256 under the server's key together with the
// canonical form of the filters. A token given with other filters than the ones it was made
// for, altered or forged is rejected as invalid_argument on page_token; a signed position is
// still range-checked before it reaches SQL.
//
// # Retention
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
package monitoring
