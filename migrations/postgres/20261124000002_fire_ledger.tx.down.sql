ALTER TABLE triggers DROP COLUMN skipped_hour;

--bun:split

ALTER TABLE triggers DROP COLUMN repeated_hour;

--bun:split

DROP TABLE fire_ledger;
