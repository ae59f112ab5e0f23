package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/egress"
	"github.com/workflow-runtime/workflow-runtime/internal/telemetry"
)

// DefaultHTTPTimeout is the timeout of an http node without params.timeout.
const DefaultHTTPTimeout = 30 * time.Second

// maxRedirects is how many redirects an http node follows (net/http's default).
const maxRedirects = 10

// IdempotencyHeader is the header every http node sends, "<execution id>:<attempt>", so that a
// receiver can drop a call it has already seen (a stale worker's duplicate of the same attempt).
const IdempotencyHeader = "Idempotency-Key"

// newHTTPClient is the client every http node of an Engine shares: with a policy, its transport
// dials through policy (each resolved address checked just before connecting, redirects
// included) and uses no proxy, which would connect on the policy's behalf. Redirects are
// followed up to maxRedirects; one to another host loses the headers that look like secrets.
func newHTTPClient(policy *egress.Policy) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if policy != nil {
		t.Proxy = nil
		t.DialContext = policy.DialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	}
	return &http.Client{Transport: t, CheckRedirect: checkRedirect}
}

// checkRedirect follows at most maxRedirects redirects. net/http already drops Authorization,
// Cookie and WWW-Authenticate on a redirect to another domain; this also drops every other header
// whose name says it holds a secret (X-Api-Key, X-Auth-Token, ...) when the host changes.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errTooManyRedirects
	}
	if !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
		for k := range req.Header {
			if telemetry.IsSensitiveKey(k) {
				req.Header.Del(k)
			}
		}
	}
	return nil
}

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)

// attemptKey is the context key of the idempotency key of the run (withAttempt).
type attemptKey struct{}

// withAttempt returns ctx carrying req's idempotency key, "<execution id>:<attempt>", which
// the http nodes send as IdempotencyHeader. Without an execution id ctx is returned as is.
func withAttempt(ctx context.Context, req *Request) context.Context {
	if req.ExecutionID == "" {
		return ctx
	}
	return context.WithValue(ctx, attemptKey{}, fmt.Sprintf("%s:%d", req.ExecutionID, req.Attempt))
}

// httpStep sends one request with the engine's shared client.
type httpStep struct {
	client   *http.Client
	maxBytes int64
	method   string
	url      string
	// target is what error messages name: scheme://host[:port] of url, without the user
	// information, path and query, which may hold credentials (user:password@, a webhook's
	// token in the path, ?api_key=). The node id tells which URL it was.
	target  string
	headers http.Header
	body    []byte
	timeout time.Duration
}

// prepareHTTP reads the params of an http node: method (default GET), url (required, http or
// https), headers (an object of strings), body (a string is sent as is, any other JSON value is
// sent JSON-encoded with Content-Type application/json unless headers set one), timeout (a
// duration, default 30s, at most 24h).
func (e *Engine) prepareHTTP(params map[string]any) (step, error) {
	s := &httpStep{client: e.httpClient, maxBytes: e.maxResponseBytes, headers: http.Header{}}
	method, ok, err := stringParam(params, "method")
	if err != nil {
		return nil, err
	}
	s.method = http.MethodGet
	if ok {
		s.method = strings.ToUpper(method)
		if !validMethod(s.method) {
			return nil, paramErrorf("method", "not an HTTP method: %q", method)
		}
	}
	raw, ok, err := stringParam(params, "url")
	if err != nil {
		return nil, err
	}
	if !ok || raw == "" {
		return nil, paramErrorf("url", "required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL, which may hold a password: report the cause only.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, paramErrorf("url", "not a URL: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, paramErrorf("url", "must be an absolute http or https URL, got scheme %q", u.Scheme)
	}
	s.url = u.String()
	s.target = u.Scheme + "://" + u.Host
	if h, ok := params["headers"]; ok && h != nil {
		m, ok := h.(map[string]any)
		if !ok {
			return nil, paramErrorf("headers", "must be an object of strings, got %T", h)
		}
		for k, v := range m {
			sv, ok := v.(string)
			if !ok {
				return nil, paramErrorf("headers", "header %q must be a string, got %T", k, v)
			}
			s.headers.Set(k, sv)
		}
	}
	switch b := params["body"].(type) {
	case nil:
	case string:
		s.body = []byte(b)
	default:
		s.body, err = json.Marshal(b)
		if err != nil {
			return nil, paramErrorf("body", "%v", err)
		}
		if s.headers.Get("Content-Type") == "" {
			s.headers.Set("Content-Type", "application/json")
		}
	}
	if s.timeout, err = durationParam(params, "timeout", DefaultHTTPTimeout); err != nil {
		return nil, err
	}
	if s.timeout == 0 {
		return nil, paramErrorf("timeout", "must be positive")
	}
	return s, nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// run sends the request, with IdempotencyHeader unless params.headers set it. Its output is
// {status, headers, body}: headers with multiple values joined by ", ", body parsed when the
// response is JSON and a string otherwise. A status outside 2xx fails the node, retryably for 5xx
// and 429; so do transport errors and the node's timeout. Error messages never hold the URL's
// credentials, path or query, nor any of the response body (see httpStep.target).
func (s *httpStep) run(parent context.Context, _ *nodeInput) (any, error) {
	ctx, cancel := context.WithTimeout(parent, s.timeout)
	defer cancel()
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, body)
	if err != nil {
		return nil, nodeErrorf(false, "%s %s: cannot build the request", s.method, s.target)
	}
	req.Header = s.headers.Clone()
	if key, ok := parent.Value(attemptKey{}).(string); ok && req.Header.Get(IdempotencyHeader) == "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.transportError(parent, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBytes+1))
	if err != nil {
		return nil, s.transportError(parent, err)
	}
	if int64(len(data)) > s.maxBytes {
		return nil, nodeErrorf(false, "%s %s: response body larger than %d bytes", s.method, s.target, s.maxBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Not the body: it may echo the request's credentials, and a service answering on a
		// private port would have it read back to whoever deployed the workflow.
		retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return nil, nodeErrorf(retryable, "%s %s: status %s", s.method, s.target, strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))))
	}
	headers := make(map[string]any, len(resp.Header))
	for k, vs := range resp.Header {
		headers[k] = strings.Join(vs, ", ")
	}
	return map[string]any{
		"status":  float64(resp.StatusCode),
		"headers": headers,
		"body":    responseBody(resp.Header.Get("Content-Type"), data),
	}, nil
}

// transportError reports a failed round trip. When the run's context (parent) ended, its error is
// returned as is (the scheduler tells cancellation from failure). An address the egress policy
// refuses is a permanent failure. The node's own timeout and every other network error are
// retryable failures; those others all read the same, so that the message does not tell a
// closed port from one where something other than an HTTP server answered (no port scanner),
// nor hold what such a server sent.
func (s *httpStep) transportError(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	switch {
	case errors.Is(err, egress.ErrDenied):
		return nodeErrorf(false, "%s %s: address not allowed by the egress policy (WFR_HTTP_ALLOW)", s.method, s.target)
	case errors.Is(err, errTooManyRedirects):
		return nodeErrorf(false, "%s %s: %v", s.method, s.target, errTooManyRedirects)
	case errors.Is(err, context.DeadlineExceeded):
		return nodeErrorf(true, "%s %s: no response within %s", s.method, s.target, s.timeout)
	}
	return nodeErrorf(true, "%s %s: no HTTP response (connection failed, or the server did not answer in HTTP)", s.method, s.target)
}

// responseBody is the parsed JSON body when the content type says JSON and it parses, otherwise
// the body as a string.
func responseBody(contentType string, data []byte) any {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		var v any
		if err := json.Unmarshal(data, &v); err == nil {
			return v
		}
	}
	return string(data)
}
