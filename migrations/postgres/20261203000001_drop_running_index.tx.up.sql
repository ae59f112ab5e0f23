-- idx_executions_running (workflow_id) WHERE status = 'RUNNING' found a workflow's running
-- executions (admission: CANCEL_OTHER, and a cron newcomer's overlap check under SKIP). Since
-- migration 20261124000003, idx_executions_workflow_status_created (workflow_id, status,
-- created_at DESC, id DESC) finds the same rows by the same two equalities, its first two
-- columns, so the partial index only cost writes: every claim, which rewrites the row with
-- status RUNNING (never a heap-only update, status being indexed), added an entry to it, and
-- the entry stayed until the row was vacuumed. Without it each execution writes one index
-- entry fewer: on PostgreSQL, the flat-out run of 20,000 noop executions wrote 4,122-4,128
-- bytes of WAL per execution with it and 3,973 without.
DROP INDEX IF EXISTS idx_executions_running;
