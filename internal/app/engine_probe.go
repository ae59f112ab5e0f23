package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	workflowenginev1 "github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1"
	"github.com/workflow-runtime/workflow-runtime/gen/workflowengine/v1/workflowenginev1connect"
)

// engineTokenRecheck is how long the remote engine's answer to this process's token stands
// before the probe asks again, so that a token the engine's WFR_AUTH_TOKENS_FILE drops or adds
// (SIGHUP) is seen within it while readiness, asked every second by a worker, costs one /livez
// per probe and one token check per interval.
const engineTokenRecheck = 30 * time.Second

// errEngineToken is the reason readiness gives when the remote engine refuses the token.
var errEngineToken = errors.New("engine refused the token")

// engineProbe is the readiness check of a remote engine (WFR_ENGINE_URL): it must be up (its
// /livez answers 200; an engine that does not is down, and the worker waits for it) and it
// must take this process's token (WFR_ENGINE_TOKEN) for ExecuteWorkflow. /livez alone cannot
// say the latter: it is open to any caller by default. A worker whose token is refused would
// otherwise be ready, take executions and fail each one on the engine's unauthenticated.
type engineProbe struct {
	url    string
	token  string
	http   *http.Client
	rpc    workflowenginev1connect.WorkflowEngineServiceClient
	logger *slog.Logger

	mu      sync.Mutex // held through a token check: one at a time
	checked time.Time  // when the engine last answered the token check; zero: never
	refused error      // that answer: nil when the token was taken
}

func newEngineProbe(client *http.Client, url, token string, logger *slog.Logger) *engineProbe {
	opts := []connect.ClientOption{connect.WithGRPC()}
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	return &engineProbe{
		url: url, token: token, http: client, logger: logger,
		rpc: workflowenginev1connect.NewWorkflowEngineServiceClient(client, url, opts...),
	}
}

// check is the health check: nil when the engine is up and takes the token.
func (p *engineProbe) check(ctx context.Context) error {
	if err := p.live(ctx); err != nil {
		return err
	}
	return p.tokenTaken(ctx)
}

// live asks the engine's /livez (with the token, for an engine that closes its health
// endpoints).
func (p *engineProbe) live(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/livez", nil)
	if err != nil {
		return err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("engine /livez answered %s", resp.Status)
	}
	return nil
}

// tokenTaken says whether the engine takes the token, asking it at most once per
// engineTokenRecheck: an ExecuteWorkflow without a definition, which the engine's
// authentication answers first (unauthenticated, permission_denied without the engine scope)
// and which is otherwise refused as invalid_argument before anything runs. An engine that
// does not answer the call (it went down since /livez) is asked again at the next probe. The
// first refusal is logged, and so is the token being taken again after one.
func (p *engineProbe) tokenTaken(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.checked.IsZero() && time.Since(p.checked) < engineTokenRecheck {
		return p.refused
	}
	_, err := p.rpc.ExecuteWorkflow(ctx, &workflowenginev1.ExecuteWorkflowRequest{})
	var refused error
	switch code := connect.CodeOf(err); {
	case err == nil:
	case code == connect.CodeUnauthenticated && p.token == "":
		refused = fmt.Errorf("%w: %s (WFR_ENGINE_TOKEN is empty)", errEngineToken, code)
	case code == connect.CodeUnauthenticated:
		refused = fmt.Errorf("%w: %s", errEngineToken, code)
	case code == connect.CodePermissionDenied:
		refused = fmt.Errorf("%w: %s (it lacks the engine scope)", errEngineToken, code)
	case code == connect.CodeUnavailable, code == connect.CodeDeadlineExceeded, code == connect.CodeCanceled:
		return nil // no answer: /livez answered just now; ask again next time
	}
	switch {
	case refused != nil && (p.checked.IsZero() || p.refused == nil):
		p.logger.Error("the remote engine refused WFR_ENGINE_TOKEN",
			slog.String("engine_url", p.url), slog.String("reason", refused.Error()))
	case refused == nil && p.refused != nil:
		p.logger.Info("the remote engine accepts WFR_ENGINE_TOKEN again", slog.String("engine_url", p.url))
	}
	p.checked, p.refused = time.Now(), refused
	return refused
}
