-- Reverses 20261124000001_deployments.tx.up.sql: drops the lifecycle tables, children first.
DROP TABLE IF EXISTS executions;

--bun:split

DROP TABLE IF EXISTS triggers;

--bun:split

DROP TABLE IF EXISTS workflow_revisions;

--bun:split

DROP FUNCTION IF EXISTS workflow_revisions_immutable();

--bun:split

DROP TABLE IF EXISTS workflows;
