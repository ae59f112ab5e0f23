package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/matryer/is"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	runtime "github.com/workflow-runtime/workflow-runtime/sdk/go"
)

// These tests send deliveries to the gateway (its handler on an httptest server) in front of
// the real runtime (main_test.go), and look at what the runtime recorded through the SDK.

const secret = "whsec-gateway-test-0123456789"

// unique makes workflow ids and webhook paths unique in the runtime the tests share, whatever
// -count says.
func unique(base string) string {
	return base + "-" + strconv.FormatInt(seq.Add(1), 10)
}

var seq atomic.Int64

// testBundle is a gateway in front of a runtime, and an admin client of that runtime.
type testBundle struct {
	gateway *httptest.Server
	admin   *runtime.Client
}

// setup starts a gateway in front of the runtime at url, calling it with token, with routes.
func setup(t *testing.T, url, token string, routes ...Route) *testBundle {
	t.Helper()
	g, err := newGateway(config{
		runtimeURL: url, runtimeToken: token, routes: routes,
		maxBody: 1024, tolerance: 5 * time.Minute, timeout: time.Minute,
	}, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	admin, err := runtime.NewClient(url, runtime.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{gateway: srv, admin: admin}
}

// testWriter sends the gateway's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// deploy deploys a workflow that greets input.name.
func (b *testBundle) deploy(t *testing.T, id string, triggers ...*v1.Trigger) *v1.Deployment {
	t.Helper()
	params, err := structpb.NewStruct(map[string]any{"expression": "{'greeting': 'hello ' + input.name}"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.admin.DeployWorkflow(t.Context(), &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id:    id,
		Nodes: []*v1.Node{{Id: "greet", Type: "transform", Params: params}},
	}, Triggers: triggers})
	if err != nil {
		t.Fatalf("deploy %s: %v", id, err)
	}
	return res.GetDeployment()
}

// executions lists the executions of a workflow.
func (b *testBundle) executions(t *testing.T, workflowID string) []*v1.Execution {
	t.Helper()
	var all []*v1.Execution
	for e, err := range b.admin.Executions(t.Context(), &v1.GetExecutionHistoryRequest{WorkflowId: workflowID}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	return all
}

// delivery is one request to the gateway.
type delivery struct {
	path, id, body string
	at             time.Time // Webhook-Timestamp; default: now
	signature      string    // Webhook-Signature; default: id, at and body signed with secret
}

// reply is the gateway's answer.
type reply struct {
	status     int
	retryAfter string
	answer
}

func (b *testBundle) send(t *testing.T, d delivery) reply {
	t.Helper()
	if d.at.IsZero() {
		d.at = time.Now()
	}
	if d.signature == "" {
		d.signature = sign([]byte(secret), d.id, d.at.Unix(), []byte(d.body))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.gateway.URL+"/webhooks/"+d.path, strings.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerTimestamp, strconv.FormatInt(d.at.Unix(), 10))
	req.Header.Set(headerSignature, d.signature)
	if d.id != "" {
		req.Header.Set(headerID, d.id)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if err := json.Unmarshal(raw, &r.answer); err != nil {
		t.Fatalf("answer %d is not JSON: %q", res.StatusCode, raw)
	}
	return r
}

// TestDelivery: a signed delivery triggers one execution whose input is the body, keyed by
// the delivery id; the workflow sees the body.
func TestDelivery(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wf := unique("gw-delivery")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "shop/orders", WorkflowID: wf, Secret: []byte(secret)})
	b.deploy(t, wf)

	body := `{"name": "ada", "order": 42}`
	r := b.send(t, delivery{path: "shop/orders", id: "evt_1", body: body})
	is.Equal(r.status, http.StatusAccepted) // recorded
	is.True(!r.Duplicate)

	all := b.executions(t, wf)
	is.Equal(len(all), 1) // one execution
	e := all[0]
	is.Equal(e.GetId(), r.ExecutionID)
	is.Equal(e.GetTriggerData(), body) // the raw body is the input
	is.Equal(e.GetIdempotencyKey(), "evt_1")

	done, err := b.admin.WaitExecution(t.Context(), e.GetId())
	is.NoErr(err)
	is.Equal(done.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	is.True(strings.Contains(done.GetOutput(), "hello ada")) // the workflow read the body
}

// TestDeliveryToWebhookTrigger: a route to a webhook path triggers the deployment that owns
// it, as a WEBHOOK execution of that trigger.
func TestDeliveryToWebhookTrigger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wf, hook := unique("gw-webhook-path"), unique("gw/hook")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "shop/hook", WebhookPath: hook, Secret: []byte(secret)})
	b.deploy(t, wf, &v1.Trigger{Id: "hook", Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: hook}}})

	r := b.send(t, delivery{path: "shop/hook", id: "evt_hook", body: `{"name": "ada"}`})
	is.Equal(r.status, http.StatusAccepted)
	all := b.executions(t, wf)
	is.Equal(len(all), 1)
	is.Equal(all[0].GetTriggerType(), v1.TriggerType_TRIGGER_TYPE_WEBHOOK)
	is.Equal(all[0].GetTriggerId(), "hook")
	is.Equal(all[0].GetTriggerData(), `{"name": "ada"}`)
}

// TestDuplicateDelivery: a provider's retry of a delivery (same id, a later timestamp, signed
// anew) answers 200 with the first execution; nothing new runs.
func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wf := unique("gw-duplicate")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "dup", WorkflowID: wf, Secret: []byte(secret)})
	b.deploy(t, wf)

	now := time.Now()
	first := b.send(t, delivery{path: "dup", id: "evt_dup", body: `{"name": "ada"}`, at: now.Add(-time.Minute)})
	is.Equal(first.status, http.StatusAccepted)
	again := b.send(t, delivery{path: "dup", id: "evt_dup", body: `{"name": "ada"}`, at: now})
	is.Equal(again.status, http.StatusOK)          // a duplicate is a success for the provider
	is.True(again.Duplicate)                       // and says so
	is.Equal(again.ExecutionID, first.ExecutionID) // the first execution
	is.Equal(len(b.executions(t, wf)), 1)          // one execution
}

// TestReplayWithAnotherID: someone who captured a signed delivery and sends it again inside
// the tolerance under a delivery id of their own (a new idempotency key) is refused, since the
// signature covers the id; the workflow ran once.
func TestReplayWithAnotherID(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wf := unique("gw-replay")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "replay", WorkflowID: wf, Secret: []byte(secret)})
	b.deploy(t, wf)

	captured := delivery{path: "replay", id: "evt_orig", body: `{"name": "ada"}`, at: time.Now()}
	captured.signature = sign([]byte(secret), captured.id, captured.at.Unix(), []byte(captured.body))
	is.Equal(b.send(t, captured).status, http.StatusAccepted)

	replay := captured
	replay.id = "evt_replayed" // the same timestamp, body and signature
	r := b.send(t, replay)
	is.Equal(r.status, http.StatusUnauthorized)
	is.Equal(r.ExecutionID, "")
	is.Equal(len(b.executions(t, wf)), 1) // the captured delivery ran once
}

// TestSecretRotation: a provider rotating its secret signs with the old and the new one; the
// gateway, which knows one of them, accepts the delivery.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wf := unique("gw-rotation")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "rotated", WorkflowID: wf, Secret: []byte(secret)})
	b.deploy(t, wf)

	d := delivery{path: "rotated", id: "evt_rot", body: `{"name": "ada"}`, at: time.Now()}
	d.signature = sign([]byte("whsec-the-old-secret-0000000"), d.id, d.at.Unix(), []byte(d.body)) + " " +
		sign([]byte(secret), d.id, d.at.Unix(), []byte(d.body))
	is.Equal(b.send(t, d).status, http.StatusAccepted)
	is.Equal(len(b.executions(t, wf)), 1)
}

// TestRefusedDeliveries: deliveries the gateway refuses itself trigger nothing.
func TestRefusedDeliveries(t *testing.T) {
	t.Parallel()
	wf := unique("gw-refused")
	b := setup(t, runtimeURL, triggerToken, Route{Path: "refused", WorkflowID: wf, Secret: []byte(secret)})
	b.deploy(t, wf)
	body := `{"name": "mallory"}`
	now := time.Now()
	for _, tc := range []struct {
		name string
		d    delivery
		want int
	}{
		{"wrong signature", delivery{id: "evt_w", signature: sign([]byte("not-the-secret-0123456789"), "evt_w", now.Unix(), []byte(body))}, http.StatusUnauthorized},
		{"stale timestamp", delivery{at: now.Add(-time.Hour)}, http.StatusUnauthorized},
		{"timestamp ahead", delivery{at: now.Add(time.Hour)}, http.StatusUnauthorized},
		{"signed at another time", delivery{id: "evt_t", at: now, signature: sign([]byte(secret), "evt_t", now.Unix()-1, []byte(body))}, http.StatusUnauthorized},
		{"signature of another body", delivery{id: "evt_b", body: `{"name": "eve"}`, signature: sign([]byte(secret), "evt_b", now.Unix(), []byte(body))}, http.StatusUnauthorized},
		{"no signature", delivery{signature: "none"}, http.StatusUnauthorized},
		{"no delivery id", delivery{id: "-"}, http.StatusBadRequest},
		{"body not JSON", delivery{body: "name=mallory"}, http.StatusBadRequest},
		{"body too large", delivery{body: `{"pad": "` + strings.Repeat("x", 2000) + `"}`}, http.StatusRequestEntityTooLarge},
		{"unknown path", delivery{path: "nowhere"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.path = cmp.Or(d.path, "refused")
			d.body = cmp.Or(d.body, body)
			d.id = cmp.Or(d.id, "evt_"+strings.ReplaceAll(tc.name, " ", "_"))
			if d.id == "-" {
				d.id = ""
			}
			r := b.send(t, d)
			is := is.New(t)
			is.Equal(r.status, tc.want)
			is.True(r.Error != "")      // says why
			is.Equal(r.ExecutionID, "") // and nothing else
		})
	}
	is.New(t).Equal(len(b.executions(t, wf)), 0) // nothing triggered
}

// TestRuntimeRefusals: the runtime's refusals reach the provider as the HTTP answers
// httpAnswer documents.
func TestRuntimeRefusals(t *testing.T) {
	t.Parallel()
	live, pausedWF := unique("gw-refusals"), unique("gw-refusals-paused")
	routes := []Route{
		{Path: "live", WorkflowID: live, Secret: []byte(secret)},
		{Path: "paused", WorkflowID: pausedWF, Secret: []byte(secret)},
		{Path: "missing", WorkflowID: "gw-not-deployed", Secret: []byte(secret)},
	}
	b := setup(t, runtimeURL, triggerToken, routes...)
	b.deploy(t, live)
	paused := b.deploy(t, pausedWF)
	_, err := b.admin.UpdateDeployment(t.Context(), &v1.UpdateDeploymentRequest{
		DeploymentId: paused.GetId(),
		Status:       v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED,
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wrongToken := setup(t, runtimeURL, "not-a-token-of-this-runtime", routes...)
	readOnly := setup(t, runtimeURL, readToken, routes...)

	for _, tc := range []struct {
		name string
		b    *testBundle
		d    delivery
		want int
	}{
		{"workflow not deployed", b, delivery{path: "missing", id: "r1"}, http.StatusNotFound},
		{"deployment paused", b, delivery{path: "paused", id: "r2"}, http.StatusConflict},
		{"delivery id the runtime refuses", b, delivery{path: "live", id: "has space"}, http.StatusBadRequest},
		{"gateway token unknown", wrongToken, delivery{path: "live", id: "r3"}, http.StatusBadGateway},
		{"gateway token without the trigger scope", readOnly, delivery{path: "live", id: "r4"}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.body = `{"name": "ada"}`
			r := tc.b.send(t, tc.d)
			is := is.New(t)
			is.Equal(r.status, tc.want)
			is.True(r.Error != "")
		})
	}
	is.New(t).Equal(len(b.executions(t, live)), 0) // nothing triggered
}

// TestRuntimeDown: with the runtime unreachable the gateway answers 503, which providers
// retry.
func TestRuntimeDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	down := "http://" + ln.Addr().String()
	is.NoErr(ln.Close()) // nothing listens there now: connections are refused

	b := setup(t, down, triggerToken, Route{Path: "down", WorkflowID: "gw-down", Secret: []byte(secret)})
	r := b.send(t, delivery{path: "down", id: "evt_down", body: `{"name": "ada"}`})
	is.Equal(r.status, http.StatusServiceUnavailable)
	is.Equal(r.Error, "the runtime is unavailable") // no detail of the gateway's network
}

// TestRateLimited: the runtime's rate limit is 429 with the Retry-After it asked for.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// One trigger per caller, then one every 1000 s.
	rt := startOwnRuntime(t, "WFR_TRIGGER_RATE=0.001", "WFR_TRIGGER_BURST=1")
	b := setup(t, rt.url, triggerToken, Route{Path: "limited", WorkflowID: "gw-limited", Secret: []byte(secret)})
	b.deploy(t, "gw-limited")

	is.Equal(b.send(t, delivery{path: "limited", id: "l1", body: `{}`}).status, http.StatusAccepted) // the burst
	r := b.send(t, delivery{path: "limited", id: "l2", body: `{}`})
	is.Equal(r.status, http.StatusTooManyRequests)
	seconds, err := strconv.Atoi(r.retryAfter)
	is.NoErr(err)
	is.True(seconds > 60)                           // when the runtime said to come back
	is.Equal(len(b.executions(t, "gw-limited")), 1) // the second was not recorded
}

// TestHealth: GET /healthz answers while the gateway serves.
func TestHealth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, runtimeURL, triggerToken)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.gateway.URL+"/healthz", nil)
	is.NoErr(err)
	res, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(res.Body)
	is.NoErr(err)
	is.Equal(res.StatusCode, http.StatusOK)
	is.Equal(string(bytes.TrimSpace(raw)), `{"status":"ok"}`)
}

// TestHTTPAnswer: every code of the runtime has its HTTP answer.
func TestHTTPAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter time.Duration
	}{
		{&runtime.Error{Code: connect.CodeInvalidArgument}, http.StatusBadRequest, 0},
		{&runtime.Error{Code: connect.CodeInvalidArgument, FieldViolations: []runtime.FieldViolation{{Field: "trigger_data", Rule: ruleMaxTriggerData}}}, http.StatusRequestEntityTooLarge, 0},
		{&runtime.Error{Code: connect.CodeNotFound}, http.StatusNotFound, 0},
		{&runtime.Error{Code: connect.CodeFailedPrecondition}, http.StatusConflict, 0},
		{&runtime.Error{Code: connect.CodeAlreadyExists}, http.StatusConflict, 0},
		{&runtime.Error{Code: connect.CodeResourceExhausted, RetryDelay: 1500 * time.Millisecond}, http.StatusTooManyRequests, 1500 * time.Millisecond},
		{&runtime.Error{Code: connect.CodeResourceExhausted}, http.StatusRequestEntityTooLarge, 0},
		{&runtime.Error{Code: connect.CodeUnauthenticated}, http.StatusBadGateway, 0},
		{&runtime.Error{Code: connect.CodePermissionDenied}, http.StatusBadGateway, 0},
		{&runtime.Error{Code: connect.CodeUnavailable}, http.StatusServiceUnavailable, 0},
		{&runtime.Error{Code: connect.CodeUnavailable, RetryDelay: time.Second}, http.StatusServiceUnavailable, time.Second},
		{&runtime.Error{Code: connect.CodeDeadlineExceeded}, http.StatusGatewayTimeout, 0},
		{&runtime.Error{Code: connect.CodeInternal}, http.StatusBadGateway, 0},
		{&runtime.Error{Code: connect.CodeUnknown}, http.StatusBadGateway, 0},
		{connect.NewError(connect.CodeNotFound, errors.New("raw")), http.StatusNotFound, 0},
		{errors.New("not a runtime error"), http.StatusBadGateway, 0},
	} {
		status, retryAfter, _ := httpAnswer(tc.err)
		if status != tc.status || retryAfter != tc.retryAfter {
			t.Errorf("%v: got %d %s, want %d %s", tc.err, status, retryAfter, tc.status, tc.retryAfter)
		}
	}
}
