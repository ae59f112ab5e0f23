-- Reverses 20261201000003_calendars.tx.up.sql.
ALTER TABLE triggers DROP COLUMN after_blackout;

--bun:split

DROP TABLE IF EXISTS trigger_calendars;

--bun:split

DROP TABLE IF EXISTS calendars;
