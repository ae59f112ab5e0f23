package deployments

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// maxMissingReported is how many depends_on naming no node are reported one by one; the rest are
// counted in one more violation (a definition can have 65,536 of them).
const maxMissingReported = 16

// validateDefinition checks the rules across nodes that protovalidate does not: node ids are
// unique, no node depends on itself, every node type is known, every depends_on names a node of
// the definition, and the graph has no cycle (the field and rule ids are those the CEL rules had). It runs
// after protovalidate accepted the request, so the sizes hold (at most 256 nodes of at most 256
// depends_on), and it works over maps: linear in the size of the definition. prefix is the field
// path of the definition in the request ("definition").
func validateDefinition(v *errdefs.ValidationError, prefix string, d *Definition, known []string) {
	ids := make(map[string]struct{}, len(d.Nodes))
	duplicate := false
	for _, n := range d.Nodes {
		if _, dup := ids[n.ID]; dup {
			duplicate = true
		}
		ids[n.ID] = struct{}{}
	}
	if duplicate {
		v.Add(prefix+".nodes", "nodes.unique_ids", "node ids must be unique")
	}
	missing := 0
	for i, n := range d.Nodes {
		if slices.Contains(n.DependsOn, n.ID) {
			v.Add(prefix+".nodes", "nodes.no_self_dependency", "a node cannot depend on itself: nodes[%d] (%s)", i, n.ID)
		}
		if !slices.Contains(known, n.Type) {
			v.Add(fmt.Sprintf("%s.nodes[%d].type", prefix, i), "node.type_known",
				"unknown node type %q (known: %s)", n.Type, strings.Join(known, ", "))
		}
		for j, dep := range n.DependsOn {
			if _, ok := ids[dep]; !ok {
				if missing++; missing <= maxMissingReported {
					// The field and rule id the CEL rule had, so clients see the same violation.
					v.Add(prefix+".nodes", "nodes.depends_on_exist",
						"every depends_on must name a node of this definition: nodes[%d].depends_on[%d] is %q", i, j, dep)
				}
			}
		}
	}
	if missing > maxMissingReported {
		v.Add(prefix+".nodes", "nodes.depends_on_exist", "and %d more depends_on that name no node", missing-maxMissingReported)
	}
	for i, n := range d.Nodes {
		if n.Type == "http" {
			validateHTTPHeaders(v, fmt.Sprintf("%s.nodes[%d].params.headers", prefix, i), n.Params["headers"])
		}
	}
	if cycle := findCycle(d.Nodes); cycle != nil {
		v.Add(prefix+".nodes", "nodes.acyclic", "the graph has a cycle: %s", strings.Join(cycle, " -> "))
	}
}

// validateHTTPHeaders refuses header names that are not HTTP tokens and values with control
// characters (CR, LF, NUL): Go's HTTP client would refuse them on every run, so the definition
// is refused at deploy, with the field. A headers param that is not an object of strings is the
// engine's to report (ServiceConfig.CheckParams).
func validateHTTPHeaders(v *errdefs.ValidationError, field string, headers any) {
	m, ok := headers.(map[string]any)
	if !ok {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !httpguts.ValidHeaderFieldName(name) {
			v.Add(field, "http.header_name", "header name %q is not an HTTP token (no spaces, CR, LF or separators)", name)
			continue
		}
		if value, ok := m[name].(string); ok && !httpguts.ValidHeaderFieldValue(value) {
			v.Add(field, "http.header_value", "header %q has a control character (CR, LF, NUL) in its value", name)
		}
	}
}

// findCycle returns the node ids of one cycle (first id repeated at the end), or nil. Depth-first
// search with three colours; depends_on targets that do not exist are ignored (validateDefinition
// reports them).
func findCycle(nodes []Node) []string {
	deps := make(map[string][]string, len(nodes))
	for _, n := range nodes {
		deps[n.ID] = n.DependsOn
	}
	const (
		white = iota
		grey
		black
	)
	colour := make(map[string]int, len(nodes))
	var stack []string
	var visit func(id string) []string
	visit = func(id string) []string {
		colour[id] = grey
		stack = append(stack, id)
		for _, d := range deps[id] {
			if _, ok := deps[d]; !ok {
				continue
			}
			switch colour[d] {
			case grey:
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[id] = black
		return nil
	}
	for _, n := range nodes {
		if colour[n.ID] == white {
			if c := visit(n.ID); c != nil {
				return c
			}
		}
	}
	return nil
}

// validateConfig checks the config's policies are ones internal/policy defines (the zero value
// included: WithDefaults fills it). prefix is the field path of the config ("config").
func validateConfig(v *errdefs.ValidationError, prefix string, c *Config) {
	if !c.OverlapPolicy.Valid() {
		v.Add(prefix+".overlap_policy", "enum.defined_only", "unknown overlap policy %s", c.OverlapPolicy)
	}
	if !c.MisfirePolicy.Valid() {
		v.Add(prefix+".misfire_policy", "enum.defined_only", "unknown misfire policy %s", c.MisfirePolicy)
	}
}

// validateTriggers checks every cron trigger with the parser the scheduler uses
// (internal/cron.NewTrigger: time zone, expression, DST policies, jitter) and refuses one
// whose next fire after now does not exist (February 30th, a year past 2262 or already gone):
// what deploys is exactly what schedules. prefix is the field path of the triggers in the
// request ("triggers"); workflowID is hashed for the jitter ("" when not known yet).
func validateTriggers(v *errdefs.ValidationError, prefix string, triggers []Trigger, workflowID string, now time.Time) {
	for i, t := range triggers {
		if t.Webhook != nil {
			if n := len(t.Webhook.Secret); n > 0 && (n < MinWebhookSecretBytes || n > MaxWebhookSecretBytes) {
				v.Add(fmt.Sprintf("%s[%d].webhook.secret", prefix, i), "string.secret_len",
					"must be %d to %d bytes, got %d", MinWebhookSecretBytes, MaxWebhookSecretBytes, n)
			}
		}
		if t.Cron == nil {
			continue
		}
		field := fmt.Sprintf("%s[%d].cron", prefix, i)
		validateBlackout(v, field, t.Cron)
		if r := t.Cron.RepeatedHour; !r.Valid() {
			v.Add(field+".repeated_hour", "enum.defined_only", "unknown repeated-hour policy %s", r)
		}
		if k := t.Cron.SkippedHour; !k.Valid() {
			v.Add(field+".skipped_hour", "enum.defined_only", "unknown skipped-hour policy %s", k)
		}
		if _, err := cron.LoadLocation(t.Cron.Timezone); err != nil {
			v.Add(field+".timezone", "timezone.iana", "%v", err)
			continue
		}
		if _, err := cron.NormalizeCron(t.Cron.Expression); err != nil {
			v.Add(field+".expression", "cron.parse", "%v", err)
			continue
		}
		tr, err := t.Cron.Trigger(cmp.Or(workflowID, "validate"))
		if err != nil {
			v.Add(field+".expression", "cron.parse", "%v", err)
			continue
		}
		if _, err := tr.Next(now); err != nil {
			v.Add(field+".expression", "cron.fires", "%q never fires after %s", t.Cron.Expression, now.UTC().Format(time.RFC3339))
		}
	}
}
