package retention

import (
	"context"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
)

// Store is what the Janitor needs. internal/store implements it.
type Store interface {
	PartitionStore
	// RetentionTargetList returns every deployment (whatever its status) with its config.
	RetentionTargetList(ctx context.Context) ([]Target, error)
	// ExecutionKeepCutoff returns the (created_at, id) of the deployment's keepLast-th newest
	// execution; ok is false when it has fewer (then nothing may be deleted).
	ExecutionKeepCutoff(ctx context.Context, deploymentID string, keepLast int) (cutoff Position, ok bool, err error)
	// ExecutionDeleteExpired deletes at most p.Limit rows and returns how many it deleted.
	ExecutionDeleteExpired(ctx context.Context, p *DeleteExpiredParams) (int64, error)
	// FireDeleteExpired deletes at most limit fire ledger rows of the deployment written
	// (created_at) before before, oldest first, and returns how many it deleted.
	FireDeleteExpired(ctx context.Context, deploymentID string, before time.Time, limit int) (int64, error)
}

// Position is a place in the (created_at, id) order of executions: the keep-last cutoff.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether p is unset.
func (p Position) IsZero() bool { return p.ID == "" }

// Target is a deployment as the Janitor sees it.
type Target struct {
	DeploymentID string
	WorkflowID   string
	Config       deployments.Config
}

// DeleteExpiredParams is one batch of the Janitor.
type DeleteExpiredParams struct {
	DeploymentID string
	// CreatedBefore: only rows created before it.
	CreatedBefore time.Time
	// KeepFrom: only rows strictly older than this position (the keep-last cutoff); zero: no
	// such bound.
	KeepFrom Position
	// Limit is the most rows deleted.
	Limit int
}

// The tables the Janitor keeps partitioned (PostgreSQL).
const (
	TableExecutions = "executions"
	TableFireLedger = "fire_ledger"
)

// PartitionStore is the partition maintenance of the Janitor. internal/store implements it; on
// SQLite PartitionList says the tables are not partitioned and the Janitor does only row deletes.
type PartitionStore interface {
	// PartitionList returns the range partitions of table (not its default partition), ordered
	// by To. ok is false when table is not partitioned.
	PartitionList(ctx context.Context, table string) (parts []Partition, ok bool, err error)
	// PartitionCreate creates the partition [from, to) of table, moving into it the rows of that
	// range the default partition holds, and returns its name.
	PartitionCreate(ctx context.Context, table string, from, to time.Time) (name string, err error)
	// PartitionDropExpired drops the partition name of table when every row in it has expired
	// under rules, and returns how many rows it held.
	PartitionDropExpired(ctx context.Context, table, name string, rules []Rule) (rows int64, dropped bool, err error)
}

// Partition is one range partition; its bounds as times (the UUIDv7 time of an id bound). From is
// zero for the partition that starts at MINVALUE.
type Partition struct {
	Name     string
	From, To time.Time
}

// Rule is what one deployment keeps, for the check that a whole partition has expired.
type Rule struct {
	DeploymentID string
	// Before: rows created (executions) or written (fire ledger) at or after it are kept.
	Before time.Time
	// KeepFrom: executions at or after this position (the keep-last cutoff) are kept; zero: no
	// such bound.
	KeepFrom Position
	// KeepAll: the deployment has fewer executions than its keep-last count, so every one of
	// them is kept.
	KeepAll bool
}
