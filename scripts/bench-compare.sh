#!/usr/bin/env bash
# bench-compare.sh: the one driver of docs/benchmarks.md. It runs every benchmark section in one
# sitting on one machine and writes the WHOLE file from that run: a header (commit, date,
# machine, versions, duration), a Summary computed from the run's figures, then each section
# with the command that produced it. Nothing in docs/benchmarks.md is written by hand.
#
#   scripts/bench-compare.sh                    # full run (see "Duration" below)
#   scripts/bench-compare.sh --quick            # every section small: proves the driver runs
#   scripts/bench-compare.sh --skip history --out /tmp/benchmarks.md
#   scripts/bench-compare.sh --rounds 3         # peers: 3 interleaved rounds (default 2)
#
# Sections, in order (--skip NAME leaves one out, and the header says so):
#   peers       the service next to River and asynq: enqueue, enqueue → done, pickup
#               (`workflow-runtime bench trigger|e2e|pickup --json`, bench/peers)
#   api         Go benchmark BenchmarkAPI (internal/api), ratio to its canned-answer baseline
#   lock        Go benchmarks of the Redis lock (internal/lock), ratio to a bare SET
#   validation  Go benchmark BenchmarkValidateWorstDefinition (internal/deployments), target 100 ms
#   workers     `workflow-runtime bench workers --json`: 1, 2, 4 worker processes
#   scheduler   scripts/bench/scheduler.sh   \
#   history     scripts/bench/history.sh      > external: each prints one markdown section to
#   shard-sim   scripts/bench/shard-sim.sh   /  stdout, included verbatim; given --quick when
#                                                the driver runs with --quick. A missing or
#                                                non-executable one fails the run unless skipped.
# Duration on the shared 2-core machine: peers 7-11 minutes (2 rounds), api + lock + validation
# 3-4, workers 2.5 (12-20 minutes in all, the more the busier the machine), plus the external
# sections' own; --quick about 3.5 minutes without the external sections.
#
# Needs PostgreSQL and Redis as in .ci/run (the shared servers: the driver makes databases of its
# own and flushes a Redis database only when it holds its own keys alone), Go, jq, python3, psql,
# redis-cli and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

WFR_PKG=./cmd/workflow-runtime

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
SERVICE_DB=wfr_bench_compare                   # created and dropped for each service run
SERVICE_REDIS=redis://127.0.0.1:6379/14        # flushed only when it holds the service's keys alone
PEERS_DB_URL="$PG_BASE/test?sslmode=disable"   # River: a schema of its own, dropped after each run
PEERS_REDIS=redis://127.0.0.1:6379/15          # asynq: flushed only when it holds asynq's keys alone
WORKERS_DB=wfr_bench_workers                   # bench workers: created and dropped around its run
WORKERS_REDIS=redis://127.0.0.1:6379/13        # flushed only when it holds the service's keys alone
SERVICE_ADDR=127.0.0.1:18090
# The Go benchmarks' servers (testenv gives each its own database / Redis keys).
export WFR_TEST_DATABASE_URL=${WFR_TEST_DATABASE_URL:-$PG_BASE/test?sslmode=disable}
export WFR_TEST_REDIS_URL=${WFR_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

all_sections=(peers api lock validation workers scheduler history shard-sim)
external_sections=(scheduler history shard-sim)

quick=0 rounds=2 out=docs/benchmarks.md skip=()
while [ $# -gt 0 ]; do
  case $1 in
  --quick) quick=1 rounds=1 ;;
  --rounds) rounds=$2; shift ;;
  --out) out=$2; shift ;;
  --skip)
    case " ${all_sections[*]} " in
    *" $2 "*) skip+=("$2") ;;
    *) echo "--skip $2: no such section (${all_sections[*]})" >&2; exit 2 ;;
    esac
    shift ;;
  -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
  *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command_line=scripts/bench-compare.sh
[ "$quick" = 1 ] && command_line+=" --quick"
[ "$quick" = 0 ] && [ "$rounds" != 2 ] && command_line+=" --rounds $rounds"
for s in "${skip[@]+"${skip[@]}"}"; do command_line+=" --skip $s"; done
[ "$out" != docs/benchmarks.md ] && command_line+=" --out $out"

skipped() { case " ${skip[*]+"${skip[*]}"} " in *" $1 "*) return 0 ;; esac; return 1; }

# Every external section must be there unless skipped: a document missing a section silently
# would look complete.
for s in "${external_sections[@]}"; do
  skipped "$s" && continue
  if [ ! -x "scripts/bench/$s.sh" ]; then
    echo "scripts/bench/$s.sh is missing or not executable: add it, or give --skip $s" >&2
    exit 2
  fi
done
for tool in go jq python3 psql redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

if [ "$quick" = 1 ]; then
  window=2s warmup=1s e2e_count=2000 pickup_rate=500 pickup_window=2s
  gobench_time=200ms gobench_count=1 validation_time=3x
  workers_repeats=1 workers_per_worker=60
else
  window=6s warmup=2s e2e_count=20000 pickup_rate=500 pickup_window=10s
  gobench_time=2s gobench_count=3 validation_time=20x
  workers_repeats=3 workers_per_worker=300
fi
callers=64 workers=128
bound=300 # seconds any one peers run may take before it is killed and counted as failed

tmp=$(mktemp -d)
sec=$tmp/sections # one markdown file per section, in order
mkdir -p "$sec"
summary=$tmp/summary.jsonl # the Summary's rows, one JSON object each, written by the sections
: >"$summary"
service_pid=
cleanup() {
  stop_service
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $SERVICE_DB WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $WORKERS_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

started=$(date -u +%s)
date_started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
failures=()
timings=()

if ! skipped peers || ! skipped workers; then
  echo "building the service ($WFR_PKG)"
  go build -o "$tmp/wfr" "$WFR_PKG"
fi
if ! skipped peers; then
  echo "building bench/peers"
  (cd bench/peers && go build -o "$tmp/peers" .)
fi

# flush_if_ours URL PREFIX: flushes the Redis database when every key in it starts with PREFIX.
flush_if_ours() {
  local db=${1##*/} foreign
  foreign=$(redis-cli -n "$db" --scan | grep -v "^$2" | head -1 || true)
  if [ -n "$foreign" ]; then
    echo "Redis database $db holds $foreign, not $2…: refusing to flush it" >&2
    return 1
  fi
  redis-cli -n "$db" flushdb >/dev/null
}

# ---------------------------------------------------------------------------------------------
# peers: the service (PostgreSQL + Redis, and embedded SQLite), River stock and tuned, asynq.

stop_service() {
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
    service_pid=
  fi
}

# start_service DATABASE_URL [REDIS_URL]: one role-all process on DATABASE_URL (a fresh
# PostgreSQL database, or a new SQLite file with no Redis: the embedded default's in-process queue
# and lock), ready when /readyz answers.
start_service() {
  local env=(WFR_TRIGGER_RATE=0 "WFR_DATABASE_URL=$1" "WFR_ADDR=$SERVICE_ADDR")
  if [ -n "${2:-}" ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $SERVICE_DB WITH (FORCE)" -c "CREATE DATABASE $SERVICE_DB" >/dev/null
    flush_if_ours "$2" "wfr:"
    env+=("WFR_REDIS_URL=$2")
  fi
  env "${env[@]}" "$tmp/wfr" serve >>"$tmp/service.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 120); do
    curl -fsS "http://$SERVICE_ADDR/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$service_pid" 2>/dev/null || break
    sleep 0.25
  done
  echo "the service did not become ready; its log:" >&2
  tail -20 "$tmp/service.log" >&2
  return 1
}

# peers_results: one line per run: shape, contestant, round, value (per second or p50), p99.
peers_results=$tmp/peers.tsv
peers_commands=$tmp/peers-commands.txt # each distinct command line, as run
: >"$peers_results"
: >"$peers_commands"
peers_failures=()

# note_command CONTESTANT ARGS...: records the command line (the temporary paths shortened).
note_command() {
  local who=$1
  shift
  printf '%-15s %s\n' "$who" "$*" | sed "s|$tmp/[^ ]*/workflow-runtime.db|<new directory>/workflow-runtime.db|g; s|/$SERVICE_DB?|/<fresh database>?|g" >>"$peers_commands"
}

# run_service CONTESTANT SHAPE ROUND: CONTESTANT is service (PostgreSQL + Redis) or
# service-sqlite (embedded SQLite, in-process queue and lock).
run_service() {
  local who=$1 shape=$2 round=$3 log=$tmp/$1-$2-$3 rc=0 db="$PG_BASE/$SERVICE_DB?sslmode=disable" redis=$SERVICE_REDIS args
  if [ "$who" = service-sqlite ]; then
    mkdir -p "$tmp/$who-$shape-$round"
    db="sqlite://$tmp/$who-$shape-$round/workflow-runtime.db" redis=
  fi
  if [ "$round" = 1 ] && [ "$shape" = enqueue ]; then
    if [ -n "$redis" ]; then
      note_command "$who" "WFR_TRIGGER_RATE=0 WFR_DATABASE_URL=$PG_BASE/<fresh database>?sslmode=disable WFR_REDIS_URL=$redis WFR_ADDR=$SERVICE_ADDR workflow-runtime serve &"
    else
      note_command "$who" "WFR_TRIGGER_RATE=0 WFR_DATABASE_URL=sqlite://<new directory>/workflow-runtime.db WFR_ADDR=$SERVICE_ADDR workflow-runtime serve &"
    fi
  fi
  start_service "$db" "$redis" || { peers_failures+=("$who $shape round $round: did not start"); return 0; }
  case $shape in
  enqueue) args=(bench trigger --json --addr "http://$SERVICE_ADDR" --concurrency $callers --duration $window --warmup $warmup) ;;
  e2e) args=(bench e2e --json --addr "http://$SERVICE_ADDR" --count $e2e_count --rate 0 --concurrency $callers --database-url "$db") ;;
  pickup) args=(bench pickup --json --addr "http://$SERVICE_ADDR" --rate $pickup_rate --duration $pickup_window --warmup $warmup --concurrency $callers --database-url "$db") ;;
  esac
  [ "$round" = 1 ] && note_command "$who" workflow-runtime "${args[@]}"
  timeout "$bound" "$tmp/wfr" "${args[@]}" >"$log.json" 2>"$log.log" || rc=$?
  stop_service
  cat "$log.log" "$log.json"
  if [ "$rc" -ne 0 ] || ! jq -e . "$log.json" >/dev/null 2>&1; then
    peers_failures+=("$who $shape round $round: exit $rc")
    return 0
  fi
  jq -r --arg who "$who" --arg r "$round" '
    if .shape == "trigger" then ["enqueue", $who, $r, .service.per_sec, "", .ratio.per_sec]
    elif .shape == "pickup" then ["pickup", $who, $r, .p50_ms, .p99_ms, ""]
    else ["e2e", $who, $r, .per_sec, "", ""] end | @tsv' "$log.json" >>"$peers_results"
}

# run_peer CONTESTANT SHAPE ROUND: CONTESTANT is river-stock, river-tuned or asynq.
run_peer() {
  local who=$1 shape=$2 round=$3 log=$tmp/$1-$2-$3.log rc=0 args=()
  case $who in
  river-stock) args=(river "$shape" --database-url "$PEERS_DB_URL" --fetch-cooldown 100ms) ;;
  river-tuned) args=(river "$shape" --database-url "$PEERS_DB_URL" --fetch-cooldown 1ms) ;;
  asynq) args=(asynq "$shape" --redis-url "$PEERS_REDIS") ;;
  esac
  args+=(--workers $workers)
  case $shape in
  enqueue) args+=(--concurrency $callers --duration $window --warmup $warmup) ;;
  e2e) args+=(--count $e2e_count --rate 0 --concurrency $callers) ;;
  pickup) args+=(--rate $pickup_rate --duration $pickup_window --warmup $warmup --concurrency $callers) ;;
  esac
  [ "$round" = 1 ] && note_command "$who" "(cd bench/peers && go run .)" "${args[@]}"
  timeout "$bound" "$tmp/peers" "${args[@]}" >"$log" 2>&1 || rc=$?
  cat "$log"
  if [ "$rc" -ne 0 ]; then
    peers_failures+=("$who $shape round $round: exit $rc")
    return 0
  fi
  grep '^{' "$log" >>"$tmp/peers.jsonl"
  grep '^{' "$log" | jq -r --arg who "$who" --arg r "$round" \
    'if .shape == "pickup" then [.shape, $who, $r, .p50_ms, .p99_ms, ""] else [.shape, $who, $r, .per_sec, "", ""] end | @tsv' >>"$peers_results"
}

section_peers() {
  local shape round i who order
  local contestants=(service service-sqlite river-stock river-tuned asynq)
  for shape in enqueue e2e pickup; do
    for round in $(seq "$rounds"); do
      # Each round starts one place further along the list, so that no contestant always runs
      # right after the same one: a run leaves the servers busy for a while after it ends (River
      # tuned measured 2,600-2,650/s straight after River stock, 3,070-3,250/s straight after the
      # service, on the same quiet host).
      order=()
      for i in "${!contestants[@]}"; do
        order+=("${contestants[(i + round - 1) % ${#contestants[@]}]}")
      done
      echo "=== peers: $shape, round $round of $rounds: ${order[*]}"
      for who in "${order[@]}"; do
        case $who in
        service*) run_service "$who" "$shape" "$round" ;;
        *) run_peer "$who" "$shape" "$round" ;;
        esac
      done
    done
  done
  local river_version asynq_version
  river_version=$(jq -r 'select(.peer == "river") | .version' "$tmp/peers.jsonl" 2>/dev/null | head -1)
  asynq_version=$(jq -r 'select(.peer == "asynq") | .version' "$tmp/peers.jsonl" 2>/dev/null | head -1)
  RESULTS=$peers_results SUMMARY=$summary ROUNDS=$rounds COMMANDS=$peers_commands \
    RIVER_VERSION=${river_version:-?} ASYNQ_VERSION=${asynq_version:-?} WINDOW=$window WARMUP=$warmup \
    E2E_COUNT=$e2e_count PICKUP_RATE=$pickup_rate PICKUP_WINDOW=$pickup_window CALLERS=$callers WORKERS=$workers \
    FAILURES="$(printf '%s\n' "${peers_failures[@]+"${peers_failures[@]}"}")" python3 - >&3 <<'EOF'
import json, os, statistics
e = os.environ
rows, trigger_ratio = {}, []
for line in open(e["RESULTS"]):
    shape, who, _, a, b, r = line.rstrip("\n").split("\t")
    rows.setdefault((shape, who), []).append((float(a), float(b) if b else None))
    if r and who == "service":
        trigger_ratio.append(float(r))
whos = ["service", "service-sqlite", "river-stock", "river-tuned", "asynq"]

def values(shape, who, i):
    return [v[i] for v in rows.get((shape, who), [])]

def fmt(v, unit):
    return f"{v:,.0f}" if unit == "/s" or v >= 100 else f"{v:,.1f}"

def span(vs, unit):
    if not vs:
        return "—"
    lo, hi = fmt(min(vs), unit), fmt(max(vs), unit)
    return (lo if lo == hi else f"{lo}–{hi}") + ("/s" if unit == "/s" else " ms")

def mean_ratio(shape, who, i):
    a, b = values(shape, who, i), values(shape, "river-tuned", i)
    if not a or not b:
        return None
    return statistics.mean(a) / statistics.mean(b)

def between(vs):
    lo, hi = f"{min(vs):.2f}", f"{max(vs):.2f}"
    return lo if lo == hi else f"{lo}–{hi}"

def show(r):
    return "—" if r is None else f"{r:.2f}×"

n = int(e["ROUNDS"])
out = []
out.append("## Peers: River and asynq, same machine, same sitting")
out.append("")
out.append("The service and the two job queues it is compared with, under the same load shapes, one after the other in each round. Commands, as run in the first round (each round the same; `workflow-runtime` is `go build ./cmd/workflow-runtime`, the service restarted on a fresh database for each run, `service-sqlite` the embedded default):")
out.append("")
out.append("```sh")
out.extend(l.rstrip("\n") for l in open(e["COMMANDS"]))
out.append("```")
out.append("")
out.append(f"- River {e['RIVER_VERSION']} (riverpgxv5), asynq {e['ASYNQ_VERSION']} (bench/peers/go.mod)")
out.append(f"- service: one `serve` process, role all (api + worker + embedded engine), shipped defaults (worker concurrency {e['WORKERS']}) with `WFR_TRIGGER_RATE=0`, on a fresh database for each run: PostgreSQL + Redis, and the embedded default (SQLite file, in-process queue and lock), which has no peer to compare with")
out.append(f"- peers: {e['WORKERS']} workers (River `MaxWorkers`, asynq `Concurrency`), a noop job, defaults otherwise; River in a schema of its own with a pgx pool of 32, stock `FetchCooldown` (100 ms) and tuned (1 ms, its minimum); asynq stock (`TaskCheckInterval` 1 s)")
out.append(f"- rounds: {n}, interleaved per shape, each round starting one contestant further along the order of the columns (so that no contestant always runs right after the same one); each cell is min–max over the rounds, each ratio the mean over River tuned's mean")
out.append("")
out.append("| shape | service (PostgreSQL + Redis) | service (embedded SQLite) | River stock | River tuned | asynq | service / River tuned | River stock / tuned | asynq / River tuned |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
table = [
    ("enqueue", 0, "/s", f"enqueue, {e['CALLERS']} callers for {e['WINDOW']} (after {e['WARMUP']}): TriggerWorkflow / `Insert` / `Enqueue`, workers running"),
    ("e2e", 0, "/s", f"enqueue → done, noop, {int(e['E2E_COUNT']):,} jobs flat out ({e['CALLERS']} in flight), nothing lost"),
    ("pickup", 0, "ms", f"pickup p50 at {e['PICKUP_RATE']}/s for {e['PICKUP_WINDOW']} (after {e['WARMUP']} at that rate, not measured)"),
    ("pickup", 1, "ms", f"pickup p99 at {e['PICKUP_RATE']}/s for {e['PICKUP_WINDOW']} (after {e['WARMUP']} at that rate, not measured)"),
]
for shape, i, unit, label in table:
    cells = [span(values(shape, w, i), unit) for w in whos]
    out.append(f"| {label} | " + " | ".join(cells) + f" | {show(mean_ratio(shape, 'service', i))} | {show(mean_ratio(shape, 'river-stock', i))} | {show(mean_ratio(shape, 'asynq', i))} |")
out.append("")
if trigger_ratio:
    out.append(f"`bench trigger` measures a minimal Connect handler in a process of its own (set up as `serve` sets up the service) before the service, same client, same window: the service's TriggerWorkflow throughput is {between(trigger_ratio)}× the minimal handler's (min–max over the rounds).")
    out.append("")
out.append("What each side measures: enqueue is calls per second in the window (the service's through its API, Connect over h2c, the peers' through their Go clients in-process); "
           "enqueue → done is the time from the first enqueue until the queue records the last job done (the service: SUCCEEDED rows counted with SQL; River: `completed` rows; asynq: handler returns), "
           "and every run fails unless every job ran exactly once; pickup is, per job, the service's `created_at` → `started_at` (both from the service's clock: the TriggerWorkflow handler's on arrival, the worker's just before its claim), River's job row `created_at` → its worker starting, "
           "and for asynq (which keeps no enqueue time a handler can read) the client's clock just before `Enqueue` → its handler starting. "
           "Higher is better in the /s rows, lower in the ms rows; a ratio is of throughputs or of latencies as the row's unit says (a pickup ratio below 1: quicker than River tuned).")
out.append("")
out.append("How the service's path works: concurrent TriggerWorkflow calls are batched (`internal/execution/batcher.go`, group commit: the calls waiting when a batch starts share one multi-row `INSERT … SELECT … RETURNING` and one pipelined round trip of `XADD`s); "
           "per execution the worker takes the execution's lease, claims the row, runs the engine, records the outcome, releases the lease and acknowledges the message "
           "(the message carries the workflow and deployment ids, so under the default overlap policy ALLOW_ALL the row is not read before the claim: `Worker.handleDirect`), "
           "and the executions at the same step share one statement or Redis pipeline for it (`internal/execution/steps.go`); workers block on `XREADGROUP` and are woken by the `XADD`, nothing polls. "
           "`scripts/profile-execution/` profiles where the time goes per execution (by hand, on servers of its own; not part of this run).")
fails = [f for f in e.get("FAILURES", "").split("\n") if f]
if fails:
    out.append("")
    out.append("Runs that failed (not in the table): " + "; ".join(fails) + ".")
print("\n".join(out))

s = open(e["SUMMARY"], "a")
def row(what, target, figure, met):
    s.write(json.dumps({"what": what, "target": target, "figure": figure, "met": met, "section": "peers-river-and-asynq-same-machine-same-sitting"}) + "\n")
r = mean_ratio("e2e", "service", 0)
row("trigger → done, noop, flat out, PostgreSQL + Redis", "≥ 1.5 × River tuned",
    "—" if r is None else f"{span(values('e2e', 'service', 0), '/s')}, {r:.2f}× River tuned ({span(values('e2e', 'river-tuned', 0), '/s')})",
    "—" if r is None else ("yes" if r >= 1.5 else "**no**"))
p99 = values("pickup", "service", 1)
row(f"pickup p99 at {e['PICKUP_RATE']}/s, PostgreSQL + Redis", "< 10 ms (every round)",
    "—" if not p99 else f"{span(p99, 'ms')} (River tuned {span(values('pickup', 'river-tuned', 1), 'ms')})",
    "—" if not p99 else ("yes" if max(p99) < 10 else "**no**"))
if trigger_ratio:
    row("TriggerWorkflow, 64 callers, PostgreSQL + Redis", "≥ 0.4 × a minimal handler (same run)",
        f"{span(values('enqueue', 'service', 0), '/s')}, {between(trigger_ratio)}× the minimal handler",
        "yes" if min(trigger_ratio) >= 0.4 else "**no**")
EOF
  [ ${#peers_failures[@]} -eq 0 ] || { failures+=("peers: ${peers_failures[*]}"); return 1; }
}

# ---------------------------------------------------------------------------------------------
# Go benchmarks: go test -bench, each section's rows as the mean (min–max) over -count runs, and
# a ratio of ns/op to the baseline benchmark measured in the same `go test` run.

# go_bench ID TITLE PACKAGE REGEX BENCHTIME BASELINES TARGET PROSE: BASELINES is
# "bench=baseline;…" (names without the GOMAXPROCS suffix), TARGET "unit<bound|what" or empty.
go_bench() {
  local id=$1 title=$2 pkg=$3 regex=$4 benchtime=$5 baselines=$6 target=$7 prose=$8 log=$tmp/$1.bench rc=0
  local cmd="go test -run '^\$' -bench '$regex' -benchtime=$benchtime -count=$gobench_count $pkg"
  echo "=== $id: $cmd"
  go test -run '^$' -bench "$regex" -benchtime="$benchtime" -count="$gobench_count" "$pkg" 2>&1 | tee "$log" || rc=$?
  [ "$rc" -eq 0 ] || failures+=("$id: go test exit $rc")
  LOG=$log TITLE=$title CMD=$cmd BASELINES=$baselines TARGET=$target PROSE=$prose SUMMARY=$summary ID=$id python3 - >&3 <<'EOF'
import json, os, re, statistics
e = os.environ
runs = {}  # name -> unit -> [values]
order = []
header = []
for line in open(e["LOG"]):
    line = line.rstrip("\n")
    if line.startswith(("goos:", "goarch:", "cpu:")):
        if line not in header:
            header.append(line)
    if not line.startswith("Benchmark"):
        continue
    f = line.split()
    if len(f) < 4 or not f[1].isdigit():
        continue
    name = re.sub(r"-\d+$", "", f[0])
    if name not in runs:
        runs[name] = {}
        order.append(name)
    for v, unit in zip(f[2::2], f[3::2]):
        runs[name].setdefault(unit, []).append(float(v))
units = []
for n in order:
    for u in runs[n]:
        if u not in units:
            units.append(u)

def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"

def cell(vs):
    if not vs:
        return ""
    m = fmt(statistics.mean(vs))
    return m if len(vs) == 1 else f"{m} ({fmt(min(vs))}–{fmt(max(vs))})"

base = dict(p.split("=", 1) for p in e["BASELINES"].split(";") if p)
out = [f"## {e['TITLE']}", "", "```sh", e["CMD"], "```", "", e["PROSE"], ""]
if header:
    out.append("`" + "`, `".join(header) + "`")
    out.append("")
cols = ["benchmark", "runs"] + units + (["ns/op ÷ baseline's"] if base else [])
out.append("| " + " | ".join(cols) + " |")
out.append("|---|" + "---:|" * (len(cols) - 1))
ratios = {}
for n in order:
    r = runs[n]
    cells = [f"`{n}`", str(max(len(v) for v in r.values()))] + [cell(r.get(u, [])) for u in units]
    if base:
        b = base.get(n)
        if b is None and n in base.values():
            cells.append("baseline")
        elif b in runs and "ns/op" in runs[b] and "ns/op" in r:
            ratios[n] = statistics.mean(r["ns/op"]) / statistics.mean(runs[b]["ns/op"])
            cells.append(f"{ratios[n]:.2f}× `{b}`")
        else:
            cells.append("")
    out.append("| " + " | ".join(cells) + " |")
if not order:
    out.append("| no benchmark line in the output: the run failed | " + " | ".join([""] * (len(cols) - 1)) + " |")
out.append("")
out.append("Each cell: the mean over the runs (min–max). Units as `go test` prints them (custom metrics from `b.ReportMetric`).")
print("\n".join(out))

anchor = re.sub(r"[^a-z0-9 -]", "", e["TITLE"].lower()).replace(" ", "-")
s = open(e["SUMMARY"], "a")
def row(what, target, figure, met):
    s.write(json.dumps({"what": what, "target": target, "figure": figure, "met": met, "section": anchor}) + "\n")
if e["TARGET"]:
    spec, what = e["TARGET"].split("|", 1)
    unit, bound = spec.split("<")
    vs = [v for n in order for v in runs[n].get(unit, [])]
    worst = max(vs) if vs else None
    row(what, f"< {bound} {unit}", "—" if worst is None else f"worst {fmt(worst)} {unit} (of {len(vs)} runs × cases)",
        "—" if worst is None else ("yes" if worst < float(bound) else "**no**"))
for n, r in ratios.items():
    row(f"`{n}`", "ratio reported", f"{r:.2f}× `{base[n]}` (ns/op, same run)", "reported")
EOF
  [ "$rc" -eq 0 ]
}

section_api() {
  go_bench api "API: DeployWorkflow, ListDeployments, TriggerWorkflow (Go benchmark)" ./internal/api 'BenchmarkAPI' "$gobench_time" \
    "BenchmarkAPI/deploy=BenchmarkAPI/baseline;BenchmarkAPI/trigger=BenchmarkAPI/baseline;BenchmarkAPI/list=BenchmarkAPI/baseline" "" \
    "Three real servers built as \`internal/app\` builds them (production \`config.Default()\`, the same interceptors: otelconnect, access log, recovery, validation; HTTP/2 cleartext, Connect binary), each over a fresh PostgreSQL schema with the production pool. The baseline is a test-only handler on the same server set-up that answers \`GetDeploymentStatus\` with a canned response, touching no storage. 16 concurrent callers. \`x_baseline\` is the benchmark's own ratio of time per call to the baseline's in the same run; \`p50_us\` and \`p99_us\` are single calls' latencies. \`deploy\` is one transaction (row lock, revision insert, trigger replacement, update) of a 3-node definition with a cron and a webhook trigger; \`trigger\` goes through the in-process queue with batched inserts; \`list\` decodes and encodes a page of 50 whole deployments out of 1,000."
}

section_lock() {
  go_bench lock "Lock acquire + release against a bare Redis SET (Go benchmark)" ./internal/lock 'BenchmarkRedis' "$gobench_time" \
    "BenchmarkRedisAcquireRelease=BenchmarkRedisBareSet;BenchmarkRedisAcquireReleaseSingle16=BenchmarkRedisAcquireReleaseMany16" "" \
    "One caller, the Redis server above. \`AcquireRelease\` is one \`Acquire\` (Lua: \`SET NX PX\`, the fencing counter read against Redis's \`TIME\`) and one \`Release\` (Lua compare-and-delete): two round trips, against \`BareSet\`, one \`SET\` round trip, the floor of any Redis operation. The batch forms the worker uses: \`Many16\` is \`AcquireMany\` + \`ReleaseMany\` of 16 keys (two pipelines), against \`Single16\`, 16 single \`Acquire\` + \`Release\`; \`ns/key\` is per key."
}

section_validation() {
  go_bench validation "Validation of the worst 4 MiB definitions (Go benchmark)" ./internal/deployments/ 'BenchmarkValidateWorstDefinition' "$validation_time" \
    "" "ms/op<100|validation of the worst 4 MiB definitions (valid, cycle, missing, oversized)" \
    "Target: the worst valid and the worst invalid definition a 4 MiB request can carry validate in under 100 ms: decoding, then what the API's interceptors run in the server's order (the size caps of \`internal/api/sizerules\`, then protovalidate), then the Go rules across nodes. There is no baseline benchmark: the target is absolute. \`valid\`: 256 nodes, 64-character ids, each depending on every earlier node (32,640 edges, the most a DAG of 256 nodes has); \`cycle\`: passes every size rule, 240 \`depends_on\` per node; \`missing\`: 61,440 \`depends_on\` naming no node (16 reported one by one plus a count); \`oversized\`: as many nodes as fit in 4 MiB, refused by \`max_items\` by the size caps, which run before protovalidate so that the full pass does not run. The name says the size and the violations reported."
}

# ---------------------------------------------------------------------------------------------
# workers: 1, 2 and 4 worker processes, each round on the shared servers.

section_workers() {
  local log=$tmp/workers rc=0 db="$PG_BASE/$WORKERS_DB?sslmode=disable"
  local args=(bench workers --json --database-url "$db" --redis-url "$WORKERS_REDIS" --workers 1,2,4
    --repeats "$workers_repeats" --concurrency 1 --delay 20ms --executions-per-worker "$workers_per_worker")
  # (set -e does not hold in a function called as `f || …`: each step checks for itself.)
  if ! psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $WORKERS_DB WITH (FORCE)" -c "CREATE DATABASE $WORKERS_DB" >/dev/null ||
    ! flush_if_ours "$WORKERS_REDIS" "wfr:"; then
    failures+=("workers: could not prepare its database or Redis")
    echo "## Worker scaling: 1, 2 and 4 worker processes (load command)" >&3
    echo >&3
    echo "Not run: its database or Redis database could not be prepared." >&3
    return 1
  fi
  echo "=== workers: workflow-runtime ${args[*]}"
  "$tmp/wfr" "${args[@]}" >"$log.json" 2>"$log.log" || rc=$?
  cat "$log.log" "$log.json"
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $WORKERS_DB WITH (FORCE)" >/dev/null 2>&1 || true
  flush_if_ours "$WORKERS_REDIS" "wfr:" || true
  [ "$rc" -eq 0 ] || failures+=("workers: exit $rc")
  JSON=$log.json SUMMARY=$summary CMD="workflow-runtime ${args[*]}" python3 - >&3 <<'EOF'
import json, os
e = os.environ
try:
    r = json.load(open(e["JSON"]))
except Exception:
    r = None
out = ["## Worker scaling: 1, 2 and 4 worker processes (load command)", "", "```sh",
       e["CMD"].replace(e["CMD"].split("--database-url ")[1].split(" ")[0], "<fresh database>"), "```", ""]
out.append("Target: N worker processes run at least 0.9 × N times what one runs (efficiency = ratio to one worker / N ≥ 0.9), against one worker in the same repeat. "
           "Every round starts, from the bench's own executable, one `serve --role=api` process and N `serve --role=worker` processes with `WFR_WORKER_CONCURRENCY` = `--concurrency`, "
           "deploys a workflow of one `delay` node (ALLOW_ALL, one attempt), triggers N × `--executions-per-worker` executions as fast as the api takes them (64 calls in flight; the queue is never empty), "
           "samples the finished executions each 100 ms until all are SUCCEEDED, then stops the processes. The throughput is over the steady part (from 10 % to 90 % done after the last trigger). "
           "Rounds are interleaved (1, 2, 4, 1, 2, 4, …); each N's ratio is the median over the repeats of its throughput over the one-worker throughput of the same repeat. "
           "Ideal = N × concurrency / delay. Here on the shared PostgreSQL and Redis (a fresh database), so the servers' counters the command also prints are everyone's; the ratios are what this section reports.")
out.append("")
if r is None or not r.get("scaling"):
    out.append("The run failed: no figures.")
else:
    out.append(f"Concurrency {r['concurrency']}, delay {r['delay_ms']:g} ms, {r['executions_per_worker']} executions per worker per round, {r['repeats']} repeat(s).")
    out.append("")
    out.append("| workers | throughput, median (min–max) | ideal | of ideal | ratio to 1 | efficiency | ≥ 0.9 |")
    out.append("|---:|---:|---:|---:|---:|---:|---|")
    for s in r["scaling"]:
        of = s["per_sec"] / s["ideal_per_sec"] if s["ideal_per_sec"] else 0
        met = "—" if s["workers"] == 1 else ("yes" if s["efficiency"] >= r["efficiency_target"] else "**no**")
        out.append(f"| {s['workers']} | {s['per_sec']:.0f}/s ({s['min_per_sec']:.0f}–{s['max_per_sec']:.0f}) | {s['ideal_per_sec']:.0f}/s | {of:.2f} | {s['ratio']:.2f} | {s['efficiency']:.3f} | {met} |")
    unsteady = [x for x in r["rounds"] if not x["steady"]]
    if unsteady:
        out.append("")
        out.append(f"{len(unsteady)} of {len(r['rounds'])} rounds had too few executions for a steady window: their throughput is over the whole round.")
    s = open(e["SUMMARY"], "a")
    for x in r["scaling"]:
        if x["workers"] == 1:
            continue
        s.write(json.dumps({"what": f"{x['workers']} worker processes, concurrency {r['concurrency']}, {r['delay_ms']:g} ms delay", "target": "efficiency ≥ 0.9",
                            "figure": f"{x['ratio']:.2f}× one worker, efficiency {x['efficiency']:.3f}",
                            "met": "yes" if x["efficiency"] >= r["efficiency_target"] else "**no**",
                            "section": "worker-scaling-1-2-and-4-worker-processes-load-command"}) + "\n")
print("\n".join(out))
EOF
  [ "$rc" -eq 0 ]
}

# ---------------------------------------------------------------------------------------------
# external sections: their markdown verbatim, then the command line and duration.

section_external() {
  local name=$1 rc=0 args=() t0
  [ "$quick" = 1 ] && args=(--quick)
  echo "=== $name: scripts/bench/$name.sh ${args[*]+"${args[*]}"}"
  t0=$(date -u +%s)
  "scripts/bench/$name.sh" "${args[@]+"${args[@]}"}" >"$tmp/$name.md" || rc=$?
  cat "$tmp/$name.md"
  { cat "$tmp/$name.md"; echo; echo "_Section written by \`scripts/bench/$name.sh${args[*]+ ${args[*]}}\` in this run ($(($(date -u +%s) - t0)) s)$([ "$rc" -eq 0 ] || echo ", which **failed** (exit $rc)")._"; } >&3
  [ "$rc" -eq 0 ] || { failures+=("$name: exit $rc"); return 1; }
}

# ---------------------------------------------------------------------------------------------
# The run: each section in turn, its markdown (on file descriptor 3) into $sec, its progress on
# stdout, its duration into the header.

n=0
for s in "${all_sections[@]}"; do
  n=$((n + 1))
  skipped "$s" && continue
  t0=$(date -u +%s)
  rc=0
  case $s in
  peers) section_peers 3>"$sec/$n-$s.md" || rc=$? ;;
  api) section_api 3>"$sec/$n-$s.md" || rc=$? ;;
  lock) section_lock 3>"$sec/$n-$s.md" || rc=$? ;;
  validation) section_validation 3>"$sec/$n-$s.md" || rc=$? ;;
  workers) section_workers 3>"$sec/$n-$s.md" || rc=$? ;;
  *) section_external "$s" 3>"$sec/$n-$s.md" || rc=$? ;;
  esac
  timings+=("$s $(($(date -u +%s) - t0)) s$([ "$rc" -eq 0 ] || echo ' (failed)')")
done
took=$(($(date -u +%s) - started))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# The document: header, Summary, the sections.

commit=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain -- . ":!$out" ':!docs/benchmarks.md')" ]; then
  commit+=" (with uncommitted changes)"
fi
pg_version=$(psql "$PG_ADMIN_URL" -tAc 'SHOW server_version' | awk '{print $1}')
redis_version=$(redis-cli info server | tr -d '\r' | awk -F: '$1 == "redis_version" {print $2}')
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)

doc=$tmp/benchmarks.md
SECTIONS=$sec SUMMARY=$summary QUICK=$quick COMMAND=$command_line COMMIT=$commit DATE=$date_started TOOK=$took \
  NPROC="$(nproc)" CPU="$cpu" MEM="$mem" GO_VERSION="$(go env GOVERSION)" PG_VERSION=$pg_version REDIS_VERSION=$redis_version \
  LOAD="$load_start at the start, $load_end at the end" SKIPPED="${skip[*]+"${skip[*]}"}" \
  TIMINGS="$(printf '%s\n' "${timings[@]+"${timings[@]}"}")" FAILURES="$(printf '%s\n' "${failures[@]+"${failures[@]}"}")" \
  python3 - >"$doc" <<'EOF'
import json, os
e = os.environ
quick = e["QUICK"] == "1"
took = int(e["TOOK"])
out = ["# Benchmarks", ""]
out.append("<!-- Generated by scripts/bench-compare.sh; do not edit by hand: run the script again. -->")
out.append("")
out.append(f"Generated by `{e['COMMAND']}` at commit `{e['COMMIT']}`, started {e['DATE']}, in one run of {took // 60} min {took % 60} s. "
           "**Do not edit by hand**: every figure below comes from this run, by the command printed next to it; run the script again to update them.")
out.append("")
if quick:
    out.append("**Quick run** (`--quick`): every section small (short windows, one round, few iterations), to prove the driver runs end to end. "
               "Its figures are not measurements and are not comparable with a full run.")
    out.append("")
out.append(f"- machine: {e['NPROC']} cores ({e['CPU']}), {e['MEM']}; load average (1, 5, 15 min) {e['LOAD']}")
out.append(f"- {e['GO_VERSION']}; PostgreSQL {e['PG_VERSION']} and Redis {e['REDIS_VERSION']} on the same host (loopback TCP); the service, the load generators and the servers share the cores")
timings = [t for t in e["TIMINGS"].split("\n") if t]
out.append("- sections run, in order, with their duration: " + ", ".join(timings))
if e["SKIPPED"]:
    out.append(f"- skipped (`--skip`), so not in this document: {', '.join(e['SKIPPED'].split())}")
fails = [f for f in e["FAILURES"].split("\n") if f]
if fails:
    out.append("- **failed**: " + "; ".join(fails))
out.append("")
out.append("The machine is shared and noisy: absolute numbers move between runs, so every benchmark here prints its figures next to a baseline measured in the same run "
           "(a minimal handler, River, a bare Redis `SET`, one worker process, bare timers), and the ratios are what to read. No test asserts a timing.")
out.append("")
out.append("## Summary")
out.append("")
out.append("Computed by the script from this run's figures (met / not met against each target); each row links to its section and command.")
out.append("")
out.append("| what | target | this run | met |")
out.append("|---|---|---|---|")
rows = [json.loads(l) for l in open(e["SUMMARY"]) if l.strip()]
for r in rows:
    out.append(f"| [{r['what']}](#{r['section']}) | {r['target']} | {r['figure']} | {r['met']} |")
if not rows:
    out.append("| no section with a target ran | | | |")
out.append("")
out.append("The sections written by `scripts/bench/*.sh` (scheduler, history, shard simulation) state their own targets.")
print("\n".join(out))
for name in sorted(os.listdir(e["SECTIONS"]), key=lambda n: int(n.split("-", 1)[0])):
    text = open(os.path.join(e["SECTIONS"], name)).read().strip("\n")
    print()
    print(text)
EOF
mkdir -p "$(dirname "$out")"
cp "$doc" "$out"
echo
printf '%s\n' "${timings[@]}"
echo "wrote $out (${took} s)"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}" >&2
  exit 1
fi
