package store

import "github.com/workflow-runtime/workflow-runtime/server/scheduler"

// FireListSQL is the statement FireList sends for p, for EXPLAIN in tests.
func (db *DB) FireListSQL(p *scheduler.FireListParams) string {
	if raw := db.fireListUnion(p, p.Limit); raw != nil {
		return raw.String()
	}
	return db.fireListQuery(p, p.Outcomes, p.Limit).String()
}
