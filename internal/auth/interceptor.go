package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
	rt "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1/workflowruntimev1connect"
)

// procedureScopes is the one table of what each RPC needs. Every method of the services the
// server mounts has an entry (a test checks the descriptors); a procedure without one needs
// admin.
var procedureScopes = map[string]Scope{
	rt.WorkflowRuntimeServiceGetDeploymentStatusProcedure:   ScopeRead,
	rt.WorkflowRuntimeServiceListDeploymentsProcedure:       ScopeRead,
	rt.WorkflowRuntimeServiceGetExecutionHistoryProcedure:   ScopeRead,
	rt.WorkflowRuntimeServiceGetExecutionProcedure:          ScopeRead,
	rt.WorkflowRuntimeServiceGetDeploymentStatsProcedure:    ScopeRead,
	rt.WorkflowRuntimeServiceGetSystemHealthProcedure:       ScopeRead,
	rt.WorkflowRuntimeServiceGetSchedulingMetricsProcedure:  ScopeRead,
	rt.WorkflowRuntimeServiceGetJitterDistributionProcedure: ScopeRead,
	rt.WorkflowRuntimeServiceGetLoadDistributionProcedure:   ScopeRead,
	rt.WorkflowRuntimeServiceListFiresProcedure:             ScopeRead,
	rt.WorkflowRuntimeServiceWatchExecutionsProcedure:       ScopeRead,

	rt.WorkflowRuntimeServiceTriggerWorkflowProcedure: ScopeTrigger,

	rt.WorkflowRuntimeServiceDeployWorkflowProcedure:     ScopeDeploy,
	rt.WorkflowRuntimeServiceUpdateDeploymentProcedure:   ScopeDeploy,
	rt.WorkflowRuntimeServiceDeleteDeploymentProcedure:   ScopeDeploy,
	rt.WorkflowRuntimeServiceBackfillDeploymentProcedure: ScopeDeploy,
	rt.WorkflowRuntimeServiceCancelExecutionProcedure:    ScopeDeploy,

	rt.WorkflowRuntimeServiceGetBackfillOperationProcedure:    ScopeRead,
	rt.WorkflowRuntimeServiceListBackfillOperationsProcedure:  ScopeRead,
	rt.WorkflowRuntimeServiceCancelBackfillOperationProcedure: ScopeDeploy,

	rt.WorkflowRuntimeServiceGetDstReportProcedure:       ScopeRead,
	rt.WorkflowRuntimeServiceListScheduleHealthProcedure: ScopeRead,
	rt.WorkflowRuntimeServiceGetCalendarProcedure:        ScopeRead,
	rt.WorkflowRuntimeServiceListCalendarsProcedure:      ScopeRead,
	rt.WorkflowRuntimeServiceCreateCalendarProcedure:     ScopeDeploy,
	rt.WorkflowRuntimeServiceUpdateCalendarProcedure:     ScopeDeploy,
	rt.WorkflowRuntimeServiceDeleteCalendarProcedure:     ScopeDeploy,

	workflowenginev1connect.WorkflowEngineServiceExecuteWorkflowProcedure: ScopeEngine,

	"/" + grpchealth.HealthV1ServiceName + "/Check":                       scopePublic,
	"/" + grpchealth.HealthV1ServiceName + "/Watch":                       scopePublic,
	"/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo":      ScopeRead,
	"/" + grpcreflect.ReflectV1AlphaServiceName + "/ServerReflectionInfo": ScopeRead,
}

// ScopeOf returns the scope procedure needs: its entry in the table, or admin.
func ScopeOf(procedure string) Scope {
	if s, ok := procedureScopes[procedure]; ok {
		return s
	}
	return ScopeAdmin
}

// NewInterceptor checks every call's bearer token against tokens and the procedure's scope:
// unauthenticated without a valid token, permission_denied without the scope. The identity
// travels on in the context (IdentityFrom). It goes between recover and validation, so that an
// unauthenticated caller learns nothing from validation errors.
func NewInterceptor(tokens *Tokens) connect.Interceptor {
	return &interceptor{tokens: tokens}
}

type interceptor struct{ tokens *Tokens }

func (i *interceptor) check(ctx context.Context, procedure string, header http.Header) (context.Context, error) {
	scope := ScopeOf(procedure)
	if scope == scopePublic {
		return ctx, nil
	}
	id, err := i.tokens.Authenticate(header.Get("Authorization"))
	if err != nil {
		return ctx, connect.NewError(connect.CodeUnauthenticated, err)
	}
	if !id.Has(scope) {
		return ctx, connect.NewError(connect.CodePermissionDenied,
			errors.New("the token lacks the scope "+string(scope)+" that "+procedure+" needs"))
	}
	return WithIdentity(ctx, id), nil
}

// WrapUnary implements connect.Interceptor.
func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.check(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor: clients are not checked.
func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.check(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// RequireHTTP wraps a plain HTTP handler (/metrics, /health, the profiler) so that it needs a
// token with scope: 401 without a valid token, 403 without the scope.
func RequireHTTP(tokens *Tokens, scope Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := tokens.Authenticate(r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="workflow-runtime"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if !id.Has(scope) {
			http.Error(w, "the token lacks the scope "+string(scope), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// CheckHost refuses requests whose Host header is not one of allowed (host names, compared
// without the port and case-insensitively) with 421 Misdirected Request. A server bound to
// loopback checks it against localhost, 127.0.0.1 and ::1 (plus what is configured): a web
// page that rebinds its own DNS name to 127.0.0.1 sends its own name as Host and is refused.
func CheckHost(allowed []string, next http.Handler) http.Handler {
	ok := map[string]bool{}
	for _, h := range allowed {
		ok[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !ok[strings.ToLower(strings.Trim(host, "[]"))] {
			http.Error(w, "host not allowed: set WFR_ALLOWED_HOSTS to serve it", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LoopbackHosts are the Host names a loopback-bound server always answers.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}
