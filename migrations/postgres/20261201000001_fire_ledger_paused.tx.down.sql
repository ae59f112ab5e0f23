DROP INDEX IF EXISTS idx_fire_ledger_deployment_created;

--bun:split

DROP INDEX IF EXISTS idx_fire_ledger_outcome_scheduled;

--bun:split

CREATE INDEX IF NOT EXISTS idx_fire_ledger_scheduled ON fire_ledger(scheduled_at);

--bun:split

DROP INDEX IF EXISTS idx_fire_ledger_scheduled_id;

--bun:split

ALTER TABLE workflows DROP COLUMN IF EXISTS paused_at;

--bun:split

ALTER TABLE fire_ledger DROP COLUMN IF EXISTS blackout_calendar;

--bun:split

DELETE FROM fire_ledger WHERE outcome = 'PAUSED';

--bun:split

ALTER TABLE fire_ledger DROP CONSTRAINT IF EXISTS fire_ledger_outcome_check;

--bun:split

ALTER TABLE fire_ledger ADD CONSTRAINT fire_ledger_outcome_check
    CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED'));
