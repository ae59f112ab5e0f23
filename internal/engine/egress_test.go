package engine

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/egress"
)

// policy builds an egress policy allowing allow.
func policy(t *testing.T, allow ...string) *egress.Policy {
	t.Helper()
	p, err := egress.New(allow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// countingServer is an httptest server counting its requests, answering 200 "ok".
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// localhostURL is srv's URL with the host name localhost instead of 127.0.0.1.
func localhostURL(srv *httptest.Server) string {
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// TestHTTPNodeEgressDefaultDeniesLoopback: with the default policy, an http node reaches no
// loopback listener, by IP literal or by a name resolving to it; the failure is permanent and the
// listener sees no request. Allowlisted by CIDR or by name, the same calls go through.
func TestHTTPNodeEgressDefaultDeniesLoopback(t *testing.T) {
	t.Parallel()
	srv, calls := countingServer(t)
	tests := []struct {
		name   string
		allow  []string
		url    string
		denied bool
	}{
		{"IP literal", nil, srv.URL + "/metrics", true},
		{"name resolving to loopback", nil, localhostURL(srv) + "/debug/pprof/heap", true},
		{"other private range allowlisted only", []string{"10.0.0.0/8"}, srv.URL, true},
		{"allowed by CIDR", []string{"127.0.0.0/8"}, srv.URL, false},
		{"allowed by name", []string{"localhost"}, localhostURL(srv), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			b := setup(t, Config{Egress: policy(t, tt.allow...)})
			before := calls.Load()
			res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": tt.url})))
			is.NoErr(err)
			if !tt.denied {
				is.True(res.Failure == nil)
				is.Equal(calls.Load(), before+1)
				return
			}
			is.True(res.Failure != nil)
			t.Logf("failure: %s", res.Failure)
			is.True(strings.Contains(res.Failure.Message, "not allowed by the egress policy"))
			is.True(!res.Failure.Retryable) // the policy will not change by retrying
			is.Equal(calls.Load(), before)  // nothing reached the listener
		})
	}
}

// TestHTTPNodeEgressRedirect: a redirect from an allowlisted host to a denied address is refused
// on the new connection, so the redirect does not get round the policy.
func TestHTTPNodeEgressRedirect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	target, calls := countingServer(t) // stands for the service's own /metrics
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/metrics", http.StatusFound))
	t.Cleanup(redirector.Close)
	// localhost is allowed by name; 127.0.0.1 (where the redirect points) is not.
	b := setup(t, Config{Egress: policy(t, "localhost")})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": localhostURL(redirector)})))
	is.NoErr(err)
	is.True(res.Failure != nil)
	t.Logf("failure: %s", res.Failure)
	is.True(strings.Contains(res.Failure.Message, "not allowed by the egress policy"))
	is.Equal(calls.Load(), int64(0)) // the redirect's target saw nothing
}

// TestHTTPNodeRedirectDropsSecretHeaders: following a redirect to another host, headers that
// look like secrets are not sent there; the others are.
func TestHTTPNodeRedirectDropsSecretHeaders(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	target, got := httpServer(t, http.StatusOK, "text/plain", "ok")
	var apiKey atomic.Value
	seen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiKey.Store(r.Header.Get("X-Api-Key"))
		http.Redirect(w, r, target.URL+"/next", http.StatusFound)
	}))
	t.Cleanup(seen.Close)
	b := setup(t, Config{Egress: policy(t, "127.0.0.0/8", "localhost")})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{
		"url":     localhostURL(seen),
		"headers": map[string]any{"X-Api-Key": "k-123", "X-Test": "kept"},
	})))
	is.NoErr(err)
	is.True(res.Failure == nil)
	is.Equal(apiKey.Load(), "k-123") // the first host got it
	r := <-got
	is.Equal(r.path, "/next")
	is.Equal(r.header, "kept") // ordinary headers follow the redirect
	is.Equal(r.apiKey, "")     // the secret one does not
}

func TestHTTPNodeTooManyRedirects(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+"/again", http.StatusFound)
	}))
	t.Cleanup(loop.Close)
	b := setup(t, Config{Egress: policy(t, "127.0.0.0/8")})

	res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": loop.URL})))
	is.NoErr(err)
	is.True(res.Failure != nil)
	is.True(strings.Contains(res.Failure.Message, "stopped after 10 redirects"))
	is.True(!res.Failure.Retryable)
}

// TestHTTPNodeTransportErrorsReadTheSame: a closed port and listeners that answer with something
// other than HTTP (a banner, garbage after the request, a closed connection) produce the same
// message, so the node cannot serve as a port scanner, and nothing the listener sent is in it.
func TestHTTPNodeTransportErrorsReadTheSame(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	b := setup(t, Config{Egress: policy(t, "127.0.0.0/8")})

	closed, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	closedAddr := closed.Addr().String()
	is.NoErr(closed.Close()) // nothing listens there any more

	// serve answers every connection on a fresh listener with answer (after reading the request
	// when readFirst).
	serve := func(readFirst bool, answer string) string {
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		is.NoErr(err)
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if readFirst {
					buf := make([]byte, 4096)
					_, _ = c.Read(buf)
				}
				_, _ = io.WriteString(c, answer)
				_ = c.Close()
			}
		}()
		return ln.Addr().String()
	}
	targets := map[string]string{
		"closed port":           closedAddr,
		"ssh banner":            serve(false, "SSH-2.0-OpenSSH_9.6 secret-banner\r\n"),
		"redis error":           serve(true, "-ERR unknown command 'GET', with args beginning with: 'secret-banner'\r\n"),
		"closed without answer": serve(true, ""),
	}
	messages := map[string]string{}
	for name, addr := range targets {
		res, err := b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": "http://" + addr + "/x?token=secret-query"})))
		is.NoErr(err)
		is.True(res.Failure != nil)
		is.True(res.Failure.Retryable) // transport failures may heal
		msg := strings.ReplaceAll(res.Failure.Message, addr, "ADDR")
		t.Logf("%-22s %s", name+":", msg)
		is.True(!strings.Contains(msg, "secret")) // neither what answered nor the query
		messages[name] = msg
	}
	for _, msg := range messages {
		is.Equal(msg, messages["closed port"]) // one text for all: what answered is not told
	}
}

// TestHTTPNodeIdempotencyKey: every request carries Idempotency-Key "<execution id>:<attempt>";
// params.headers may set its own.
func TestHTTPNodeIdempotencyKey(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	keyCh := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keyCh <- r.Header.Get("Idempotency-Key")
	}))
	t.Cleanup(srv.Close)
	b := setup(t, Config{})

	req := request("", node("call", "http", map[string]any{"url": srv.URL}))
	req.Attempt = 3
	_, err := b.eng.Execute(t.Context(), req)
	is.NoErr(err)
	first := <-keyCh
	_, err = b.eng.Execute(t.Context(), request("", node("call", "http", map[string]any{"url": srv.URL, "headers": map[string]any{"idempotency-key": "mine"}})))
	is.NoErr(err)
	is.Equal(first, req.ExecutionID+":3") // execution id and attempt
	is.Equal(<-keyCh, "mine")             // the node's own header wins
}
