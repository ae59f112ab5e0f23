package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/app"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/testenv"
)

// TestReadyzFollowsDependencies stops and starts a PostgreSQL and a Redis of the test's own
// under a running role-all process: /readyz and the gRPC health protocol say not ready while
// either is down and ready again once it is back.
func TestReadyzFollowsDependencies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	pg := testenv.StartPostgres(t)
	rd := testenv.StartRedis(t)

	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = pg.URL()
	cfg.RedisURL = rd.URL()
	a, err := app.New(cfg, slog.New(slog.DiscardHandler))
	is.NoErr(err)
	if err := a.Start(t.Context()); err != nil {
		_ = a.Stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	url := "http://" + a.Addr()

	waitReady(t, url, true, "")

	pg.Stop()
	waitReady(t, url, false, "database")
	is.Equal(grpcStatus(t, url), grpchealth.StatusNotServing) // gRPC health agrees
	pg.Start()
	waitReady(t, url, true, "")
	is.Equal(grpcStatus(t, url), grpchealth.StatusServing)

	rd.Stop()
	waitReady(t, url, false, "redis")
	is.Equal(grpcStatus(t, url), grpchealth.StatusNotServing)
	rd.Start()
	waitReady(t, url, true, "")
	is.Equal(grpcStatus(t, url), grpchealth.StatusServing)
}

// waitReady polls /readyz until it answers 200 (ready) or 503 naming dependency (not ready),
// for at most 30 s: readiness follows servers of other processes, which only asking tells.
func waitReady(t *testing.T, url string, ready bool, dependency string) {
	t.Helper()
	testenv.Poll(t, 30*time.Second, func() error {
		code, body := get(t, url+"/readyz")
		if ready && code == http.StatusOK {
			return nil
		}
		if !ready && code == http.StatusServiceUnavailable && strings.Contains(body, dependency) {
			return nil
		}
		return fmt.Errorf("/readyz is not ready=%v (dependency %q); it answers %d %q", ready, dependency, code, body)
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// grpcStatus asks the gRPC health protocol about the whole server.
func grpcStatus(t *testing.T, url string) grpchealth.Status {
	t.Helper()
	c := grpchealth.NewClient(http.DefaultClient, url, connect.WithGRPCWeb()) // HTTP/1.1
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := c.Check(ctx, &grpchealth.CheckRequest{})
	if err != nil {
		t.Fatalf("grpc health check: %v", err)
	}
	return res.Status
}
