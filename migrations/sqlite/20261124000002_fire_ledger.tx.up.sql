-- The fire ledger, and the DST policies of cron triggers (SQLite). Same table, columns,
-- constraints and indexes as postgres/20261124000002_fire_ledger.tx.up.sql (see it for the
-- notes); UUIDs and timestamps are TEXT as in 000001.
CREATE TABLE fire_ledger (
    id            TEXT         PRIMARY KEY NOT NULL,
    workflow_id   VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    deployment_id TEXT         NOT NULL,
    trigger_id    VARCHAR(128) NOT NULL,
    nominal_at    TEXT         NOT NULL,
    scheduled_at  TEXT         NOT NULL,
    fired_at      TEXT         NOT NULL,
    outcome       VARCHAR(20)  NOT NULL
        CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED')),
    execution_id  TEXT,
    reason        TEXT         NOT NULL DEFAULT '',
    created_at    TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    CONSTRAINT fire_ledger_fire_outcome_key UNIQUE (workflow_id, trigger_id, scheduled_at, outcome)
);

--bun:split

CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

ALTER TABLE triggers ADD COLUMN repeated_hour VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (repeated_hour IN ('','ONCE','TWICE'));

--bun:split

ALTER TABLE triggers ADD COLUMN skipped_hour VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (skipped_hour IN ('','SHIFT','SKIP'));
