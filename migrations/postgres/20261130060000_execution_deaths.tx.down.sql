ALTER TABLE executions DROP COLUMN deaths;
