CREATE INDEX IF NOT EXISTS idx_executions_running ON executions(workflow_id) WHERE status = 'RUNNING';
