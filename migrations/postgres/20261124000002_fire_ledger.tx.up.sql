-- The fire ledger, and the DST policies of cron triggers (PostgreSQL).

-- fire_ledger: what became of every scheduled time of every cron trigger. The scheduler writes
-- FIRED / DEDUPLICATED / CAUGHT_UP / MISSED; the execution side writes SKIPPED when the overlap
-- policy skips a cron execution. A retry of the same record changes nothing (the unique key);
-- one scheduled time may have several rows with different outcomes (FIRED by one replica,
-- DEDUPLICATED by another).
CREATE TABLE fire_ledger (
    id            UUID         PRIMARY KEY,
    workflow_id   VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    deployment_id UUID         NOT NULL,
    trigger_id    VARCHAR(128) NOT NULL,
    -- The cron expression's time, and that time plus the jitter offset (the execution's
    -- scheduled_at).
    nominal_at    TIMESTAMPTZ  NOT NULL,
    scheduled_at  TIMESTAMPTZ  NOT NULL,
    -- When the outcome was decided.
    fired_at      TIMESTAMPTZ  NOT NULL,
    outcome       VARCHAR(20)  NOT NULL
        CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED')),
    -- The execution of FIRED, DEDUPLICATED, CAUGHT_UP and SKIPPED; NULL for MISSED.
    execution_id  UUID,
    reason        TEXT         NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT fire_ledger_fire_outcome_key UNIQUE (workflow_id, trigger_id, scheduled_at, outcome)
);

--bun:split

-- ListFires: one deployment's fires over a time range, keyset-paginated on (scheduled_at, id).
CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

-- DST policies of a cron trigger: '' is the classic-cron default (see server/scheduling).
ALTER TABLE triggers ADD COLUMN repeated_hour VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (repeated_hour IN ('','ONCE','TWICE'));

--bun:split

ALTER TABLE triggers ADD COLUMN skipped_hour VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (skipped_hour IN ('','SHIFT','SKIP'));
