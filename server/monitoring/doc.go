// Package monitoring answers the monitoring RPCs and keeps the executions table bounded:
//
//   - History: executions newest first, filtered, keyset-paginated on (created_at, id) with an
//     opaque page token (token.go).
//   - DeploymentStats: deployments by status, executions by status and trigger type over a range,
//     per deployment success rate and run-time percentiles.
//   - JitterDistribution: how the hash-jitter offsets of the DEPLOYED cron triggers spread over
//     their windows, with Pearson's chi-square against a uniform spread.
//   - LoadDistribution: the projected fires of the DEPLOYED cron triggers over a coming window,
//     per second and per bucket, with jitter and without.
//   - Janitor: a background part (Start/Stop) that deletes old terminal executions and fire
//     ledger rows in small batches.
//   - SchedulingMetrics: fire ledger outcomes, fires per minute and lateness percentiles.
//
// # Page tokens
//
// A token is base64url (no padding) of a 37-byte record: version (1 byte), created_at of the
// last row in Unix microseconds (8), id of the last row (16, a UUID), a hash of the filters (8)
// and a checksum of the 33 bytes before it (4). A token given with other filters than the ones it
// was made for, or altered, is rejected as invalid_argument on page_token. The checksum is not a
// secret: a caller who forges a well-formed token only chooses where inside its own filtered
// result the page starts, which it could reach by paging anyway.
//
// # Retention
//
// The janitor deletes, per deployment, executions that are terminal, were created before
// now - retention age, and are older than the deployment's N newest executions (any status), N
// being the keep-last count. Each DELETE takes at most BatchSize rows chosen by a LIMITed
// subquery, so no statement holds its locks for long; the janitor loops until a batch comes back
// short. Fire ledger rows of the deployment scheduled before the same age go the same way, first
// (whatever their outcome; nothing references them). The age
// and N come from the deployment's config (retention_age, retention_keep_last) when set, else
// from JanitorConfig. Deleting is idempotent, so two janitors (two replicas) running at once
// only race to delete the same rows.
package monitoring
