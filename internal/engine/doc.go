// Package engine is the reference workflow engine and its wire form: Engine runs a definition's DAG
// in-process; Handler serves any Executor as workflowengine.v1.WorkflowEngineService (the
// `engine` role); Client calls that service and is itself an Executor. The runtime (the worker's
// execution package) sees only the one-method Executor contract and does not care which it has.
//
// # Contract: failure versus error
//
// Execute returns a Result for every run that ended on its own: success with an output, or a
// Failure naming the node that failed, with a message and whether another attempt may succeed.
// The error return is reserved for the call:
//
//   - ctx was cancelled or its deadline passed: the error wraps ctx.Err(), so errors.Is(err,
//     context.Canceled) / errors.Is(err, context.DeadlineExceeded) tell the worker to record
//     CANCELLED / TIMED_OUT rather than FAILED. A node that fails because ctx ended is not a
//     Failure: the caller's cancellation wins.
//   - the engine cannot be reached (remote only): the error wraps errdefs.ErrUnavailable; the
//     worker retries later without spending an attempt.
//
// Over the wire the same split holds: ExecuteWorkflowResponse carries success or failure; the
// call fails with canceled, deadline_exceeded or unavailable. Client maps those codes back to the
// same errors; any other code (a bug or version skew of the engine) becomes a Failure without
// node id, retryable for internal/unknown/resource_exhausted/aborted.
//
// # Cancellation and deadlines
//
// Every node runs under a context derived from the caller's. In-process that is direct. Remotely,
// Connect sends ctx's deadline as Connect-Timeout-Ms (grpc-timeout with gRPC) and the engine's
// handler context carries it; when the caller cancels, the HTTP request is abandoned (HTTP/2
// RST_STREAM, HTTP/1.1 connection closed) and the server cancels the handler's context. Nodes
// honour ctx: delay returns at once, http aborts its request, transform's CEL evaluation checks
// ctx every 100 iterations. Execute returns only after every node it started has returned, so no
// node outlives its execution.
//
// # The lease deadline
//
// In the worker's process the run is held under the execution's lease (lock.Hold), whose
// context carries the time the lease lasts until without a further renewal (lock.Deadline, on
// the monotonic clock). Before it starts each node the engine compares it with the clock: past
// it, no node starts and Execute returns an error wrapping ErrLeaseExpired (and lock.ErrLost),
// whatever the renewal goroutine has noticed yet. A worker frozen past its lease (SIGSTOP, a VM
// pause) therefore wakes up and starts nothing more: another worker may be running the
// execution by then. What remains: a node that was already running when the process froze goes
// on when it wakes until its context is cancelled (the renewal fails within a tick); and a
// remote engine (a process of its own) never sees the lease, only the call's cancellation,
// which reaches it once the frozen worker runs again. The http node's Idempotency-Key header
// lets a receiver drop such a stale call.
//
// # The DAG
//
// Before any node runs, every node is prepared: the type must be known, the params valid (an
// expression compiles), depends_on must name nodes of the definition. A bad definition fails
// without side effects; ValidateParams runs the same checks for deploy time, and bounds what
// compiling costs there: a definition's transform expressions together may have at most
// MaxDefinitionExpressionBytes (64 KiB; one expression at most 16 KiB), the nodes past that are
// refused uncompiled (compiling is roughly linear in the text, up to about 0.3 s for 16 KiB of
// the costliest kind on the shared 2-vCPU machine). Then a node starts
// as soon as all its dependencies have succeeded, each in its own goroutine, at most
// Config.MaxParallelNodes (default 16) at once per execution. The first node failure cancels the
// running nodes, starts no more, and is the Result's Failure. A cycle (the deploy rejects them)
// ends in a Failure once nothing can run.
//
// Each node sees two values: input, the trigger data parsed as JSON (null when empty), and deps,
// an object mapping each dependency's node id to its output. Transform expressions see a third,
// trigger: what started the execution and the slot it runs for (Request.Trigger, below). Outputs are JSON values; the
// workflow's output is a JSON object mapping each sink node id (no node depends on it) to its
// output. JSON numbers are doubles everywhere (as in google.protobuf.Struct).
//
// # Node types
//
//   - noop: outputs params.value, or null. Costs a goroutine and nothing else.
//   - delay: waits params.duration (a Go duration string, "250ms", required, at most 24h), or
//     until ctx ends; outputs null.
//   - http: sends params.method (default GET) to params.url (required, absolute http/https)
//     with params.headers (an object of strings) and params.body (a string as is; any other JSON
//     value JSON-encoded, with Content-Type application/json unless a header says otherwise),
//     within params.timeout (a duration, default 30s). Outputs {status, headers, body}: headers
//     with multiple values joined by ", ", body parsed when the content type is JSON and a string
//     otherwise. The body is read up to Config.MaxResponseBytes (default 10 MiB); a larger body
//     fails the node. A status outside 2xx fails the node, retryably for 5xx and 429; transport
//     errors and the node's timeout are retryable failures. One http.Client serves every node.
//     Every request carries Idempotency-Key "<execution id>:<attempt>" unless params.headers
//     set one, so a receiver can drop a call it has seen. Config.Egress (package egress; the
//     service passes WFR_HTTP_ALLOW) limits the addresses it connects to, checked in the dialer
//     on each resolved address, redirects included (at most 10; one to another host drops the
//     headers that look like secrets); a refused address is a permanent failure. Failure
//     messages name the method and scheme://host:port only, never the URL's credentials, path
//     or query nor the response body, and every other transport failure reads the same, so
//     the node tells nobody what answered on a port.
//   - transform: evaluates params.expression, a CEL expression over input (dyn), deps
//     (map(string, dyn)) and trigger (map(string, dyn): type "CRON", "WEBHOOK" or "MANUAL",
//     trigger_id, and the timestamps nominal_time, scheduled_time and last_success_nominal_time,
//     each present only when known, so has(trigger.last_success_nominal_time) tells whether a
//     slot succeeded before this one; a request without trigger reads as manual with no times;
//     see trigger.go and docs/api.md), and outputs the result converted to JSON (timestamps and
//     durations as their JSON strings, bytes as base64). The standard library plus the strings, lists, sets,
//     math and encoders extensions and optional types are available; numeric comparisons work
//     across int and double (input.n > 1), arithmetic does not (write input.n + 1.0). Compiled
//     programs are cached by expression text (Config.ProgramCacheSize, default 1024, LRU), so a
//     revision's expressions compile once; each evaluation is bounded (see Bounds).
//   - anything else: a Failure naming the node (the deploy already rejects unknown types).
//
// # Bounds
//
// Every bound is enforced while the value is produced, never by encoding it first, and crossing
// one is a Failure with Retryable false, so the execution ends FAILED at its first attempt
// instead of being retried into the same crash:
//
//   - Node output (Config.MaxNodeOutputBytes, default 1 MiB): each output's JSON size is measured
//     by walking the value (jsonsize.go, an upper bound of encoding/json's output that stops at
//     the limit) before anything is encoded; a transform's CEL value is measured before it is
//     even converted, because a list of shared references costs little in CEL and a lot as JSON.
//   - Execution output (Config.MaxOutputBytes, default 4 MiB): the sizes of all node outputs of
//     an execution are summed as they arrive; the final json.Marshal runs only under the limit.
//   - CEL (celbounds.go): the cost limit (Config.CELCostLimit, default 1,000,000); a wall-clock
//     deadline per evaluation (Config.CELTimeout, default 1s) on the evaluation's context, which
//     comprehensions check every 20 iterations; and the sizes a program may build: strings and
//     bytes up to Config.CELMaxStringBytes (1 MiB), lists up to Config.CELMaxListItems (100,000,
//     lists.range too). An interpreter decorator checks every call's result, and checks the calls
//     that amplify their input (join, replace, split, format, flatten) before they run. The
//     wall-clock limit matters: cel-go's cost tracker makes long comprehensions quadratic in time
//     (lists.range(40000).map(i, i) takes seconds while under the cost limit).
//
// Not bounded here: how many times a process may die on one execution (a poison execution is the
// worker's concern).
package engine
