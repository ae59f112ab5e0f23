// Package bench holds the API benchmarks: DeployWorkflow and ListDeployments through the whole
// server stack (httpserver, interceptors, handler, deployments service, PostgreSQL) over Connect
// binary on cleartext HTTP/2, each next to a baseline measured in the same run — a test-only
// handler on the same server set-up that answers GetDeploymentStatus with a canned response and
// touches no storage. The x_baseline metric is a benchmark's ns/op over the baseline's: what the
// storage and domain work cost on top of the transport.
//
//	WFR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench . -benchtime=3s ./server/bench
//
// Without WFR_TEST_DATABASE_URL the benchmarks are skipped. The package has no non-test code
// beyond this file.
package bench
