// Command gateway receives signed webhooks of providers at POST /webhooks/{path} and triggers
// the workflow each path is routed to on workflow-runtime, through the Go SDK: the raw body
// becomes the execution's trigger data and the provider's delivery id its idempotency key, so
// that a provider's retries run the workflow once. See README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// config is what the flags and environment variables set.
type config struct {
	addr          string
	runtimeURL    string
	runtimeToken  string // from GATEWAY_RUNTIME_TOKEN only: a flag would show in ps
	routes        []Route
	maxBody       int64
	tolerance     time.Duration
	timeout       time.Duration
	shutdownGrace time.Duration
}

// minSecretBytes is the shortest secret a route may have.
const minSecretBytes = 16

// loadConfig reads the flags in args, each of which an environment variable can also set (the
// flag wins), and the routes file they name.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	var routesFile string
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8090", "listen address (GATEWAY_ADDR)")
	fs.StringVar(&c.runtimeURL, "runtime-url", "http://127.0.0.1:8080", "workflow-runtime's URL (GATEWAY_RUNTIME_URL)")
	fs.StringVar(&routesFile, "routes", "routes.json", "the routes file (GATEWAY_ROUTES)")
	fs.Int64Var(&c.maxBody, "max-body", 256<<10, "largest body accepted, in bytes (GATEWAY_MAX_BODY)")
	fs.DurationVar(&c.tolerance, "tolerance", 5*time.Minute, "how far a signature's timestamp may be from now (GATEWAY_TOLERANCE)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline of one trigger, retries included (GATEWAY_TIMEOUT)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 15*time.Second, "time requests in flight get to finish on SIGTERM (GATEWAY_SHUTDOWN_GRACE)")
	for flagName, envName := range map[string]string{
		"addr": "GATEWAY_ADDR", "runtime-url": "GATEWAY_RUNTIME_URL", "routes": "GATEWAY_ROUTES",
		"max-body": "GATEWAY_MAX_BODY", "tolerance": "GATEWAY_TOLERANCE", "timeout": "GATEWAY_TIMEOUT",
		"shutdown-grace": "GATEWAY_SHUTDOWN_GRACE",
	} {
		if v := getenv(envName); v != "" {
			if err := fs.Set(flagName, v); err != nil {
				return c, fmt.Errorf("%s: %w", envName, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.runtimeToken = getenv("GATEWAY_RUNTIME_TOKEN")
	if c.maxBody <= 0 || c.tolerance <= 0 || c.timeout <= 0 || c.shutdownGrace < 0 {
		return c, errors.New("max-body, tolerance and timeout must be positive, shutdown-grace not negative")
	}
	routes, err := loadRoutes(routesFile, getenv)
	if err != nil {
		return c, err
	}
	c.routes = routes
	return c, nil
}

// loadRoutes reads a routes file: a JSON array of
//
//	{"path": "shop/orders", "workflow_id": "process-order", "secret_env": "SHOP_WEBHOOK_SECRET"}
//
// (or "webhook_path" instead of "workflow_id": a webhook trigger of a deployment), where
// secret_env names the environment variable that holds the path's secret, so that the
// file holds no secret and can be committed.
func loadRoutes(file string, getenv func(string) string) ([]Route, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	var entries []struct {
		Path        string `json:"path"`
		WorkflowID  string `json:"workflow_id"`
		WebhookPath string `json:"webhook_path"`
		SecretEnv   string `json:"secret_env"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("routes %s: %w", file, err)
	}
	seen := map[string]bool{}
	routes := make([]Route, 0, len(entries))
	for i, e := range entries {
		secret := getenv(e.SecretEnv)
		switch {
		case e.Path == "" || e.SecretEnv == "" || (e.WorkflowID == "") == (e.WebhookPath == ""):
			return nil, fmt.Errorf("routes %s: route %d: path, secret_env and one of workflow_id and webhook_path are required", file, i)
		case seen[e.Path]:
			return nil, fmt.Errorf("routes %s: path %q is routed twice", file, e.Path)
		case len(secret) < minSecretBytes:
			return nil, fmt.Errorf("routes %s: path %q: %s must hold a secret of at least %d bytes", file, e.Path, e.SecretEnv, minSecretBytes)
		}
		seen[e.Path] = true
		routes = append(routes, Route{Path: e.Path, WorkflowID: e.WorkflowID, WebhookPath: e.WebhookPath, Secret: []byte(secret)})
	}
	return routes, nil
}

// newGateway makes the gateway of c, with its runtime client.
func newGateway(c config, log *slog.Logger) (*Gateway, error) {
	client, err := runtime.NewClient(c.runtimeURL, runtime.WithToken(c.runtimeToken), runtime.WithTimeout(c.timeout))
	if err != nil {
		return nil, err
	}
	g := &Gateway{runtime: client, routes: map[string]Route{}, maxBody: c.maxBody, tolerance: c.tolerance, log: log}
	for _, r := range c.routes {
		g.routes[r.Path] = r
	}
	return g, nil
}

// serve serves the gateway on ln until ctx ends, then shuts down: the listener closes at once,
// requests in flight get c.shutdownGrace to finish.
func serve(ctx context.Context, c config, ln net.Listener, log *slog.Logger) error {
	g, err := newGateway(c, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      c.timeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", c.shutdownGrace.String())
	// ctx has ended: the grace period needs a context of its own.
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	c, err := loadConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Error("configuration", "error", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.addr)
	if err != nil {
		log.Error("listen", "error", err)
		os.Exit(1)
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "runtime_url", c.runtimeURL, "routes", len(c.routes))
	if err := serve(ctx, c, ln, log); err != nil {
		log.Error("serve", "error", err)
		os.Exit(1)
	}
}
