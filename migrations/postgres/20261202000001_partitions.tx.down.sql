-- Back to unpartitioned executions and fire_ledger: every row copied, the partitions dropped.

ALTER TABLE executions RENAME TO executions_partitioned;

--bun:split

ALTER TABLE executions_partitioned RENAME CONSTRAINT executions_pkey TO executions_partitioned_pkey;

--bun:split

CREATE TABLE executions (LIKE executions_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

--bun:split

ALTER TABLE executions ADD CONSTRAINT executions_pkey PRIMARY KEY (id);

--bun:split

ALTER TABLE executions ADD FOREIGN KEY (workflow_id) REFERENCES workflows(id);

--bun:split

ALTER TABLE executions ADD FOREIGN KEY (workflow_id, revision) REFERENCES workflow_revisions(workflow_id, revision);

--bun:split

INSERT INTO executions SELECT * FROM executions_partitioned;

--bun:split

DROP TABLE executions_partitioned;

--bun:split

DROP FUNCTION executions_unique_keys();

--bun:split

CREATE UNIQUE INDEX idx_executions_idempotency_key ON executions(workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

--bun:split

CREATE UNIQUE INDEX idx_executions_cron_fire ON executions(workflow_id, trigger_id, scheduled_at)
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

ALTER TABLE fire_ledger RENAME TO fire_ledger_partitioned;

--bun:split

ALTER TABLE fire_ledger_partitioned RENAME CONSTRAINT fire_ledger_pkey TO fire_ledger_partitioned_pkey;

--bun:split

ALTER TABLE fire_ledger_partitioned RENAME CONSTRAINT fire_ledger_fire_outcome_key TO fire_ledger_partitioned_fire_outcome_key;

--bun:split

CREATE TABLE fire_ledger (LIKE fire_ledger_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);

--bun:split

ALTER TABLE fire_ledger ADD CONSTRAINT fire_ledger_pkey PRIMARY KEY (id);

--bun:split

ALTER TABLE fire_ledger ADD CONSTRAINT fire_ledger_fire_outcome_key UNIQUE (workflow_id, trigger_id, scheduled_at, outcome);

--bun:split

ALTER TABLE fire_ledger ADD FOREIGN KEY (workflow_id) REFERENCES workflows(id) ON DELETE CASCADE;

--bun:split

INSERT INTO fire_ledger SELECT * FROM fire_ledger_partitioned;

--bun:split

DROP TABLE fire_ledger_partitioned;

--bun:split

CREATE INDEX idx_fire_ledger_deployment_scheduled ON fire_ledger(deployment_id, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_scheduled_id ON fire_ledger(scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_outcome_scheduled ON fire_ledger(outcome, scheduled_at, id);

--bun:split

CREATE INDEX idx_fire_ledger_deployment_created ON fire_ledger(deployment_id, created_at, id);
