-- The fire ledger across deployments, PAUSED fires, and retention by write time (SQLite). Same
-- changes as postgres/20261201000001_fire_ledger_paused.tx.up.sql (see it for the notes).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the new outcome
-- and the blackout_calendar column, and its indexes made again.
CREATE TABLE fire_ledger_new (
    id                TEXT         PRIMARY KEY NOT NULL,
    workflow_id       VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    deployment_id     TEXT         NOT NULL,
    trigger_id        VARCHAR(128) NOT NULL,
    nominal_at        TEXT         NOT NULL,
    scheduled_at      TEXT         NOT NULL,
    fired_at          TEXT         NOT NULL,
    outcome           VARCHAR(20)  NOT NULL
        CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED','PAUSED')),
    execution_id      TEXT,
    reason            TEXT         NOT NULL DEFAULT '',
    created_at        TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    blackout_calendar TEXT,
    CONSTRAINT fire_ledger_fire_outcome_key UNIQUE (workflow_id, trigger_id, scheduled_at, outcome)
);

--bun:split

INSERT INTO fire_ledger_new (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at)
SELECT id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at
FROM fire_ledger;

--bun:split

DROP TABLE fire_ledger;

--bun:split

ALTER TABLE fire_ledger_new RENAME TO fire_ledger;

--bun:split

CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_scheduled_id ON fire_ledger(scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_outcome_scheduled ON fire_ledger(outcome, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_deployment_created ON fire_ledger(deployment_id, created_at, id);

--bun:split

ALTER TABLE workflows ADD COLUMN paused_at TEXT;
