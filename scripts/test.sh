#!/usr/bin/env bash
# THE test command (README, `task test`, .ci/run): every Go test in the module, once, without the
# test cache, with coverage of server/... measured across all packages; fails when the total is
# below $WFR_COVERAGE_MIN percent (default 85).
#
# Tests that need real servers read them from the environment and are skipped without them:
#   WFR_TEST_DATABASE_URL  e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   WFR_TEST_REDIS_URL     e.g. redis://127.0.0.1:6379/0
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestScheduler -v).
# Without -race on purpose: CI has two cores and the race detector costs several times the run
# time; run `go test -race ./server/...` by hand when touching concurrency.
set -euo pipefail
cd "$(dirname "$0")/.."

min=${WFR_COVERAGE_MIN:-85}
profile=.build/coverage.out
mkdir -p .build

echo "test: WFR_TEST_DATABASE_URL=${WFR_TEST_DATABASE_URL:-<unset>} WFR_TEST_REDIS_URL=${WFR_TEST_REDIS_URL:-<unset>}"
go test -count=1 -timeout=10m -coverpkg=./server/... -coverprofile="$profile" "$@" ./...

total=$(go tool cover -func="$profile" | awk '/^total:/ { sub(/%/, "", $NF); print $NF }')
echo "test: total coverage of server/...: ${total}% (minimum ${min}%; per-function report: go tool cover -func=$profile)"
if awk -v t="$total" -v m="$min" 'BEGIN { exit !(t + 0 < m + 0) }'; then
  echo "test: FAIL: coverage ${total}% is below ${min}%" >&2
  exit 1
fi
