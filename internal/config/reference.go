package config

import (
	_ "embed" // the source of Config, for its field comments
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// The configuration reference (docs/configuration.md, `workflow-runtime config docs`) is made
// from the command line's own model, so it cannot say anything the binary does not do: every
// flag with a WFR_* variable, of every command that has one (serve, migrate), with its kong
// tags (name, default, enum, help) and, for the fields of Config, the field's doc comment,
// read from this package's own source, embedded. The variables of the operator commands
// (internal/cli: WFR_API_URL, WFR_TOKEN, ...), tagged docs:"cli", are the caller's side and are
// described in docs/cli.md instead. Only the grouping of the settings and the
// groups' introductions are written here (groups below); a setting in no group is listed under
// "Other", and a test fails until it is given one.

//go:embed config.go
var configSource string

// Setting is one setting in the reference.
type Setting struct {
	// Env is the environment variable, e.g. WFR_ADDR.
	Env string `json:"env"`
	// Flag is the flag, e.g. --addr.
	Flag string `json:"flag"`
	// Negatable says the boolean flag also has a --no- form.
	Negatable bool `json:"negatable,omitempty"`
	// Placeholder names the flag's value in usage lines, e.g. HOST:PORT.
	Placeholder string `json:"placeholder,omitempty"`
	// Type is boolean, integer, number, string, duration or list (comma-separated strings).
	Type string `json:"type"`
	// Default is the value taken when neither the flag nor the variable is given, as written
	// in the tag ("" when empty).
	Default string `json:"default"`
	// Enum lists the values allowed, when the setting has such a list.
	Enum []string `json:"enum,omitempty"`
	// Help is the flag's one-line help, as `--help` prints it.
	Help string `json:"help"`
	// Doc is the longer description: the doc comment of the Config field, with Go field names
	// replaced by their variables. Empty for a setting that is not a Config field.
	Doc string `json:"doc,omitempty"`
	// Group is the title of the group the setting is listed under.
	Group string `json:"group"`
	// Commands are the commands that take the setting, e.g. ["migrate", "serve"].
	Commands []string `json:"commands"`
}

// Reference is every setting of a command line, in the order of its groups.
type Reference struct {
	Settings []Setting `json:"settings"`
}

// group is a section of the reference: a title, an introduction (Markdown) and its settings in
// the order they are listed.
type group struct {
	title string
	intro string
	envs  []string
}

// groups lays the reference out. Every setting of Config belongs to exactly one (tested); a
// group none of whose settings exist is left out.
var groups = []group{
	{
		title: "Server",
		intro: "The process and its one HTTP server, which serves Connect, gRPC and gRPC-Web " +
			"(HTTP/1.1 and HTTP/2), `/health`, `/livez`, `/readyz` and `/metrics` on one port, " +
			"and with `WFR_UI=on` the browser dashboard at `/ui/`.",
		envs: []string{
			"WFR_ROLE", "WFR_ADDR", "WFR_SHUTDOWN_GRACE", "WFR_READ_HEADER_TIMEOUT",
			"WFR_READ_TIMEOUT", "WFR_WRITE_TIMEOUT", "WFR_IDLE_TIMEOUT", "WFR_MAX_REQUEST_BYTES",
			"WFR_COMPRESS_MIN_BYTES", "WFR_CORS_ALLOWED_ORIGINS", "WFR_UI", "WFR_UI_DIR",
			"WFR_PAGE_TOKEN_KEY", "WFR_PPROF_ADDR",
		},
	},
	{
		title: "Storage and coordination",
		intro: "The database holds deployments, executions and the fire ledger; Redis carries the " +
			"locks, the queue and the notifications between processes. Without `WFR_REDIS_URL` " +
			"they are in process, which only the `all` role allows. " +
			"See [deployment](deployment.md) for what each role needs.",
		envs: []string{"WFR_DATABASE_URL", "WFR_MIGRATE_ON_START", "WFR_REDIS_URL", "WFR_RETENTION_PARTITION_PERIOD"},
	},
	{
		title: "Instance registry",
		intro: "Every process registers itself with a heartbeat (in Redis; without it, in " +
			"process), and GetSystemHealth and `/health` list the live instances by role.",
		envs: []string{"WFR_ADVERTISE_ADDR", "WFR_REGISTRY_HEARTBEAT", "WFR_REGISTRY_TTL"},
	},
	{
		title: "Scheduler",
		intro: "Read by the roles that schedule cron triggers: `all` and `scheduler`. How replicas " +
			"share the triggers is described in [architecture](architecture.md).",
		envs: []string{"WFR_SCHEDULER_SHARDING"},
	},
	{
		title: "Logging and telemetry",
		intro: "Log lines go to stdout (and to `WFR_LOG_FILE` when set). Traces are exported over " +
			"OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) " +
			"is set; the standard `OTEL_EXPORTER_OTLP_*` variables configure the exporter. " +
			"Prometheus metrics are served at `/metrics`.",
		envs: []string{
			"WFR_LOG_LEVEL", "WFR_LOG_FORMAT", "WFR_ACCESS_LOG", "WFR_ACCESS_LOG_SLOW", "WFR_LOG_FILE", "WFR_LOG_MAX_SIZE_MB",
			"WFR_LOG_MAX_BACKUPS", "WFR_LOG_MAX_AGE_DAYS", "WFR_LOG_COMPRESS",
		},
	},
	{
		title: "Authentication and TLS",
		intro: "Bearer tokens with scopes, and TLS on the server's port and towards Redis and a " +
			"remote engine. The tokens file's format and the scopes are described in " +
			"[the API reference](api.md#authentication).",
		envs: []string{
			"WFR_AUTH", "WFR_AUTH_TOKENS_FILE", "WFR_AUTH_OPEN_HEALTH", "WFR_AUTH_OPEN_METRICS",
			"WFR_ALLOWED_HOSTS", "WFR_TLS_CERT_FILE", "WFR_TLS_KEY_FILE", "WFR_TLS_CA_FILE",
		},
	},
	{
		title: "Worker",
		intro: "Read by the roles that run executions: `all` and `worker`.",
		envs: []string{
			"WFR_WORKER_CONCURRENCY", "WFR_WORKER_MAX_SHARE", "WFR_MAX_PROCESS_DEATHS",
			"WFR_LOCK_TTL",
		},
	},
	{
		title: "Engine",
		intro: "Where executions run: the embedded engine (roles `all` and `worker` without " +
			"`WFR_ENGINE_URL`) or a remote one (`WFR_ENGINE_URL`, served by the `engine` role). " +
			"The output, CEL and `http` node settings apply where the engine runs. Each output " +
			"and CEL bound is a non-retryable failure " +
			"naming the limit, so a workflow that crosses one ends FAILED at its first attempt. " +
			"Together they bound one execution's memory: at most `WFR_MAX_OUTPUT_BYTES` of " +
			"retained node outputs as JSON (the decoded values take a small multiple), plus, " +
			"per running transform, what it builds within the CEL cost limit: measured at " +
			"15 MiB allocated in all for the expression that used to crash the process, under " +
			"the 64 MiB per running transform the engine's test asserts at the defaults.",
		envs: []string{
			"WFR_ENGINE_URL", "WFR_ENGINE_TOKEN", "WFR_MAX_NODE_OUTPUT_BYTES",
			"WFR_MAX_OUTPUT_BYTES", "WFR_CEL_TIMEOUT", "WFR_CEL_COST_LIMIT",
			"WFR_CEL_MAX_STRING_BYTES", "WFR_CEL_MAX_LIST_ITEMS", "WFR_HTTP_ALLOW",
			"WFR_HTTP_MAX_RESPONSE_BYTES",
		},
	},
	{
		title: "Limits",
		intro: "What one caller or one deployment may ask for, checked where the API is served " +
			"(roles `all` and `api`). A deployment beyond a limit is refused with " +
			"`invalid_argument` naming the field; the trigger rate is counted per caller and " +
			"per process.",
		envs: []string{
			"WFR_TRIGGER_RATE", "WFR_TRIGGER_BURST", "WFR_MAX_WATCHES", "WFR_MAX_WATCHES_PER_CALLER", "WFR_MAX_TRIGGER_DATA_BYTES",
			"WFR_MAX_TRIGGERS", "WFR_MIN_CRON_INTERVAL", "WFR_MAX_NODE_DELAY",
			"WFR_MAX_EXECUTION_TIMEOUT", "WFR_MAX_RETENTION_AGE", "WFR_MAX_RETENTION_KEEP_LAST",
			"WFR_MAX_BACKFILL", "WFR_MAX_BACKFILL_RANGE",
			"WFR_BACKFILL_POLL",
		},
	},
	{
		title: "Schedule health",
		intro: "Whether each cron trigger's fires come on time, computed from the database by the " +
			"roles that serve the API (`all` and `api`), so it holds with no scheduler alive: " +
			"ListScheduleHealth, `workflow-runtime schedules`, and the `wfr_schedule_health_*` metrics.",
		envs: []string{"WFR_SCHEDULE_HEALTH_INTERVAL", "WFR_SCHEDULE_HEALTH_GRACE"},
	},
	{
		title: "Webhooks",
		intro: "Signed webhook deliveries at `POST /hooks/{path}`, outside token authentication " +
			"([the API reference](api.md#signed-webhooks-post-hookspath) describes the signature).",
		envs: []string{"WFR_WEBHOOKS", "WFR_WEBHOOK_SECRET_KEY", "WFR_WEBHOOK_TOLERANCE"},
	},
}

// otherGroup is the title of the settings that are in no group.
const otherGroup = "Other"

// summaryEnvs are the settings the README lists (`config docs --format=summary`): the ones
// every installation looks at.
var summaryEnvs = []string{
	"WFR_ROLE", "WFR_ADDR", "WFR_DATABASE_URL", "WFR_REDIS_URL", "WFR_ENGINE_URL",
	"WFR_AUTH", "WFR_AUTH_TOKENS_FILE", "WFR_MIGRATE_ON_START", "WFR_SHUTDOWN_GRACE",
	"WFR_WORKER_CONCURRENCY",
}

// NewReference describes every flag with an environment variable of app (a kong model, e.g.
// kong.Context.Model), merged across the commands that take it. Two commands that take the
// same variable must agree on its flag, type, default, enum and help.
func NewReference(app *kong.Application) (*Reference, error) {
	docs, err := fieldDocs()
	if err != nil {
		return nil, err
	}
	byEnv := map[string]*Setting{}
	var errs []error
	for _, leaf := range app.Leaves(true) {
		command := leaf.Path()
		for _, flags := range leaf.AllFlags(true) {
			for _, f := range flags {
				if len(f.Envs) == 0 || f.Tag.Get("docs") == "cli" {
					continue // not a setting; or a variable of the operator commands (docs/cli.md)
				}
				s := describe(f, docs)
				old, ok := byEnv[s.Env]
				if !ok {
					s.Commands = []string{command}
					byEnv[s.Env] = &s
					continue
				}
				if diff := differ(*old, s); diff != "" {
					errs = append(errs, fmt.Errorf("%s: %s and %s disagree on its %s", s.Env, old.Commands[0], command, diff))
				}
				if !slices.Contains(old.Commands, command) {
					old.Commands = append(old.Commands, command)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	ref := &Reference{}
	for _, g := range groups {
		for _, env := range g.envs {
			if s, ok := byEnv[env]; ok {
				s.Group = g.title
				ref.Settings = append(ref.Settings, *s)
				delete(byEnv, env)
			}
		}
	}
	rest := make([]string, 0, len(byEnv))
	for env := range byEnv {
		rest = append(rest, env)
	}
	slices.Sort(rest)
	for _, env := range rest {
		s := byEnv[env]
		s.Group = otherGroup
		ref.Settings = append(ref.Settings, *s)
	}
	for i := range ref.Settings {
		slices.Sort(ref.Settings[i].Commands)
	}
	return ref, nil
}

// describe turns one kong flag into a Setting (without group and commands).
func describe(f *kong.Flag, docs map[string]string) Setting {
	s := Setting{
		Env:         f.Envs[0],
		Flag:        "--" + f.Name,
		Negatable:   f.IsBool() && f.Tag.Negatable != "",
		Placeholder: f.PlaceHolder,
		Type:        typeName(f.Target.Type()),
		Default:     f.Default,
		Help:        f.Help,
		Doc:         docs[f.Envs[0]],
	}
	if f.Enum != "" {
		s.Enum = f.EnumSlice()
	}
	return s
}

// differ names the first property in which two descriptions of one setting differ, or "".
func differ(a, b Setting) string {
	switch {
	case a.Flag != b.Flag || a.Negatable != b.Negatable:
		return "flag"
	case a.Type != b.Type:
		return "type"
	case a.Default != b.Default:
		return "default"
	case !slices.Equal(a.Enum, b.Enum):
		return "enum"
	case a.Help != b.Help:
		return "help"
	}
	return ""
}

// typeName is the reference's name for a flag's Go type.
func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list"
	default:
		return "string"
	}
}

// fieldDocs reads the doc comments of Config's fields from the embedded source, keyed by the
// field's first variable, with every Config field name in them replaced by its variable.
func fieldDocs() (map[string]string, error) {
	file, err := parser.ParseFile(token.NewFileSet(), "config.go", configSource, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse config.go: %w", err)
	}
	var fields *ast.FieldList
	ast.Inspect(file, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == "Config" {
			if st, ok := ts.Type.(*ast.StructType); ok {
				fields = st.Fields
			}
		}
		return fields == nil
	})
	if fields == nil {
		return nil, errors.New("parse config.go: no Config struct")
	}

	envOf := map[string]string{} // field name -> variable
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if env, _, _ := strings.Cut(f.Tag.Get("env"), ","); env != "" {
			envOf[f.Name] = env
		}
	}
	names := make([]string, 0, len(envOf))
	for name := range envOf {
		names = append(names, name)
	}
	// Longest first, so that a name is never replaced inside a longer one.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	ident := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)

	docs := map[string]string{}
	for _, field := range fields.List {
		if field.Doc == nil || len(field.Names) != 1 {
			continue
		}
		env, ok := envOf[field.Names[0].Name]
		if !ok {
			continue
		}
		text := ident.ReplaceAllStringFunc(joinParagraphs(field.Doc.Text()), func(name string) string {
			return "`" + envOf[name] + "`"
		})
		docs[env] = text
	}
	return docs, nil
}

// joinParagraphs joins the lines of each paragraph of a comment's text into one line,
// paragraphs separated by a blank line.
func joinParagraphs(text string) string {
	var paragraphs []string
	for p := range strings.SplitSeq(strings.TrimSpace(text), "\n\n") {
		paragraphs = append(paragraphs, strings.Join(strings.Fields(p), " "))
	}
	return strings.Join(paragraphs, "\n\n")
}

// JSON writes the reference as indented JSON.
func (r *Reference) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Markdown writes the reference as docs/configuration.md: per group, a table of its settings,
// then a section per setting with its doc comment.
func (r *Reference) Markdown(w io.Writer) error {
	p := &printer{w: w}
	p.line("# Configuration")
	p.line("")
	p.line("<!-- Generated by `workflow-runtime config docs` from internal/config; edit the settings there and run scripts/generate.sh. -->")
	p.line("")
	p.line("Every setting is an environment variable and the matching flag; a flag wins over its " +
		"variable, and a setting given neither takes its default. An invalid value stops the " +
		"command with an error naming the variable. `workflow-runtime serve` takes every setting " +
		"below, `workflow-runtime migrate` the few marked *migrate*. " +
		"`workflow-runtime serve --help` lists the same settings, and " +
		"`workflow-runtime config docs --format=json` prints this reference for programs.")
	p.line("")
	p.line("Durations are Go durations (`500ms`, `30s`, `1h30m`); lists are comma-separated; " +
		"booleans are `true` or `false`, and a flag shown as `--[no-]name` is `--name` or `--no-name`.")
	p.line("")
	for _, g := range r.groups() {
		p.line("- [" + g.title + "](#" + slug(g.title) + "): " + listEnvs(g.settings))
	}
	for _, g := range r.groups() {
		p.line("")
		p.line("## " + g.title)
		if g.intro != "" {
			p.line("")
			p.line(g.intro)
		}
		p.line("")
		p.table(g.settings, "#")
		for _, s := range g.settings {
			p.line("")
			p.line("### `" + s.Env + "`")
			p.line("")
			p.line(facts(s))
			if s.Doc != "" {
				p.line("")
				p.line(escapeText(s.Doc))
			}
		}
	}
	return p.err
}

// Summary writes the table of the settings every installation looks at (the README's), each
// linking to its section of the reference at link (e.g. docs/configuration.md).
func (r *Reference) Summary(w io.Writer, link string) error {
	var settings []Setting
	for _, env := range summaryEnvs {
		i := slices.IndexFunc(r.Settings, func(s Setting) bool { return s.Env == env })
		if i < 0 {
			return fmt.Errorf("summary: no setting %s", env)
		}
		settings = append(settings, r.Settings[i])
	}
	p := &printer{w: w}
	p.table(settings, link+"#")
	return p.err
}

// groupOf is a group of the reference with its settings.
type groupOf struct {
	title, intro string
	settings     []Setting
}

// groups returns the reference's settings by group, in order.
func (r *Reference) groups() []groupOf {
	var out []groupOf
	for _, s := range r.Settings {
		if len(out) == 0 || out[len(out)-1].title != s.Group {
			g := groupOf{title: s.Group}
			if i := slices.IndexFunc(groups, func(g group) bool { return g.title == s.Group }); i >= 0 {
				g.intro = groups[i].intro
			}
			out = append(out, g)
		}
		out[len(out)-1].settings = append(out[len(out)-1].settings, s)
	}
	return out
}

// printer writes lines, keeping the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s+"\n")
	}
}

// table writes one row per setting: variable (linked to anchor+its section), flag, default,
// and the help without its "Default …" sentence, which the default column carries.
func (p *printer) table(settings []Setting, anchor string) {
	p.line("| variable | flag | default | meaning |")
	p.line("|---|---|---|---|")
	for _, s := range settings {
		meaning, def := splitDefault(s)
		p.line("| [`" + s.Env + "`](" + anchor + slug(s.Env) + ") | `" + flagName(s) + "` | " +
			cell(def) + " | " + cell(escapeText(meaning)) + " |")
	}
}

// flagName is the flag as usage writes it: --[no-]name for a negatable boolean.
func flagName(s Setting) string {
	if s.Negatable {
		return "--[no-]" + strings.TrimPrefix(s.Flag, "--")
	}
	return s.Flag
}

// facts is the line under a setting's heading: its flag with its value, type, values, default
// and the commands that take it.
func facts(s Setting) string {
	flag := flagName(s)
	if s.Type != "boolean" {
		value := s.Placeholder
		switch {
		case value != "":
		case len(s.Enum) > 0:
			value = "VALUE"
		case s.Type == "list":
			value = "STRING"
		default:
			value = strings.ToUpper(s.Type)
		}
		if s.Type == "list" {
			value += ",..."
		}
		flag += "=" + value
	}
	parts := []string{"`" + flag + "`", s.Type}
	if len(s.Enum) > 0 {
		quoted := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			quoted[i] = "`" + v + "`"
		}
		parts = append(parts, "one of "+strings.Join(quoted, ", "))
	}
	_, def := splitDefault(s)
	parts = append(parts, "default "+def)
	commands := make([]string, len(s.Commands))
	for i, c := range s.Commands {
		commands[i] = "*" + c + "*"
	}
	parts = append(parts, strings.Join(commands, ", "))
	return strings.Join(parts, " · ")
}

// splitDefault splits a setting's help into what it means and its default as the help states
// it ("Default 4194304 (4 MiB)." gives "`4194304` (4 MiB)"; "Default empty: no CORS." gives
// "empty: no CORS"). Help without such a sentence gives the tag's default.
func splitDefault(s Setting) (meaning, def string) {
	literal := "empty"
	if s.Default != "" {
		literal = "`" + s.Default + "`"
	}
	i := strings.LastIndex(s.Help, "Default ")
	if i < 0 || (i > 0 && s.Help[i-1] != ' ') {
		return s.Help, literal
	}
	meaning = strings.TrimSpace(s.Help[:i])
	stated := strings.TrimSuffix(strings.TrimSpace(s.Help[i+len("Default "):]), ".")
	if s.Default != "" && strings.HasPrefix(stated, s.Default) {
		return meaning, literal + stated[len(s.Default):]
	}
	return meaning, stated
}

// slug is GitHub's anchor of a heading: lower case, spaces to dashes, punctuation other than
// '-' and '_' dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// listEnvs is the variables of settings, comma-separated, each in code.
func listEnvs(settings []Setting) string {
	envs := make([]string, len(settings))
	for i, s := range settings {
		envs[i] = "`" + s.Env + "`"
	}
	return strings.Join(envs, ", ")
}

// escapeText escapes the characters that would start Markdown markup in running text: '*'
// (emphasis) and '<' (HTML). Code spans are left alone.
func escapeText(s string) string {
	var b strings.Builder
	inCode := false
	for _, r := range s {
		switch {
		case r == '`':
			inCode = !inCode
		case !inCode && r == '*':
			b.WriteString(`\*`)
			continue
		case !inCode && r == '<':
			b.WriteString("&lt;")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cell makes text safe inside a table cell: '|' escaped, lines joined.
func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

// Markers delimit the part of a file that Splice replaces.
const (
	BeginMarker = "<!-- config:begin -->"
	EndMarker   = "<!-- config:end -->"
)

// Splice returns doc with the lines between the BeginMarker line and the EndMarker line
// replaced by block. Each marker must be on a line of its own, once, begin before end.
func Splice(doc, block string) (string, error) {
	begin := markerLine(doc, BeginMarker)
	end := markerLine(doc, EndMarker)
	if len(begin) != 1 || len(end) != 1 || begin[0] > end[0] {
		return "", fmt.Errorf("want one line %q followed by one line %q, found %d and %d",
			BeginMarker, EndMarker, len(begin), len(end))
	}
	from := begin[0] + len(BeginMarker) + 1 // after the marker's newline
	if block != "" && !strings.HasSuffix(block, "\n") {
		block += "\n"
	}
	return doc[:from] + block + doc[end[0]:], nil
}

// markerLine returns the offsets of the lines of doc that are exactly marker (followed by a
// newline).
func markerLine(doc, marker string) []int {
	var at []int
	offset := 0
	for line := range strings.SplitAfterSeq(doc, "\n") {
		if line == marker+"\n" {
			at = append(at, offset)
		}
		offset += len(line)
	}
	return at
}
