-- Backfill operations (PostgreSQL): a backfill too large for one call, run in the background by
-- the api processes (server/backfill).
--
-- A runner holds an operation by its lease (lease_owner, lease_expires_at), renewed after every
-- batch; another process takes a RUNNING operation over once its lease has expired and goes on
-- from cursor_at: every fire scheduled before it is made. The executions' unique key on
-- (workflow, trigger, scheduled time) makes a batch made twice create nothing twice.
CREATE TABLE backfill_operations (
    id               UUID         PRIMARY KEY,
    deployment_id    UUID         NOT NULL,
    workflow_id      VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    -- The one cron trigger; '' for every cron trigger of the deployment.
    trigger_id       VARCHAR(128) NOT NULL DEFAULT '',
    -- The range as requested, [start_at, end_at); until_at is where the fires stop: end_at, or
    -- the time of the request when end_at was later (the scheduler fires the future).
    start_at         TIMESTAMPTZ  NOT NULL,
    end_at           TIMESTAMPTZ  NOT NULL,
    until_at         TIMESTAMPTZ  NOT NULL,
    state            VARCHAR(16)  NOT NULL
        CHECK (state IN ('RUNNING','SUCCEEDED','FAILED','CANCELLED')),
    -- Fires of [start_at, until_at), counted at the start; what became of those made so far.
    total            BIGINT       NOT NULL DEFAULT 0 CHECK (total >= 0),
    created          BIGINT       NOT NULL DEFAULT 0 CHECK (created >= 0),
    deduplicated     BIGINT       NOT NULL DEFAULT 0 CHECK (deduplicated >= 0),
    blacked_out      BIGINT       NOT NULL DEFAULT 0 CHECK (blacked_out >= 0),
    -- Every fire scheduled before cursor_at is made.
    cursor_at        TIMESTAMPTZ  NOT NULL,
    -- Why it FAILED.
    error            TEXT         NOT NULL DEFAULT '',
    -- The instance that runs it, until lease_expires_at; NULL when nobody holds it.
    lease_owner      VARCHAR(255),
    lease_expires_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT backfill_operations_range_check CHECK (end_at > start_at AND until_at >= start_at AND until_at <= end_at),
    CONSTRAINT backfill_operations_cursor_check CHECK (cursor_at >= start_at AND cursor_at <= until_at)
);

--bun:split

-- One RUNNING operation per (deployment, trigger, range): a second request for the same range
-- answers the running one (BackfillCreate inserts with ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX idx_backfill_operations_running ON backfill_operations(deployment_id, trigger_id, start_at, end_at)
    WHERE state = 'RUNNING';

--bun:split

-- ListBackfillOperations, newest first, of every deployment or one.
CREATE INDEX idx_backfill_operations_created ON backfill_operations(created_at, id);

--bun:split

CREATE INDEX idx_backfill_operations_deployment_created ON backfill_operations(deployment_id, created_at, id);
