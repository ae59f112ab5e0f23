package store

import (
	"time"

	"github.com/uptrace/bun"
)

// LastSuccessQuery is the query of ExecutionLastSuccessNominal, for its plan.
func (db *DB) LastSuccessQuery(workflowID, triggerID string, before time.Time) *bun.SelectQuery {
	return db.lastSuccessQuery(workflowID, triggerID, before)
}
