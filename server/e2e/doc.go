// Package e2e is the multi-process acceptance suite of the execution path (issue 4): it builds
// the workflow-runtime binary once, starts real processes (api, worker, engine, all) with exec,
// and checks from the outside what DESIGN.md promises: an execution killed or paused with its
// worker is finished by another and reaches exactly one terminal state; concurrent triggers
// with one idempotency key make one execution; overlap policies hold as counted on the engine's
// side; cancellation and timeouts reach a remote engine over the network; the sweeper runs an
// execution whose message was lost; every process of a fleet restarted in turn, with SIGTERM
// and then SIGKILL, loses and duplicates no trigger, no cron second and no run; the instance
// registry lists every live process by role, a killed one until its TTL, a stopped one not at all;
// a backfill operation whose api process is SIGKILLed is finished by another api from its
// cursor, with one execution per fire.
// with every scheduler stopped for a minute the api alone reports a cron trigger OVERDUE (RPC
// and metrics), and a scheduler started again settles the owed times per the misfire policy.
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
// and FLUSHDBs it before starting anything.
//
// # Running
//
//	WFR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	WFR_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./server/e2e/
//
// Every wait is bounded polling; nothing asserts on timing. When a test fails, the log of each
// of its processes is printed.
package e2e
