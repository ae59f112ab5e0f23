-- Blackout calendars (SQLite). Same tables, columns, constraints and indexes as
-- postgres/20261201000003_calendars.tx.up.sql (see it for the notes); timestamps are TEXT and
-- spec is JSON text.
CREATE TABLE calendars (
    name        VARCHAR(64)  PRIMARY KEY NOT NULL CHECK (name <> ''),
    description TEXT         NOT NULL DEFAULT '',
    timezone    VARCHAR(64)  NOT NULL DEFAULT 'UTC',
    spec        TEXT         NOT NULL DEFAULT '{}' CHECK (json_valid(spec)),
    created_at  TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')),
    updated_at  TEXT         NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
);

--bun:split

CREATE TABLE trigger_calendars (
    workflow_id   VARCHAR(128) NOT NULL,
    trigger_id    VARCHAR(128) NOT NULL,
    position      INT          NOT NULL CHECK (position >= 0),
    calendar_name VARCHAR(64)  NOT NULL REFERENCES calendars(name),
    PRIMARY KEY (workflow_id, trigger_id, position),
    CONSTRAINT trigger_calendars_trigger_fkey FOREIGN KEY (workflow_id, trigger_id)
        REFERENCES triggers(workflow_id, id) ON DELETE CASCADE
);

--bun:split

CREATE INDEX idx_trigger_calendars_calendar ON trigger_calendars(calendar_name);

--bun:split

ALTER TABLE triggers ADD COLUMN after_blackout VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (after_blackout IN ('','DROP','FIRE_ONCE'));
