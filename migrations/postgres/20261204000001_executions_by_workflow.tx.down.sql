CREATE INDEX IF NOT EXISTS idx_executions_deployment_created ON executions(deployment_id, created_at DESC, id DESC);

--bun:split

CREATE INDEX IF NOT EXISTS idx_executions_deployment_status_created ON executions(deployment_id, status, created_at DESC, id DESC);
