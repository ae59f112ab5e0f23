package telemetry_test

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// The marked secrets: credentials in a node's URL and headers, and what a server answers.
const (
	secretUser   = "wfr-user-7f3a"
	secretPass   = "wfr-pass-91c2"
	secretAPIKey = "wfr-apikey-5d8e"
	secretQuery  = "wfr-query-0a6d"
	secretBody   = "wfr-body-c41b"
)

// secrets are the marked values and the forms they travel in (Basic credentials).
var markedSecrets = []string{
	secretUser, secretPass, secretAPIKey, secretQuery, secretBody,
	base64.StdEncoding.EncodeToString([]byte(secretUser + ":" + secretPass)),
}

// echoServers returns the URLs (userinfo and query holding secrets) of a server that answers 500
// and one that answers 400, each with a body echoing the request's headers and a secret, and of
// a listener that answers the raw request back (not HTTP). seen records the secret headers the
// servers received, to show the secrets did travel.
func echoServers(t *testing.T) (urls map[string]string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	echo := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got = append(got, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
			mu.Unlock()
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, "%s rejected; you sent:\n", secretBody)
			_ = r.Header.Write(w)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			_, _ = c.Write(append([]byte(secretBody+" "), buf[:n]...)) // the request back, as a non-HTTP server might
			_ = c.Close()
		}
	}()
	withSecrets := func(base string) string {
		return strings.Replace(base, "http://", "http://"+secretUser+":"+secretPass+"@", 1) + "/call?token=" + secretQuery
	}
	urls = map[string]string{
		"status500": withSecrets(echo(http.StatusInternalServerError)),
		"status400": withSecrets(echo(http.StatusBadRequest)),
		"notHTTP":   withSecrets("http://" + ln.Addr().String()),
		"denied":    withSecrets("http://10.255.255.1"), // private: refused by the policy
	}
	return urls, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestNoSecretInAnyOutput: http nodes whose URL carries user:password and a token, whose headers
// carry an API key, fail against servers that echo those back (a 500, a 400, a non-HTTP answer)
// or against a denied address. No marked secret appears in execution.error, in the API's
// answers about the executions, in any role's log lines, in any exported span (names,
// attributes, status, events) or in any role's /metrics.
func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newCluster(t)
	urls, seen := echoServers(t)

	var executions []*v1.Execution
	names := make([]string, 0, len(urls))
	for name := range urls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		params, err := structpb.NewStruct(map[string]any{
			"url":     urls[name],
			"headers": map[string]any{"X-Api-Key": secretAPIKey},
			"timeout": "10s",
		})
		is.NoErr(err)
		_, err = c.client.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
			Id: "leak-" + strings.ToLower(name), Nodes: []*v1.Node{{Id: "call", Type: "http", Params: params}},
		}})
		is.NoErr(err)
		e := c.trigger(t, t.Context(), "leak-"+strings.ToLower(name), `{}`)
		t.Logf("%-9s %s: %s", name, e.GetStatus(), e.GetError())
		is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_FAILED)
		executions = append(executions, e)
	}
	// The secrets were in play: the echo servers received the credentials.
	is.True(strings.Contains(strings.Join(seen(), " "), secretAPIKey))
	is.True(strings.Contains(strings.Join(seen(), " "), markedSecrets[len(markedSecrets)-1])) // Basic user:password

	outputs := map[string]string{}
	for _, e := range executions {
		outputs["execution.error "+e.GetWorkflowId()] = e.GetError()
		got, err := c.client.GetExecution(t.Context(), &v1.GetExecutionRequest{ExecutionId: e.GetId()})
		is.NoErr(err)
		outputs["GetExecution "+e.GetWorkflowId()] = protojson.Format(got)
		hist, err := c.client.GetExecutionHistory(t.Context(), &v1.GetExecutionHistoryRequest{WorkflowId: e.GetWorkflowId()})
		is.NoErr(err)
		outputs["GetExecutionHistory "+e.GetWorkflowId()] = protojson.Format(hist)
	}
	// The worker's span of each execution ends after its outcome is recorded.
	waitSpans(t, c, "execution.run", len(executions))
	outputs["spans"] = spanText(c.spans.GetSpans())
	for role, a := range map[string]string{"api": c.api.Addr(), "worker": c.worker.Addr(), "engine": c.engine.Addr()} {
		_, body := get(t, "http://"+a+"/metrics")
		outputs["metrics "+role] = body
	}
	outputs["logs"] = c.logs.String()

	for channel, text := range outputs {
		is.True(text != "") // every channel had something to say
		for _, s := range markedSecrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q in %s:\n%s", s, channel, excerpt(text, s))
			}
		}
	}
	t.Logf("%d channels, %d bytes of logs, %d spans: no marked secret", len(outputs), len(outputs["logs"]), len(c.spans.GetSpans()))
}

// waitSpans waits (bounded) until n spans named name have ended, looking again at each export.
func waitSpans(t *testing.T, c *cluster, name string, n int) {
	t.Helper()
	c.spans.exported.Await(t, 10*time.Second, func() error {
		count := 0
		for _, s := range c.spans.GetSpans() {
			if s.Name == name {
				count++
			}
		}
		if count < n {
			return fmt.Errorf("%d of %d %q spans", count, n, name)
		}
		return nil
	})
}

// spanText is everything an exporter sends of spans: names, attributes, status, events, links.
func spanText(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "%s %s %s\n", s.Name, s.Status.Code, s.Status.Description)
		for _, kv := range s.Attributes {
			fmt.Fprintf(&b, "  %s=%s\n", kv.Key, kv.Value.String())
		}
		for _, ev := range s.Events {
			fmt.Fprintf(&b, "  event %s\n", ev.Name)
			for _, kv := range ev.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", kv.Key, kv.Value.String())
			}
		}
		for _, l := range s.Links {
			for _, kv := range l.Attributes {
				fmt.Fprintf(&b, "  link %s=%s\n", kv.Key, kv.Value.String())
			}
		}
		for _, kv := range s.Resource.Attributes() {
			fmt.Fprintf(&b, "  resource %s=%s\n", kv.Key, kv.Value.String())
		}
	}
	return b.String()
}

// excerpt is the text around the first s in text.
func excerpt(text, s string) string {
	i := strings.Index(text, s)
	return text[max(0, i-300):min(len(text), i+len(s)+100)]
}
