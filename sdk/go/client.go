package runtime

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// Client calls one workflow-runtime service. It is safe for concurrent use; make one per
// service and keep it.
type Client struct {
	service workflowruntimev1connect.WorkflowRuntimeServiceClient
	http    connect.HTTPClient
	baseURL string
	cfg     config
	policy  *callPolicy
	watcher watcher
}

// NewClient returns a client of the service at baseURL, e.g. "http://127.0.0.1:8080" or
// "https://runtime.example.com" (a path is kept: "https://gw.example.com/runtime"). It
// connects lazily: an unreachable service shows up as unavailable on the first call.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	cfg := config{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&cfg)
	}
	cfg.retry = cfg.retry.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("runtime.NewClient: %w", err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("runtime.NewClient: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("runtime.NewClient: base URL %q: want http://host[:port] or https://host[:port]", baseURL)
	}
	baseURL = strings.TrimSuffix(baseURL, "/")
	if cfg.httpClient == nil {
		cfg.httpClient = newHTTPClient(cfg.protocol)
	}
	policy := &callPolicy{token: cfg.token, timeout: cfg.timeout, retry: cfg.retry}
	connectOpts := append([]connect.ClientOption{}, cfg.clientOptions...)
	switch cfg.protocol {
	case ProtocolGRPC:
		connectOpts = append(connectOpts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		connectOpts = append(connectOpts, connect.WithGRPCWeb())
	}
	// Interceptors given first run outermost: they see one call, however many attempts the
	// policy makes of it.
	connectOpts = append(connectOpts, connect.WithInterceptors(append(append([]connect.Interceptor{}, cfg.interceptors...), policy)...))
	c := &Client{
		service: workflowruntimev1connect.NewWorkflowRuntimeServiceClient(cfg.httpClient, baseURL, connectOpts...),
		http:    cfg.httpClient,
		baseURL: baseURL,
		cfg:     cfg,
		policy:  policy,
	}
	c.watcher = &streamWatcher{
		watch: c.service.WatchExecutions,
		poll:  &pollWatcher{get: c.service.GetExecution, list: c.service.GetExecutionHistory},
		retry: cfg.retry,
	}
	return c, nil
}

// newHTTPClient is the default HTTP client of a protocol: gRPC needs HTTP/2, which for
// http:// URLs is h2c with prior knowledge (the service serves HTTP/1.1 and h2c on one port);
// Connect and gRPC-Web use HTTP/1.1 there, and HTTP/2 wherever TLS negotiates it.
func newHTTPClient(p Protocol) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	var protocols http.Protocols
	if p == ProtocolGRPC {
		protocols.SetHTTP2(true)
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
	}
	t.Protocols = &protocols
	return &http.Client{Transport: t}
}

// Raw returns the generated client beneath this one, for what the methods here do not cover.
// Its calls carry the same token, default deadline and retries, but return connect's errors
// (*connect.Error; AsError decodes them).
func (c *Client) Raw() workflowruntimev1connect.WorkflowRuntimeServiceClient {
	return c.service
}

// call runs one RPC of the generated client and makes its error an *Error.
func call[Req, Res any](ctx context.Context, rpc func(context.Context, *Req) (*Res, error), req *Req) (*Res, error) {
	res, err := rpc(ctx, req)
	if err != nil {
		return nil, toError(err)
	}
	return res, nil
}

// DeployWorkflow deploys a workflow definition with its triggers and configuration: a new
// revision when the workflow exists (created false), DEPLOYED unless the request says draft.
// Never retried.
func (c *Client) DeployWorkflow(ctx context.Context, req *v1.DeployWorkflowRequest) (*v1.DeployWorkflowResponse, error) {
	return call(ctx, c.service.DeployWorkflow, req)
}

// UpdateDeployment changes the fields of a deployment that req.update_mask names (status to
// pause or resume it, definition, triggers, config). Never retried.
func (c *Client) UpdateDeployment(ctx context.Context, req *v1.UpdateDeploymentRequest) (*v1.UpdateDeploymentResponse, error) {
	return call(ctx, c.service.UpdateDeployment, req)
}

// DeleteDeployment archives a deployment: its triggers are removed, its history kept. Never
// retried.
func (c *Client) DeleteDeployment(ctx context.Context, req *v1.DeleteDeploymentRequest) (*v1.DeleteDeploymentResponse, error) {
	return call(ctx, c.service.DeleteDeployment, req)
}

// GetDeploymentStatus reads one deployment, by id or workflow id. Retried.
func (c *Client) GetDeploymentStatus(ctx context.Context, req *v1.GetDeploymentStatusRequest) (*v1.GetDeploymentStatusResponse, error) {
	return call(ctx, c.service.GetDeploymentStatus, req)
}

// ListDeployments reads one page of deployments, ordered by workflow id; Deployments iterates
// over all of them. Retried.
func (c *Client) ListDeployments(ctx context.Context, req *v1.ListDeploymentsRequest) (*v1.ListDeploymentsResponse, error) {
	return call(ctx, c.service.ListDeployments, req)
}

// GetExecutionHistory reads one page of executions, newest first; Executions iterates over
// all of them. Retried.
func (c *Client) GetExecutionHistory(ctx context.Context, req *v1.GetExecutionHistoryRequest) (*v1.GetExecutionHistoryResponse, error) {
	return call(ctx, c.service.GetExecutionHistory, req)
}

// TriggerWorkflow records an execution (PENDING) and queues it; WaitExecution follows it to
// its end. With req.idempotency_key the call is retried after unavailable and after the rate
// limit's resource_exhausted (honouring its RetryInfo delay): a repeat of a call that reached
// the server answers the first execution with deduplicated set. Without a key it is never
// retried, as a repeat could run the workflow twice.
func (c *Client) TriggerWorkflow(ctx context.Context, req *v1.TriggerWorkflowRequest) (*v1.TriggerWorkflowResponse, error) {
	return call(ctx, c.service.TriggerWorkflow, req)
}

// GetExecution reads one execution. Retried.
func (c *Client) GetExecution(ctx context.Context, req *v1.GetExecutionRequest) (*v1.GetExecutionResponse, error) {
	return call(ctx, c.service.GetExecution, req)
}

// CancelExecution cancels a pending or running execution. Never retried.
func (c *Client) CancelExecution(ctx context.Context, req *v1.CancelExecutionRequest) (*v1.CancelExecutionResponse, error) {
	return call(ctx, c.service.CancelExecution, req)
}

// GetDeploymentStats counts deployments and executions. Retried.
func (c *Client) GetDeploymentStats(ctx context.Context, req *v1.GetDeploymentStatsRequest) (*v1.GetDeploymentStatsResponse, error) {
	return call(ctx, c.service.GetDeploymentStats, req)
}

// GetSystemHealth reads the health of the service and its dependencies. Retried.
func (c *Client) GetSystemHealth(ctx context.Context, req *v1.GetSystemHealthRequest) (*v1.GetSystemHealthResponse, error) {
	return call(ctx, c.service.GetSystemHealth, req)
}

// GetSchedulingMetrics summarises the scheduler's fires. Retried.
func (c *Client) GetSchedulingMetrics(ctx context.Context, req *v1.GetSchedulingMetricsRequest) (*v1.GetSchedulingMetricsResponse, error) {
	return call(ctx, c.service.GetSchedulingMetrics, req)
}

// GetJitterDistribution shows how the deployed cron triggers' offsets spread over the jitter
// window. Retried.
func (c *Client) GetJitterDistribution(ctx context.Context, req *v1.GetJitterDistributionRequest) (*v1.GetJitterDistributionResponse, error) {
	return call(ctx, c.service.GetJitterDistribution, req)
}

// GetLoadDistribution projects fires over a coming window, with and without jitter. Retried.
func (c *Client) GetLoadDistribution(ctx context.Context, req *v1.GetLoadDistributionRequest) (*v1.GetLoadDistributionResponse, error) {
	return call(ctx, c.service.GetLoadDistribution, req)
}

// BackfillDeployment creates the executions of every scheduled time of a past range. Retried:
// the proto declares it IDEMPOTENT (one execution per trigger and scheduled time, so a repeat
// creates nothing new).
func (c *Client) BackfillDeployment(ctx context.Context, req *v1.BackfillDeploymentRequest) (*v1.BackfillDeploymentResponse, error) {
	return call(ctx, c.service.BackfillDeployment, req)
}

// ListFires reads one page of a deployment's fire ledger; Fires iterates over all of it.
// Retried.
func (c *Client) ListFires(ctx context.Context, req *v1.ListFiresRequest) (*v1.ListFiresResponse, error) {
	return call(ctx, c.service.ListFires, req)
}
