-- executions and fire_ledger stay unpartitioned on SQLite (see internal/store/doc.go,
-- "Partitions"); this version exists so that both dialects have the same migrations.
SELECT 1;
