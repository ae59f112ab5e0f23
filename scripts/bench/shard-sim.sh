#!/usr/bin/env bash
# Runs the simulation of schedulers sharing the schedules (internal/shard, TestSimulation) at
# full size: 10,000,000 cron triggers over 20 scheduler replicas with churn (joins, graceful
# leaves, kills, double kills), on a fake clock. Prints a markdown section for
# docs/benchmarks.md on stdout; the test's own output goes to stderr.
#
# Usage: scripts/bench/shard-sim.sh [triggers] [replicas] [hours]   (defaults 10000000 20 1)
set -euo pipefail
cd "$(dirname "$0")/../.."

triggers=${1:-10000000}
replicas=${2:-20}
hours=${3:-1}
report=$(mktemp)
trap 'rm -f "$report"' EXIT

cmd="go test ./internal/shard -run '^TestSimulation\$' -count=1 -timeout 60m -shard.triggers=$triggers -shard.replicas=$replicas -shard.hours=$hours"
go test ./internal/shard -run '^TestSimulation$' -count=1 -timeout 60m \
	-shard.triggers="$triggers" -shard.replicas="$replicas" -shard.hours="$hours" -shard.report="$report" >&2

cat <<MD
## Schedulers sharing the schedules: simulation

Rendezvous hashing of (trigger, instance id) over the live schedulers gives each trigger a
primary and a standby (\`internal/shard\`). The simulation plays membership churn on a fake clock
with the registry's default timings and counts, for every scheduled time of every trigger, who
fires it, and, for every membership change, the share of the holdings that changed hands.

\`\`\`
scripts/bench/shard-sim.sh $triggers $replicas $hours
# which runs: $cmd
\`\`\`

Go $(go env GOVERSION), $(uname -m), $(nproc) cores.

MD
cat "$report"
