// Package config is the service's configuration: one struct, read from WFR_* environment
// variables and the matching command-line flags (flags win), with every default stated in its
// tag, and validated once at start-up with errors that name the variable.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/workflow-runtime/workflow-runtime/internal/egress"
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
	// AdvertiseAddr is the host:port other processes reach this one at, published in the
	// instance registry (GetSystemHealth, /health). Default empty: the listen address, with an
	// unspecified host (":8080", "0.0.0.0:8080") replaced by the host name; in Kubernetes set it
	// from the pod IP ($(POD_IP):8080).
	AdvertiseAddr string `name:"advertise-addr" env:"WFR_ADVERTISE_ADDR" placeholder:"HOST:PORT" help:"Address other processes reach this one at, published in the instance registry. Default empty: the listen address (an unspecified host replaced by the host name)."`
	// RegistryHeartbeat is how often this process renews its entry in the instance registry
	// (Redis). Default 5s.
	RegistryHeartbeat time.Duration `env:"WFR_REGISTRY_HEARTBEAT" default:"5s" help:"How often this process heartbeats in the instance registry. Default ${default}."`
	// RegistryTTL is how long an instance stays listed after its last heartbeat: a killed
	// process drops out of the registry within it (one that stops gracefully at once). Default 0:
	// three heartbeats; when set, it must be longer than RegistryHeartbeat.
	RegistryTTL time.Duration `name:"registry-ttl" env:"WFR_REGISTRY_TTL" default:"0" help:"How long an instance stays listed after its last heartbeat (0: three heartbeats). Default ${default}."`
	// SchedulerSharding shares the cron triggers among the live schedulers (roles scheduler
	// and all) of the instance registry: each trigger is held by two of them, chosen by
	// rendezvous hashing of the trigger and the instance ids; the first fires it, the second
	// stands by and fires it only when the first has not within the standby delay. Capacity then
	// grows with the replicas. It needs the shared registry (WFR_REDIS_URL): without Redis the
	// one scheduler holds every trigger, as it does when sharding is off. Default true.
	SchedulerSharding bool `env:"WFR_SCHEDULER_SHARDING" default:"true" negatable:"" help:"Share the cron triggers among the live schedulers (two holders each); needs WFR_REDIS_URL. Default ${default}."`
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
	// AccessLog says which RPCs the access log writes at INFO: failures (the default) writes the
	// calls that fail and those slower than AccessLogSlow, and writes every other call at DEBUG
	// (seen with WFR_LOG_LEVEL=debug), the way Kubernetes' API server keeps its per-request log
	// to a higher verbosity; all writes every call at INFO. Calls that fail with a server fault
	// (internal, unknown, data_loss) are at ERROR either way, and streams at INFO when they end.
	AccessLog string `env:"WFR_ACCESS_LOG" default:"failures" enum:"failures,all" help:"RPCs the access log writes at INFO: ${enum} (failures: failed and slow calls; the rest at DEBUG). Default ${default}."`
	// AccessLogSlow is how long a successful call takes before the access log writes it at INFO
	// with WFR_ACCESS_LOG=failures (0: never). Default 1s.
	AccessLogSlow time.Duration `env:"WFR_ACCESS_LOG_SLOW" default:"1s" help:"A successful RPC at least this slow is written at INFO with WFR_ACCESS_LOG=failures (0: never). Default ${default}."`
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
	LogCompress bool `env:"WFR_LOG_COMPRESS" default:"false" negatable:"" help:"Gzip rotated log files. Default ${default}."`
	// MigrateOnStart applies pending migrations before serving. Default true.
	MigrateOnStart bool `env:"WFR_MIGRATE_ON_START" default:"true" negatable:"" help:"Apply database migrations at start-up. Default ${default}."`
	// ShutdownGrace is how long in-flight requests and running executions get to finish after
	// SIGTERM; executions still running then are handed back to another worker. Default 30s.
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
	// WorkerMaxShare is the fraction of one worker process's slots that one deployment's
	// executions may hold at once; a message of a deployment at its share goes back to the
	// queue for a second, so other deployments' executions get the remaining slots. Per
	// process: across N workers a deployment may hold this share on each. 1 turns it off: a
	// refused message waits a second, which a burst of one deployment larger than the share
	// would pay for nothing on a single-tenant installation. Default 1 (off); 0.5 on a shared
	// one.
	WorkerMaxShare float64 `env:"WFR_WORKER_MAX_SHARE" default:"1" help:"Fraction of a worker process's slots one deployment may hold at once (1: no limit; 0.5 on a shared installation). Default ${default}."`
	// MaxProcessDeaths is how many runs of one execution may end with the death of their
	// process (claimed, never recorded an outcome) before the execution ends FAILED as
	// quarantined instead of running again. Default 3.
	MaxProcessDeaths int `env:"WFR_MAX_PROCESS_DEATHS" default:"3" help:"Runs of one execution that may die with their process before it is quarantined (FAILED). Default ${default}."`
	// LockTTL is the lease time of workflow and execution locks; leases are renewed every
	// LockTTL/3 while an execution runs, and a dead worker's execution is taken over after
	// 2 x LockTTL. Default 30s.
	LockTTL time.Duration `env:"WFR_LOCK_TTL" default:"30s" help:"Lease time of locks; a dead worker's executions move after twice this. Default ${default}."`
	// MaxNodeOutputBytes bounds the JSON of one node's output in the embedded or `engine`-role
	// engine; a larger output fails the execution at once (FAILED, no retry). Default 1048576
	// (1 MiB).
	MaxNodeOutputBytes int64 `env:"WFR_MAX_NODE_OUTPUT_BYTES" default:"1048576" help:"Largest JSON output of one node in bytes (the execution fails beyond). Default ${default} (1 MiB)."`
	// MaxOutputBytes bounds the JSON of all node outputs of one execution together, and so the
	// execution's output; beyond it the execution fails at once. Default 4194304 (4 MiB).
	MaxOutputBytes int64 `env:"WFR_MAX_OUTPUT_BYTES" default:"4194304" help:"Largest JSON of all node outputs of one execution in bytes (the execution fails beyond). Default ${default} (4 MiB)."`
	// CELTimeout bounds the wall-clock time of one transform expression's evaluation, checked
	// while it runs. Default 1s.
	CELTimeout time.Duration `name:"cel-timeout" env:"WFR_CEL_TIMEOUT" default:"1s" help:"Time one transform expression may run. Default ${default}."`
	// CELCostLimit bounds one transform evaluation in CEL cost units. Default 1000000.
	CELCostLimit uint64 `name:"cel-cost-limit" env:"WFR_CEL_COST_LIMIT" default:"1000000" help:"CEL cost limit of one transform evaluation. Default ${default}."`
	// CELMaxStringBytes bounds each string or bytes value a transform expression builds.
	// Default 1048576 (1 MiB).
	CELMaxStringBytes int `name:"cel-max-string-bytes" env:"WFR_CEL_MAX_STRING_BYTES" default:"1048576" help:"Longest string a transform expression may build, in bytes. Default ${default} (1 MiB)."`
	// CELMaxListItems bounds each list a transform expression builds (lists.range too).
	// Default 100000.
	CELMaxListItems int `name:"cel-max-list-items" env:"WFR_CEL_MAX_LIST_ITEMS" default:"100000" help:"Longest list a transform expression may build. Default ${default}."`
	// CORSAllowedOrigins are the browser origins allowed to call the API (Connect-Web),
	// comma-separated, e.g. https://dash.example.com; "*" allows any. Default empty: no CORS
	// headers, browsers on other origins are refused.
	CORSAllowedOrigins []string `name:"cors-allowed-origins" env:"WFR_CORS_ALLOWED_ORIGINS" sep:"," placeholder:"ORIGIN" help:"Comma-separated browser origins allowed by CORS (* for any). Default empty: no CORS."`
	// UI serves the browser dashboard (web-examples/dashboard) at /ui/ on roles that serve the
	// API (all, api): the build embedded in the binary, or UIDir's. Its files need no token;
	// its calls do, when authentication is on. on|off. Default off.
	UI string `name:"ui" env:"WFR_UI" default:"off" enum:"on,off" help:"Serve the browser dashboard at /ui/ (roles all and api): ${enum}. Default ${default}."`
	// UIDir serves the dashboard from this directory (it must hold index.html) instead of the
	// build embedded in the binary. Needs UI on. Default empty: the embedded build.
	UIDir string `name:"ui-dir" env:"WFR_UI_DIR" placeholder:"PATH" help:"Serve the dashboard from this directory instead of the embedded build; needs WFR_UI=on. Default empty: the embedded build."`
	// HTTPAllow widens the egress policy of http nodes, which by default reach public
	// addresses only (no loopback, link-local, private, multicast or unspecified address, so a
	// workflow cannot call this service, its metrics, its profiler or the cloud's metadata):
	// comma-separated IP addresses, CIDR prefixes (10.1.0.0/16), host names (billing.internal)
	// and *.domain (every name under domain). Checked on the address connected to, after name
	// resolution and on every redirect. Default empty.
	HTTPAllow []string `name:"http-allow" env:"WFR_HTTP_ALLOW" sep:"," placeholder:"HOST|CIDR" help:"Comma-separated IPs, CIDRs, host names or *.domains http nodes may reach besides public addresses. Default empty: public addresses only."`
	// HTTPMaxResponseBytes is the largest response body an http node reads; a larger one fails
	// the node. Default 10485760 (10 MiB).
	HTTPMaxResponseBytes int64 `env:"WFR_HTTP_MAX_RESPONSE_BYTES" default:"10485760" help:"Largest response body an http node reads, in bytes. Default ${default} (10 MiB)."`
	// PageTokenKey is the secret that signs page tokens (HMAC-SHA256, internal/pagetoken), so a
	// forged or altered token is refused. Every api replica must have the same one. Default
	// empty: derived from DatabaseURL, which the replicas of one installation share; set it
	// where the database URL carries no password or differs between replicas.
	PageTokenKey string `name:"page-token-key" env:"WFR_PAGE_TOKEN_KEY" placeholder:"SECRET" help:"Secret that signs page tokens; the same on every replica. Default empty: derived from the database URL."`
	// PprofAddr, when set, serves Go's profiler (net/http/pprof, /debug/pprof/) on this
	// host:port, apart from the API so that it is never exposed with it. Default empty: off.
	PprofAddr string `name:"pprof-addr" env:"WFR_PPROF_ADDR" placeholder:"HOST:PORT" help:"Serve Go's profiler at /debug/pprof/ on this address. Default empty: off."`
	// Auth is auto|tokens|none. auto: bearer tokens when AuthTokensFile is set; without it,
	// no authentication, which only a loopback Addr allows (a process that serves RPCs on any
	// other address refuses to start). tokens: AuthTokensFile is required. none: no
	// authentication on any address, said explicitly. Default auto.
	Auth string `env:"WFR_AUTH" default:"auto" enum:"auto,tokens,none" help:"Authentication: ${enum} (auto: tokens when a tokens file is given; none only on loopback). Default ${default}."`
	// AuthTokensFile is the file of bearer tokens, one "NAME SCOPES TOKEN" per line (scopes
	// read, trigger, deploy, engine, admin; see internal/auth), reloaded on SIGHUP. Default empty.
	AuthTokensFile string `name:"auth-tokens-file" env:"WFR_AUTH_TOKENS_FILE" placeholder:"PATH" help:"File of bearer tokens (NAME SCOPES TOKEN per line), reloaded on SIGHUP. Default empty."`
	// AuthOpenHealth serves /health, /livez and /readyz without a token when authentication is
	// on (probes); with --no-auth-open-health they need the read scope. The gRPC health service
	// is always open. Default true.
	AuthOpenHealth bool `env:"WFR_AUTH_OPEN_HEALTH" default:"true" negatable:"" help:"Serve /health, /livez and /readyz without a token. Default ${default}."`
	// AuthOpenMetrics serves /metrics without a token when authentication is on; with
	// --no-auth-open-metrics it needs the read scope. Default true.
	AuthOpenMetrics bool `env:"WFR_AUTH_OPEN_METRICS" default:"true" negatable:"" help:"Serve /metrics without a token. Default ${default}."`
	// AllowedHosts are the Host header names the server answers, comma-separated, besides
	// localhost, 127.0.0.1 and ::1 when Addr is a loopback address (a guard against DNS
	// rebinding: a web page cannot make a browser call the service under its own name). On any
	// other Addr every Host is answered unless this is set. Default empty.
	AllowedHosts []string `name:"allowed-hosts" env:"WFR_ALLOWED_HOSTS" sep:"," placeholder:"HOST" help:"Host header names answered besides loopback's (on a loopback address), or the only ones (elsewhere, when set). Default empty."`
	// EngineToken is the bearer token a worker sends to the remote engine (WFR_ENGINE_URL),
	// whose tokens file gives it the engine scope. Default empty: none sent.
	EngineToken string `name:"engine-token" env:"WFR_ENGINE_TOKEN" placeholder:"TOKEN" help:"Bearer token sent to the remote engine. Default empty."`
	// TriggerRate is the sustained TriggerWorkflow calls per second each caller (a token's
	// name, or a client IP without authentication) may make; beyond it the call answers
	// resource_exhausted with a RetryInfo detail. 0 turns the limit off. Default 1000.
	TriggerRate float64 `env:"WFR_TRIGGER_RATE" default:"1000" help:"TriggerWorkflow calls per second per caller (0: no limit). Default ${default}."`
	// TriggerBurst is how many TriggerWorkflow calls a caller may make at once after being
	// idle. Default 0: twice TriggerRate.
	TriggerBurst int `env:"WFR_TRIGGER_BURST" default:"0" help:"TriggerWorkflow calls a caller may make at once (0: twice the rate). Default ${default}."`
	// MaxWatches is the most WatchExecutions streams one api process serves at once; beyond it
	// a new one answers resource_exhausted. A watch is a goroutine, a read when something it
	// follows changes and one every 5s (its resync), no connection while it waits. 0 turns the
	// limit off. Default 1000.
	MaxWatches int `env:"WFR_MAX_WATCHES" default:"1000" help:"WatchExecutions streams served at once by this process (0: no limit). Default ${default}."`
	// MaxWatchesPerCaller is the most WatchExecutions streams one caller (a token's name, or a
	// client IP without authentication) may have open on one process, so that no caller takes
	// every slot of MaxWatches. 0 turns the limit off. Default 100.
	MaxWatchesPerCaller int `env:"WFR_MAX_WATCHES_PER_CALLER" default:"100" help:"WatchExecutions streams one caller may have open on this process (0: no limit). Default ${default}."`
	// MaxTriggers is the most triggers one deployment may have. Default 20.
	MaxTriggers int `env:"WFR_MAX_TRIGGERS" default:"20" help:"Most triggers per deployment. Default ${default}."`
	// MinCronInterval is the shortest interval a cron trigger may fire at. Default 1s (any
	// cron expression; a shared installation may want 1m).
	MinCronInterval time.Duration `env:"WFR_MIN_CRON_INTERVAL" default:"1s" help:"Shortest interval between two fires of a cron trigger. Default ${default}."`
	// MaxNodeDelay is the longest a delay node may wait (it holds a worker slot). Default 1h.
	MaxNodeDelay time.Duration `env:"WFR_MAX_NODE_DELAY" default:"1h" help:"Longest wait of a delay node. Default ${default}."`
	// MaxExecutionTimeout is the longest execution timeout a deployment may set. Default 24h.
	MaxExecutionTimeout time.Duration `env:"WFR_MAX_EXECUTION_TIMEOUT" default:"24h" help:"Longest execution timeout a deployment may set. Default ${default}."`
	// MaxRetentionAge is the longest a deployment may keep its executions. Default 8760h (a year).
	MaxRetentionAge time.Duration `env:"WFR_MAX_RETENTION_AGE" default:"8760h" help:"Longest retention a deployment may set. Default ${default}."`
	// MaxRetentionKeepLast is the most executions a deployment may keep whatever their age.
	// Default 10000.
	MaxRetentionKeepLast int `env:"WFR_MAX_RETENTION_KEEP_LAST" default:"10000" help:"Most executions a deployment may keep whatever their age. Default ${default}."`
	// RetentionPartitionPeriod is the time range of one partition of executions and of the fire
	// ledger on PostgreSQL. The retention janitor makes the partitions of the current period and
	// the 3 after it, and drops a past partition once every row in it has expired (older than
	// its deployment's retention age and than its keep-last cutoff, and finished); rows it
	// cannot drop that way it deletes row by row, as without partitions. Periods are aligned on
	// 0001-01-01 UTC: 168h is weeks from Monday 00:00 UTC, 24h days. At least 1h; 0 turns
	// partition maintenance off (new rows then go to the default partition). Ignored on SQLite.
	// Default 168h (a week).
	RetentionPartitionPeriod time.Duration `env:"WFR_RETENTION_PARTITION_PERIOD" default:"168h" help:"Time range of one partition of executions and of the fire ledger (PostgreSQL; 0: no partition maintenance). Default ${default}."`
	// MaxTriggerDataBytes is the largest trigger data one execution may be given, by
	// TriggerWorkflow or a webhook delivery (invalid_argument, or 413 at /hooks, beyond). At most
	// 1048576, the largest trigger_data the API accepts. Default 262144 (256 KiB).
	MaxTriggerDataBytes int `env:"WFR_MAX_TRIGGER_DATA_BYTES" default:"262144" help:"Largest trigger data of one execution in bytes. Default ${default} (256 KiB)."`
	// MaxBackfill is the most executions one BackfillDeployment call may create. At most 10000,
	// the largest limit the API accepts. Default 10000.
	MaxBackfill int `env:"WFR_MAX_BACKFILL" default:"10000" help:"Most executions one backfill may create. Default ${default}."`
	// MaxBackfillRange is the longest range one BackfillDeployment call may span. At most 744h
	// (31 days), the longest the API accepts. Default 744h.
	MaxBackfillRange time.Duration `env:"WFR_MAX_BACKFILL_RANGE" default:"744h" help:"Longest range one backfill may span. Default ${default} (31 days)."`
	// BackfillPoll is how often an api process looks for backfill operations to run or take
	// over (one whose process died, once its lease expired); those created in the process
	// itself start at once. Default 5s.
	BackfillPoll time.Duration `env:"WFR_BACKFILL_POLL" default:"5s" help:"How often an api process looks for backfill operations to run or take over. Default ${default}."`
	// ScheduleHealthInterval is how often the api roles (api, all) recompute every cron
	// trigger's schedule health for the metrics (wfr_schedule_health_*). Default 15s.
	ScheduleHealthInterval time.Duration `env:"WFR_SCHEDULE_HEALTH_INTERVAL" default:"15s" help:"How often the schedule health metrics are recomputed. Default ${default}."`
	// ScheduleHealthGrace is how long after its scheduled time a fire may come and still be on
	// time; a time with no ledger row after it is owed (OVERDUE). It must exceed the latest a
	// live fire can come (17s: a standby scheduler's delay plus a dead replica's fire lock), so
	// the default leaves room for the database writes. Default 30s.
	ScheduleHealthGrace time.Duration `env:"WFR_SCHEDULE_HEALTH_GRACE" default:"30s" help:"How late a fire may be and still be on time in schedule health. Default ${default}."`
	// TLSCertFile and TLSKeyFile, both set, serve the port over TLS (HTTP/1.1 and HTTP/2 by
	// ALPN, so gRPC needs no cleartext HTTP/2); the files are read again when they change, so
	// a renewed certificate needs no restart. Default empty: cleartext (HTTP/1.1 and h2c).
	TLSCertFile string `name:"tls-cert-file" env:"WFR_TLS_CERT_FILE" placeholder:"PATH" help:"PEM certificate (chain) to serve TLS; reloaded when it changes. Default empty: cleartext."`
	// TLSKeyFile is the private key of TLSCertFile, PEM. Default empty.
	TLSKeyFile string `name:"tls-key-file" env:"WFR_TLS_KEY_FILE" placeholder:"PATH" help:"PEM private key of the TLS certificate. Default empty."`
	// TLSCAFile is a PEM bundle of certificate authorities trusted, besides the system's, by the
	// connections this process makes over TLS: the remote engine (https://), Redis (rediss://).
	// PostgreSQL takes sslrootcert in its URL. Default empty: the system's only.
	TLSCAFile string `name:"tls-ca-file" env:"WFR_TLS_CA_FILE" placeholder:"PATH" help:"PEM CAs trusted for the remote engine (https) and Redis (rediss), besides the system's. Default empty."`
	// Webhooks serves signed webhook deliveries at POST /hooks/{path} (internal/webhook), outside
	// bearer-token authentication: the trigger's secret signs each delivery. Needs
	// WebhookSecretKey. Default false.
	Webhooks bool `env:"WFR_WEBHOOKS" default:"false" help:"Serve signed webhook deliveries at POST /hooks/{path}. Needs WFR_WEBHOOK_SECRET_KEY. Default ${default}."`
	// WebhookSecretKey is the key, standard base64 of 32 bytes (openssl rand -base64 32), that
	// encrypts webhook trigger secrets in the database (AES-256-GCM). Without it a deployment
	// whose webhook trigger has a secret is refused (failed_precondition). Default empty.
	WebhookSecretKey string `name:"webhook-secret-key" env:"WFR_WEBHOOK_SECRET_KEY" placeholder:"BASE64" help:"Base64 of 32 bytes: the key that encrypts webhook secrets at rest. Default empty: secrets refused."`
	// WebhookTolerance is how far a delivery's Webhook-Timestamp may be from the server's clock,
	// either way. Default 5m.
	WebhookTolerance time.Duration `env:"WFR_WEBHOOK_TOLERANCE" default:"5m" help:"How far a webhook delivery's timestamp may be from now. Default ${default}."`
}

// AuthEnabled reports whether requests need bearer tokens.
func (c Config) AuthEnabled() bool { return c.Auth != "none" && c.AuthTokensFile != "" }

// servesRPC reports whether the role serves RPCs (and so needs authentication off loopback).
func (r Role) servesRPC() bool { return r.ServesAPI() || r == RoleEngine }

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
		Role:                     RoleAll,
		Addr:                     "127.0.0.1:8080",
		DatabaseURL:              "sqlite://data/workflow-runtime.db",
		LogLevel:                 "info",
		LogFormat:                "json",
		AccessLog:                "failures",
		AccessLogSlow:            time.Second,
		LogMaxSizeMB:             100,
		LogMaxBackups:            5,
		LogMaxAgeDays:            28,
		MigrateOnStart:           true,
		ShutdownGrace:            30 * time.Second,
		RegistryHeartbeat:        5 * time.Second,
		SchedulerSharding:        true,
		ReadHeaderTimeout:        5 * time.Second,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             60 * time.Second,
		IdleTimeout:              120 * time.Second,
		MaxRequestBytes:          4 << 20,
		CompressMinBytes:         1024,
		WorkerConcurrency:        128,
		WorkerMaxShare:           1,
		MaxProcessDeaths:         3,
		LockTTL:                  30 * time.Second,
		Auth:                     "auto",
		TriggerRate:              1000,
		MaxWatches:               1000,
		MaxWatchesPerCaller:      100,
		MaxTriggers:              20,
		MinCronInterval:          time.Second,
		MaxNodeDelay:             time.Hour,
		MaxExecutionTimeout:      24 * time.Hour,
		MaxRetentionAge:          365 * 24 * time.Hour,
		MaxRetentionKeepLast:     10000,
		RetentionPartitionPeriod: 168 * time.Hour,
		MaxTriggerDataBytes:      256 << 10,
		MaxBackfill:              10000,
		MaxBackfillRange:         31 * 24 * time.Hour,
		BackfillPoll:             5 * time.Second,
		AuthOpenHealth:           true,
		AuthOpenMetrics:          true,
		HTTPMaxResponseBytes:     10 << 20,
		MaxNodeOutputBytes:       1 << 20,
		MaxOutputBytes:           4 << 20,
		CELTimeout:               time.Second,
		CELCostLimit:             1_000_000,
		CELMaxStringBytes:        1 << 20,
		CELMaxListItems:          100_000,
		WebhookTolerance:         5 * time.Minute,
		UI:                       "off",

		ScheduleHealthInterval: 15 * time.Second,
		ScheduleHealthGrace:    30 * time.Second,
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
	if c.AdvertiseAddr != "" {
		if host, port, err := net.SplitHostPort(c.AdvertiseAddr); err != nil || host == "" || port == "" {
			bad("WFR_ADVERTISE_ADDR", "%q is not host:port with a host", c.AdvertiseAddr)
		}
	}
	if c.RegistryHeartbeat < 10*time.Millisecond {
		bad("WFR_REGISTRY_HEARTBEAT", "%s must be at least 10ms", c.RegistryHeartbeat)
	}
	if c.RegistryTTL < 0 {
		bad("WFR_REGISTRY_TTL", "%s is negative", c.RegistryTTL)
	} else if c.RegistryTTL > 0 && c.RegistryTTL <= c.RegistryHeartbeat {
		bad("WFR_REGISTRY_TTL", "%s must be longer than WFR_REGISTRY_HEARTBEAT (%s), or 0 for three heartbeats", c.RegistryTTL, c.RegistryHeartbeat)
	}
	if c.PprofAddr != "" {
		if _, port, err := net.SplitHostPort(c.PprofAddr); err != nil || port == "" {
			bad("WFR_PPROF_ADDR", "%q is not host:port", c.PprofAddr)
		}
	}
	if c.WorkerConcurrency < 1 {
		bad("WFR_WORKER_CONCURRENCY", "%d must be at least 1", c.WorkerConcurrency)
	}
	if !(c.WorkerMaxShare > 0 && c.WorkerMaxShare <= 1) {
		bad("WFR_WORKER_MAX_SHARE", "%v must be above 0 and at most 1", c.WorkerMaxShare)
	}
	if c.MaxProcessDeaths < 1 || c.MaxProcessDeaths > 1000 {
		bad("WFR_MAX_PROCESS_DEATHS", "%d must be between 1 and 1000", c.MaxProcessDeaths)
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
	switch c.AccessLog {
	case "failures", "all":
	default:
		bad("WFR_ACCESS_LOG", "%q is not one of failures, all", c.AccessLog)
	}
	if c.AccessLogSlow < 0 {
		bad("WFR_ACCESS_LOG_SLOW", "%s must not be negative", c.AccessLogSlow)
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
	for _, n := range []struct {
		env string
		v   int64
	}{
		{"WFR_MAX_NODE_OUTPUT_BYTES", c.MaxNodeOutputBytes},
		{"WFR_MAX_OUTPUT_BYTES", c.MaxOutputBytes},
		{"WFR_CEL_COST_LIMIT", int64(min(c.CELCostLimit, 1<<62))},
		{"WFR_CEL_MAX_STRING_BYTES", int64(c.CELMaxStringBytes)},
		{"WFR_CEL_MAX_LIST_ITEMS", int64(c.CELMaxListItems)},
	} {
		if n.v <= 0 {
			bad(n.env, "%d must be positive", n.v)
		}
	}
	if c.CELTimeout <= 0 {
		bad("WFR_CEL_TIMEOUT", "%s must be positive", c.CELTimeout)
	}
	if c.CompressMinBytes < 0 {
		bad("WFR_COMPRESS_MIN_BYTES", "%d is negative", c.CompressMinBytes)
	}
	switch c.Auth {
	case "auto", "none":
	case "tokens":
		if c.AuthTokensFile == "" {
			bad("WFR_AUTH", "tokens needs WFR_AUTH_TOKENS_FILE")
		}
	default:
		bad("WFR_AUTH", "%q is not one of auto, tokens, none", c.Auth)
	}
	if c.Auth == "auto" && c.AuthTokensFile == "" && c.Role.servesRPC() && !isLoopback(c.Addr) {
		bad("WFR_AUTH", "the API would listen on %s, which is not a loopback address, without authentication: give WFR_AUTH_TOKENS_FILE, or say WFR_AUTH=none to serve it to anyone who can connect", c.Addr)
	}
	if c.PprofAddr != "" && !c.AuthEnabled() && !isLoopback(c.PprofAddr) {
		bad("WFR_PPROF_ADDR", "%s is not a loopback address and authentication is off: the profiler is only served off loopback to admin tokens (WFR_AUTH_TOKENS_FILE)", c.PprofAddr)
	}
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"WFR_MIN_CRON_INTERVAL", c.MinCronInterval},
		{"WFR_MAX_NODE_DELAY", c.MaxNodeDelay},
		{"WFR_MAX_EXECUTION_TIMEOUT", c.MaxExecutionTimeout},
		{"WFR_MAX_RETENTION_AGE", c.MaxRetentionAge},
		{"WFR_SCHEDULE_HEALTH_INTERVAL", c.ScheduleHealthInterval},
		{"WFR_SCHEDULE_HEALTH_GRACE", c.ScheduleHealthGrace},
	} {
		if d.v <= 0 {
			bad(d.env, "%s must be positive", d.v)
		}
	}
	if c.MaxTriggers < 1 {
		bad("WFR_MAX_TRIGGERS", "%d must be at least 1", c.MaxTriggers)
	}
	if c.RetentionPartitionPeriod != 0 && c.RetentionPartitionPeriod < time.Hour {
		bad("WFR_RETENTION_PARTITION_PERIOD", "%s must be 0 or at least 1h", c.RetentionPartitionPeriod)
	}
	if c.MaxRetentionKeepLast < 1 {
		bad("WFR_MAX_RETENTION_KEEP_LAST", "%d must be at least 1", c.MaxRetentionKeepLast)
	}
	// The upper bounds are the API's own (proto rules): a larger setting could never be reached.
	if c.MaxTriggerDataBytes < 1 || c.MaxTriggerDataBytes > 1<<20 {
		bad("WFR_MAX_TRIGGER_DATA_BYTES", "%d must be between 1 and 1048576", c.MaxTriggerDataBytes)
	}
	if c.MaxBackfill < 1 || c.MaxBackfill > 10000 {
		bad("WFR_MAX_BACKFILL", "%d must be between 1 and 10000", c.MaxBackfill)
	}
	if c.MaxBackfillRange <= 0 || c.MaxBackfillRange > 31*24*time.Hour {
		bad("WFR_MAX_BACKFILL_RANGE", "%s must be positive and at most 744h (31 days)", c.MaxBackfillRange)
	}
	if c.BackfillPoll < 10*time.Millisecond {
		bad("WFR_BACKFILL_POLL", "%s must be at least 10ms", c.BackfillPoll)
	}
	if c.TriggerRate < 0 {
		bad("WFR_TRIGGER_RATE", "%g is negative", c.TriggerRate)
	}
	if c.TriggerBurst < 0 {
		bad("WFR_TRIGGER_BURST", "%d is negative", c.TriggerBurst)
	}
	if c.MaxWatches < 0 {
		bad("WFR_MAX_WATCHES", "%d is negative", c.MaxWatches)
	}
	if c.MaxWatchesPerCaller < 0 {
		bad("WFR_MAX_WATCHES_PER_CALLER", "%d is negative", c.MaxWatchesPerCaller)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("WFR_TLS_CERT_FILE", "WFR_TLS_CERT_FILE and WFR_TLS_KEY_FILE go together")
	}
	if _, err := egress.New(c.HTTPAllow); err != nil {
		bad("WFR_HTTP_ALLOW", "%v", err)
	}
	if c.HTTPMaxResponseBytes <= 0 {
		bad("WFR_HTTP_MAX_RESPONSE_BYTES", "%d must be positive", c.HTTPMaxResponseBytes)
	}
	if c.WebhookSecretKey != "" {
		if key, err := base64.StdEncoding.DecodeString(c.WebhookSecretKey); err != nil || len(key) != 32 {
			bad("WFR_WEBHOOK_SECRET_KEY", "must be standard base64 of 32 bytes (openssl rand -base64 32)")
		}
	}
	if c.Webhooks && c.WebhookSecretKey == "" {
		bad("WFR_WEBHOOKS", "needs WFR_WEBHOOK_SECRET_KEY: the secrets that check deliveries are stored encrypted under it")
	}
	if c.WebhookTolerance <= 0 {
		bad("WFR_WEBHOOK_TOLERANCE", "%s must be positive", c.WebhookTolerance)
	}
	switch c.UI {
	case "on":
		if !c.Role.ServesAPI() {
			bad("WFR_UI", "role %s serves no API for the dashboard to call: use role all or api", c.Role)
		}
	case "off":
		if c.UIDir != "" {
			bad("WFR_UI_DIR", "set, but WFR_UI is off: set WFR_UI=on to serve the dashboard")
		}
	default:
		bad("WFR_UI", "%q is not one of on, off", c.UI)
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

// isLoopback reports whether a listen address (host:port) only accepts connections from this
// machine: 127.0.0.0/8, ::1 or localhost. An empty host (":8080") listens everywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback reports whether the listen address addr only accepts connections from this
// machine.
func IsLoopback(addr string) bool { return isLoopback(addr) }
