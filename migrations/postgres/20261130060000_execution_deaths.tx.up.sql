-- How often an execution's run ended with its process (postgres).
--
-- deaths counts the runs that were claimed (status RUNNING, attempt + 1) and never recorded what
-- happened next because their process died or lost its lease: the next claim finds the row
-- still RUNNING and adds one. After WFR_MAX_PROCESS_DEATHS of them the worker ends the execution
-- FAILED ("quarantined") instead of running it again, so an execution that kills every process
-- running it (out of memory) cannot crash-loop the fleet.
ALTER TABLE executions ADD COLUMN deaths INT NOT NULL DEFAULT 0 CHECK (deaths >= 0);
