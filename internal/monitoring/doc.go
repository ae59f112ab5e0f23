// Package monitoring answers the monitoring RPCs (the retention janitor that keeps the executions
// table bounded is internal/retention):
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
//   - SchedulingMetrics: fire ledger outcomes, fires per minute and lateness percentiles.
//
// # Page tokens
//
// History's tokens are made by internal/pagetoken: the position of the page's last row (created_at
// in Unix microseconds and id), signed with HMAC-SHA256 under the server's key together with the
// canonical form of the filters. A token given with other filters than the ones it was made
// for, altered or forged is rejected as invalid_argument on page_token; a signed position is
// still range-checked before it reaches SQL.
package monitoring
