-- executions and fire_ledger partitioned by time (PostgreSQL; SQLite stays unpartitioned). See
-- internal/store/doc.go, "Partitions", for the choice of keys and how every unique key holds.
--
-- executions is range-partitioned by id: ids are UUIDv7, whose first 48 bits are the creation
-- time in Unix milliseconds, so an id range is a time range and the primary key (id) contains
-- the partition key. fire_ledger is range-partitioned by scheduled_at, which its unique key
-- (workflow_id, trigger_id, scheduled_at, outcome) contains; its primary key becomes
-- (id, scheduled_at).
--
-- Both tables start with two partitions: <table>_initial, every row up to this migration (all
-- the rows there are), and <table>_default, which takes any row no other partition covers so
-- that an insert never fails. The retention janitor (internal/retention) creates the partitions
-- of the coming periods and drops whole partitions once every row in them has expired.
--
-- The migration copies every row in its one transaction: executions and fire_ledger take no
-- writes while it runs (a few seconds per million rows).

ALTER TABLE executions RENAME TO executions_unpartitioned;

--bun:split

ALTER TABLE executions_unpartitioned RENAME CONSTRAINT executions_pkey TO executions_unpartitioned_pkey;

--bun:split

CREATE TABLE executions (
    id              UUID         NOT NULL,
    deployment_id   UUID         NOT NULL,
    workflow_id     VARCHAR(128) NOT NULL REFERENCES workflows(id),
    revision        INT          NOT NULL,
    status          VARCHAR(20)  NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED','TIMED_OUT','SKIPPED')),
    trigger_type    VARCHAR(20)  NOT NULL CHECK (trigger_type IN ('CRON','WEBHOOK','MANUAL')),
    trigger_id      VARCHAR(128),
    trigger_data    TEXT         NOT NULL DEFAULT '{}',
    idempotency_key VARCHAR(255),
    scheduled_at    TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    output          TEXT,
    error           TEXT,
    attempt         INT          NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    fencing_token   BIGINT,
    cancel_requested BOOLEAN     NOT NULL DEFAULT FALSE,
    available_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    deaths          INT          NOT NULL DEFAULT 0 CHECK (deaths >= 0),
    nominal_at      TIMESTAMPTZ,
    CONSTRAINT executions_pkey PRIMARY KEY (id),
    FOREIGN KEY (workflow_id, revision) REFERENCES workflow_revisions(workflow_id, revision)
) PARTITION BY RANGE (id);

--bun:split

-- The UUIDv7 lower bound of now: its 48-bit millisecond time, every other bit zero.
CREATE TABLE executions_initial PARTITION OF executions
    FOR VALUES FROM (MINVALUE) TO ((lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid);

--bun:split

CREATE TABLE executions_default PARTITION OF executions DEFAULT;

--bun:split

INSERT INTO executions (id, deployment_id, workflow_id, revision, status, trigger_type, trigger_id,
    trigger_data, idempotency_key, scheduled_at, started_at, finished_at, output, error, attempt,
    fencing_token, cancel_requested, available_at, created_at, updated_at, deaths, nominal_at)
SELECT id, deployment_id, workflow_id, revision, status, trigger_type, trigger_id,
    trigger_data, idempotency_key, scheduled_at, started_at, finished_at, output, error, attempt,
    fencing_token, cancel_requested, available_at, created_at, updated_at, deaths, nominal_at
FROM executions_unpartitioned;

--bun:split

DROP TABLE executions_unpartitioned;

--bun:split

-- The indexes of the unpartitioned table, under the same names, built once the rows are in.
-- The two keys that do not contain id, (workflow_id, idempotency_key) and
-- (workflow_id, trigger_id, scheduled_at) of cron executions, cannot be unique indexes of a table
-- partitioned by id: they stay plain indexes, and executions_unique_keys (below) keeps them
-- unique across partitions.
CREATE INDEX idx_executions_idempotency_key ON executions(workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

--bun:split

CREATE INDEX idx_executions_cron_fire ON executions(workflow_id, trigger_id, scheduled_at)
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

CREATE INDEX idx_executions_unfinished_updated ON executions(updated_at) WHERE status IN ('PENDING','RUNNING');

--bun:split

CREATE INDEX idx_executions_running ON executions(workflow_id) WHERE status = 'RUNNING';

--bun:split

CREATE INDEX idx_executions_workflow_status_created ON executions(workflow_id, status, created_at DESC, id DESC);

--bun:split

CREATE INDEX idx_executions_deployment_status_created ON executions(deployment_id, status, created_at DESC, id DESC);

--bun:split

CREATE INDEX idx_executions_deployment_updated ON executions(deployment_id, updated_at, id);

--bun:split

CREATE INDEX idx_executions_trigger_succeeded_nominal
    ON executions(workflow_id, trigger_id, nominal_at) WHERE status = 'SUCCEEDED';

--bun:split

-- The uniqueness of (workflow_id, idempotency_key) and of (workflow_id, trigger_id,
-- scheduled_at) of cron executions, across partitions: an insert that would repeat either key
-- is skipped (the row is not written, as INSERT ... ON CONFLICT DO NOTHING, which every insert
-- of executions is, would do). A transaction-scoped advisory lock on the workflow serialises the
-- keyed inserts of one workflow: a second insert of a key waits for the first to commit and
-- then, READ COMMITTED, sees its row; rows of one statement see the rows before them. The lock
-- is per workflow, not per key, so that a statement or transaction that writes thousands of
-- keyed rows (a backfill) takes one lock entry per workflow and not one per row (PostgreSQL's
-- lock table holds max_locks_per_transaction x max_connections entries). Only rows that carry
-- such a key run it (the WHEN clause): manual and webhook executions without an idempotency key
-- do not.
CREATE FUNCTION executions_unique_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('executions keys ' || NEW.workflow_id, 0));
    IF NEW.trigger_type = 'CRON' AND NEW.trigger_id IS NOT NULL AND NEW.scheduled_at IS NOT NULL
       AND EXISTS (SELECT 1 FROM executions WHERE workflow_id = NEW.workflow_id AND trigger_type = 'CRON'
                   AND trigger_id = NEW.trigger_id AND scheduled_at = NEW.scheduled_at) THEN
        RETURN NULL;
    END IF;
    IF NEW.idempotency_key IS NOT NULL
       AND EXISTS (SELECT 1 FROM executions WHERE workflow_id = NEW.workflow_id
                   AND idempotency_key = NEW.idempotency_key) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

--bun:split

CREATE TRIGGER executions_unique_keys BEFORE INSERT ON executions
    FOR EACH ROW WHEN (NEW.trigger_type = 'CRON' OR NEW.idempotency_key IS NOT NULL)
    EXECUTE FUNCTION executions_unique_keys();

--bun:split

ALTER TABLE fire_ledger RENAME TO fire_ledger_unpartitioned;

--bun:split

ALTER TABLE fire_ledger_unpartitioned RENAME CONSTRAINT fire_ledger_pkey TO fire_ledger_unpartitioned_pkey;

--bun:split

ALTER TABLE fire_ledger_unpartitioned RENAME CONSTRAINT fire_ledger_fire_outcome_key TO fire_ledger_unpartitioned_fire_outcome_key;

--bun:split

CREATE TABLE fire_ledger (
    id                UUID         NOT NULL,
    workflow_id       VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    deployment_id     UUID         NOT NULL,
    trigger_id        VARCHAR(128) NOT NULL,
    nominal_at        TIMESTAMPTZ  NOT NULL,
    scheduled_at      TIMESTAMPTZ  NOT NULL,
    fired_at          TIMESTAMPTZ  NOT NULL,
    outcome           VARCHAR(20)  NOT NULL,
    execution_id      UUID,
    reason            TEXT         NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    blackout_calendar TEXT,
    -- id is a new UUIDv7 per row: (id, scheduled_at) is unique because id is.
    CONSTRAINT fire_ledger_pkey PRIMARY KEY (id, scheduled_at),
    CONSTRAINT fire_ledger_fire_outcome_key UNIQUE (workflow_id, trigger_id, scheduled_at, outcome),
    CONSTRAINT fire_ledger_outcome_check
        CHECK (outcome IN ('FIRED','DEDUPLICATED','MISSED','CAUGHT_UP','SKIPPED','PAUSED'))
) PARTITION BY RANGE (scheduled_at);

--bun:split

CREATE TABLE fire_ledger_initial PARTITION OF fire_ledger FOR VALUES FROM (MINVALUE) TO (now());

--bun:split

CREATE TABLE fire_ledger_default PARTITION OF fire_ledger DEFAULT;

--bun:split

INSERT INTO fire_ledger (id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at, blackout_calendar)
SELECT id, workflow_id, deployment_id, trigger_id, nominal_at, scheduled_at,
    fired_at, outcome, execution_id, reason, created_at, blackout_calendar
FROM fire_ledger_unpartitioned;

--bun:split

DROP TABLE fire_ledger_unpartitioned;

--bun:split

CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_scheduled_id ON fire_ledger(scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_outcome_scheduled ON fire_ledger(outcome, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_deployment_created ON fire_ledger(deployment_id, created_at, id);
