-- The fire ledger across deployments, PAUSED fires, and retention by write time (PostgreSQL).

-- PAUSED: a scheduled time that passed while the deployment was PAUSED (written when the time
-- passes, or when the deployment resumes; see server/scheduler/doc.go).
ALTER TABLE fire_ledger DROP CONSTRAINT IF EXISTS fire_ledger_outcome_check;

--bun:split

ALTER TABLE fire_ledger ADD CONSTRAINT fire_ledger_outcome_check
    CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED','PAUSED'));

--bun:split

-- For SKIPPED by a blackout calendar: the calendar's name. NULL (or '') otherwise.
ALTER TABLE fire_ledger ADD COLUMN IF NOT EXISTS blackout_calendar TEXT;

--bun:split

-- When the deployment last became PAUSED; NULL when never. With deployed_at (when it last
-- became DEPLOYED) it bounds the times a resume records PAUSED.
ALTER TABLE workflows ADD COLUMN IF NOT EXISTS paused_at TIMESTAMPTZ;

--bun:split

-- ListFires across deployments, ordered by (scheduled_at, id): "every fire of today" walks
-- this index from the keyset position; it replaces idx_fire_ledger_scheduled (000003), which
-- GetSchedulingMetrics' range reads use as well.
CREATE INDEX IF NOT EXISTS idx_fire_ledger_scheduled_id ON fire_ledger(scheduled_at, id);

--bun:split

DROP INDEX IF EXISTS idx_fire_ledger_scheduled;

--bun:split

-- ListFires by outcome across deployments ("which deployments missed fires today"): one walk
-- per outcome over its time range, in (scheduled_at, id) order.
CREATE INDEX IF NOT EXISTS idx_fire_ledger_outcome_scheduled ON fire_ledger(outcome, scheduled_at, id);

--bun:split

-- The retention janitor ages ledger rows by created_at (when the row was written), per
-- deployment, oldest first.
CREATE INDEX IF NOT EXISTS idx_fire_ledger_deployment_created ON fire_ledger(deployment_id, created_at, id);
