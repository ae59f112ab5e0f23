package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	workflowenginev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	workflowruntimev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Handler serves WorkflowEngineService with an Executor: proto in, Execute, proto out. Mount it
// with workflowenginev1connect.NewWorkflowEngineServiceHandler, with the protovalidate
// interceptor (connectrpc.com/validate) checking requests first.
type Handler struct {
	workflowenginev1connect.UnimplementedWorkflowEngineServiceHandler
	exec   Executor
	logger *slog.Logger
}

var _ workflowenginev1connect.WorkflowEngineServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler running executions on exec (usually an *Engine). Errors it does not
// know are logged with slog.Default and answered as internal.
func NewHandler(exec Executor) *Handler {
	return &Handler{exec: exec, logger: slog.Default()}
}

// ExecuteWorkflow runs the request on the executor. Connect gives ctx the caller's deadline
// (Connect-Timeout-Ms / grpc-timeout) and cancels it when the caller goes away, so both reach
// every node. A failure of the workflow is an answer with Failure; only the call's problems are
// errors: canceled, deadline_exceeded, unavailable.
func (h *Handler) ExecuteWorkflow(ctx context.Context, req *workflowenginev1.ExecuteWorkflowRequest) (*workflowenginev1.ExecuteWorkflowResponse, error) {
	if req.GetDefinition() == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("definition is required"))
	}
	res, err := h.exec.Execute(ctx, requestFromProto(req))
	switch {
	case err == nil && res == nil:
		h.logger.ErrorContext(ctx, "execute workflow: executor returned neither result nor error", slog.String("execution_id", req.GetExecutionId()))
		return nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
	case err == nil:
	case errors.Is(err, context.Canceled):
		return nil, connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, errdefs.ErrUnavailable):
		return nil, connect.NewError(connect.CodeUnavailable, err)
	default:
		h.logger.ErrorContext(ctx, "execute workflow", slog.String("execution_id", req.GetExecutionId()), slog.Any("error", err))
		return nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	return resultToProto(res), nil
}

// Client runs executions on a remote engine over WorkflowEngineService. It implements Executor.
type Client struct {
	rpc workflowenginev1connect.WorkflowEngineServiceClient
}

var _ Executor = (*Client)(nil)

// NewClient returns a Client calling the engine at baseURL (such as "http://engine:8080") with
// httpClient. opts are passed to Connect (connect.WithGRPC(), interceptors, ...); the default
// protocol is Connect with binary protobuf. httpClient must not set an overall Timeout shorter
// than the longest execution: the caller's ctx deadline bounds each call and travels to the
// engine.
func NewClient(httpClient connect.HTTPClient, baseURL string, opts ...connect.ClientOption) *Client {
	return &Client{rpc: workflowenginev1connect.NewWorkflowEngineServiceClient(httpClient, baseURL, opts...)}
}

// Execute calls ExecuteWorkflow. Cancelling ctx cancels the call and, through it, the run on the
// engine; ctx's deadline becomes the call's deadline.
//
// Errors: context.Canceled / context.DeadlineExceeded (wrapped) when ctx ended or the engine
// answered canceled / deadline_exceeded; ErrUnavailable (wrapped; it wraps errdefs.ErrUnavailable)
// when the engine cannot be reached or answers unavailable (connection refused, reset, a
// proxy's 502/503/504). Any other answer of the engine becomes a Failure without node id:
// retryable for internal, unknown, resource_exhausted and aborted, not retryable otherwise
// (invalid_argument, unimplemented, ...).
func (c *Client) Execute(ctx context.Context, req *Request) (*Result, error) {
	preq, err := requestToProto(req)
	if err != nil {
		return &Result{Failure: &Failure{Message: err.Error()}}, nil
	}
	resp, err := c.rpc.ExecuteWorkflow(ctx, preq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("execute %s on remote engine: %w", req.ExecutionID, ctxErr)
		}
		switch code := connect.CodeOf(err); code {
		case connect.CodeCanceled:
			return nil, fmt.Errorf("execute %s on remote engine: %w", req.ExecutionID, rpcError(context.Canceled, err))
		case connect.CodeDeadlineExceeded:
			return nil, fmt.Errorf("execute %s on remote engine: %w", req.ExecutionID, rpcError(context.DeadlineExceeded, err))
		case connect.CodeUnavailable:
			return nil, fmt.Errorf("execute %s on remote engine: %w", req.ExecutionID, rpcError(ErrUnavailable, err))
		case connect.CodeInternal, connect.CodeUnknown, connect.CodeResourceExhausted, connect.CodeAborted:
			return &Result{Failure: &Failure{Message: "engine: " + err.Error(), Retryable: true}}, nil
		default:
			return &Result{Failure: &Failure{Message: "engine: " + err.Error()}}, nil
		}
	}
	return resultFromProto(resp), nil
}

func requestFromProto(p *workflowenginev1.ExecuteWorkflowRequest) *Request {
	req := &Request{
		ExecutionID: p.GetExecutionId(),
		WorkflowID:  p.GetWorkflowId(),
		Revision:    p.GetRevision(),
		Attempt:     p.GetAttempt(),
		Trigger:     triggerFromProto(p.GetTrigger()),
	}
	if p.GetInput() != "" {
		req.Input = []byte(p.GetInput())
	}
	d := p.GetDefinition()
	req.Definition = deployments.Definition{
		ID:          d.GetId(),
		Name:        d.GetName(),
		Description: d.GetDescription(),
		Nodes:       make([]deployments.Node, len(d.GetNodes())),
	}
	for i, n := range d.GetNodes() {
		req.Definition.Nodes[i] = deployments.Node{ID: n.GetId(), Type: n.GetType(), DependsOn: n.GetDependsOn()}
		if n.GetParams() != nil {
			req.Definition.Nodes[i].Params = n.GetParams().AsMap()
		}
	}
	return req
}

func requestToProto(req *Request) (*workflowenginev1.ExecuteWorkflowRequest, error) {
	d := &workflowruntimev1.WorkflowDefinition{
		Id:          req.Definition.ID,
		Name:        req.Definition.Name,
		Description: req.Definition.Description,
		Nodes:       make([]*workflowruntimev1.Node, len(req.Definition.Nodes)),
	}
	for i, n := range req.Definition.Nodes {
		pn := &workflowruntimev1.Node{Id: n.ID, Type: n.Type, DependsOn: n.DependsOn}
		if n.Params != nil {
			params, err := structpb.NewStruct(n.Params)
			if err != nil {
				return nil, fmt.Errorf("node %s: params are not JSON: %w", n.ID, err)
			}
			pn.Params = params
		}
		d.Nodes[i] = pn
	}
	return &workflowenginev1.ExecuteWorkflowRequest{
		ExecutionId: req.ExecutionID,
		WorkflowId:  req.WorkflowID,
		Revision:    req.Revision,
		Definition:  d,
		Input:       string(req.Input),
		Attempt:     req.Attempt,
		Trigger:     triggerToProto(req.Trigger),
	}, nil
}

func resultToProto(res *Result) *workflowenginev1.ExecuteWorkflowResponse {
	if res.Failure != nil {
		return &workflowenginev1.ExecuteWorkflowResponse{Result: &workflowenginev1.ExecuteWorkflowResponse_Failure{
			Failure: &workflowenginev1.Failure{NodeId: res.Failure.NodeID, Message: res.Failure.Message, Retryable: res.Failure.Retryable},
		}}
	}
	return &workflowenginev1.ExecuteWorkflowResponse{Result: &workflowenginev1.ExecuteWorkflowResponse_Success{
		Success: &workflowenginev1.Success{Output: string(res.Output)},
	}}
}

func resultFromProto(p *workflowenginev1.ExecuteWorkflowResponse) *Result {
	if f := p.GetFailure(); f != nil {
		return &Result{Failure: &Failure{NodeID: f.GetNodeId(), Message: f.GetMessage(), Retryable: f.GetRetryable()}}
	}
	if s := p.GetSuccess(); s != nil {
		return &Result{Output: []byte(s.GetOutput())}
	}
	return &Result{Failure: &Failure{Message: "engine answered neither success nor failure", Retryable: true}}
}

// codedError is an RPC error under the sentinel its code stands for: it reads "<sentinel>:
// <message>", without the code name that connect puts in front of the message (the sentinel
// says it), and unwraps to both.
type codedError struct {
	sentinel error
	rpc      error
}

// rpcError returns err (an error of a call) under sentinel.
func rpcError(sentinel, err error) error { return &codedError{sentinel: sentinel, rpc: err} }

func (e *codedError) Error() string {
	msg := e.rpc.Error()
	if cerr, ok := errors.AsType[*connect.Error](e.rpc); ok {
		msg = cerr.Message()
	}
	return e.sentinel.Error() + ": " + msg
}

func (e *codedError) Unwrap() []error { return []error{e.sentinel, e.rpc} }
