-- Reverses 20261124000001_deployments.tx.up.sql: drops the lifecycle tables, children first
-- (dropping workflow_revisions drops its trigger).
DROP TABLE IF EXISTS executions;

--bun:split

DROP TABLE IF EXISTS triggers;

--bun:split

DROP TABLE IF EXISTS workflow_revisions;

--bun:split

DROP TABLE IF EXISTS workflows;
