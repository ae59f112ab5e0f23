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
// DRAFT, is apperr.ErrFailedPrecondition. Delete archives: triggers are removed, which frees
// their webhook paths; revisions and executions are kept; deleting twice is fine.
//
// # Invariants and why they hold
//
//   - Revisions are immutable and numbered without gaps: each write happens in one transaction
//     that locks the workflows row (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE) before it
//     reads the current revision.
//   - A webhook path belongs to at most one live deployment: a unique index on triggers; the
//     conflict rolls back the whole write and surfaces as apperr.ErrAlreadyExists.
//   - Two first deploys of one workflow id race on the primary key; the loser's transaction
//     rolls back with apperr.ErrConflict and is retried as a new revision.
//
// Validation is split: protovalidate (in the proto) checks shapes, patterns, sizes and the
// uniqueness CEL can express; this package checks what CEL cannot (known node types, an acyclic
// graph, real IANA time zones, http headers without CR, LF or other control characters, and cron
// triggers built with the scheduler's own parser, CronSchedule.Trigger, whose next fire after
// now exists: February 30th or a year past 2262 is refused at deploy, not found out by the
// scheduler) and reports it as apperr.ValidationError with the request's field paths.
//
// List's page tokens are signed by server/pagetoken (ServiceConfig.PageTokens) and bound to
// the status filter.
package deployments
