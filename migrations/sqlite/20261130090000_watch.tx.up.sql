-- The resync of WatchExecutions by deployment (sqlite).
--
-- A watch on a deployment reads again, every few seconds, the deployment's executions updated
-- since its previous read (a little before, for clocks that disagree): a change whose
-- notification was lost is found there. This index makes that read one range walk of the
-- deployment's recent changes, in the order the watch pages through them (updated_at, id).
CREATE INDEX IF NOT EXISTS idx_executions_deployment_updated ON executions(deployment_id, updated_at, id);
