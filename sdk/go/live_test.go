package runtime_test

import (
	"context"
	"errors"
	"iter"
	"net"
	"net/http"
	"strconv"
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

// These tests check the client against the real service (main_test.go): what it sends is
// what the service takes, and what the service answers decodes as documented.

func newClient(t *testing.T, url string, opts ...runtime.Option) *runtime.Client {
	t.Helper()
	c, err := runtime.NewClient(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// code is the *Error's code, failing the test when err is not one.
func code(t *testing.T, err error) connect.Code {
	t.Helper()
	var rerr *runtime.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("want an *runtime.Error, got %T: %v", err, err)
	}
	return rerr.Code
}

func deployLive(t *testing.T, c *runtime.Client, req *v1.DeployWorkflowRequest) {
	t.Helper()
	if _, err := c.DeployWorkflow(t.Context(), req); err != nil {
		t.Fatalf("deploy %s: %v", req.GetDefinition().GetId(), err)
	}
}

func triggerReq(workflowID, key string) *v1.TriggerWorkflowRequest {
	return &v1.TriggerWorkflowRequest{
		Target:         &v1.TriggerWorkflowRequest_WorkflowId{WorkflowId: workflowID},
		TriggerData:    `{"name": "test"}`,
		IdempotencyKey: key,
	}
}

// TestLiveRateLimit: the trigger rate limit's resource_exhausted carries a RetryInfo delay the
// client decodes; a keyed trigger is not made to wait past its deadline for it.
func TestLiveRateLimit(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// One trigger per caller, then one every 1000 s.
	svc := startOwn(t, "WFR_TRIGGER_RATE=0.001", "WFR_TRIGGER_BURST=1")
	c := newClient(t, svc.url, runtime.WithToken(token))
	deployLive(t, c, greeter("limited"))

	_, err := c.TriggerWorkflow(t.Context(), triggerReq("limited", "k1"))
	is.NoErr(err) // the burst

	_, err = c.TriggerWorkflow(t.Context(), triggerReq("limited", ""))
	rerr, ok := runtime.AsError(err)
	is.True(ok)
	is.Equal(rerr.Code, connect.CodeResourceExhausted)
	is.True(rerr.RetryDelay > time.Minute) // the service said when to come back

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err = c.TriggerWorkflow(ctx, triggerReq("limited", "k2"))
	is.Equal(code(t, err), connect.CodeResourceExhausted) // the server's answer, not deadline_exceeded
	is.NoErr(ctx.Err())                                   // returned without sitting out the deadline
}

// countingHTTP counts the requests a client sends.
type countingHTTP struct {
	n    atomic.Int32
	next connect.HTTPClient
}

func (c *countingHTTP) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

// TestLiveUnavailable: a service that does not answer is unavailable; reads are retried,
// writes are not.
func TestLiveUnavailable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := ln.Addr().String()
	is.NoErr(ln.Close()) // nothing listens there now: connections are refused

	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	counter := &countingHTTP{next: &http.Client{Transport: h2c}}
	c := newClient(t, "http://"+addr, runtime.WithHTTPClient(counter),
		runtime.WithRetryPolicy(runtime.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))

	_, err = c.GetExecution(t.Context(), &v1.GetExecutionRequest{ExecutionId: "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b"})
	is.Equal(code(t, err), connect.CodeUnavailable)
	is.Equal(counter.n.Load(), int32(3)) // a read: every attempt

	counter.n.Store(0)
	_, err = c.DeployWorkflow(t.Context(), greeter("never"))
	is.Equal(code(t, err), connect.CodeUnavailable)
	is.Equal(counter.n.Load(), int32(1)) // a write: once
}

// TestLiveRefusals: the service's refusals arrive as *Error with the documented code.
func TestLiveRefusals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin := newClient(t, baseURL, runtime.WithToken(token))
	secret := []byte("whsec-live-0123456789abcdef")
	deployLive(t, admin, greeter("refusals", &v1.Trigger{
		Id:   "signed",
		Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "refusals/signed", Secret: string(secret)}},
	}, &v1.Trigger{
		Id:   "unsigned",
		Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "refusals/unsigned"}},
	}))
	paused, err := admin.DeployWorkflow(ctx, greeter("refusals-paused", &v1.Trigger{
		Id:   "hook",
		Kind: &v1.Trigger_Webhook{Webhook: &v1.WebhookTrigger{Path: "refusals/paused", Secret: string(secret)}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.UpdateDeployment(ctx, &v1.UpdateDeploymentRequest{
		DeploymentId: paused.GetDeployment().GetId(),
		Status:       v1.DeploymentStatus_DEPLOYMENT_STATUS_PAUSED,
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	anonymous := newClient(t, baseURL)
	reader := newClient(t, baseURL, runtime.WithToken(readToken))
	gateway := newClient(t, baseURL, runtime.WithWebhookSecret(secret))
	wrongSecret := newClient(t, baseURL, runtime.WithWebhookSecret([]byte("not-the-secret-0123456789")))

	for _, tc := range []struct {
		name string
		call func() error
		want connect.Code
	}{
		{"no token", func() error {
			_, err := anonymous.GetExecution(ctx, &v1.GetExecutionRequest{ExecutionId: "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b"})
			return err
		}, connect.CodeUnauthenticated},
		{"read token triggers", func() error {
			_, err := reader.TriggerWorkflow(ctx, triggerReq("refusals", "r1"))
			return err
		}, connect.CodePermissionDenied},
		{"unknown workflow", func() error {
			_, err := admin.TriggerWorkflow(ctx, triggerReq("no-such-workflow", "r2"))
			return err
		}, connect.CodeNotFound},
		{"wait for an unknown execution", func() error {
			_, err := admin.WaitExecution(ctx, "0190b6a3-7c2e-7d4f-9a1b-2c3d4e5f6a7b")
			return err
		}, connect.CodeNotFound},
		{"webhook with the wrong secret", func() error {
			_, err := wrongSecret.TriggerWebhook(ctx, "refusals/signed", []byte(`{}`), "d1")
			return err
		}, connect.CodeUnauthenticated},
		{"webhook body not JSON", func() error {
			_, err := gateway.TriggerWebhook(ctx, "refusals/signed", []byte(`name=ada`), "d2")
			return err
		}, connect.CodeInvalidArgument},
		{"webhook of a trigger without secret", func() error {
			_, err := gateway.TriggerWebhook(ctx, "refusals/unsigned", []byte(`{}`), "d3")
			return err
		}, connect.CodePermissionDenied},
		{"webhook of an unknown path", func() error {
			_, err := gateway.TriggerWebhook(ctx, "refusals/nowhere", []byte(`{}`), "d4")
			return err
		}, connect.CodeNotFound},
		{"webhook of a paused deployment", func() error {
			_, err := gateway.TriggerWebhook(ctx, "refusals/paused", []byte(`{}`), "d5")
			return err
		}, connect.CodeFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is.New(t).Equal(code(t, tc.call()), tc.want)
		})
	}

	t.Run("a malformed id names the field", func(t *testing.T) {
		is := is.New(t)
		_, err := admin.WaitExecution(ctx, "not-a-uuid")
		rerr, ok := runtime.AsError(err)
		is.True(ok)
		is.Equal(rerr.Code, connect.CodeInvalidArgument)
		is.Equal(len(rerr.FieldViolations), 1)
		is.Equal(rerr.FieldViolations[0].Field, "execution_id")
		is.Equal(rerr.FieldViolations[0].Rule, "string.uuid")
	})
}

// TestLiveWaitDeadline: WaitExecution gives up when its context does, with the state it saw.
func TestLiveWaitDeadline(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newClient(t, baseURL, runtime.WithToken(token))
	params, err := structpb.NewStruct(map[string]any{"duration": "1h"})
	is.NoErr(err)
	deployLive(t, c, &v1.DeployWorkflowRequest{Definition: &v1.WorkflowDefinition{
		Id:    "sleeper",
		Nodes: []*v1.Node{{Id: "wait", Type: "delay", Params: params}},
	}})
	res, err := c.TriggerWorkflow(t.Context(), triggerReq("sleeper", "s1"))
	is.NoErr(err)
	id := res.GetExecution().GetId()
	t.Cleanup(func() {
		// Not the test's context, which has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: id}); err != nil {
			t.Errorf("cancel %s: %v", id, err)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	e, err := c.WaitExecution(ctx, id)
	is.Equal(code(t, err), connect.CodeDeadlineExceeded)
	is.Equal(e.GetId(), id)                     // the last state seen
	is.True(!runtime.IsTerminal(e.GetStatus())) // still pending or running an hour's delay
}

// TestLiveWatch: WatchExecution follows one execution to its end; WatchDeployment yields the
// executions of a deployment as they change, those unfinished when it starts first.
func TestLiveWatch(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c := newClient(t, baseURL, runtime.WithToken(token))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	run := strconv.FormatInt(time.Now().UnixNano(), 36) // keys of this run: -count=N runs again against the same service
	deployLive(t, c, greeter("watched"))
	tr, err := c.TriggerWorkflow(ctx, triggerReq("watched", "w1-"+run))
	is.NoErr(err)
	id := tr.GetExecution().GetId()
	var last *v1.Execution
	for e, err := range c.WatchExecution(ctx, id) {
		is.NoErr(err)
		is.Equal(e.GetId(), id)
		last = e
	}
	is.Equal(last.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED) // followed to its end

	// A deployment whose executions wait an hour, until they are cancelled: the first is
	// unfinished when the watch starts, the second is created after.
	params, err := structpb.NewStruct(map[string]any{"duration": "1h"})
	is.NoErr(err)
	res, err := c.DeployWorkflow(ctx, &v1.DeployWorkflowRequest{
		Definition: &v1.WorkflowDefinition{Id: "watched-slow", Nodes: []*v1.Node{{Id: "wait", Type: "delay", Params: params}}},
		Config:     &v1.DeploymentConfig{OverlapPolicy: v1.OverlapPolicy_OVERLAP_POLICY_ALLOW_ALL},
	})
	is.NoErr(err)
	first, err := c.TriggerWorkflow(ctx, triggerReq("watched-slow", "s1-"+run))
	is.NoErr(err)
	watch, stop := iter.Pull2(c.WatchDeployment(ctx, res.GetDeployment().GetId()))
	defer stop()
	// next returns the next state of execution id the watch yields that is (or is not) terminal.
	next := func(id string, terminal bool) *v1.Execution {
		t.Helper()
		for {
			e, err, ok := watch()
			if !ok || err != nil {
				t.Fatalf("watch ended: %v", err)
			}
			if e.GetId() == id && runtime.IsTerminal(e.GetStatus()) == terminal {
				return e
			}
		}
	}
	next(first.GetExecution().GetId(), false) // unfinished when the watch started
	_, err = c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: first.GetExecution().GetId()})
	is.NoErr(err)
	e := next(first.GetExecution().GetId(), true)
	is.Equal(e.GetStatus(), v1.ExecutionStatus_EXECUTION_STATUS_CANCELLED) // and seen to end

	second, err := c.TriggerWorkflow(ctx, triggerReq("watched-slow", "s2-"+run))
	is.NoErr(err)
	next(second.GetExecution().GetId(), false) // created after the watch started
	_, err = c.CancelExecution(ctx, &v1.CancelExecutionRequest{ExecutionId: second.GetExecution().GetId()})
	is.NoErr(err)
	next(second.GetExecution().GetId(), true)

	cancel()
	_, err, ok := watch()
	is.True(ok)
	is.Equal(code(t, err), connect.CodeCanceled) // it ends with its context
}
