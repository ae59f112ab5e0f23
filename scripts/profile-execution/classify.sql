-- pg_stat_statements of one run, grouped by what each statement does for an execution.
-- Since the worker claims without reading first (a message that names the workflow and
-- deployment, under ALLOW_ALL), 'read execution row(s)' counts only the fallbacks and the
-- other policies' reads.
select kind, sum(calls) calls, sum(rows) rows_, round(sum(total_exec_time)::numeric,0) ms from (
select calls, rows, total_exec_time, case
 when query ~ '^SELECT "execution_row"' then 'read execution row(s)'
 when query ~ 'SET status = \$1, attempt = (executions\.)?attempt' or query ~ '^WITH v \(id, fence, ts\)' then 'claim (UPDATE … attempt+1, fence)'
 when query ~ 'SET status = (\$1|v\.status), output = (\$2|v\.output)' or query ~ '^WITH v \(id, fence, status, output' then 'outcome (UPDATE status/output)'
 when query ~ '^INSERT INTO executions' or query ~ '^WITH v \(id, workflow_id, webhook_path' then 'trigger INSERT'
 when query ~ 'count\(\*\) AS n FROM executions' then 'bench: count by status'
 when query ~ 'pg_stat_statements' then 'bench: pg_stat_statements'
 else 'other: '||left(regexp_replace(query,'\s+',' ','g'),60) end kind
from pg_stat_statements) s group by kind order by calls desc;
select count(*) entries, (select dealloc from pg_stat_statements_info) dealloc from pg_stat_statements;
