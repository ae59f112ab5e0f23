-- The slot an execution runs for (sqlite).
--
-- nominal_at is the cron expression's time of the slot a cron fire, catch-up or backfill runs
-- for (scheduled_at less the trigger's jitter offset), and for a manual or webhook trigger the
-- time it was triggered (= scheduled_at). Executions written before this migration take it from
-- the fire ledger, which records both times of each fire, where the ledger still has the fire;
-- otherwise from scheduled_at. For an old cron execution whose ledger rows the retention janitor
-- has deleted that is off by the trigger's jitter offset (up to its jitter window): the exact
-- value is md5(workflow_id) mod the window of the trigger as it was then, which no longer need
-- be the deployment's. The column stays nullable so that a row written by an older binary
-- during a rolling upgrade is valid; reads fall back to scheduled_at when it is NULL.
ALTER TABLE executions ADD COLUMN nominal_at TEXT;

--bun:split

-- One statement over the table; the ledger is read by its unique key
-- (workflow_id, trigger_id, scheduled_at, outcome), whose first three columns the lookup names.
UPDATE executions SET nominal_at = COALESCE(
    CASE WHEN trigger_type = 'CRON' THEN (
        SELECT f.nominal_at FROM fire_ledger AS f
        WHERE f.workflow_id = executions.workflow_id
          AND f.trigger_id = executions.trigger_id
          AND f.scheduled_at = executions.scheduled_at
        LIMIT 1)
    END,
    scheduled_at);

--bun:split

-- The watermark of the engine request (TriggerContext.last_success_nominal_time): the latest
-- SUCCEEDED execution of a (workflow, trigger) whose nominal time is before a given one, read
-- at the start of every attempt of a cron or webhook execution. This partial index makes that
-- one backward step of an index scan: only SUCCEEDED rows are in it, so it stays as small as
-- the successes, and a row enters it once, when it succeeds. The timestamps are TEXT in one
-- format (bun's), which sorts as the times do.
CREATE INDEX IF NOT EXISTS idx_executions_trigger_succeeded_nominal
    ON executions(workflow_id, trigger_id, nominal_at) WHERE status = 'SUCCEEDED';
