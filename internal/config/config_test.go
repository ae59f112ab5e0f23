package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// env is a fake environment for config.Parse.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg, err := config.Parse(nil, env{}.lookup)
	is.NoErr(err)
	def := config.Default()
	// []string(nil) vs empty: compare the rest field by field through a copy.
	is.Equal(len(cfg.CORSAllowedOrigins), 0) // no CORS by default
	cfg.CORSAllowedOrigins, def.CORSAllowedOrigins = nil, nil
	is.Equal(cfg, def) // Default() matches the struct tags

	is.Equal(def.Role, config.RoleAll)
	is.Equal(def.Addr, "127.0.0.1:8080")
	is.Equal(def.DatabaseURL, "sqlite://data/workflow-runtime.db")
	is.Equal(def.RedisURL, "")
	is.Equal(def.EngineURL, "")
	is.Equal(def.LogLevel, "info")
	is.Equal(def.LogFormat, "json")
	is.Equal(def.AccessLog, "failures")
	is.Equal(def.AccessLogSlow, time.Second)
	is.Equal(def.LogFile, "")
	is.Equal(def.LogMaxSizeMB, 100)
	is.Equal(def.LogMaxBackups, 5)
	is.Equal(def.LogMaxAgeDays, 28)
	is.Equal(def.LogCompress, false)
	is.True(def.MigrateOnStart)
	is.Equal(def.ShutdownGrace, 30*time.Second)
	is.Equal(def.AdvertiseAddr, "")
	is.Equal(def.RegistryHeartbeat, 5*time.Second)
	is.Equal(def.RegistryTTL, time.Duration(0))
	is.Equal(def.ReadHeaderTimeout, 5*time.Second)
	is.Equal(def.ReadTimeout, 30*time.Second)
	is.Equal(def.WriteTimeout, 60*time.Second)
	is.Equal(def.IdleTimeout, 120*time.Second)
	is.Equal(def.MaxRequestBytes, int64(4<<20))
	is.Equal(def.CompressMinBytes, 1024)
	is.NoErr(config.Default().Validate()) // the defaults are valid
}

func TestParseEnv(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg, err := config.Parse(nil, env{
		"WFR_ROLE":                    "worker",
		"WFR_ADDR":                    ":9090",
		"WFR_DATABASE_URL":            "postgres://wfr:secret@db:5432/wfr?sslmode=disable",
		"WFR_REDIS_URL":               "rediss://cache:6380/0",
		"WFR_ENGINE_URL":              "https://engine.internal:8443",
		"WFR_LOG_LEVEL":               "debug",
		"WFR_LOG_FORMAT":              "text",
		"WFR_ACCESS_LOG":              "all",
		"WFR_ACCESS_LOG_SLOW":         "250ms",
		"WFR_LOG_FILE":                "/var/log/wfr/wfr.log",
		"WFR_LOG_MAX_SIZE_MB":         "10",
		"WFR_LOG_MAX_BACKUPS":         "0",
		"WFR_LOG_MAX_AGE_DAYS":        "7",
		"WFR_LOG_COMPRESS":            "true",
		"WFR_MIGRATE_ON_START":        "false",
		"WFR_SHUTDOWN_GRACE":          "45s",
		"WFR_READ_HEADER_TIMEOUT":     "2s",
		"WFR_READ_TIMEOUT":            "10s",
		"WFR_WRITE_TIMEOUT":           "0s",
		"WFR_IDLE_TIMEOUT":            "1m",
		"WFR_MAX_REQUEST_BYTES":       "1048576",
		"WFR_COMPRESS_MIN_BYTES":      "0",
		"WFR_CORS_ALLOWED_ORIGINS":    "https://dash.example.com,http://localhost:5173",
		"WFR_HTTP_ALLOW":              "10.1.0.0/16,billing.internal,*.svc.cluster.local",
		"WFR_HTTP_MAX_RESPONSE_BYTES": "1024",
		"WFR_MAX_TRIGGER_DATA_BYTES":  "65536",
		"WFR_MAX_BACKFILL":            "500",
		"WFR_MAX_BACKFILL_RANGE":      "48h",
		"WFR_MAX_WATCHES":             "50",
		"WFR_MAX_WATCHES_PER_CALLER":  "5",
	}.lookup)
	is.NoErr(err)
	is.Equal(cfg.Role, config.RoleWorker)
	is.Equal(cfg.Addr, ":9090")
	is.Equal(cfg.DatabaseURL, "postgres://wfr:secret@db:5432/wfr?sslmode=disable")
	is.Equal(cfg.RedisURL, "rediss://cache:6380/0")
	is.Equal(cfg.EngineURL, "https://engine.internal:8443")
	is.Equal(cfg.LogLevel, "debug")
	is.Equal(cfg.LogFormat, "text")
	is.Equal(cfg.AccessLog, "all")
	is.Equal(cfg.AccessLogSlow, 250*time.Millisecond)
	is.Equal(cfg.LogFile, "/var/log/wfr/wfr.log")
	is.Equal(cfg.LogMaxSizeMB, 10)
	is.Equal(cfg.LogMaxBackups, 0)
	is.Equal(cfg.LogMaxAgeDays, 7)
	is.Equal(cfg.LogCompress, true)
	is.Equal(cfg.MigrateOnStart, false)
	is.Equal(cfg.ShutdownGrace, 45*time.Second)
	is.Equal(cfg.ReadHeaderTimeout, 2*time.Second)
	is.Equal(cfg.ReadTimeout, 10*time.Second)
	is.Equal(cfg.WriteTimeout, time.Duration(0))
	is.Equal(cfg.IdleTimeout, time.Minute)
	is.Equal(cfg.MaxRequestBytes, int64(1<<20))
	is.Equal(cfg.CompressMinBytes, 0)
	is.Equal(cfg.CORSAllowedOrigins, []string{"https://dash.example.com", "http://localhost:5173"})
	is.Equal(cfg.HTTPAllow, []string{"10.1.0.0/16", "billing.internal", "*.svc.cluster.local"})
	is.Equal(cfg.HTTPMaxResponseBytes, int64(1024))
	is.Equal(cfg.MaxTriggerDataBytes, 65536)
	is.Equal(cfg.MaxBackfill, 500)
	is.Equal(cfg.MaxBackfillRange, 48*time.Hour)
	is.Equal(cfg.MaxWatches, 50)
	is.Equal(cfg.MaxWatchesPerCaller, 5)
}

func TestParseUI(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg, err := config.Parse(nil, env{"WFR_UI": "on", "WFR_UI_DIR": "/srv/dashboard"}.lookup)
	is.NoErr(err)
	is.Equal(cfg.UI, "on")
	is.Equal(cfg.UIDir, "/srv/dashboard")

	cfg, err = config.Parse([]string{"--ui=off"}, env{"WFR_UI": "on"}.lookup)
	is.NoErr(err)
	is.Equal(cfg.UI, "off") // the flag wins

	_, err = config.Parse(nil, env{"WFR_UI": "true"}.lookup)
	is.True(err != nil)                              // on or off, nothing else
	is.True(strings.Contains(err.Error(), "WFR_UI")) // names the variable
}

func TestFlagsOverrideEnv(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg, err := config.Parse(
		[]string{"--addr=127.0.0.1:7000", "--role=api", "--redis-url=redis://127.0.0.1:6379", "--no-migrate-on-start", "--cors-allowed-origins=*"},
		env{"WFR_ADDR": ":9090", "WFR_ROLE": "worker"}.lookup,
	)
	is.NoErr(err)
	is.Equal(cfg.Addr, "127.0.0.1:7000") // flag wins over env
	is.Equal(cfg.Role, config.RoleAPI)   // flag wins over env
	is.Equal(cfg.MigrateOnStart, false)
	is.Equal(cfg.CORSAllowedOrigins, []string{"*"})

	// Every boolean docs/configuration.md writes as --[no-]name takes both forms (--no-log-compress was
	// refused once).
	cfg, err = config.Parse([]string{"--no-log-compress", "--no-auth-open-health", "--no-auth-open-metrics"},
		env{"WFR_LOG_COMPRESS": "true"}.lookup)
	is.NoErr(err)
	is.Equal(cfg.LogCompress, false) // the flag wins over the variable
	is.True(!cfg.AuthOpenHealth && !cfg.AuthOpenMetrics)
	cfg, err = config.Parse([]string{"--log-compress"}, env{}.lookup)
	is.NoErr(err)
	is.Equal(cfg.LogCompress, true)
}

func TestParseErrorsNameTheVariable(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		env  env
		want string
	}{
		{"bad duration", env{"WFR_SHUTDOWN_GRACE": "soon"}, "WFR_SHUTDOWN_GRACE"},
		{"bad int", env{"WFR_MAX_REQUEST_BYTES": "4MiB"}, "WFR_MAX_REQUEST_BYTES"},
		{"bad bool", env{"WFR_MIGRATE_ON_START": "maybe"}, "WFR_MIGRATE_ON_START"},
		{"bad role", env{"WFR_ROLE": "boss"}, "WFR_ROLE"},
		{"bad level", env{"WFR_LOG_LEVEL": "trace"}, "WFR_LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			_, err := config.Parse(nil, tt.env.lookup)
			is.True(err != nil)                             // refused
			is.True(strings.Contains(err.Error(), tt.want)) // names the variable
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		modify func(*config.Config)
		want   string // the variable named; "" when valid
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"role", func(c *config.Config) { c.Role = "boss" }, "WFR_ROLE"},
		{"addr without port", func(c *config.Config) { c.Addr = "localhost" }, "WFR_ADDR"},
		{"addr empty port", func(c *config.Config) { c.Addr = "localhost:" }, "WFR_ADDR"},
		{"addr any interface without tokens", func(c *config.Config) { c.Addr = ":8080" }, "WFR_AUTH"},
		{"addr any interface with tokens", func(c *config.Config) { c.Addr = ":8080"; c.AuthTokensFile = "/etc/wfr/tokens" }, ""},
		{"addr any interface, auth none said", func(c *config.Config) { c.Addr = ":8080"; c.Auth = "none" }, ""},
		{"addr public, worker serves no RPC", func(c *config.Config) {
			c.Addr = "0.0.0.0:8080"
			c.Role = config.RoleWorker
			c.RedisURL = "redis://r"
		}, ""},
		{"addr localhost", func(c *config.Config) { c.Addr = "localhost:8080" }, ""},
		{"addr ipv6 loopback", func(c *config.Config) { c.Addr = "[::1]:8080" }, ""},
		{"auth tokens without file", func(c *config.Config) { c.Auth = "tokens" }, "WFR_AUTH"},
		{"auth unknown", func(c *config.Config) { c.Auth = "maybe" }, "WFR_AUTH"},
		{"pprof public without auth", func(c *config.Config) { c.PprofAddr = "0.0.0.0:6060" }, "WFR_PPROF_ADDR"},
		{"pprof public with tokens", func(c *config.Config) { c.PprofAddr = "0.0.0.0:6060"; c.AuthTokensFile = "/etc/wfr/tokens" }, ""},
		{"pprof loopback without auth", func(c *config.Config) { c.PprofAddr = "127.0.0.1:6060" }, ""},
		{"addr ephemeral", func(c *config.Config) { c.Addr = "127.0.0.1:0" }, ""},
		{"advertise addr", func(c *config.Config) { c.AdvertiseAddr = "10.0.3.7:8080" }, ""},
		{"advertise addr name", func(c *config.Config) { c.AdvertiseAddr = "worker-0.wfr:8080" }, ""},
		{"advertise addr without port", func(c *config.Config) { c.AdvertiseAddr = "10.0.3.7" }, "WFR_ADVERTISE_ADDR"},
		{"advertise addr without host", func(c *config.Config) { c.AdvertiseAddr = ":8080" }, "WFR_ADVERTISE_ADDR"},
		{"registry heartbeat too short", func(c *config.Config) { c.RegistryHeartbeat = time.Millisecond }, "WFR_REGISTRY_HEARTBEAT"},
		{"registry ttl derived", func(c *config.Config) { c.RegistryTTL = 0 }, ""},
		{"registry ttl", func(c *config.Config) { c.RegistryTTL = 20 * time.Second }, ""},
		{"registry ttl not above heartbeat", func(c *config.Config) { c.RegistryTTL = 5 * time.Second }, "WFR_REGISTRY_TTL"},
		{"registry ttl negative", func(c *config.Config) { c.RegistryTTL = -time.Second }, "WFR_REGISTRY_TTL"},
		{"database mysql", func(c *config.Config) { c.DatabaseURL = "mysql://db/wfr" }, "WFR_DATABASE_URL"},
		{"database no scheme", func(c *config.Config) { c.DatabaseURL = "data/wfr.db" }, "WFR_DATABASE_URL"},
		{"database empty", func(c *config.Config) { c.DatabaseURL = "" }, "WFR_DATABASE_URL"},
		{"database postgresql", func(c *config.Config) { c.DatabaseURL = "postgresql://u:p@db/wfr" }, ""},
		{"database sqlite memory", func(c *config.Config) { c.DatabaseURL = "sqlite://:memory:" }, ""},
		{"database sqlite opaque memory", func(c *config.Config) { c.DatabaseURL = "sqlite::memory:" }, ""},
		{"database sqlite absolute", func(c *config.Config) { c.DatabaseURL = "sqlite:///var/lib/wfr.db" }, ""},
		{"redis http", func(c *config.Config) { c.RedisURL = "http://cache:6379" }, "WFR_REDIS_URL"},
		{"redis ok", func(c *config.Config) { c.RedisURL = "redis://cache:6379/0" }, ""},
		{"engine grpc", func(c *config.Config) { c.EngineURL = "grpc://engine:9000" }, "WFR_ENGINE_URL"},
		{"engine ok", func(c *config.Config) { c.EngineURL = "http://engine:9000" }, ""},
		{"split role without redis", func(c *config.Config) { c.Role = config.RoleWorker }, "WFR_REDIS_URL"},
		{"split role with redis", func(c *config.Config) { c.Role = config.RoleAPI; c.RedisURL = "redis://cache:6379" }, ""},
		{"engine role needs no redis", func(c *config.Config) { c.Role = config.RoleEngine }, ""},
		{"worker concurrency", func(c *config.Config) { c.WorkerConcurrency = 0 }, "WFR_WORKER_CONCURRENCY"},
		{"worker max share zero", func(c *config.Config) { c.WorkerMaxShare = 0 }, "WFR_WORKER_MAX_SHARE"},
		{"worker max share above one", func(c *config.Config) { c.WorkerMaxShare = 1.5 }, "WFR_WORKER_MAX_SHARE"},
		{"worker max share off", func(c *config.Config) { c.WorkerMaxShare = 1 }, ""},
		{"max process deaths", func(c *config.Config) { c.MaxProcessDeaths = 0 }, "WFR_MAX_PROCESS_DEATHS"},
		{"pprof address", func(c *config.Config) { c.PprofAddr = "localhost" }, "WFR_PPROF_ADDR"},
		{"lock ttl", func(c *config.Config) { c.LockTTL = time.Millisecond }, "WFR_LOCK_TTL"},
		{"webhook key not base64", func(c *config.Config) { c.WebhookSecretKey = "not base64!" }, "WFR_WEBHOOK_SECRET_KEY"},
		{"webhook key short", func(c *config.Config) { c.WebhookSecretKey = "c2hvcnQ=" }, "WFR_WEBHOOK_SECRET_KEY"},
		{"webhook key ok", func(c *config.Config) { c.WebhookSecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, ""},
		{"webhooks without key", func(c *config.Config) { c.Webhooks = true }, "WFR_WEBHOOKS"},
		{"webhook tolerance", func(c *config.Config) { c.WebhookTolerance = 0 }, "WFR_WEBHOOK_TOLERANCE"},
		{"log level", func(c *config.Config) { c.LogLevel = "verbose" }, "WFR_LOG_LEVEL"},
		{"log format", func(c *config.Config) { c.LogFormat = "xml" }, "WFR_LOG_FORMAT"},
		{"access log", func(c *config.Config) { c.AccessLog = "some" }, "WFR_ACCESS_LOG"},
		{"access log slow", func(c *config.Config) { c.AccessLogSlow = -time.Second }, "WFR_ACCESS_LOG_SLOW"},
		{"access log slow off", func(c *config.Config) { c.AccessLogSlow = 0 }, ""},
		{"log max size", func(c *config.Config) { c.LogMaxSizeMB = 0 }, "WFR_LOG_MAX_SIZE_MB"},
		{"log max backups", func(c *config.Config) { c.LogMaxBackups = -1 }, "WFR_LOG_MAX_BACKUPS"},
		{"log max age", func(c *config.Config) { c.LogMaxAgeDays = -1 }, "WFR_LOG_MAX_AGE_DAYS"},
		{"shutdown grace", func(c *config.Config) { c.ShutdownGrace = -time.Second }, "WFR_SHUTDOWN_GRACE"},
		{"read header timeout", func(c *config.Config) { c.ReadHeaderTimeout = 0 }, "WFR_READ_HEADER_TIMEOUT"},
		{"read timeout", func(c *config.Config) { c.ReadTimeout = -1 }, "WFR_READ_TIMEOUT"},
		{"write timeout", func(c *config.Config) { c.WriteTimeout = -1 }, "WFR_WRITE_TIMEOUT"},
		{"idle timeout", func(c *config.Config) { c.IdleTimeout = -1 }, "WFR_IDLE_TIMEOUT"},
		{"max request bytes", func(c *config.Config) { c.MaxRequestBytes = 0 }, "WFR_MAX_REQUEST_BYTES"},
		{"compress min bytes", func(c *config.Config) { c.CompressMinBytes = -1 }, "WFR_COMPRESS_MIN_BYTES"},
		{"cors path", func(c *config.Config) { c.CORSAllowedOrigins = []string{"https://dash.example.com/app"} }, "WFR_CORS_ALLOWED_ORIGINS"},
		{"cors no scheme", func(c *config.Config) { c.CORSAllowedOrigins = []string{"dash.example.com"} }, "WFR_CORS_ALLOWED_ORIGINS"},
		{"cors ok", func(c *config.Config) { c.CORSAllowedOrigins = []string{"*", "https://*.example.com"} }, ""},
		{"ui unknown", func(c *config.Config) { c.UI = "yes" }, "WFR_UI"},
		{"ui on", func(c *config.Config) { c.UI = "on" }, ""},
		{"ui on api role", func(c *config.Config) { c.UI = "on"; c.Role = config.RoleAPI; c.RedisURL = "redis://r" }, ""},
		{"ui on a role without api", func(c *config.Config) { c.UI = "on"; c.Role = config.RoleEngine }, "WFR_UI"},
		{"ui dir with ui on", func(c *config.Config) { c.UI = "on"; c.UIDir = "/srv/dashboard" }, ""},
		{"ui dir with ui off", func(c *config.Config) { c.UIDir = "/srv/dashboard" }, "WFR_UI_DIR"},
		{"http allow bad cidr", func(c *config.Config) { c.HTTPAllow = []string{"10.0.0.0/40"} }, "WFR_HTTP_ALLOW"},
		{"http allow bad host", func(c *config.Config) { c.HTTPAllow = []string{"http://x"} }, "WFR_HTTP_ALLOW"},
		{"http allow ok", func(c *config.Config) { c.HTTPAllow = []string{"127.0.0.0/8", "::1", "localhost", "*.internal"} }, ""},
		{"http max response bytes", func(c *config.Config) { c.HTTPMaxResponseBytes = 0 }, "WFR_HTTP_MAX_RESPONSE_BYTES"},
		{"max trigger data zero", func(c *config.Config) { c.MaxTriggerDataBytes = 0 }, "WFR_MAX_TRIGGER_DATA_BYTES"},
		{"max trigger data over the API's", func(c *config.Config) { c.MaxTriggerDataBytes = 1<<20 + 1 }, "WFR_MAX_TRIGGER_DATA_BYTES"},
		{"max trigger data at the API's", func(c *config.Config) { c.MaxTriggerDataBytes = 1 << 20 }, ""},
		{"max backfill zero", func(c *config.Config) { c.MaxBackfill = 0 }, "WFR_MAX_BACKFILL"},
		{"max watches negative", func(c *config.Config) { c.MaxWatches = -1 }, "WFR_MAX_WATCHES"},
		{"max watches per caller negative", func(c *config.Config) { c.MaxWatchesPerCaller = -1 }, "WFR_MAX_WATCHES_PER_CALLER"},
		{"watches unlimited", func(c *config.Config) { c.MaxWatches, c.MaxWatchesPerCaller = 0, 0 }, ""},
		{"max backfill over the API's", func(c *config.Config) { c.MaxBackfill = 10001 }, "WFR_MAX_BACKFILL"},
		{"max backfill range zero", func(c *config.Config) { c.MaxBackfillRange = 0 }, "WFR_MAX_BACKFILL_RANGE"},
		{"max backfill range over the API's", func(c *config.Config) { c.MaxBackfillRange = 745 * time.Hour }, "WFR_MAX_BACKFILL_RANGE"},
		{"max backfill range a day", func(c *config.Config) { c.MaxBackfillRange = 24 * time.Hour }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			cfg := config.Default()
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				is.NoErr(err)
				return
			}
			is.True(err != nil)                                   // refused
			is.True(strings.HasPrefix(err.Error(), tt.want+": ")) // names the variable first
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg := config.Default()
	cfg.Addr = "nope"
	cfg.RedisURL = "memcached://x"
	err := cfg.Validate()
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "WFR_ADDR"))      // first problem
	is.True(strings.Contains(err.Error(), "WFR_REDIS_URL")) // second problem
}

func TestValidateHidesPasswords(t *testing.T) {
	t.Parallel()
	is := is.New(t)

	cfg := config.Default()
	cfg.DatabaseURL = "postgres://u:s3cret@db:bad port/wfr"
	err := cfg.Validate()
	is.True(err != nil)
	is.True(!strings.Contains(err.Error(), "s3cret")) // the password is not echoed
}

func TestRoleServesAPI(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.True(config.RoleAll.ServesAPI())
	is.True(config.RoleAPI.ServesAPI())
	is.True(!config.RoleScheduler.ServesAPI())
	is.True(!config.RoleWorker.ServesAPI())
	is.True(!config.RoleEngine.ServesAPI())
}
