package store

import (
	"context"
	"io/fs"
	"time"

	"github.com/uptrace/bun"

	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// LastSuccessQuery is the query of ExecutionLastSuccessNominal, for its plan.
func (db *DB) LastSuccessQuery(workflowID, triggerID string, before time.Time) *bun.SelectQuery {
	return db.lastSuccessQuery(workflowID, triggerID, before)
}

// ListRunningQuery is the query of ExecutionListRunning, for its plan.
func (db *DB) ListRunningQuery(workflowID string) *bun.SelectQuery {
	return db.listRunningQuery(workflowID)
}

// FireListSQL is the statement FireList sends for p, for EXPLAIN in tests.
func (db *DB) FireListSQL(p *scheduler.FireListParams) string {
	if raw := db.fireListUnion(p, p.Limit); raw != nil {
		return raw.String()
	}
	return db.fireListQuery(p, p.Outcomes, p.Limit).String()
}

// MigrateFS applies the migrations of fsys (a subset of the dialect's, to build an older schema).
func (db *DB) MigrateFS(ctx context.Context, fsys fs.FS) error {
	return db.migrate(ctx, fsys)
}

// AddQueryHook adds h to db's bun.DB and to the hooks its prepared statements run.
func (db *DB) AddQueryHook(h bun.QueryHook) {
	db.bun.AddQueryHook(h) //nolint:staticcheck // the store's own *bun.DB must run the hook; WithQueryHook returns a copy
	db.hooks = append(db.hooks, h)
}
