-- Indexes of the monitoring queries (PostgreSQL).
--
-- GetExecutionHistory filtered by a workflow or a deployment and by status: one index walk from
-- the keyset position, stopping after a page, instead of reading every execution of the workflow
-- and filtering (a status that is 1% of the rows read 100 rows per row returned). Several
-- statuses are queried as one branch per status (UNION ALL, see server/store/history.go), each
-- a walk of these indexes. The retention janitor's deletes use
-- idx_executions_deployment_created (000001) and idx_fire_ledger_deployment_scheduled (000002).
--
-- Note for large installations: this migration runs in one transaction, so each CREATE INDEX
-- blocks writes to executions while it builds (seconds per million rows). On a big PostgreSQL
-- table, create them beforehand with CREATE INDEX CONCURRENTLY IF NOT EXISTS under the same names.
CREATE INDEX IF NOT EXISTS idx_executions_workflow_status_created
    ON executions(workflow_id, status, created_at DESC, id DESC);

--bun:split

CREATE INDEX IF NOT EXISTS idx_executions_deployment_status_created
    ON executions(deployment_id, status, created_at DESC, id DESC);

--bun:split

-- GetSchedulingMetrics: the fire ledger rows of a time range, all deployments.
CREATE INDEX IF NOT EXISTS idx_fire_ledger_scheduled ON fire_ledger(scheduled_at);
