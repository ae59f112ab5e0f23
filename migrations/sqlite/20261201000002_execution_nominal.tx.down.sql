DROP INDEX IF EXISTS idx_executions_trigger_succeeded_nominal;

--bun:split

ALTER TABLE executions DROP COLUMN nominal_at;
