package monitoring

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// DefaultStatsRange is the range of DeploymentStats when the query gives no start.
const DefaultStatsRange = 24 * time.Hour

// StatsQuery asks for DeploymentStats.
type StatsQuery struct {
	// DeploymentID restricts everything to one deployment; "" is all.
	DeploymentID string
	// Start of the range (created_at). Default: End - DefaultStatsRange.
	Start time.Time
	// End of the range, exclusive. Default: now.
	End time.Time
}

// DeploymentStats is the answer of DeploymentStats.
type DeploymentStats struct {
	// DeploymentsByStatus counts deployments by status (only statuses with deployments).
	DeploymentsByStatus map[deployments.Status]int64
	// Executions are the counts over [Start, End).
	Executions *ExecutionStats
	// Start and End are the range used.
	Start, End time.Time
}

// DeploymentStats counts deployments and the executions created in the query's range. Run-time
// percentiles are computed by the store: percentile_cont on PostgreSQL, the same interpolation
// in Go (Percentile) on SQLite.
func (s *Service) DeploymentStats(ctx context.Context, q *StatsQuery) (*DeploymentStats, error) {
	end := q.End
	if end.IsZero() {
		end = s.now()
	}
	start := q.Start
	if start.IsZero() {
		start = end.Add(-DefaultStatsRange)
	}
	byStatus, err := s.store.DeploymentCountByStatus(ctx, q.DeploymentID)
	if err != nil {
		return nil, fmt.Errorf("deployment stats: %w", err)
	}
	ex, err := s.store.ExecutionStatsGet(ctx, &StatsParams{DeploymentID: q.DeploymentID, Start: start, End: end})
	if err != nil {
		return nil, fmt.Errorf("deployment stats: %w", err)
	}
	return &DeploymentStats{DeploymentsByStatus: byStatus, Executions: ex, Start: start, End: end}, nil
}

// Percentile returns the p-th quantile (0 <= p <= 1) of sorted (ascending) values by linear
// interpolation between the closest ranks, as PostgreSQL's percentile_cont does; 0 when sorted
// is empty.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := p * float64(n-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return sorted[lo]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// SuccessRate is succeeded / (succeeded + failed), 0 when both are 0.
func SuccessRate(succeeded, failed int64) float64 {
	if succeeded+failed == 0 {
		return 0
	}
	return float64(succeeded) / float64(succeeded+failed)
}
