#!/usr/bin/env bash
# usage: scripts/bench/history.sh — GetExecutionHistory and the retention janitor at 10,000,000
# executions on PostgreSQL. Creates a throwaway database on the PostgreSQL of WFR_BENCH_PG
# (default postgres://postgres@127.0.0.1:5432, the shared test server), fills it (generate_series,
# UUIDv7 ids, skewed over 200 workflows and 40 days, daily partitions), runs the service's own
# history path and the janitor (internal/retention BenchmarkScale), drops the database, and
# prints a markdown section to stdout. WFR_BENCH_ROWS overrides the row count.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${WFR_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
db=wfr_bench_history_$$
rows=${WFR_BENCH_ROWS:-10000000}
report=$(mktemp)
psql "$base/postgres" -qAt -c "CREATE DATABASE $db" >/dev/null
cleanup() { psql "$base/postgres" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -f "$report"; }
trap cleanup EXIT
cmd="go test ./internal/retention/ -run '^\$' -bench '^BenchmarkScale\$' -benchtime 1x -timeout 90m -v"
WFR_BENCH_DATABASE_URL="$base/$db?sslmode=disable" WFR_BENCH_REPORT=$report WFR_BENCH_ROWS=$rows \
  go test ./internal/retention/ -run '^$' -bench '^BenchmarkScale$' -benchtime 1x -timeout 90m -v >&2
printf '## Monitoring: GetExecutionHistory and the janitor at %s rows\n\n' "$(echo "$rows" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')"
printf 'Command: `scripts/bench/history.sh` (%s against a throwaway database of PostgreSQL %s; %s, %s CPUs).\n\n' \
  "$cmd" "$(psql "$base/postgres" -qAt -c 'SHOW server_version')" "$(date -u +%Y-%m-%d)" "$(nproc)"
cat "$report"
