-- Backfill operations (SQLite). Same table, columns, constraints and indexes as
-- postgres/20261201000004_backfill_operations.tx.up.sql (see it for the notes); UUIDs and
-- timestamps are TEXT as in 000001.
CREATE TABLE backfill_operations (
    id               TEXT         PRIMARY KEY NOT NULL,
    deployment_id    TEXT         NOT NULL,
    workflow_id      VARCHAR(128) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    trigger_id       VARCHAR(128) NOT NULL DEFAULT '',
    start_at         TEXT         NOT NULL,
    end_at           TEXT         NOT NULL,
    until_at         TEXT         NOT NULL,
    state            VARCHAR(16)  NOT NULL
        CHECK (state IN ('RUNNING','SUCCEEDED','FAILED','CANCELLED')),
    total            BIGINT       NOT NULL DEFAULT 0 CHECK (total >= 0),
    created          BIGINT       NOT NULL DEFAULT 0 CHECK (created >= 0),
    deduplicated     BIGINT       NOT NULL DEFAULT 0 CHECK (deduplicated >= 0),
    blacked_out      BIGINT       NOT NULL DEFAULT 0 CHECK (blacked_out >= 0),
    cursor_at        TEXT         NOT NULL,
    error            TEXT         NOT NULL DEFAULT '',
    lease_owner      VARCHAR(255),
    lease_expires_at TEXT,
    created_at       TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at       TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    CONSTRAINT backfill_operations_range_check CHECK (end_at > start_at AND until_at >= start_at AND until_at <= end_at),
    CONSTRAINT backfill_operations_cursor_check CHECK (cursor_at >= start_at AND cursor_at <= until_at)
);

--bun:split

CREATE UNIQUE INDEX idx_backfill_operations_running ON backfill_operations(deployment_id, trigger_id, start_at, end_at)
    WHERE state = 'RUNNING';

--bun:split

CREATE INDEX idx_backfill_operations_created ON backfill_operations(created_at, id);

--bun:split

CREATE INDEX idx_backfill_operations_deployment_created ON backfill_operations(deployment_id, created_at, id);
