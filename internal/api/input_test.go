package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/matryer/is"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-runtime/workflow-runtime/internal/api"
	"github.com/workflow-runtime/workflow-runtime/internal/config"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/engine"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/execution"
	"github.com/workflow-runtime/workflow-runtime/internal/health"
	"github.com/workflow-runtime/workflow-runtime/internal/httpserver"
	"github.com/workflow-runtime/workflow-runtime/internal/monitoring"
	"github.com/workflow-runtime/workflow-runtime/internal/notify"
	"github.com/workflow-runtime/workflow-runtime/internal/queue"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
)

// inputStack is the API with every service the malformed inputs reach (deployments with the
// engine's param checks, executions, scheduling, monitoring) behind the real HTTP server.
func inputStack(t *testing.T, be backend) string {
	t.Helper()
	db := be.open(t)
	logger := slog.New(slog.DiscardHandler)
	q := queue.NewLocalQueue(queue.LocalConfig{})
	notifier := notify.NewLocal()
	executions := execution.NewService(db, q, notifier, execution.ServiceConfig{Logger: logger})
	eng := engine.New(engine.Config{})
	checker := health.NewChecker(health.Options{Version: "test"})
	handler := api.NewHandler(api.Deps{
		Deployments: deployments.NewService(db, deployments.ServiceConfig{
			KnownNodeTypes: engine.NodeTypes(),
			CheckParams: func(d *deployments.Definition) []errdefs.Violation {
				var out []errdefs.Violation
				for _, pe := range eng.ValidateParams(d) {
					out = append(out, errdefs.Violation{Field: fmt.Sprintf("nodes[%d].params.%s", pe.NodeIndex, pe.Param), Rule: "node.params", Message: pe.Message})
				}
				return out
			},
		}),
		Executions: executions,
		Health:     checker,
		Scheduler:  scheduler.NewService(db, executions, scheduler.ServiceConfig{Logger: logger}),
		Monitoring: monitoring.NewService(db, monitoring.ServiceConfig{Logger: logger}),
		Logger:     logger,
	})
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(cfg, handler, checker, logger)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.URL()
}

// connectError is a Connect-protocol error body.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
}

// call posts a Connect JSON request and returns the HTTP status and body.
func call(t *testing.T, url, rpc, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		url+"/workflowruntime.v1.WorkflowRuntimeService/"+rpc, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// violationFields returns the field paths of the buf.validate.Violations detail of a Connect
// error body, each as "a.b[2].c".
func violationFields(t *testing.T, ce *connectError) []string {
	t.Helper()
	var fields []string
	for _, d := range ce.Details {
		if d.Type != "buf.validate.Violations" {
			continue
		}
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil {
			t.Fatalf("detail value: %v", err)
		}
		var vs validate.Violations
		if err := proto.Unmarshal(raw, &vs); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.GetViolations() {
			var b strings.Builder
			for i, e := range v.GetField().GetElements() {
				if i > 0 {
					b.WriteByte('.')
				}
				b.WriteString(e.GetFieldName())
				if e.HasIndex() {
					fmt.Fprintf(&b, "[%d]", e.GetIndex())
				}
			}
			fields = append(fields, b.String())
		}
	}
	return fields
}

func nested(depth int, leaf string) string {
	return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat(`}`, depth)
}

// deployBody is a DeployWorkflow request with one node of type typ and params, and triggers.
func deployBody(id, name, desc, typ, params, triggers string) string {
	return fmt.Sprintf(`{"definition":{"id":%s,"name":%s,"description":%s,"nodes":[{"id":"a","type":%s,"params":%s}]},"triggers":[%s]}`,
		js(id), js(name), js(desc), js(typ), params, triggers)
}

// js is s as a JSON string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestMalformedInputIsInvalidArgument sends every malformed input of the security review over
// Connect to the real handler stack, on SQLite and PostgreSQL: each answers invalid_argument
// with a violation on its field, and nothing is stored.
func TestMalformedInputIsInvalidArgument(t *testing.T) {
	t.Parallel()
	const okParams = `{"url":"http://127.0.0.1:1/"}`
	cron := func(expr string) string {
		return fmt.Sprintf(`{"id":"c","cron":{"expression":%s}}`, js(expr))
	}
	// Five transform nodes of 16 KiB each: the fifth passes the definition's budget of 64 KiB.
	var transforms, many []string
	for i := range 5 {
		expr := fmt.Sprintf("input.a + %d", i)
		transforms = append(transforms, fmt.Sprintf(`{"id":"t%d","type":"transform","params":{"expression":%s}}`, i, js(expr+strings.Repeat(" ", 16<<10-len(expr)))))
	}
	for i := range 257 {
		many = append(many, fmt.Sprintf(`{"id":"n%d","type":"noop"}`, i))
	}
	cases := []struct {
		name, rpc, body, field string
	}{
		{"expressions over the definition's budget", "DeployWorkflow", `{"definition":{"id":"wf-1","nodes":[` + strings.Join(transforms, ",") + `]}}`, "definition.nodes[4].params.expression"},
		{"nodes over max_items", "DeployWorkflow", `{"definition":{"id":"wf-1","nodes":[` + strings.Join(many, ",") + `]}}`, "definition.nodes"},
		{"NUL in name", "DeployWorkflow", deployBody("wf-1", "a\u0000b", "", "noop", "{}", ""), "definition.name"},
		{"NUL in description", "DeployWorkflow", deployBody("wf-1", "", "x\u0000", "noop", "{}", ""), "definition.description"},
		{"NUL in a params value", "DeployWorkflow", deployBody("wf-1", "", "", "noop", `{"k":"a\u0000"}`, ""), "definition.nodes[0].params"},
		{"NUL in a params key", "DeployWorkflow", deployBody("wf-1", "", "", "noop", `{"k\u0000":1}`, ""), "definition.nodes[0].params"},
		{"params nested 1,001 deep", "DeployWorkflow", deployBody("wf-1", "", "", "noop", nested(1001, "1"), ""), "definition.nodes[0].params"},
		{"params nested 65 deep", "DeployWorkflow", deployBody("wf-1", "", "", "noop", nested(64, "[1]"), ""), "definition.nodes[0].params"},
		{"CRLF in an http header value", "DeployWorkflow", deployBody("wf-1", "", "", "http", `{"url":"http://127.0.0.1:1/","headers":{"X-A":"1\r\nX-Injected: 1"}}`, ""), "definition.nodes[0].params.headers"},
		{"CRLF in an http header name", "DeployWorkflow", deployBody("wf-1", "", "", "http", `{"url":"http://127.0.0.1:1/","headers":{"X-A\r\nX-B":"1"}}`, ""), "definition.nodes[0].params.headers"},
		{"cron on February 30th", "DeployWorkflow", deployBody("wf-1", "", "", "http", okParams, cron("0 0 30 2 *")), "triggers[0].cron.expression"},
		{"cron in 2270", "DeployWorkflow", deployBody("wf-1", "", "", "http", okParams, cron("0 0 0 1 1 * 2270")), "triggers[0].cron.expression"},
		{"cron in a past year", "DeployWorkflow", deployBody("wf-1", "", "", "noop", "{}", cron("0 0 0 1 1 ? 2020")), "triggers[0].cron.expression"},
		{"cron nth weekday in a year without it", "DeployWorkflow", deployBody("wf-1", "", "", "noop", "{}", cron("0 0 0 ? 1 MON#5 2027")), "triggers[0].cron.expression"},
		{"NUL in a cron expression", "DeployWorkflow", deployBody("wf-1", "", "", "noop", "{}", cron("0 0 * * *\u0000")), "triggers[0].cron.expression"},
		{"unknown overlap policy", "DeployWorkflow", `{"definition":{"id":"wf-1","nodes":[{"id":"a","type":"noop"}]},"config":{"overlapPolicy":"NOPE"}}`, "config.overlap_policy"},
		{"unknown DST policy", "DeployWorkflow", `{"definition":{"id":"wf-1","nodes":[{"id":"a","type":"noop"}]},"triggers":[{"id":"c","cron":{"expression":"@daily","repeatedHour":"NOPE"}}]}`, "triggers[0].cron.repeated_hour"},
		{"NUL in trigger_data", "TriggerWorkflow", `{"workflowId":"wf-ok","triggerData":"{\"k\":\"a\\u0000\"}"}`, "trigger_data"},
		{"trigger_data nested 1,001 deep", "TriggerWorkflow", `{"workflowId":"wf-ok","triggerData":` + js(nested(1001, "1")) + `}`, "trigger_data"},
		{"trigger_data not JSON", "TriggerWorkflow", `{"workflowId":"wf-ok","triggerData":"{"}`, "trigger_data"},
		{"unknown status filter", "GetExecutionHistory", `{"statuses":["NOPE"]}`, "statuses[0]"},
		{"unknown trigger type filter", "GetExecutionHistory", `{"workflowId":"wf-ok","triggerTypes":["TRIGGER_TYPE_MANUAL","NOPE"]}`, "trigger_types[1]"},
		{"unknown deployment status filter", "ListDeployments", `{"statuses":["NOPE"]}`, "statuses[0]"},
		{"forged history token", "GetExecutionHistory", `{"pageToken":"AQAGLtJ8Y9tQAZR0Z3ZwfPeH1vhzB0YXq7BjTFZuqJ8AAAAA"}`, "page_token"},
		{"forged deployments token", "ListDeployments", `{"pageToken":"ZDE6d2Y"}`, "page_token"},
		{"load distribution near 9999", "GetLoadDistribution", `{"startTime":"9999-12-31T23:00:00Z","window":"86400s"}`, "start_time"},
		{"load distribution in 1600", "GetLoadDistribution", `{"startTime":"1600-01-01T00:00:00Z"}`, "start_time"},
	}
	for _, be := range []backend{sqlite, postgres} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			url := inputStack(t, be)
			is := is.New(t)
			status, body := call(t, url, "DeployWorkflow", deployBody("wf-ok", "ok", "", "noop", "{}", cron("@daily")))
			is.Equal(status, http.StatusOK) // the workflow the other inputs aim at
			var dep struct {
				Deployment struct{ ID string } `json:"deployment"`
			}
			is.NoErr(json.Unmarshal(body, &dep))

			all := append(cases[:len(cases):len(cases)],
				struct{ name, rpc, body, field string }{"unknown fire outcome filter", "ListFires",
					fmt.Sprintf(`{"deploymentId":%q,"outcomes":["NOPE"]}`, dep.Deployment.ID), "outcomes[0]"},
				struct{ name, rpc, body, field string }{"forged fires token", "ListFires",
					fmt.Sprintf(`{"deploymentId":%q,"pageToken":"ZjE6Mjk5OS0wMS0wMVQwMDowMDowMFogeA"}`, dep.Deployment.ID), "page_token"},
			)
			for _, c := range all {
				status, body := call(t, url, c.rpc, c.body)
				var ce connectError
				is.NoErr(json.Unmarshal(body, &ce))
				fields := violationFields(t, &ce)
				t.Logf("%-40s %d %s %v", c.name, status, ce.Code, fields)
				is.Equal(ce.Code, "invalid_argument") // c.name
				found := false
				for _, f := range fields {
					found = found || f == c.field
				}
				if !found {
					t.Errorf("%s: violations %v do not name %s (message %q)", c.name, fields, c.field, ce.Message)
				}
			}

			// A newer client's unknown field is still ignored, a known name still read.
			status, _ = call(t, url, "GetExecutionHistory", `{"statuses":["EXECUTION_STATUS_RUNNING"],"fieldOfTomorrow":{"x":1}}`)
			is.Equal(status, http.StatusOK)

			// Nothing stored: one deployment at revision 1, no execution.
			_, body = call(t, url, "ListDeployments", `{}`)
			var list struct {
				Deployments []struct {
					WorkflowID string `json:"workflowId"`
					Revision   int    `json:"revision"`
				} `json:"deployments"`
			}
			is.NoErr(json.Unmarshal(body, &list))
			is.Equal(len(list.Deployments), 1)
			is.Equal(list.Deployments[0].WorkflowID, "wf-ok")
			is.Equal(list.Deployments[0].Revision, 1)
			_, body = call(t, url, "GetExecutionHistory", `{}`)
			is.Equal(strings.TrimSpace(string(body)), `{}`) // no executions
		})
	}
}
