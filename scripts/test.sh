#!/usr/bin/env bash
# THE test command (README, `task test`, .ci/run): every Go test in the module, once, without the
# test cache, with coverage of internal/... and cmd/... measured across all packages.
#
# Tests that need real servers read them from the environment:
#   WFR_TEST_DATABASE_URL  e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   WFR_TEST_REDIS_URL     e.g. redis://127.0.0.1:6379/0 (the tests also flush databases 1 to 14
#                          of that server; see internal/testenv)
# Without one, its tests are skipped and listed at the end, and the coverage gate (the total must
# be at least $WFR_COVERAGE_MIN percent, default 85) is not applied: it measures the whole suite,
# which runs where both are set (CI). Under CI=true both must be set, and a test that finds a
# server missing or unreachable fails instead of skipping (internal/testenv).
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestScheduler -v).
# Without -race on purpose: CI has two cores and the race detector costs several times the run
# time. .ci/run has a step of its own for it, "race detector (concurrency packages)": the
# packages whose goroutines share state (lock, queue, execution, scheduler, watch, registry,
# notify, waitlist) under -race. Run `go test -race` on a package by hand when touching its
# concurrency.
set -euo pipefail
cd "$(dirname "$0")/.."

min=${WFR_COVERAGE_MIN:-85}
profile=.build/coverage.out
skips=$PWD/.build/skips.tsv # written by internal/testenv's Unavailable: dir, test, what was missing
mkdir -p .build
rm -f "$skips"

backends=yes
for v in WFR_TEST_DATABASE_URL WFR_TEST_REDIS_URL; do
  if [ -z "${!v:-}" ]; then
    backends=no
    if [ "${CI:-}" = true ]; then
      echo "test: FAIL: $v is not set; under CI=true the PostgreSQL and Redis suites must run" >&2
      exit 1
    fi
  fi
done

echo "test: WFR_TEST_DATABASE_URL=${WFR_TEST_DATABASE_URL:-<unset>} WFR_TEST_REDIS_URL=${WFR_TEST_REDIS_URL:-<unset>}"
rc=0
WFR_TEST_SKIP_LOG=$skips go test -count=1 -timeout=10m -coverpkg=./internal/...,./cmd/... -coverprofile="$profile" "$@" ./... || rc=$?

if [ -s "$skips" ]; then
  # One line per missing thing: how many tests (and subtests) it skipped, in which packages.
  echo "test: SKIPPED for want of a server (set it to run them):"
  awk -F'\t' -v root="$PWD/" '
    { dir = $1; if (index(dir, root) == 1) dir = substr(dir, length(root) + 1)
      n[$3]++; if (!seen[$3, dir]++) pkgs[$3] = pkgs[$3] " " dir }
    END { for (w in n) printf "  %s: %d tests in%s\n", w, n[w], pkgs[w] }' "$skips" | sort
fi

if [ "$rc" -ne 0 ]; then
  echo "test: FAIL: go test exited $rc" >&2
  exit "$rc"
fi
total=$(go tool cover -func="$profile" | awk '/^total:/ { sub(/%/, "", $NF); print $NF }')
echo "test: total coverage of internal/... and cmd/...: ${total}% (per-function report: go tool cover -func=$profile)"

if [ "$backends" = no ]; then
  echo "test: ok; coverage gate (${min}%) not applied: it applies where WFR_TEST_DATABASE_URL and WFR_TEST_REDIS_URL are both set (as in CI)"
  exit 0
fi
echo "test: coverage minimum ${min}%"
if awk -v t="$total" -v m="$min" 'BEGIN { exit !(t + 0 < m + 0) }'; then
  echo "test: FAIL: coverage ${total}% is below ${min}%" >&2
  exit 1
fi
