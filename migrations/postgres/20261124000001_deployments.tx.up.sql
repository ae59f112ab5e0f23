-- Deployment lifecycle and execution history (PostgreSQL).
--
-- Timestamps are TIMESTAMPTZ (microsecond precision; the application writes UTC).
-- JSON documents the runtime reads back whole are JSONB; free-form payloads are TEXT.

-- workflows: one row per deployed workflow. id is the workflow id (Definition.id), chosen by
-- the user; deployment_id is the server-assigned UUID. current_revision points into
-- workflow_revisions. deployment_status, deployed_at, deployment_config and the two indexes
-- below are the columns of the original schema and must keep their exact definitions.
CREATE TABLE workflows (
    id                VARCHAR(128) PRIMARY KEY,
    deployment_id     UUID         NOT NULL,
    name              VARCHAR(255) NOT NULL DEFAULT '',
    description       TEXT         NOT NULL DEFAULT '',
    current_revision  INT          NOT NULL CHECK (current_revision >= 1),
    deployment_status VARCHAR(50) DEFAULT 'DRAFT' CHECK (deployment_status IN ('DRAFT','DEPLOYED','PAUSED','ARCHIVED')),
    deployed_at       TIMESTAMPTZ,
    deployment_config JSONB DEFAULT '{}',
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT workflows_deployment_id_key UNIQUE (deployment_id)
);

--bun:split

-- Lists by status (ListDeployments, the scheduler's resync of DEPLOYED workflows).
CREATE INDEX idx_workflows_deployment_status ON workflows(deployment_status);

--bun:split

-- Recently deployed first (monitoring).
CREATE INDEX idx_workflows_deployed_at ON workflows(deployed_at);

--bun:split

-- workflow_revisions: every definition a workflow ever had, numbered from 1. Rows are
-- immutable (the trigger below rejects UPDATE): an execution runs the revision it was
-- created with, whatever happened to the workflow since.
CREATE TABLE workflow_revisions (
    workflow_id VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    revision    INT          NOT NULL CHECK (revision >= 1),
    definition  JSONB        NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, revision)
);

--bun:split

CREATE FUNCTION workflow_revisions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow_revisions rows are immutable (workflow %, revision %)', OLD.workflow_id, OLD.revision;
END;
$$;

--bun:split

CREATE TRIGGER workflow_revisions_immutable
    BEFORE UPDATE ON workflow_revisions
    FOR EACH ROW EXECUTE FUNCTION workflow_revisions_immutable();

--bun:split

-- triggers: the cron schedules and webhook paths of a workflow's current revision. The
-- deployment service replaces them as a whole (delete + insert) and deletes them on archive,
-- so the rows present are exactly the live ones.
CREATE TABLE triggers (
    workflow_id           VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    id                    VARCHAR(128) NOT NULL,
    kind                  VARCHAR(20)  NOT NULL CHECK (kind IN ('cron','webhook')),
    -- cron: the expression as written (5-7 fields or @macro), IANA timezone, jitter window.
    cron_expression       VARCHAR(255),
    timezone              VARCHAR(64),
    jitter_window_seconds BIGINT       NOT NULL DEFAULT 0 CHECK (jitter_window_seconds >= 0),
    -- webhook: the path TriggerWorkflow names.
    webhook_path          VARCHAR(512),
    created_at            TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, id),
    CONSTRAINT triggers_kind_fields CHECK (
        (kind = 'cron' AND cron_expression IS NOT NULL AND webhook_path IS NULL)
        OR (kind = 'webhook' AND webhook_path IS NOT NULL AND cron_expression IS NULL)
    )
);

--bun:split

-- A webhook path belongs to at most one live deployment (archiving deletes its triggers).
-- server/store translates a violation of this index into apperr.ErrAlreadyExists.
CREATE UNIQUE INDEX idx_triggers_webhook_path ON triggers(webhook_path) WHERE webhook_path IS NOT NULL;

--bun:split

-- executions: one row per run of a workflow; the row is the truth, the queue only delivers it.
-- Status changes are conditional on fencing_token (the lock's token when the worker took it).
CREATE TABLE executions (
    id              UUID         PRIMARY KEY,
    deployment_id   UUID         NOT NULL,
    workflow_id     VARCHAR(128) NOT NULL REFERENCES workflows(id),
    revision        INT          NOT NULL,
    status          VARCHAR(20)  NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED','TIMED_OUT','SKIPPED')),
    trigger_type    VARCHAR(20)  NOT NULL CHECK (trigger_type IN ('CRON','WEBHOOK','MANUAL')),
    -- triggers.id for CRON and WEBHOOK; NULL for MANUAL.
    trigger_id      VARCHAR(128),
    -- The trigger's input, JSON text as received.
    trigger_data    TEXT         NOT NULL DEFAULT '{}',
    -- API triggers: the caller's key; a retried request finds the first execution.
    idempotency_key VARCHAR(255),
    -- Cron fires: the fire time (cron time + jitter); API triggers: when it was asked for.
    scheduled_at    TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    -- The engine's output (JSON text) and the error message of a failed run.
    output          TEXT,
    error           TEXT,
    attempt         INT          NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    fencing_token   BIGINT,
    -- CancelExecution on a RUNNING execution: its worker cancels the engine call.
    cancel_requested BOOLEAN      NOT NULL DEFAULT FALSE,
    -- A PENDING execution runs no earlier than this (retries wait out their backoff).
    available_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- An execution runs an existing revision of its workflow.
    FOREIGN KEY (workflow_id, revision) REFERENCES workflow_revisions(workflow_id, revision)
);

--bun:split

-- A retried TriggerWorkflow with the same key creates no second execution.
CREATE UNIQUE INDEX idx_executions_idempotency_key ON executions(workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

--bun:split

-- One execution per cron fire, however many schedulers saw it.
CREATE UNIQUE INDEX idx_executions_cron_fire ON executions(workflow_id, trigger_id, scheduled_at)
    WHERE trigger_type = 'CRON';

--bun:split

-- History queries, newest first, keyset-paginated on (created_at, id).
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
