#!/usr/bin/env bash
# usage: groups.sh PROFILE — the share of a service CPU profile's samples in each group the
# profile section of docs/benchmarks.md lists (groups overlap).
set -u
f=$1
tot=$(go tool pprof -top -nodecount=1 $f 2>/dev/null | sed -n 's/.*Total samples = \([0-9.]*\)s.*/\1/p')
echo "total $tot"
g() { v=$(go tool pprof -top -nodecount=100000 -nodefraction=0 -edgefraction=0 -focus="$2" $f 2>/dev/null | grep "^Showing nodes accounting for" | awk "{print \$5, \$6}"); echo "$1|$v"; }
g "HTTP/2 server + Connect handler (cum, incl. the TriggerWorkflow work under it)" 'http2serverConn'
g "Connect unary (cum)" 'connect.NewUnaryHandler'
g "TriggerWorkflow handler + batcher" 'execution.*[Bb]atch|TriggerWorkflow'
g "worker (Worker.run/handle/dispatch, cum)" 'execution.\(\*Worker\)'
g "JSON (encoding/json)" 'encoding/json'
g "protobuf (proto marshal/unmarshal, protojson)" 'google.golang.org/protobuf'
g "pgx" 'jackc/pgx'
g "bun (query build + scan)" 'uptrace/bun'
g "go-redis" 'redis/go-redis'
g "redisotel hooks (flat in hooks)" 'redisotel'
g "otel (all)" 'go.opentelemetry.io|otelconnect|redisotel'
g "logging (slog)" 'log/slog'
g "AccessLog interceptor" 'telemetry.\(\*AccessLog\)'
g "syscalls (read/write/epoll)" 'syscall.Syscall|RawSyscall'
g "net write" 'internal/poll.\(\*FD\).Write'
g "net read" 'internal/poll.\(\*FD\).Read'
g "GC background mark" 'gcBgMarkWorker'
g "malloc (mallocgc)" 'runtime.mallocgc$'
g "stack growth (newstack/copystack)" 'runtime.newstack'
g "scheduler (schedule/findRunnable)" 'runtime.schedule$|runtime.findRunnable'
g "engine" 'internal/engine'
