// Package deployments is the deployment lifecycle: a workflow's definitions as immutable
// revisions, its triggers and config, and its status.
//
// # States
//
//	          Deploy(draft)            Update(status=DEPLOYED)
//	(none) ───────────────▶ DRAFT ─────────────────────────────▶ DEPLOYED ◀──┐
//	   │                                                          │  ▲       │ Update(status=DEPLOYED)
//	   └──────────── Deploy ─────────────────────────────────────▶│  │       │
//	                                         Update(status=PAUSED) ▼  │       │
//	                                                             PAUSED ─────┘
//	DRAFT, DEPLOYED, PAUSED ── Delete ──▶ ARCHIVED ── Deploy ──▶ DEPLOYED (or DRAFT with draft)
//
// Deploy always adds a revision (n+1 of the same deployment) and replaces triggers and config;
// without draft it deploys (a paused deployment resumes, an archived one revives). Update
// changes only the paths of its mask; any Update of an ARCHIVED deployment, and pausing a
// DRAFT, is errdefs.ErrFailedPrecondition. Delete archives: triggers are removed, which frees
// their webhook paths; revisions and executions are kept; deleting twice is fine.
//
// # Invariants and why they hold
//
//   - Revisions are immutable and numbered without gaps: each write happens in one transaction
//     that locks the workflows row (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE) before it
//     reads the current revision.
//   - A webhook path belongs to at most one live deployment: a unique index on triggers; the
//     conflict rolls back the whole write and surfaces as errdefs.ErrAlreadyExists.
//   - Two first deploys of one workflow id race on the primary key; the loser's transaction
//     rolls back with errdefs.ErrConflict and is retried as a new revision.
//
// Validation is split: protovalidate (in the proto) checks shapes, patterns and sizes; this
// package checks, only once those passed, the rules across nodes (unique ids, no self-dependency,
// depends_on naming existing nodes, an acyclic graph, known node types) over maps in time linear
// in the definition, plus cron expressions that parse and real IANA time zones, and reports them
// as errdefs.ValidationError with the request's field paths and the rule ids the proto's CEL rules
// had. (As CEL, depends_on_exist cost nodes x depends_on x nodes and ran on oversized requests
// too; BenchmarkValidateWorstDefinition measures the worst 4 MiB definitions.)
//
// Webhook secrets are write-only: Deploy and Update seal a trigger's Secret with
// ServiceConfig.SealSecret (AES-256-GCM under WFR_WEBHOOK_SECRET_KEY, internal/webhook.Box) inside
// the write transaction and store only SealedSecret; without SealSecret a secret is
// errdefs.ErrFailedPrecondition. A webhook given without a secret keeps the sealed secret its
// path has among the deployment's stored triggers, so re-sending a deployment need not repeat
// its secrets; after Delete (archive) the triggers are gone and so are their secrets.
// The header values of http nodes are stored as given but read only by admin tokens: internal/api
// answers everyone else with RedactHeaders (each value RedactedHeader). Sent back, the marker
// keeps the stored value of that header of the node with that id (redact.go), inside the write
// transaction; it is refused when nothing is stored, and when the node's url moved to another
// scheme or host, so the round trip cannot carry a credential to a server of the caller's choice.
// It also checks http headers (no CR, LF or other control characters) and builds cron triggers
// with the scheduler's own parser (CronSchedule.Trigger), refusing one whose next fire after now
// does not exist: February 30th or a year past 2262 is refused at deploy, not found out by the
// scheduler.
//
// A cron trigger may name blackout calendars (CronSchedule.BlackoutCalendars, with an
// AfterBlackout policy); Deploy and Update refuse, inside the write transaction, a name no
// calendar has: errdefs.ErrFailedPrecondition naming the field
// ("triggers[0].cron.blackout_calendars[1]"). The store's foreign key holds against a calendar
// deleted meanwhile.
//
// List's page tokens are signed by internal/pagetoken (ServiceConfig.PageTokens) and bound to
// the status filter.
package deployments
