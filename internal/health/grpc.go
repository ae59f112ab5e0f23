package health

import (
	"context"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
)

// GRPC returns the checker for grpchealth.NewHandler: it answers for "" (the whole server) and
// for each service added with RegisterService. Check says NOT_SERVING while the Checker is not ready (before start-up
// finished, from the start of shutdown) or while a dependency is unhealthy, SERVING otherwise.
// Watch notifies on readiness changes (and re-checks the dependencies each time).
func (c *Checker) GRPC() grpchealth.Checker { return grpcChecker{c} }

// grpcChecker adapts Checker to grpchealth.Checker and grpchealth.Watcher.
type grpcChecker struct{ c *Checker }

var _ grpchealth.Watcher = grpcChecker{}

func (g grpcChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if err := g.c.knownService(req.Service); err != nil {
		return nil, err
	}
	if !g.c.Ready() || !g.c.check(ctx, false).Healthy() {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

func (g grpcChecker) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	if err := g.c.knownService(req.Service); err != nil {
		return nil, err
	}
	return g.c.grpcStatus.Watch(ctx, req, onChange)
}

// knownService is nil for "" and the configured services, a not_found error otherwise.
func (c *Checker) knownService(service string) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if service == "" || slices.Contains(c.services, service) {
		return nil
	}
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", service))
}

// grpcStatusOf is the gRPC health status of a readiness.
func grpcStatusOf(ready bool) grpchealth.Status {
	if ready {
		return grpchealth.StatusServing
	}
	return grpchealth.StatusNotServing
}
