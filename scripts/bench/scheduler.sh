#!/usr/bin/env bash
# usage: scripts/bench/scheduler.sh — builds workflow-runtime from this tree, runs
# `bench scheduler` with 1,000,000 cron triggers and, as the baseline of the same run, with
# 100,000, and prints the "Scheduling: 1,000,000 cron triggers" section of docs/benchmarks.md
# (markdown) to stdout; progress goes to stderr. Environment: TRIGGERS (1000000), BASELINE_TRIGGERS
# (100000), CRON ('*/15 * * * *'), WINDOW (900: with CRON, TRIGGERS/900 fires per second),
# DURATION (60s), TIMER_BASELINE (20s). Needs neither a database nor Redis: the bench's store is
# in memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
TRIGGERS=${TRIGGERS:-1000000}
BASELINE_TRIGGERS=${BASELINE_TRIGGERS:-100000}
CRON=${CRON:-'*/15 * * * *'}
WINDOW=${WINDOW:-900}
DURATION=${DURATION:-60s}
TIMER_BASELINE=${TIMER_BASELINE:-20s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/wfr" ./cmd/workflow-runtime)
commit=$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo "+changes")

run() { # run N OUT
	local args=(bench scheduler --triggers "$1" --cron "$CRON" --window "$WINDOW" --duration "$DURATION" --baseline "$TIMER_BASELINE" --spread 0)
	echo "running: workflow-runtime ${args[*]}" >&2
	local load0 load1
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	/usr/bin/time -f "%e %U %S" -o "$2.time" "$work/wfr" "${args[@]}" >"$2"
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "$load0 / $load1" >"$2.load"
}
run "$BASELINE_TRIGGERS" "$work/base"
run "$TRIGGERS" "$work/full"

# field OUT LABEL COLUMN: the COLUMNth column (1: scheduler, 2: time.AfterFunc baseline) of the
# bench's row LABEL (columns are separated by two spaces or more).
field() {
	awk -v label="$2" -v col="$3" 'BEGIN { FS = "  +" } index($0, label) == 1 { print $(col + 1); exit }' "$1"
}
fires_per_s=$(awk -v n="$TRIGGERS" -v w="$WINDOW" 'BEGIN { printf "%.0f", n / w }')
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)

cat <<MD
## Scheduling: 1,000,000 cron triggers

One scheduler process (\`bench scheduler\`: the scheduler role's scheduler.Scheduler, go-quartz with
cron.JobQueue, over an in-memory store; fires go to a sink that records their lateness) holding
$(printf "%'d" "$TRIGGERS") workflows with one cron trigger each, \`$CRON\` with a ${WINDOW} s jitter
window: about ${fires_per_s} fires a second. Measured in the same run, as the baseline:
$(printf "%'d" "$BASELINE_TRIGGERS") triggers, and Go's own timers (\`time.AfterFunc\`, one per fire) at
the same fire times as the scheduler's.

\`\`\`
scripts/bench/scheduler.sh
# runs, from a binary built from the tree ($commit):
workflow-runtime bench scheduler --triggers $TRIGGERS --cron '$CRON' --window $WINDOW --duration $DURATION --baseline $TIMER_BASELINE --spread 0
workflow-runtime bench scheduler --triggers $BASELINE_TRIGGERS --cron '$CRON' --window $WINDOW --duration $DURATION --baseline $TIMER_BASELINE --spread 0
\`\`\`

Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(go version | cut -d' ' -f3);
load average (1, 5, 15 min) before / after: $(cat "$work/base.load") (baseline run), $(cat "$work/full.load") (1M run).

| measure | $(printf "%'d" "$BASELINE_TRIGGERS") triggers | $(printf "%'d" "$TRIGGERS") triggers | Go timers, same fires as $(printf "%'d" "$TRIGGERS") |
|---|---|---|---|
| resident (VmRSS) after the load, GC'd | $(field "$work/base" "RSS after load" 1) | $(field "$work/full" "RSS after load" 1) | |
| heap in use after the load | $(field "$work/base" "heap in use after load" 1) | $(field "$work/full" "heap in use after load" 1) | |
| of which the deployments (before the load) | $(field "$work/base" "of which before the load" 1) | $(field "$work/full" "of which before the load" 1) | |
| peak resident (VmHWM) | $(field "$work/base" "peak RSS" 1) | $(field "$work/full" "peak RSS" 1) | |
| load time | $(field "$work/base" "load time" 1) | $(field "$work/full" "load time" 1) | |
| fires due / made in the window | $(field "$work/base" "fires due / made" 1) | $(field "$work/full" "fires due / made" 1) | |
| fire rate | $(field "$work/base" "fire rate" 1) | $(field "$work/full" "fire rate" 1) | $(field "$work/full" "fire rate" 2) |
| lateness p50 | $(field "$work/base" "lateness p50" 1) | $(field "$work/full" "lateness p50" 1) | $(field "$work/full" "lateness p50" 2) |
| lateness p99 | $(field "$work/base" "lateness p99" 1) | $(field "$work/full" "lateness p99" 1) | $(field "$work/full" "lateness p99" 2) |
| lateness max | $(field "$work/base" "lateness max" 1) | $(field "$work/full" "lateness max" 1) | $(field "$work/full" "lateness max" 2) |
| fires > 1 s late, duplicates | $(field "$work/base" "fires > 1 s late" 1), $(field "$work/base" "duplicate fires" 1) | $(field "$work/full" "fires > 1 s late" 1), $(field "$work/full" "duplicate fires" 1) | |

What the resident figure includes: the whole process after the load and a GC returning freed
memory to the OS: the scheduler's jobs, queue and deployment cache, and the deployments that
cache holds. The bench's store is those same deployment objects (a scheduler reading the database
caches one per workflow, each with its own triggers; here their definitions are empty, so a real
deployment's definition adds its size per workflow); the store adds only a list of pointers
(8 bytes a workflow). The lateness of a fire is its arrival at the executions service minus its
jittered scheduled time; the window starts after the load has ended. Lateness is measured on
a shared machine (load average above): compare it with the Go timers' in the same run.
MD
