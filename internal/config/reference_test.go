package config_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// migrateFlags copies the migrate command's flags (cmd/workflow-runtime), whose tags
// match Config's.
type migrateFlags struct {
	DatabaseURL string `name:"database-url" env:"WFR_DATABASE_URL" default:"sqlite://data/workflow-runtime.db" placeholder:"URL" help:"postgres://user:pass@host/db or sqlite://path. Default ${default}."`
	LogLevel    string `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: ${enum}. Default ${default}."`
	LogFormat   string `env:"WFR_LOG_FORMAT" default:"json" enum:"json,text" help:"Log format on stdout: ${enum}. Default ${default}."`
}

// cli is a command line like the binary's: serve takes Config, migrate a few of its settings,
// and a command without variables is left out.
type cli struct {
	Serve struct {
		config.Config `embed:""`
	} `cmd:""`
	Migrate struct {
		migrateFlags `embed:""`
	} `cmd:""`
	Version struct {
		Short bool `help:"Short."`
	} `cmd:""`
	// Like the operator commands (internal/cli): a variable of the caller's, not a setting.
	Deploy struct {
		Addr string `env:"WFR_API_URL" docs:"cli" help:"The service."`
	} `cmd:""`
}

// reference builds the reference of grammar (a pointer to a kong CLI struct).
func reference(t *testing.T, grammar any) (*config.Reference, error) {
	t.Helper()
	parser, err := kong.New(grammar, kong.Name("workflow-runtime"), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	return config.NewReference(parser.Model)
}

func TestReferenceDescribesEveryConfigField(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ref, err := reference(t, &cli{})
	is.NoErr(err)

	byEnv := map[string]config.Setting{}
	for _, s := range ref.Settings {
		byEnv[s.Env] = s
	}
	typ := reflect.TypeFor[config.Config]()
	is.Equal(len(ref.Settings), typ.NumField()) // one setting per field, nothing else
	for i := range typ.NumField() {
		field := typ.Field(i)
		env := field.Tag.Get("env")
		s, ok := byEnv[env]
		if !ok {
			t.Errorf("%s (%s) is not in the reference", field.Name, env)
			continue
		}
		if s.Group == "Other" {
			t.Errorf("%s is in no group: add it to one in internal/config/reference.go", env)
		}
		if s.Doc == "" || !strings.HasPrefix(s.Doc, "`") {
			t.Errorf("%s: doc comment %q does not begin with the field's name", env, s.Doc)
		}
		// Every option states its default, and the one it states is the tag's.
		_, stated, ok := strings.Cut(s.Help, " Default ")
		switch {
		case !ok:
			t.Errorf("%s: help %q does not state the default", env, s.Help)
		case s.Default == "" && !strings.HasPrefix(stated, "empty") && !strings.HasPrefix(stated, "false"):
			t.Errorf("%s: help %q states a default, the tag none", env, s.Help)
		case s.Default != "" && !strings.HasPrefix(stated, s.Default):
			t.Errorf("%s: help %q states another default than the tag's %q", env, s.Help, s.Default)
		}
	}

	role := byEnv["WFR_ROLE"]
	is.Equal(role.Flag, "--role")
	is.Equal(role.Type, "string")
	is.Equal(role.Default, "all")
	is.Equal(role.Enum, []string{"all", "api", "scheduler", "worker", "engine"})
	is.Equal(role.Group, "Server")
	is.Equal(role.Commands, []string{"serve"})
	is.Equal(byEnv["WFR_DATABASE_URL"].Commands, []string{"migrate", "serve"}) // merged across commands
	is.Equal(byEnv["WFR_LOG_COMPRESS"].Negatable, true)                        // --no-log-compress
	is.Equal(byEnv["WFR_LOG_COMPRESS"].Type, "boolean")
	is.Equal(byEnv["WFR_WEBHOOKS"].Negatable, false)
	is.Equal(byEnv["WFR_LOCK_TTL"].Type, "duration")
	is.Equal(byEnv["WFR_CEL_COST_LIMIT"].Type, "integer")
	is.Equal(byEnv["WFR_WORKER_MAX_SHARE"].Type, "number")
	is.Equal(byEnv["WFR_HTTP_ALLOW"].Type, "list")
	is.Equal(byEnv["WFR_ADDR"].Placeholder, "HOST:PORT")
	is.Equal(byEnv["WFR_ADDR"].Help, "Listen address for Connect, gRPC, gRPC-Web and health (:8080 for every interface). Default 127.0.0.1:8080.") // interpolated
	// Field names in doc comments become variables.
	is.True(strings.Contains(byEnv["WFR_PAGE_TOKEN_KEY"].Doc, "derived from `WFR_DATABASE_URL`"))
	is.True(!strings.Contains(byEnv["WFR_PAGE_TOKEN_KEY"].Doc, "DatabaseURL"))
	is.True(strings.Contains(byEnv["WFR_TLS_CERT_FILE"].Doc, "`WFR_TLS_CERT_FILE` and `WFR_TLS_KEY_FILE`, both set"))
}

func TestReferenceRefusesCommandsThatDisagree(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var grammar struct {
		Serve struct {
			config.Config `embed:""`
		} `cmd:""`
		Migrate struct {
			DatabaseURL string `name:"database-url" env:"WFR_DATABASE_URL" default:"sqlite://other.db" help:"Elsewhere."`
		} `cmd:""`
	}
	_, err := reference(t, &grammar)
	is.True(err != nil)
	is.Equal(err.Error(), "WFR_DATABASE_URL: serve and migrate disagree on its default") // names the variable and what differs

	for want, grammar := range map[string]any{
		"WFR_DATABASE_URL: serve and migrate disagree on its flag": &struct {
			Serve struct {
				config.Config `embed:""`
			} `cmd:""`
			Migrate struct {
				DB string `name:"db" env:"WFR_DATABASE_URL" default:"sqlite://data/workflow-runtime.db" help:"postgres://user:pass@host/db or sqlite://path. Default ${default}."`
			} `cmd:""`
		}{},
		"WFR_LOG_LEVEL: serve and migrate disagree on its type": &struct {
			Serve struct {
				config.Config `embed:""`
			} `cmd:""`
			Migrate struct {
				LogLevel int `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: ${enum}. Default ${default}."`
			} `cmd:""`
		}{},
		"WFR_LOG_LEVEL: serve and migrate disagree on its enum": &struct {
			Serve struct {
				config.Config `embed:""`
			} `cmd:""`
			Migrate struct {
				LogLevel string `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info" help:"Log level: debug,info,warn,error. Default ${default}."`
			} `cmd:""`
		}{},
		"WFR_LOG_LEVEL: serve and migrate disagree on its help": &struct {
			Serve struct {
				config.Config `embed:""`
			} `cmd:""`
			Migrate struct {
				LogLevel string `env:"WFR_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Verbosity. Default ${default}."`
			} `cmd:""`
		}{},
	} {
		_, err := reference(t, grammar)
		is.True(err != nil)
		is.Equal(err.Error(), want)
	}
}

func TestReferenceListsUngroupedSettingsLast(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var grammar struct {
		Run struct {
			Zeta  string `env:"WFR_ZETA" help:"Zeta *and* <b>."`
			Alpha int    `env:"WFR_ALPHA" default:"3" help:"Alpha. Default ${default}."`
			Role  string `env:"WFR_ROLE" default:"all" enum:"all,api" help:"Role."`
		} `cmd:""`
	}
	ref, err := reference(t, &grammar)
	is.NoErr(err)
	is.Equal(len(ref.Settings), 3)
	is.Equal(ref.Settings[0].Env, "WFR_ROLE") // its group's place
	is.Equal(ref.Settings[0].Group, "Server")
	is.True(strings.HasPrefix(ref.Settings[0].Doc, "`WFR_ROLE` is what")) // Config's, by variable
	is.Equal(ref.Settings[1].Doc, "")                                     // not a setting of Config
	is.Equal(ref.Settings[1].Env, "WFR_ALPHA")
	is.Equal(ref.Settings[1].Group, "Other")
	is.Equal(ref.Settings[2].Env, "WFR_ZETA")
	is.Equal(ref.Settings[2].Commands, []string{"run"})

	var md bytes.Buffer
	is.NoErr(ref.Markdown(&md))
	is.True(strings.Contains(md.String(), "\n## Other\n"))
	is.True(strings.Contains(md.String(), "| [`WFR_ZETA`](#wfr_zeta) | `--zeta` | empty | Zeta \\*and\\* &lt;b>. |")) // no stated default: the tag's
	is.True(strings.Contains(md.String(), "| [`WFR_ALPHA`](#wfr_alpha) | `--alpha` | `3` | Alpha. |"))                // stated default moved to its column
	is.True(strings.Contains(md.String(), "`--role=VALUE` · string · one of `all`, `api` · default `all` · *run*"))

	// The README's settings are not all there.
	err = ref.Summary(&md, "docs/configuration.md")
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "WFR_ADDR")) // the first missing one
}

func TestReferenceMarkdown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ref, err := reference(t, &cli{})
	is.NoErr(err)
	var buf bytes.Buffer
	is.NoErr(ref.Markdown(&buf))
	md := buf.String()

	is.True(strings.HasPrefix(md, "# Configuration\n"))
	is.True(!strings.Contains(md, "## Other")) // every setting has its group
	for _, s := range ref.Settings {
		is.True(strings.Contains(md, "\n### `"+s.Env+"`\n")) // a section per setting
	}
	for _, want := range []string{
		"- [Authentication and TLS](#authentication-and-tls): `WFR_AUTH`, ",
		"| [`WFR_LOG_COMPRESS`](#wfr_log_compress) | `--[no-]log-compress` | `false` | Gzip rotated log files. |",
		"| [`WFR_MAX_REQUEST_BYTES`](#wfr_max_request_bytes) | `--max-request-bytes` | `4194304` (4 MiB) | ",
		"| [`WFR_CORS_ALLOWED_ORIGINS`](#wfr_cors_allowed_origins) | `--cors-allowed-origins` | empty: no CORS | Comma-separated browser origins allowed by CORS (\\* for any). |",
		"`--cors-allowed-origins=ORIGIN,...` · list · default empty: no CORS · *serve*",
		"`--database-url=URL` · string · default `sqlite://data/workflow-runtime.db` · *migrate*, *serve*",
		"`--lock-ttl=DURATION` · duration · default `30s` · *serve*",
		"`--[no-]log-compress` · boolean · default `false` · *serve*",
		"`--webhooks` · boolean · default `false` · *serve*",
		"`WFR_ROLE` is what this process runs: all|api|scheduler|worker|engine.", // '|' is only escaped in tables
	} {
		if !strings.Contains(md, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

func TestReferenceSummaryAndJSON(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ref, err := reference(t, &cli{})
	is.NoErr(err)

	var summary bytes.Buffer
	is.NoErr(ref.Summary(&summary, "docs/configuration.md"))
	lines := strings.Split(strings.TrimSuffix(summary.String(), "\n"), "\n")
	is.Equal(len(lines), 2+10) // header, rule and ten settings
	is.Equal(lines[2], "| [`WFR_ROLE`](docs/configuration.md#wfr_role) | `--role` | `all` | What this process runs: all,api,scheduler,worker,engine. |")

	var out bytes.Buffer
	is.NoErr(ref.JSON(&out))
	var back config.Reference
	is.NoErr(json.Unmarshal(out.Bytes(), &back))
	is.Equal(&back, ref) // the JSON says all the reference says
	is.True(strings.Contains(out.String(), `"env": "WFR_REDIS_URL"`))
}

func TestSplice(t *testing.T) {
	t.Parallel()
	const doc = "# Title\n\nintro\n<!-- config:begin -->\nold\nlines\n<!-- config:end -->\noutro\n"
	for name, tc := range map[string]struct {
		doc, block, want, err string
	}{
		"replaces": {
			doc: doc, block: "new\n",
			want: "# Title\n\nintro\n<!-- config:begin -->\nnew\n<!-- config:end -->\noutro\n",
		},
		"adds the last newline": {
			doc: doc, block: "new",
			want: "# Title\n\nintro\n<!-- config:begin -->\nnew\n<!-- config:end -->\noutro\n",
		},
		"empties": {
			doc: doc, block: "",
			want: "# Title\n\nintro\n<!-- config:begin -->\n<!-- config:end -->\noutro\n",
		},
		"no markers": {
			doc: "# Title\n", block: "new\n",
			err: `want one line "<!-- config:begin -->" followed by one line "<!-- config:end -->", found 0 and 0`,
		},
		"end first": {
			doc: "<!-- config:end -->\n<!-- config:begin -->\n", block: "x\n",
			err: `want one line "<!-- config:begin -->" followed by one line "<!-- config:end -->", found 1 and 1`,
		},
		"twice": {
			doc: doc + doc, block: "x\n",
			err: `want one line "<!-- config:begin -->" followed by one line "<!-- config:end -->", found 2 and 2`,
		},
		"marker inside a line": {
			doc: "see <!-- config:begin -->\n<!-- config:end -->\n", block: "x\n",
			err: `want one line "<!-- config:begin -->" followed by one line "<!-- config:end -->", found 0 and 1`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := config.Splice(tc.doc, tc.block)
			if tc.err != "" {
				is.True(err != nil)
				is.Equal(err.Error(), tc.err)
				return
			}
			is.NoErr(err)
			is.Equal(got, tc.want)
		})
	}
}
