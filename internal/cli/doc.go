// Package cli is the operator command line of workflow-runtime: deploy, get, list, pause,
// resume, delete, trigger, executions (list, get, watch, cancel), fires, backfill, jitter,
// load, dst, health and completion, as commands of the one binary next to serve and migrate
// (cmd/workflow-runtime embeds Commands). docs/cli.md is the manual.
//
// Every command calls the service through the Go SDK (sdk/go), as any other caller does:
// the same protocols (gRPC by default, Connect, gRPC-Web), the same retries where a repeat is
// safe, the same typed errors. Nothing here reads the database.
//
// # Output
//
// For people: aligned tables without borders, times in the local zone with the zone named,
// colours only when stdout is a terminal and NO_COLOR is unset, progress bars only when stderr
// is a terminal, histograms drawn with block characters. For scripts (-o json, -o yaml): the
// API's own messages as protojson writes them (camelCase, as Connect's JSON), every page of a
// list in one message, a watch as one JSON line per change.
//
// # Exit codes
//
// A script can trust them (exit.go): 0 done, 1 any other error, 2 usage or invalid_argument
// (with each field and rule on stderr), 3 not_found, 4 an execution waited for did not
// succeed, 5 unavailable or too slow, 6 unauthenticated or permission_denied, 7 a conflict
// with the deployment's state, 130 interrupted.
//
// # Deploying from files
//
// deploy reads DeployWorkflowRequest documents from YAML (several per file, separated by
// ---) or JSON files and directories (manifest.go): YAML is turned into JSON and read by
// protojson, which refuses a field the API does not have, naming it. Every document is
// checked by the service (DeployWorkflow with validate_only, a deploy rolled back) before
// any is deployed, so one bad file in a directory deploys nothing.
package cli
