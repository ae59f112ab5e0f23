// Package e2e is the multi-process acceptance suite: it builds the workflow-runtime binary once,
// starts real processes (api, scheduler, worker, engine, all) with exec, and checks from the
// outside what docs/architecture.md describes:
//
//   - executions: one whose worker is killed, paused or frozen past its lease is finished by
//     another and reaches exactly one terminal state, no node run twice; concurrent triggers
//     with one idempotency key make one execution; overlap policies hold as counted on the
//     engine's side; the sweeper (or a deduplicated retry) runs an execution whose message was
//     lost; an execution that keeps killing its workers is quarantined; an output past its
//     bound ends the execution;
//   - the remote engine: cancellation and timeouts reach it over the network, and its outage
//     fails no execution;
//   - outages and restarts: with PostgreSQL stopped the api answers unavailable and a retried
//     trigger is recorded once; through PostgreSQL and Redis outages no cron second and no
//     accepted trigger is lost or doubled; SIGTERM drains a worker's runs; every process of a
//     fleet restarted in turn (SIGTERM, then SIGKILL) loses and duplicates nothing; a killed
//     embedded process recovers its executions on restart;
//   - scheduling: schedulers fire each cron second once; with every scheduler stopped the api
//     alone reports a cron trigger OVERDUE (RPC and metrics), and a scheduler started again
//     settles the owed times per the misfire policy; a backfill operation whose api process is
//     SIGKILLed is finished by another api from its cursor, with one execution per fire;
//   - the instance registry lists every live process by role, a killed one until its TTL, a
//     stopped one not at all; watches follow executions across processes.
//
// The package has no code of its own outside its tests; this file only documents it.
//
// # Servers
//
// PostgreSQL from WFR_TEST_DATABASE_URL and Redis from WFR_TEST_REDIS_URL. Without them the
// tests that need them are skipped; under CI=true a missing or unreachable server fails them.
// The embedded-mode tests (one `--role=all` process, SQLite, in-process lock and queue) need
// neither and always run. TestPostgresOutage stops its database, so it runs on a throwaway
// PostgreSQL server of its own (testenv.StartPostgres) and only takes Redis from the shared one.
//
// # Isolation
//
// Each test gets its own PostgreSQL schema (wfr_e2e_<random>, search_path in the URL handed to
// the processes), dropped when it ends. The service's Redis keys have fixed prefixes ("wfr:"),
// and its queue is one stream with one consumer group, so two clusters sharing a Redis database
// would take each other's messages. Each test therefore runs its processes on a Redis database
// of its own, numbered 1 to 14 (15 is left to `workflow-runtime bench`): the test claims the
// number with SET NX on the WFR_TEST_REDIS_URL database (key "wfr-e2e:db:<n>", expiring after
// 10 minutes, deleted when the test ends) so that concurrent runs of this suite do not collide,
// and FLUSHDBs it before starting anything (refusing a database that holds a key the service
// does not write, see testenv.RedisDatabase).
//
// # Running
//
//	WFR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	WFR_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./internal/e2e/
//
// Every wait for another process is bounded polling through testenv.Poll; nothing asserts on
// timing. The few sleeps are the tests' input (an outage's length, a load's pace, the cron's
// timeline) or the time it takes to show that nothing happens, and say so. When a test fails,
// the log of each of its processes is printed.
package e2e
