-- idx_executions_deployment_created (deployment_id, created_at DESC, id DESC) and
-- idx_executions_deployment_status_created (deployment_id, status, created_at DESC, id DESC) were
-- copies of idx_executions_workflow_created and idx_executions_workflow_status_created: a
-- deployment is one workflow for good (workflows.deployment_id is unique and never changes), so
-- its executions are its workflow's, and history, stats and retention by deployment now walk
-- the workflow's indexes (store.workflowOfDeployment). Each cost an entry per insert, claim and
-- outcome (status being indexed, no update of a row is heap-only): on PostgreSQL, flat-out runs
-- of 10,000 noop executions, three each way and interleaved, wrote 20.8-24.8 WAL records and
-- 2,421-2,838 bytes per execution without the two, against 30.6-31.9 records and 3,723-3,869
-- bytes with them. The deployment's changes feed keeps idx_executions_deployment_updated.
DROP INDEX IF EXISTS idx_executions_deployment_created;

--bun:split

DROP INDEX IF EXISTS idx_executions_deployment_status_created;
