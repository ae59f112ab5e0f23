// Package telemetrytest holds the observability acceptance tests, which need more than one
// package: one trace across the api, worker and engine roles (in-memory span exporter), the
// /metrics series parsed by the Prometheus text parser, masked logs, and /readyz following
// PostgreSQL and Redis servers that the tests stop and start themselves.
package telemetrytest
