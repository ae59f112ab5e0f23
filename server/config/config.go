// Package config is the service's configuration: one struct, read from WFR_* environment
// variables and the matching command-line flags (flags win), with every default stated in its
// tag, and validated once at start-up with errors that name the variable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// Role selects what one process runs. See DESIGN.md, "One binary, four roles".
type Role string

// The roles.
const (
	// RoleAll runs the API, the scheduler and the worker in one process (the default).
	RoleAll Role = "all"
	// RoleAPI serves WorkflowRuntimeService.
	RoleAPI Role = "api"
	// RoleScheduler fires cron triggers.
	RoleScheduler Role = "scheduler"
	// RoleWorker runs queued executions on the engine.
	RoleWorker Role = "worker"
	// RoleEngine serves the reference workflow engine over the network.
	RoleEngine Role = "engine"
)

// ServesAPI reports whether the role serves WorkflowRuntimeService.
func (r Role) ServesAPI() bool { return r == RoleAll || r == RoleAPI }

// Config is the configuration of `workflow-runtime serve` (and `migrate`, which uses
// DatabaseURL and the log settings only). Each field is set from its WFR_* variable, overridden
// by its flag; unset, it takes the default in its tag. Call Validate before use.
type Config struct {
	// Role is what this process runs: all|api|scheduler|worker|engine. Default all.
	Role Role `env:"WFR_ROLE" default:"all" enum:"all,api,scheduler,worker,engine" help:"What this process runs: ${enum}. Default ${default}."`
	// Addr is the host:port the HTTP server listens on (Connect, gRPC, gRPC-Web, health).
	// Default 127.0.0.1:8080; use :8080 to listen on every interface.
	Addr string `env:"WFR_ADDR" default:"127.0.0.1:8080" placeholder:"HOST:PORT" help:"Listen address for Connect, gRPC, gRPC-Web and health (:8080 for every interface). Default ${default}."`
	// DatabaseURL is postgres://… (or postgresql://…) or sqlite://path.
	// Default sqlite://data/workflow-runtime.db.
	DatabaseURL string `name:"database-url" env:"WFR_DATABASE_URL" default:"sqlite://data/workflow-runtime.db" placeholder:"URL" help:"postgres://user:pass@host/db or sqlite://path. Default ${default}."`
	// RedisURL is redis://… or rediss://… for the distributed lock and queue. Default empty:
	// in-process lock and queue (one process only).
	RedisURL string `name:"redis-url" env:"WFR_REDIS_URL" placeholder:"URL" help:"redis:// or rediss:// URL for locks and the queue. Default empty: in-process lock and queue."`
	// EngineURL is http://… or https://… of a remote workflow engine. Default empty: embedded
	// engine.
	EngineURL string `name:"engine-url" env:"WFR_ENGINE_URL" placeholder:"URL" help:"http:// or https:// URL of a remote workflow engine. Default empty: embedded engine."`
	// LogLevel is debug|info|warn|error. Default info.
	LogLevel string `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: ${enum}. Default ${default}."`
	// LogFormat is json|text. Default json (one JSON object per line on stdout).
	LogFormat string `env:"WFR_LOG_FORMAT" default:"json" enum:"json,text" help:"Log format on stdout: ${enum}. Default ${default}."`
	// LogFile, when set, also writes the log lines to this file, rotated by size. Default
	// empty: stdout only.
	LogFile string `name:"log-file" env:"WFR_LOG_FILE" placeholder:"PATH" help:"Also write the log to this file, rotated. Default empty: stdout only."`
	// LogMaxSizeMB is the size at which the log file is rotated. Default 100.
	LogMaxSizeMB int `env:"WFR_LOG_MAX_SIZE_MB" default:"100" help:"Rotate the log file at this size (MB). Default ${default}."`
	// LogMaxBackups is how many rotated log files are kept. Default 5.
	LogMaxBackups int `env:"WFR_LOG_MAX_BACKUPS" default:"5" help:"Rotated log files kept. Default ${default}."`
	// LogMaxAgeDays is how many days rotated log files are kept. Default 28.
	LogMaxAgeDays int `env:"WFR_LOG_MAX_AGE_DAYS" default:"28" help:"Days rotated log files are kept. Default ${default}."`
	// LogCompress gzips rotated log files. Default false.
	LogCompress bool `env:"WFR_LOG_COMPRESS" default:"false" help:"Gzip rotated log files. Default ${default}."`
	// MigrateOnStart applies pending migrations before serving. Default true.
	MigrateOnStart bool `env:"WFR_MIGRATE_ON_START" default:"true" negatable:"" help:"Apply database migrations at start-up. Default ${default}."`
	// ShutdownGrace is how long in-flight requests (and, later, executions) get to finish after
	// SIGTERM before connections are closed. Default 30s.
	ShutdownGrace time.Duration `env:"WFR_SHUTDOWN_GRACE" default:"30s" help:"Time in-flight work gets to finish after SIGTERM. Default ${default}."`
	// ReadHeaderTimeout bounds reading a request's headers (slow-loris guard). Default 5s; must
	// be > 0.
	ReadHeaderTimeout time.Duration `env:"WFR_READ_HEADER_TIMEOUT" default:"5s" help:"Time to read a request's headers. Default ${default}."`
	// ReadTimeout bounds reading a whole request, body included. Default 30s; 0 disables it.
	// A streaming handler that reads for longer extends its own deadline with
	// http.ResponseController.SetReadDeadline.
	ReadTimeout time.Duration `env:"WFR_READ_TIMEOUT" default:"30s" help:"Time to read a whole request (0: no limit). Default ${default}."`
	// WriteTimeout bounds writing a response, per request (per stream on HTTP/2). Default 60s;
	// 0 disables it. Server-streaming RPCs (executions watch) outlive it: they must extend their
	// own deadline with http.ResponseController.SetWriteDeadline, so the limit stays in place
	// for every unary RPC.
	WriteTimeout time.Duration `env:"WFR_WRITE_TIMEOUT" default:"60s" help:"Time to write a response; streaming RPCs extend their own deadline (0: no limit). Default ${default}."`
	// IdleTimeout bounds how long a keep-alive connection waits for the next request.
	// Default 120s; 0 falls back to ReadTimeout (net/http semantics).
	IdleTimeout time.Duration `env:"WFR_IDLE_TIMEOUT" default:"120s" help:"Time an idle keep-alive connection is kept. Default ${default}."`
	// MaxRequestBytes is the largest request message accepted, in bytes: Connect's read max
	// bytes for each message and, with 5 bytes of framing, an http.MaxBytesReader on every request
	// body. Larger requests fail with resource_exhausted. Default 4194304 (4 MiB).
	MaxRequestBytes int64 `env:"WFR_MAX_REQUEST_BYTES" default:"4194304" help:"Largest request message in bytes (resource_exhausted beyond). Default ${default} (4 MiB)."`
	// CompressMinBytes is the smallest response Connect compresses, in bytes. Connect's default
	// (0) gzips even tiny replies, which costs 30-40% throughput on this service's small
	// messages. Default 1024.
	CompressMinBytes int `env:"WFR_COMPRESS_MIN_BYTES" default:"1024" help:"Smallest response compressed, in bytes. Default ${default}."`
	// WorkerConcurrency is the most executions one worker process runs at once. A slot is one
	// goroutine waiting on the engine, and the worker's reads and writes of concurrent
	// executions are grouped into shared statements, so more slots cost little and let a
	// worker keep up with short executions. Default 128.
	WorkerConcurrency int `env:"WFR_WORKER_CONCURRENCY" default:"128" help:"Executions one worker process runs at once. Default ${default}."`
	// LockTTL is the lease time of workflow and execution locks; leases are renewed every
	// LockTTL/3 while an execution runs, and a dead worker's execution is taken over after
	// 2 x LockTTL. Default 30s.
	LockTTL time.Duration `env:"WFR_LOCK_TTL" default:"30s" help:"Lease time of locks; a dead worker's executions move after twice this. Default ${default}."`
	// CORSAllowedOrigins are the browser origins allowed to call the API (Connect-Web),
	// comma-separated, e.g. https://dash.example.com; "*" allows any. Default empty: no CORS
	// headers, browsers on other origins are refused.
	CORSAllowedOrigins []string `name:"cors-allowed-origins" env:"WFR_CORS_ALLOWED_ORIGINS" sep:"," placeholder:"ORIGIN" help:"Comma-separated browser origins allowed by CORS (* for any). Default empty: no CORS."`
	// PageTokenKey is the secret that signs page tokens (HMAC-SHA256, server/pagetoken), so a
	// forged or altered token is refused. Every api replica must have the same one. Default
	// empty: derived from DatabaseURL, which the replicas of one installation share; set it
	// where the database URL carries no password or differs between replicas.
	PageTokenKey string `name:"page-token-key" env:"WFR_PAGE_TOKEN_KEY" placeholder:"SECRET" help:"Secret that signs page tokens; the same on every replica. Default empty: derived from the database URL."`
	// PprofAddr, when set, serves Go's profiler (net/http/pprof, /debug/pprof/) on this
	// host:port, apart from the API so that it is never exposed with it. Default empty: off.
	PprofAddr string `name:"pprof-addr" env:"WFR_PPROF_ADDR" placeholder:"HOST:PORT" help:"Serve Go's profiler at /debug/pprof/ on this address. Default empty: off."`
}

// PageTokenSecret is the secret page tokens are signed with: PageTokenKey, or DatabaseURL when
// that is unset.
func (c Config) PageTokenSecret() string {
	if c.PageTokenKey != "" {
		return c.PageTokenKey
	}
	return "database:" + c.DatabaseURL
}

// Default returns the configuration with every field at its default, as parsed from no flags
// and no environment. (config_test checks it matches the struct tags.)
func Default() Config {
	return Config{
		Role:              RoleAll,
		Addr:              "127.0.0.1:8080",
		DatabaseURL:       "sqlite://data/workflow-runtime.db",
		LogLevel:          "info",
		LogFormat:         "json",
		LogMaxSizeMB:      100,
		LogMaxBackups:     5,
		LogMaxAgeDays:     28,
		MigrateOnStart:    true,
		ShutdownGrace:     30 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxRequestBytes:   4 << 20,
		CompressMinBytes:  1024,
		WorkerConcurrency: 128,
		LockTTL:           30 * time.Second,
	}
}

// Parse reads a Config from command-line style args (e.g. "--addr=:9090") and from the WFR_*
// variables that lookupEnv finds (os.LookupEnv in production; a map in tests), flags winning,
// then validates it. The process environment is consulted by kong as well, so a test passing its
// own lookupEnv must not rely on a WFR_* variable being unset in the process.
func Parse(args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	var cfg Config
	parser, err := kong.New(&cfg,
		kong.Name("workflow-runtime"),
		kong.Exit(func(int) {}),
		kong.Resolvers(EnvResolver(lookupEnv)),
	)
	if err != nil {
		return Config{}, fmt.Errorf("build config parser: %w", err)
	}
	if _, err := parser.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// EnvResolver is a kong.Resolver that sets each flag not given on the command line from the
// first of its `env` tag's variables that lookupEnv finds. A value that does not parse is an
// error naming the variable.
func EnvResolver(lookupEnv func(string) (string, bool)) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		for _, name := range flag.Tag.Envs {
			value, ok := lookupEnv(name)
			if !ok {
				continue
			}
			// Parse into a scratch value first, so that an error names the variable.
			probe := reflect.New(flag.Target.Type()).Elem()
			if err := flag.Parse(kong.ScanFromTokens(kong.Token{Type: kong.FlagValueToken, Value: value}), probe); err != nil {
				return nil, fmt.Errorf("%s=%q: %w", name, value, err)
			}
			if flag.Enum != "" && !flag.EnumMap()[value] {
				return nil, fmt.Errorf("%s=%q: must be one of %s", name, value, strings.Join(flag.EnumSlice(), ", "))
			}
			return value, nil
		}
		return nil, nil
	})
}

// Validate checks every field and returns all problems at once, each naming its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}

	switch c.Role {
	case RoleAll, RoleAPI, RoleScheduler, RoleWorker, RoleEngine:
	default:
		bad("WFR_ROLE", "%q is not one of all, api, scheduler, worker, engine", c.Role)
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("WFR_ADDR", "%q is not host:port: %v", c.Addr, err)
	} else if port == "" {
		bad("WFR_ADDR", "%q has no port", c.Addr)
	}
	if err := checkURL(c.DatabaseURL, "postgres", "postgresql", "sqlite"); err != nil {
		bad("WFR_DATABASE_URL", "%v", err)
	}
	if c.RedisURL != "" {
		if err := checkURL(c.RedisURL, "redis", "rediss"); err != nil {
			bad("WFR_REDIS_URL", "%v", err)
		}
	}
	if c.RedisURL == "" && (c.Role == RoleAPI || c.Role == RoleScheduler || c.Role == RoleWorker) {
		bad("WFR_REDIS_URL", "role %s needs Redis: the in-process lock and queue reach no other process (use role all for one process)", c.Role)
	}
	if c.PprofAddr != "" {
		if _, port, err := net.SplitHostPort(c.PprofAddr); err != nil || port == "" {
			bad("WFR_PPROF_ADDR", "%q is not host:port", c.PprofAddr)
		}
	}
	if c.WorkerConcurrency < 1 {
		bad("WFR_WORKER_CONCURRENCY", "%d must be at least 1", c.WorkerConcurrency)
	}
	if c.LockTTL < 100*time.Millisecond {
		bad("WFR_LOCK_TTL", "%s must be at least 100ms", c.LockTTL)
	}
	if c.EngineURL != "" {
		if err := checkURL(c.EngineURL, "http", "https"); err != nil {
			bad("WFR_ENGINE_URL", "%v", err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("WFR_LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("WFR_LOG_FORMAT", "%q is not one of json, text", c.LogFormat)
	}
	if c.LogMaxSizeMB < 1 {
		bad("WFR_LOG_MAX_SIZE_MB", "%d must be at least 1", c.LogMaxSizeMB)
	}
	if c.LogMaxBackups < 0 {
		bad("WFR_LOG_MAX_BACKUPS", "%d is negative", c.LogMaxBackups)
	}
	if c.LogMaxAgeDays < 0 {
		bad("WFR_LOG_MAX_AGE_DAYS", "%d is negative", c.LogMaxAgeDays)
	}
	if c.ShutdownGrace < 0 {
		bad("WFR_SHUTDOWN_GRACE", "%s is negative", c.ShutdownGrace)
	}
	if c.ReadHeaderTimeout <= 0 {
		bad("WFR_READ_HEADER_TIMEOUT", "%s must be positive", c.ReadHeaderTimeout)
	}
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"WFR_READ_TIMEOUT", c.ReadTimeout},
		{"WFR_WRITE_TIMEOUT", c.WriteTimeout},
		{"WFR_IDLE_TIMEOUT", c.IdleTimeout},
	} {
		if d.v < 0 {
			bad(d.env, "%s is negative", d.v)
		}
	}
	if c.MaxRequestBytes <= 0 {
		bad("WFR_MAX_REQUEST_BYTES", "%d must be positive", c.MaxRequestBytes)
	}
	if c.CompressMinBytes < 0 {
		bad("WFR_COMPRESS_MIN_BYTES", "%d is negative", c.CompressMinBytes)
	}
	for _, origin := range c.CORSAllowedOrigins {
		if err := checkOrigin(origin); err != nil {
			bad("WFR_CORS_ALLOWED_ORIGINS", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// checkURL checks that raw parses as a URL with one of the schemes.
func checkURL(raw string, schemes ...string) error {
	want := schemes[len(schemes)-1] + "://"
	if len(schemes) > 1 {
		want = strings.Join(schemes[:len(schemes)-1], "://, ") + ":// or " + want
	}
	if raw == "" {
		return fmt.Errorf("empty; want a %s URL", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL, which may hold a password: report the cause only.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("not a URL: %w", err)
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			if u.Host == "" && u.Opaque == "" && u.Path == "" {
				return fmt.Errorf("%s URL has neither host nor path", s)
			}
			return nil
		}
	}
	if u.Scheme == "" {
		return fmt.Errorf("no scheme; want a %s URL", want)
	}
	return fmt.Errorf("scheme %q not supported; want a %s URL", u.Scheme, want)
}

// checkOrigin checks a CORS origin: "*" or scheme://host[:port] with no path.
func checkOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an origin like https://dash.example.com (or *)", origin)
	}
	return nil
}
