DROP INDEX IF EXISTS idx_executions_deployment_updated;
