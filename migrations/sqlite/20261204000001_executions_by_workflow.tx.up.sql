-- idx_executions_deployment_created (deployment_id, created_at DESC, id DESC) and
-- idx_executions_deployment_status_created (deployment_id, status, created_at DESC, id DESC) were
-- copies of idx_executions_workflow_created and idx_executions_workflow_status_created: a
-- deployment is one workflow for good (workflows.deployment_id is unique and never changes), so
-- its executions are its workflow's, and history, stats and retention by deployment now walk
-- the workflow's indexes (store.workflowOfDeployment). Each cost an entry per insert, claim and
-- outcome (status being indexed, no update of a row is heap-only): on PostgreSQL,
-- scripts/profile-execution/run.sh (20,000 noop executions flat out, throwaway servers), three
-- runs each way, interleaved, measured 26.2-26.3 WAL records and 3,031-3,046 bytes per execution
-- without the two, against 28.1-32.4 records and 3,353-3,879 bytes with them (batching moves the
-- latter). The deployment's changes feed keeps idx_executions_deployment_updated.
DROP INDEX IF EXISTS idx_executions_deployment_created;

--bun:split

DROP INDEX IF EXISTS idx_executions_deployment_status_created;
