ALTER TABLE workflows DROP COLUMN paused_at;

--bun:split

CREATE TABLE fire_ledger_old (
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

INSERT INTO fire_ledger_old (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at)
SELECT id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at
FROM fire_ledger WHERE outcome <> 'PAUSED';

--bun:split

DROP TABLE fire_ledger;

--bun:split

ALTER TABLE fire_ledger_old RENAME TO fire_ledger;

--bun:split

CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

CREATE INDEX IF NOT EXISTS idx_fire_ledger_scheduled ON fire_ledger(scheduled_at);
