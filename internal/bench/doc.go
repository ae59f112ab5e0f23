// Package bench is `workflow-runtime bench`: load against a running service, each result
// printed next to a baseline measured in the same run on the same machine, so that the numbers
// say what the service costs rather than how fast the machine is.
//
//   - trigger: TriggerWorkflow throughput and latency at a fixed concurrency (closed loop) over
//     cleartext HTTP/2 with the Connect protocol (binary), against the same client calling a
//     minimal Connect handler (a canned TriggerWorkflow answer behind the service's own
//     httpserver stack: access log, recover, validation) that the command serves in process.
//   - e2e: trigger-to-SUCCEEDED throughput of a noop workflow, flat out or at a rate, and that
//     nothing is lost: every triggered execution must end SUCCEEDED.
//   - pickup: the latency from trigger accepted (created_at) to RUNNING (started_at) at a
//     steady trigger rate.
//   - lock: Redis lock acquire+release latency against a bare Redis SET round trip.
//   - workers: trigger-to-done throughput with 1, 2, 4… worker processes that the command
//     starts itself (from its own executable, on the PostgreSQL and Redis given), each with a
//     small fixed concurrency and a workflow of one delay node, so that the workers and not the
//     machine are the limit; each count against the smallest one measured in the same
//     interleaved repeat, with statements, Redis commands and CPU time per execution (see
//     workers.go).
//
// Each subcommand deploys the workflow it needs (a fresh id per run, so its rows are its own)
// unless --workflow names one. Reading the executions' timings is done with SQL when
// --database-url is given (cheap, exact) and with GetExecution otherwise.
//
// The load generator shares the machine with the service: on a small machine the ratios, not
// the absolute numbers, are what carry over.
package bench
