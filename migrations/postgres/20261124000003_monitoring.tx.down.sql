DROP INDEX IF EXISTS idx_fire_ledger_scheduled;

--bun:split

DROP INDEX IF EXISTS idx_executions_deployment_status_created;

--bun:split

DROP INDEX IF EXISTS idx_executions_workflow_status_created;
