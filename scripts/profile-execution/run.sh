#!/usr/bin/env bash
# usage: run.sh N — one flat-out e2e run (20,000 executions) against one role-all process on a
# fresh database of the throwaway PostgreSQL (port 55442, pg_stat_statements preloaded, data in
# $WFRP/pg) and Redis (port 56389), with a 25 s CPU profile of the service (servers of its own, so
# that their counters are the run's alone:
#   runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D $WFRP/pg/data -U postgres --auth=trust
#   runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D $WFRP/pg/data -w -l $WFRP/pg/log \
#     -o "-p 55442 -k $WFRP/pg -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements" start
#   redis-server --port 56389 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes)
# Writes $WFRP/runN/ (bench output, CPU ticks per process, WAL records, full-page images and bytes
# per execution from pg_stat_wal, pg_stat_statements by calls, by time and by kind (classify.sql),
# Redis commandstats). The WAL figures count the heap and index entries each execution writes and
# move less with the host's load than times do, though batching moves them by some 10 %.
# Group a run's profile with groups.sh $WFRP/runN/cpu.pb.gz. $WFRP/wfr is the built binary
# (go build -o $WFRP/wfr ./cmd/workflow-runtime).
set -u
WFRP=${WFRP:-$WFRP}
here=$(cd "$(dirname "$0")" && pwd)
N=$1; D=$WFRP/run$N; mkdir -p $D
PSQL="psql -h 127.0.0.1 -p 55442 -U postgres -qAt"
dropdb -h 127.0.0.1 -p 55442 -U postgres --if-exists wfr_prof; createdb -h 127.0.0.1 -p 55442 -U postgres wfr_prof; psql -h 127.0.0.1 -p 55442 -U postgres -qAt -d wfr_prof -c "create extension pg_stat_statements"
DB='postgres://postgres@127.0.0.1:55442/wfr_prof?sslmode=disable'
redis-cli -p 56389 FLUSHALL >/dev/null
WFR_TRIGGER_RATE=0 WFR_DATABASE_URL=$DB WFR_REDIS_URL=redis://127.0.0.1:56389/0 WFR_ADDR=127.0.0.1:18190 WFR_PPROF_ADDR=127.0.0.1:16190 $WFRP/wfr serve >$D/serve.log 2>&1 &
SVC=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:16190/debug/pprof/ && break; sleep 0.2; done
sleep 1
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
pgcpu() { s=0; PM=$(head -1 $WFRP/pg/data/postmaster.pid); for p in $PM $(pgrep -P $PM); do v=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null); s=$((s+${v:-0})); done; echo $s; }
rcpu() { redis-cli -p 56389 INFO cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'; }
$PSQL -d wfr_prof -c "checkpoint" -c "select pg_stat_reset_shared('wal')" >/dev/null
$PSQL -d wfr_prof -c "select pg_stat_statements_reset()" >/dev/null
redis-cli -p 56389 CONFIG RESETSTAT >/dev/null
S0=$(cpu $SVC); P0=$(pgcpu); R0=$(rcpu); L0=$(cat /proc/loadavg); T0=$(date +%s.%N)
go tool pprof -top -seconds 25 -output $D/pprof.top http://127.0.0.1:16190/debug/pprof/profile >$D/pprof.log 2>&1 &
PP=$!
/usr/bin/time -f "%U %S" -o $D/benchcpu $WFRP/wfr bench e2e --addr http://127.0.0.1:18190 --count 20000 --rate 0 --concurrency 64 --database-url $DB >$D/bench.out 2>&1
T1=$(date +%s.%N); S1=$(cpu $SVC); P1=$(pgcpu); R1=$(rcpu); L1=$(cat /proc/loadavg)
$PSQL -d wfr_prof -c "select 'wal per execution: records ' || round(wal_records / 20000.0, 2) || ', full-page images ' || round(wal_fpi / 20000.0, 3) || ', bytes ' || round(wal_bytes / 20000) from pg_stat_wal" > $D/wal
redis-cli -p 56389 INFO commandstats > $D/commandstats; redis-cli -p 56389 INFO stats > $D/redisstats
$PSQL -d wfr_prof -F '|' -c "select calls, round(total_exec_time::numeric,1), rows, left(regexp_replace(query,'\s+',' ','g'),160) from pg_stat_statements order by calls desc limit 25" > $D/stmts_calls
$PSQL -d wfr_prof -F '|' -c "select calls, round(total_exec_time::numeric,1), rows, left(regexp_replace(query,'\s+',' ','g'),160) from pg_stat_statements order by total_exec_time desc limit 15" > $D/stmts_time
$PSQL -d wfr_prof -c "select sum(calls) from pg_stat_statements" > $D/stmts_total
echo "wall $(echo "$T1 - $T0" | bc) svc_ticks $((S1-S0)) pg_ticks $((P1-P0)) redis_s $(echo "$R1 - $R0" | bc) load0 $L0 load1 $L1" > $D/cpu
psql -h 127.0.0.1 -p 55442 -U postgres -d wfr_prof -F "|" -qAt -f $here/classify.sql > $D/classify
wait $PP; mv $(ls -t /root/pprof/pprof.wfr.samples.cpu.*.pb.gz | head -1) $D/cpu.pb.gz
kill $SVC; wait $SVC 2>/dev/null
cat $D/bench.out $D/cpu $D/benchcpu $D/wal
