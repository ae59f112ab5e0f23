DROP TABLE backfill_operations;
