-- Blackout calendars (PostgreSQL).

-- calendars: named sets of blackout windows read in one IANA zone (server/calendars). spec holds
-- the windows as a JSON document: {"date_ranges":[{"start","end"}], "holidays":[...],
-- "weekly_windows":[{"days":[0..6, Sunday 0],"start":"HH:MM","end":"HH:MM"}]}.
CREATE TABLE calendars (
    -- The shape of a name (lower-case letters, digits, '.', '_', '-') is checked by the service.
    name        VARCHAR(64)  PRIMARY KEY CHECK (name <> ''),
    description TEXT         NOT NULL DEFAULT '',
    timezone    VARCHAR(64)  NOT NULL DEFAULT 'UTC',
    spec        JSONB        NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

--bun:split

-- trigger_calendars: the calendars a cron trigger names, in its order. Replaced with the
-- triggers (the cascade); the key to calendars refuses deleting a calendar a trigger names, and
-- naming one that does not exist.
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

-- DeleteCalendar: who names the calendar.
CREATE INDEX idx_trigger_calendars_calendar ON trigger_calendars(calendar_name);

--bun:split

-- What a cron trigger does when a blackout window that covered fires ends: '' and 'DROP'
-- nothing, 'FIRE_ONCE' one fire at the window's end.
ALTER TABLE triggers ADD COLUMN after_blackout VARCHAR(10) NOT NULL DEFAULT ''
    CHECK (after_blackout IN ('','DROP','FIRE_ONCE'));
