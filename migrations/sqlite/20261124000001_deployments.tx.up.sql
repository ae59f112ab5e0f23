-- Deployment lifecycle and execution history (SQLite). Same tables, columns, constraints and
-- indexes as postgres/20261124000001_deployments.tx.up.sql; only the types differ.
--
-- Types: UUIDs and JSON are TEXT (JSON checked with json_valid). Timestamps are TEXT in UTC,
-- written by bun as 'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00' (microseconds, trailing zeros
-- trimmed). Because the offset is always +00:00 and '+' sorts before '.' and the digits, text
-- order is time order, so ORDER BY and range scans on these columns are exact, and the value
-- reads back as the same instant. The column defaults write the same shape with milliseconds.

-- workflows: one row per deployed workflow (see the PostgreSQL file for the column notes).
-- deployment_status keeps the original definition, CHECK included.
CREATE TABLE workflows (
    id                VARCHAR(128) PRIMARY KEY NOT NULL,
    deployment_id     TEXT         NOT NULL,
    name              VARCHAR(255) NOT NULL DEFAULT '',
    description       TEXT         NOT NULL DEFAULT '',
    current_revision  INT          NOT NULL CHECK (current_revision >= 1),
    deployment_status VARCHAR(50) DEFAULT 'DRAFT' CHECK (deployment_status IN ('DRAFT','DEPLOYED','PAUSED','ARCHIVED')),
    deployed_at       TEXT,
    deployment_config TEXT DEFAULT '{}' CHECK (json_valid(deployment_config)),
    created_at        TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at        TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    CONSTRAINT workflows_deployment_id_key UNIQUE (deployment_id)
);

--bun:split

CREATE INDEX idx_workflows_deployment_status ON workflows(deployment_status);

--bun:split

CREATE INDEX idx_workflows_deployed_at ON workflows(deployed_at);

--bun:split

-- workflow_revisions: immutable definitions, numbered from 1 (the trigger rejects UPDATE).
CREATE TABLE workflow_revisions (
    workflow_id VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    revision    INT          NOT NULL CHECK (revision >= 1),
    definition  TEXT         NOT NULL CHECK (json_valid(definition)),
    created_at  TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    PRIMARY KEY (workflow_id, revision)
);

--bun:split

CREATE TRIGGER workflow_revisions_immutable
    BEFORE UPDATE ON workflow_revisions
BEGIN
    SELECT RAISE(ABORT, 'workflow_revisions rows are immutable');
END;

--bun:split

-- triggers: the live cron schedules and webhook paths of each workflow.
CREATE TABLE triggers (
    workflow_id           VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    id                    VARCHAR(128) NOT NULL,
    kind                  VARCHAR(20)  NOT NULL CHECK (kind IN ('cron','webhook')),
    cron_expression       VARCHAR(255),
    timezone              VARCHAR(64),
    jitter_window_seconds BIGINT       NOT NULL DEFAULT 0 CHECK (jitter_window_seconds >= 0),
    webhook_path          VARCHAR(512),
    created_at            TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    PRIMARY KEY (workflow_id, id),
    CONSTRAINT triggers_kind_fields CHECK (
        (kind = 'cron' AND cron_expression IS NOT NULL AND webhook_path IS NULL)
        OR (kind = 'webhook' AND webhook_path IS NOT NULL AND cron_expression IS NULL)
    )
);

--bun:split

-- A webhook path belongs to at most one live deployment. SQLite reports a violation as
-- "UNIQUE constraint failed: triggers.webhook_path"; server/store maps it to this index.
CREATE UNIQUE INDEX idx_triggers_webhook_path ON triggers(webhook_path) WHERE webhook_path IS NOT NULL;

--bun:split

-- executions: one row per run of a workflow (see the PostgreSQL file for the column notes).
CREATE TABLE executions (
    id              TEXT         PRIMARY KEY NOT NULL,
    deployment_id   TEXT         NOT NULL,
    workflow_id     VARCHAR(128) NOT NULL REFERENCES workflows(id),
    revision        INT          NOT NULL,
    status          VARCHAR(20)  NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED','TIMED_OUT','SKIPPED')),
    trigger_type    VARCHAR(20)  NOT NULL CHECK (trigger_type IN ('CRON','WEBHOOK','MANUAL')),
    trigger_id      VARCHAR(128),
    trigger_data    TEXT         NOT NULL DEFAULT '{}',
    idempotency_key VARCHAR(255),
    scheduled_at    TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    output          TEXT,
    error           TEXT,
    attempt         INT          NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    fencing_token   BIGINT,
    -- CancelExecution on a RUNNING execution: its worker cancels the engine call.
    cancel_requested BOOLEAN      NOT NULL DEFAULT 0,
    -- A PENDING execution runs no earlier than this (retries wait out their backoff).
    available_at    TEXT,
    created_at      TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at      TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    FOREIGN KEY (workflow_id, revision) REFERENCES workflow_revisions(workflow_id, revision)
);

--bun:split

CREATE UNIQUE INDEX idx_executions_idempotency_key ON executions(workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

--bun:split

CREATE UNIQUE INDEX idx_executions_cron_fire ON executions(workflow_id, trigger_id, scheduled_at)
    WHERE trigger_type = 'CRON';

--bun:split

CREATE INDEX idx_executions_workflow_created ON executions(workflow_id, created_at DESC, id DESC);

--bun:split

CREATE INDEX idx_executions_deployment_created ON executions(deployment_id, created_at DESC, id DESC);

--bun:split

CREATE INDEX idx_executions_status_created ON executions(status, created_at DESC);

--bun:split

CREATE INDEX idx_executions_created ON executions(created_at DESC, id DESC);

--bun:split

-- The sweeper's scan: unfinished executions nobody touched lately (a message lost or never
-- sent; a worker that died mid-run stops heartbeating).
CREATE INDEX idx_executions_unfinished_updated ON executions(updated_at) WHERE status IN ('PENDING','RUNNING');

--bun:split

-- CANCEL_OTHER finds the running executions of a workflow.
CREATE INDEX idx_executions_running ON executions(workflow_id) WHERE status = 'RUNNING';
