package deploytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
)

// This file is what the tests know of the binary, each fact read from its code: the settings
// (config.Config's env tags), the roles (its enum tag), how a command line and an environment
// are parsed (config.Parse, as `serve` does), and the health endpoints (internal/health).

// metricsPath is where every role serves Prometheus metrics (internal/httpserver mounts it next to
// the health endpoints on WFR_ADDR).
const metricsPath = "/metrics"

// TestMain clears the WFR_* settings from this process: kong reads them from the process
// environment besides the lookup config.Parse is given, and the tests parse the manifests'
// environments only.
func TestMain(m *testing.M) {
	for name := range settings() {
		_ = os.Unsetenv(name)
	}
	os.Exit(m.Run())
}

// settings are the environment variables the binary reads: every name in an `env` tag of
// config.Config (and of the structs it embeds).
func settings() map[string]bool {
	names := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			for name := range strings.SplitSeq(f.Tag.Get("env"), ",") {
				if name = strings.TrimSpace(name); name != "" {
					names[name] = true
				}
			}
			if f.Type.Kind() == reflect.Struct && (f.Anonymous || f.Tag.Get("embed") != "") {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	return names
}

// roles are the values of `serve --role` that run one part of the service: config.Config's
// Role enum without "all" (every part in one process).
func roles() []string {
	f, ok := reflect.TypeFor[config.Config]().FieldByName("Role")
	if !ok {
		panic("config.Config has no Role field")
	}
	var out []string
	for r := range strings.SplitSeq(f.Tag.Get("enum"), ",") {
		if r = strings.TrimSpace(r); r != "" && r != string(config.RoleAll) {
			out = append(out, r)
		}
	}
	return out
}

// unknownSettings returns the WFR_* names of env that the binary does not read, sorted.
func unknownSettings(env map[string]string) []string {
	known := settings()
	var out []string
	for name := range env {
		if strings.HasPrefix(name, "WFR_") && !known[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// invocation is one start of the binary: its subcommand and the configuration it runs with.
type invocation struct {
	command string // serve or migrate
	cfg     config.Config
}

// parseInvocation parses args (after the entrypoint; defaultArgs when empty, the image's CMD)
// with the environment env as the binary would at start-up: `serve` through config.Parse, which
// also validates (a split role without Redis, the API off loopback without tokens, a bad value
// fail here as they would in the pod); `migrate` with the settings it reads (cmd/workflow-runtime:
// WFR_DATABASE_URL and the log settings), validated the same way.
func parseInvocation(args, defaultArgs []string, env map[string]string) (invocation, error) {
	if len(args) == 0 {
		args = defaultArgs
	}
	if len(args) == 0 {
		return invocation{}, errors.New("no command: want serve or migrate")
	}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	switch args[0] {
	case "serve":
		cfg, err := config.Parse(args[1:], lookup)
		if err != nil {
			return invocation{}, fmt.Errorf("serve %s: %w", strings.Join(args[1:], " "), err)
		}
		return invocation{command: "serve", cfg: cfg}, nil
	case "migrate":
		if len(args) > 1 {
			return invocation{}, fmt.Errorf("migrate %s: takes its settings from the environment here, not flags", strings.Join(args[1:], " "))
		}
		cfg := config.Default()
		if v, ok := lookup("WFR_DATABASE_URL"); ok {
			cfg.DatabaseURL = v
		}
		if v, ok := lookup("WFR_LOG_LEVEL"); ok {
			cfg.LogLevel = v
		}
		if v, ok := lookup("WFR_LOG_FORMAT"); ok {
			cfg.LogFormat = v
		}
		if err := cfg.Validate(); err != nil {
			return invocation{}, fmt.Errorf("migrate: %w", err)
		}
		return invocation{command: "migrate", cfg: cfg}, nil
	default:
		return invocation{}, fmt.Errorf("command %q: want serve or migrate", args[0])
	}
}

// addrPort is the port of WFR_ADDR.
func addrPort(cfg config.Config) (int, error) {
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return 0, fmt.Errorf("WFR_ADDR %q: %w", cfg.Addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("WFR_ADDR %q: port is not a number", cfg.Addr)
	}
	return n, nil
}

// healthStatus is what the binary's health handlers answer GET path with: before start-up has
// finished (or once shutdown has begun), once started while a dependency the role needs is down,
// and once started with every dependency up. 404 means the path is not served.
func healthStatus(path string) (notReady, dependencyDown, ready int) {
	ask := func(started bool, dependency error) int {
		c := health.NewChecker(health.Options{})
		c.Register("database", func(context.Context) error { return dependency })
		c.SetReady(started)
		mux := http.NewServeMux()
		c.Mount(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
		return rec.Code
	}
	down := errors.New("connection refused")
	return ask(false, nil), ask(true, down), ask(true, nil)
}

// probeKind is what a probe is for; each asks a different answer of its path.
type probeKind string

const (
	liveness  probeKind = "livenessProbe"
	readiness probeKind = "readinessProbe"
	startup   probeKind = "startupProbe"
)

// checkProbePath says why path does not fit a probe of this kind, or "": a liveness probe must
// answer 200 whatever readiness and the dependencies (else a slow start or an outage restarts
// the pod); a readiness probe must answer 503 before start-up, from the start of shutdown and
// while a dependency the role needs is down (else the pod gets work it cannot do); a startup
// probe must answer 200 once started.
func checkProbePath(kind probeKind, path string) string {
	notReady, dependencyDown, ready := healthStatus(path)
	switch {
	case ready == http.StatusNotFound:
		return fmt.Sprintf("%s path %s is not served by the binary (/livez, /readyz, /health are)", kind, path)
	case kind == liveness && (notReady != http.StatusOK || dependencyDown != http.StatusOK):
		return fmt.Sprintf("livenessProbe path %s answers %d while the process is not ready, %d while a dependency is down: a restart would follow every outage (use /livez)", path, notReady, dependencyDown)
	case kind == readiness && (notReady == http.StatusOK || dependencyDown == http.StatusOK):
		return fmt.Sprintf("readinessProbe path %s answers %d while the process is not ready, %d while a dependency is down (use /readyz)", path, notReady, dependencyDown)
	case ready != http.StatusOK:
		return fmt.Sprintf("%s path %s answers %d once ready", kind, path, ready)
	}
	return ""
}

func TestBinaryFacts(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := settings()
	for _, name := range []string{"WFR_ROLE", "WFR_ADDR", "WFR_DATABASE_URL", "WFR_MIGRATE_ON_START", "WFR_SHUTDOWN_GRACE"} {
		is.True(s[name]) // a setting of config.Config
	}
	is.Equal(roles(), []string{"api", "scheduler", "worker", "engine"})
	for _, tc := range []struct {
		kind probeKind
		path string
		ok   bool
	}{
		{liveness, "/livez", true},
		{liveness, "/readyz", false},
		{liveness, "/health", false}, // 503 while a dependency is down
		{readiness, "/readyz", true},
		{readiness, "/livez", false},
		{readiness, "/health", false}, // 200 before start-up
		{startup, "/livez", true},
		{startup, "/ready", false},
	} {
		got := checkProbePath(tc.kind, tc.path)
		is.True((got == "") == tc.ok) // checkProbePath(kind, path)
	}
}

func TestParseInvocation(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	env := map[string]string{
		"WFR_ADDR":         ":8080",
		"WFR_DATABASE_URL": "postgres://u:p@db/wfr",
		"WFR_REDIS_URL":    "redis://cache:6379/0",
	}
	inv, err := parseInvocation([]string{"serve", "--role=worker"}, nil, env)
	is.NoErr(err)
	is.Equal(inv.command, "serve")
	is.Equal(inv.cfg.Role, config.RoleWorker)

	inv, err = parseInvocation(nil, []string{"migrate"}, env) // the default command
	is.NoErr(err)
	is.Equal(inv.command, "migrate")
	is.Equal(inv.cfg.DatabaseURL, "postgres://u:p@db/wfr")

	_, err = parseInvocation(nil, []string{"serve", "--role=gateway"}, env)
	is.True(err != nil) // not a role
	// The api off loopback without tokens refuses to start: so does the check.
	_, err = parseInvocation([]string{"serve", "--role=api"}, nil, env)
	is.True(err != nil && strings.Contains(err.Error(), "WFR_AUTH"))
	_, err = parseInvocation([]string{"migrate", "--role=api"}, nil, env)
	is.True(err != nil) // migrate takes no flags here
	_, err = parseInvocation([]string{"migrat"}, nil, env)
	is.True(err != nil) // not a command
	is.Equal(unknownSettings(map[string]string{"WFR_ADDR": "", "WFR_NOPE": "", "OTEL_X": ""}), []string{"WFR_NOPE"})
	is.Equal(expand("$(A):$(B)$$(A)", map[string]string{"A": "x"}), "x:$(B)$(A)")
}

// expectProblems fails t unless every one of want is a substring of some problem: each names
// a fault a fixture holds, so each check is shown to fail.
func expectProblems(t *testing.T, problems []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("no problem reports %q", w)
		}
	}
	if t.Failed() {
		for _, p := range problems {
			t.Log("reported:", p)
		}
	}
}
