package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultHTTPTimeout is the timeout of an http node without params.timeout.
const DefaultHTTPTimeout = 30 * time.Second

// httpStep sends one request with the engine's shared client.
type httpStep struct {
	client   *http.Client
	maxBytes int64
	method   string
	url      string
	headers  http.Header
	body     []byte
	timeout  time.Duration
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
		return nil, paramErrorf("url", "%v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, paramErrorf("url", "must be an absolute http or https URL, got %q", raw)
	}
	s.url = u.String()
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

// run sends the request. Its output is {status, headers, body}: headers with multiple values
// joined by ", ", body parsed when the response is JSON and a string otherwise. A status outside
// 2xx fails the node, retryably for 5xx and 429; so do transport errors and the node's timeout.
func (s *httpStep) run(parent context.Context, _ *nodeInput) (any, error) {
	ctx, cancel := context.WithTimeout(parent, s.timeout)
	defer cancel()
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, body)
	if err != nil {
		return nil, nodeErrorf(false, "build request: %v", err)
	}
	req.Header = s.headers.Clone()
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
		return nil, nodeErrorf(false, "%s %s: response body larger than %d bytes", s.method, s.url, s.maxBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return nil, nodeErrorf(retryable, "%s %s: status %d: %s", s.method, s.url, resp.StatusCode, snippet(data))
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
// returned as is (the scheduler tells cancellation from failure); the node's own timeout and
// network errors are retryable failures.
func (s *httpStep) transportError(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nodeErrorf(true, "%s %s: no response within %s", s.method, s.url, s.timeout)
	}
	return nodeErrorf(true, "%s %s: %v", s.method, s.url, err)
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

// snippet is the start of a body for an error message.
func snippet(data []byte) string {
	const n = 512
	s := strings.ToValidUTF8(string(data[:min(len(data), n)]), "?")
	if len(data) > n {
		s += "…"
	}
	return strings.TrimSpace(s)
}
