package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// Output is the -o flag of the commands that print what the service answered.
type Output struct {
	Output string `short:"o" default:"table" enum:"table,json,yaml" help:"Output format: table (for people), json or yaml (the API's messages, for scripts). Default ${default}."`
}

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// printer writes a command's answer in the chosen format: tables and text for people, the
// API's messages as protojson (camelCase, as Connect's JSON) or YAML for scripts.
type printer struct {
	w      io.Writer
	format string
	color  bool
	loc    *time.Location
}

// newPrinter returns the printer of env's stdout in format. Colours only on a terminal, and
// never when NO_COLOR is set to anything (no-color.org).
func newPrinter(env *Env, format string) *printer {
	noColor, set := env.LookupEnv("NO_COLOR")
	return &printer{
		w:      env.Stdout,
		format: format,
		color:  env.StdoutTerminal && (!set || noColor == ""),
		loc:    env.Location,
	}
}

// people reports whether the output is for people (a table), not for a script.
func (p *printer) people() bool { return p.format == formatTable }

// message writes m as JSON or YAML.
func (p *printer) message(m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	return p.json(b)
}

// messages writes ms as one JSON array or YAML list.
func (p *printer) messages(ms []proto.Message) error {
	raw := make([]json.RawMessage, len(ms))
	for i, m := range ms {
		b, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		raw[i] = b
	}
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	return p.json(b)
}

// stream writes m as one line of JSON (JSON lines, for a watch) or one YAML document.
func (p *printer) stream(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	if p.format == formatJSON {
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil { // protojson may add spaces
			return err
		}
		compact.WriteByte('\n')
		_, err = p.w.Write(compact.Bytes())
		return err
	}
	if _, err := io.WriteString(p.w, "---\n"); err != nil {
		return err
	}
	return p.json(b)
}

// json writes a JSON document as it is (indented) or as YAML.
func (p *printer) json(b []byte) error {
	if p.format == formatYAML {
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil { // JSON is YAML; the node keeps the order
			return err
		}
		blockStyle(&doc)
		out, err := yaml.Marshal(&doc)
		if err != nil {
			return err
		}
		_, err = p.w.Write(out)
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := p.w.Write(out.Bytes())
	return err
}

// blockStyle turns JSON's flow style ({}, [], "") into YAML's block style, in place; the
// encoder quotes the strings that need it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table writes rows under header, aligned in columns without borders (as kubectl does).
func (p *printer) table(header []string, rows [][]string) {
	t := table.NewWriter()
	style := table.StyleDefault
	style.Options = table.Options{SeparateColumns: true}
	style.Box.PaddingLeft = ""
	style.Box.PaddingRight = ""
	style.Box.MiddleVertical = "   "
	style.Format.Header = text.FormatUpper
	t.SetStyle(style)
	h := make(table.Row, len(header))
	for i, c := range header {
		h[i] = p.paint(c, text.Bold)
	}
	t.AppendHeader(h)
	for _, r := range rows {
		row := make(table.Row, len(r))
		for i, c := range r {
			row[i] = c
		}
		t.AppendRow(row)
	}
	for line := range strings.Lines(t.Render() + "\n") {
		p.println(strings.TrimRight(line, " \n")) // the last column is padded too
	}
}

// fields writes name: value lines, the values aligned.
func (p *printer) fields(pairs ...[2]string) {
	width := 0
	for _, kv := range pairs {
		width = max(width, len(kv[0]))
	}
	for _, kv := range pairs {
		p.printf("%-*s  %s\n", width+1, kv[0]+":", kv[1])
	}
}

// println writes a line of text. Write errors of the output are not the command's: a reader
// that went away (| head) ends the output, not the command's work.
func (p *printer) println(a ...any) {
	_, _ = fmt.Fprintln(p.w, a...)
}

// printf writes formatted text, as println does.
func (p *printer) printf(format string, a ...any) {
	_, _ = fmt.Fprintf(p.w, format, a...)
}

// paint colours s when colours are on.
func (p *printer) paint(s string, colors ...text.Color) string {
	if !p.color || s == "" {
		return s
	}
	return text.Escape(s, text.Colors(colors).EscapeSeq())
}

// time formats t in the output's time zone, naming the zone; "-" when unset.
func (p *printer) time(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().In(p.loc).Format("2006-01-02 15:04:05 MST")
}

// executionStatus is an execution status, coloured by outcome.
func (p *printer) executionStatus(s v1.ExecutionStatus) string {
	name := enumName(s.String())
	switch s {
	case v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED:
		return p.paint(name, text.FgGreen)
	case v1.ExecutionStatus_EXECUTION_STATUS_FAILED, v1.ExecutionStatus_EXECUTION_STATUS_TIMED_OUT:
		return p.paint(name, text.FgRed)
	case v1.ExecutionStatus_EXECUTION_STATUS_RUNNING:
		return p.paint(name, text.FgCyan)
	case v1.ExecutionStatus_EXECUTION_STATUS_PENDING:
		return p.paint(name, text.FgYellow)
	default: // CANCELLED, SKIPPED
		return p.paint(name, text.Faint)
	}
}

// deploymentStatus is a deployment status, coloured by state.
func (p *printer) deploymentStatus(s v1.DeploymentStatus) string {
	name := enumName(s.String())
	switch s {
	case v1.DeploymentStatus_DEPLOYMENT_STATUS_DEPLOYED:
		return p.paint(name, text.FgGreen)
	case v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED:
		return p.paint(name, text.FgYellow)
	case v1.DeploymentStatus_DEPLOYMENT_STATUS_DRAFT:
		return p.paint(name, text.FgBlue)
	default: // ARCHIVED
		return p.paint(name, text.Faint)
	}
}

// health is a health status ("healthy", "unhealthy"), coloured.
func (p *printer) health(s string) string {
	if s == "healthy" {
		return p.paint(s, text.FgGreen)
	}
	return p.paint(s, text.FgRed)
}

// enumName is an enum value's name without its type's prefix, as the command line shows
// it: EXECUTION_STATUS_FAILED -> FAILED.
func enumName(name string) string {
	for _, prefix := range enumPrefixes {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return rest
		}
	}
	return name
}

// enumPrefixes are the prefixes of the API's enums that the command line shows.
var enumPrefixes = []string{
	"EXECUTION_STATUS_", "DEPLOYMENT_STATUS_", "TRIGGER_TYPE_", "FIRE_OUTCOME_",
	"OVERLAP_POLICY_", "MISFIRE_POLICY_", "REPEATED_HOUR_POLICY_", "SKIPPED_HOUR_POLICY_",
}

// duration formats a duration for people: 1.5s, 3m0s, 2h0m0s; "-" when unset.
func duration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return roundDuration(d.AsDuration()).String()
}

// roundDuration keeps a duration's three most significant digits or so: 1.234567s -> 1.23s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate shortens s to n runes with an ellipsis, on one line.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
